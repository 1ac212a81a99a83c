using Curation.Pipelines.Execution;
using Curation.Pipelines.Storage;

namespace Curation.Pipelines.Stages.QualityScore;

/// <summary>One source object's documents at the stage: their mean score and how many were kept.</summary>
public sealed record SourceScoreMean(string Source, long Documents, double MeanScore, long Kept);

/// <summary>What quality_score did, for the manifest and the dashboard.</summary>
public sealed record QualityScoreReport
{
    public double? MinScore { get; init; }
    public double? KeepFraction { get; init; }
    public long Documents { get; init; }
    public long Removed { get; init; }

    /// <summary>With keepFraction: documents at or below this score (this logit, ties by id up to CutoffId) were removed; null when none were.</summary>
    public double? CutoffScore { get; init; }
    public float? CutoffLogit { get; init; }
    public string? CutoffId { get; init; }
    public double MeanScore { get; init; }

    /// <summary>The classifier: model, training examples, train and held-out accuracy; null with a scoring model.</summary>
    public ClassifierTraining? Classifier { get; init; }
    public required string Model { get; init; }

    /// <summary>A scoring model's outputs, the label scored and whether a sigmoid applies; null for the trained classifier.</summary>
    public ModelHead? Head { get; init; }

    /// <summary>Scores of every document reaching the stage, and of those kept, in 20 bins of 0.05.</summary>
    public IReadOnlyList<HistogramBin> ScoreHistogram { get; init; } = [];
    public IReadOnlyList<HistogramBin> KeptScoreHistogram { get; init; } = [];

    /// <summary>Per source object, by document count (most first, then name), at most <see cref="ReportPhase.MaxSources"/>.</summary>
    public IReadOnlyList<SourceScoreMean> Sources { get; init; } = [];

    /// <summary>Sources left out of <see cref="Sources"/> (the report stays small on corpora of many files).</summary>
    public long SourcesOmitted { get; init; }
}

/// <summary>report: adds the shards' summaries (in shard order) and the classifier's training record.</summary>
internal static class ReportPhase
{
    public const int MaxSources = 1000;

    public static async Task<TaskStats> RunAsync(QualityScoreStage stage, TaskContext task, CancellationToken cancellationToken)
    {
        var trained = await stage.ReadClassifierAsync(task, cancellationToken).ConfigureAwait(false);
        var histogram = new long[ScoreSummary.Bins];
        var kept = new long[ScoreSummary.Bins];
        var sources = new SortedDictionary<string, (long Documents, double Sum, long Kept)>(StringComparer.Ordinal);
        for (var shard = 0; shard < task.Job.Plan.ShardCount; shard++)
        {
            var (summary, _) = await task.Job.Data.TryReadJsonAsync<ScoreSummary>(stage.ShardKey(task, "summary", shard, "json"), CurationJson.Options, cancellationToken)
                .ConfigureAwait(false);
            if (summary is null) throw new InvalidOperationException($"{stage}: the summary of shard {shard} is missing.");
            for (var b = 0; b < ScoreSummary.Bins; b++) { histogram[b] += summary.Histogram[b]; kept[b] += summary.KeptHistogram[b]; }
            foreach (var s in summary.Sources)
            {
                var total = sources.GetValueOrDefault(s.Source);
                sources[s.Source] = (total.Documents + s.Documents, total.Sum + s.ScoreSum, total.Kept + s.Kept);
            }
        }
        var documents = histogram.Sum();
        GlobalCutoffPhases.Round? round = stage.Cutoff is { } cutoff ? (await cutoff.CutoffAsync(task, cancellationToken).ConfigureAwait(false)).Round : null;
        var cutoffLogit = round?.LastId is null ? (float?)null : GlobalCutoffPhases.ValueOf(round.Key);
        var listed = sources.OrderByDescending(s => s.Value.Documents).ThenBy(s => s.Key, StringComparer.Ordinal).Take(MaxSources)
            .Select(s => new SourceScoreMean(s.Key, s.Value.Documents, s.Value.Sum / s.Value.Documents, s.Value.Kept)).ToArray();
        var report = new QualityScoreReport
        {
            MinScore = stage.Spec.MinScore,
            KeepFraction = stage.Spec.KeepFraction,
            Documents = documents,
            Removed = documents - kept.Sum(),
            CutoffLogit = cutoffLogit,
            CutoffScore = cutoffLogit is { } l ? trained.Head?.ScoreOf(l) ?? LogisticRegression.Sigmoid(l) : null,
            CutoffId = round?.LastId,
            MeanScore = documents == 0 ? 0 : sources.Values.Sum(s => s.Sum) / documents,
            Classifier = trained.Training,
            Model = trained.Model,
            Head = trained.Head,
            ScoreHistogram = Bins(histogram),
            KeptScoreHistogram = Bins(kept),
            Sources = listed,
            SourcesOmitted = sources.Count - listed.Length,
        };
        await StageReports.WriteAsync(task, report, cancellationToken).ConfigureAwait(false);
        return new TaskStats();
    }

    private static HistogramBin[] Bins(long[] counts) =>
        counts.Select((c, b) => new HistogramBin((double)b / ScoreSummary.Bins, (double)(b + 1) / ScoreSummary.Bins, c)).ToArray();
}
