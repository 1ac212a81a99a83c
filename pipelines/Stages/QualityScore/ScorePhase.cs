using System.Diagnostics;
using Curation.Pipelines.Execution;
using Curation.Pipelines.Model;

namespace Curation.Pipelines.Stages.QualityScore;

/// <summary>
/// score (per shard): the classifier's logit and score for every document, in the shard's row order, from the
/// embeddings the embed stage wrote — one dot product per document, no model run. Writes <c>scores/{shard}.parquet</c>
/// (id, logit, score) and, for the keepFraction cutoff, the logits' histogram.
/// </summary>
internal static class ScorePhase
{
    private static readonly IReadOnlyList<ColumnSchema> Schema =
        [new(Columns.Id, typeof(string)), new(QualityScoreStage.LogitColumn, typeof(float)), new(QualityScoreStage.ScoreValueColumn, typeof(float))];

    public static async Task<TaskStats> RunAsync(QualityScoreStage stage, TaskContext task, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        var trained = await stage.ReadClassifierAsync(task, cancellationToken).ConfigureAwait(false);
        var classifier = trained.ToClassifier();
        var (ids, vectors, dimensions) = await KMeansPhases.LoadShardAsync(task, task.Task, cancellationToken).ConfigureAwait(false);
        if (ids.Count > 0 && dimensions != classifier.Dimensions)
            throw new InvalidOperationException($"{stage}: the embeddings have {dimensions} dimensions, the classifier {classifier.Dimensions}.");
        var logits = new float[ids.Count];
        var scores = new float[ids.Count];
        for (var i = 0; i < ids.Count; i++)
        {
            var logit = classifier.Logit(vectors.AsSpan(i * dimensions, dimensions));
            logits[i] = (float)logit;
            scores[i] = (float)LogisticRegression.Sigmoid(logit);
        }
        await WriteAsync(stage, task, ids, logits, scores, cancellationToken).ConfigureAwait(false);
        return new TaskStats { In = ids.Count, Seconds = clock.Elapsed.TotalSeconds };
    }

    /// <summary>Writes one shard's scores table (id, logit, score, in the shard's row order) and, for keepFraction, the logits' histogram.</summary>
    internal static async Task WriteAsync(QualityScoreStage stage, TaskContext task, IReadOnlyList<string> ids, float[] logits, float[] scores, CancellationToken cancellationToken)
    {
        var table = RecordBatch.WithSchema(Schema, ids.Count);
        table.Ids.AddRange(ids);
        table.GetColumn<float>(QualityScoreStage.LogitColumn).AddRange(logits);
        table.GetColumn<float>(QualityScoreStage.ScoreValueColumn).AddRange(scores);
        await StageObjects.WriteParquetAsync(task.Job.Data, stage.ScoresKey(task, task.Task), table, null, cancellationToken).ConfigureAwait(false);
        if (stage.Cutoff is { } cutoff) await cutoff.WriteHighAsync(task, logits, cancellationToken).ConfigureAwait(false);
    }
}
