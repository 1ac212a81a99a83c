using System.Globalization;
using Curation.Pipelines.Execution;
using Curation.Pipelines.IO;
using Curation.Pipelines.Model;
using Curation.Pipelines.Semantic;

namespace Curation.Pipelines.Stages.QualityScore;

/// <summary>One shard's part of the report: the score histogram and, per source object, documents, score sum and kept.</summary>
internal sealed record ScoreSummary(long[] Histogram, long[] KeptHistogram, IReadOnlyList<SourceScores> Sources)
{
    public const int Bins = 20;

    public static int BinOf(double score) => Math.Clamp((int)(score * Bins), 0, Bins - 1);
}

/// <summary>The documents of one source object (an input file) that reached the stage: how many, their score sum, how many kept.</summary>
internal sealed record SourceScores(string Source, long Documents, double ScoreSum, long Kept);

/// <summary>
/// apply (per shard): adds <c>quality_score</c> to every document and drops (<c>low_quality_score</c>) those below
/// minScore or at or below the keepFraction cutoff on (logit, id); writes the shard's <see cref="ScoreSummary"/>.
/// </summary>
internal static class ApplyPhase
{
    public static async Task<TaskStats> RunAsync(QualityScoreStage stage, TaskContext task, CancellationToken cancellationToken)
    {
        var cutoff = stage.Cutoff is { } phases ? (await phases.CutoffAsync(task, cancellationToken).ConfigureAwait(false)).Cutoff : D4Cutoff.None;
        var scores = await ShuffleTable.ReadAllAsync<ScorePhase.ScoreRow>(task.Job.Data, stage.ScoresKey(task, task.Task), cancellationToken).ConfigureAwait(false);
        var transform = new Transform(stage, scores, cutoff);
        var stats = await ShardTransformer.RunAsync(task, task.Task, transform, cancellationToken).ConfigureAwait(false);
        var summary = new ScoreSummary(transform.Histogram, transform.KeptHistogram,
            transform.Sources.OrderBy(s => s.Key, StringComparer.Ordinal).Select(s => new SourceScores(s.Key, s.Value.Documents, s.Value.Sum, s.Value.Kept)).ToArray());
        await StageObjects.WriteJsonOnceAsync(task.Job.Data, stage.ShardKey(task, "summary", task.Task, "json"), summary, cancellationToken).ConfigureAwait(false);
        return stats;
    }

    private sealed class Transform(QualityScoreStage stage, List<ScorePhase.ScoreRow> scores, D4Cutoff cutoff) : IDocumentTransform
    {
        private int _offset;
        private readonly ThresholdMeasure? _minScore = stage.Spec.Threshold("minScore");

        public long[] Histogram { get; } = new long[ScoreSummary.Bins];
        public long[] KeptHistogram { get; } = new long[ScoreSummary.Bins];
        public Dictionary<string, (long Documents, double Sum, long Kept)> Sources { get; } = new(StringComparer.Ordinal);

        public IReadOnlyList<ColumnSchema> AddedColumns { get; } = [new(QualityScoreStage.ScoreColumn, typeof(float))];

        public void Process(RecordBatch batch, DropCollector drops)
        {
            var column = batch.ResetColumn<float>(QualityScoreStage.ScoreColumn, batch.RowCount);
            var minScore = stage.Spec.MinScore;
            for (var i = 0; i < batch.RowCount; i++)
            {
                var row = _offset + i;
                if (row >= scores.Count || scores[row].Id != batch.Ids[i])
                    throw new InvalidOperationException($"Row {row} ({batch.Ids[i]}) has no {QualityScoreStage.ScoreColumn}; the shard changed under the stage.");
                var (logit, score) = (scores[row].Logit, scores[row].Score);
                column.Add(score);
                string? detail = null;
                var cut = cutoff.Removes(logit, batch.Ids[i]);
                // For the what-if: a document the cutoff removes stays removed whatever minScore becomes.
                if (_minScore is not null && !cut) drops.Measure(_minScore, score);
                if (score < minScore)
                    detail = string.Create(CultureInfo.InvariantCulture, $"quality score {score:0.######} < minScore {minScore}");
                else if (cut)
                    detail = string.Create(CultureInfo.InvariantCulture,
                        $"quality score {score:0.######} (logit {logit:0.######}) at or below the keepFraction {stage.Spec.KeepFraction} cutoff: logit {GlobalCutoffPhases.ValueOf(cutoff.Key):0.######}, ties by id up to {cutoff.LastId}");
                if (detail is not null) drops.Drop(i, QualityScoreStage.LowScoreReason, detail);
                var bin = ScoreSummary.BinOf(score);
                Histogram[bin]++;
                if (detail is null) KeptHistogram[bin]++;
                var source = Sources.GetValueOrDefault(batch.Sources[i]);
                Sources[batch.Sources[i]] = (source.Documents + 1, source.Sum + score, source.Kept + (detail is null ? 1 : 0));
            }
            _offset += batch.RowCount;
        }
    }
}
