using Curation.Pipelines.Execution;
using Curation.Pipelines.IO;

namespace Curation.Pipelines.Stages.QualityScore;

/// <summary>
/// score (per shard): the classifier's logit and score for every document, in the shard's row order, from the
/// embeddings the embed stage wrote — one dot product per document, no model run. Writes <c>scores/{shard}.parquet</c>
/// (id, logit, score) and, for the keepFraction cutoff, the logits' histogram.
/// </summary>
internal static class ScorePhase
{
    /// <summary>A row of a shard's scores table, in the shard's row order.</summary>
    internal readonly record struct ScoreRow(string Id, [ShuffleColumn(QualityScoreStage.LogitColumn)] float Logit,
        [ShuffleColumn(QualityScoreStage.ScoreValueColumn)] float Score);

    public static async Task<TaskStats> RunAsync(QualityScoreStage stage, TaskContext task, CancellationToken cancellationToken)
    {
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
        return new TaskStats { In = ids.Count };
    }

    /// <summary>Writes one shard's scores table (id, logit, score, in the shard's row order) and, for keepFraction, the logits' histogram.</summary>
    internal static async Task WriteAsync(QualityScoreStage stage, TaskContext task, IReadOnlyList<string> ids, float[] logits, float[] scores, CancellationToken cancellationToken)
    {
        var table = new ShuffleRows<ScoreRow>(ids.Count);
        for (var i = 0; i < ids.Count; i++) table.Add(new ScoreRow(ids[i], logits[i], scores[i]));
        await ShuffleTable.WriteAsync(task.Job.Data, stage.ScoresKey(task, task.Task), table, null, cancellationToken).ConfigureAwait(false);
        if (stage.Cutoff is { } cutoff) await cutoff.WriteHighAsync(task, logits, cancellationToken).ConfigureAwait(false);
    }
}
