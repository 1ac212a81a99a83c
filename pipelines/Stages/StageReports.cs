using System.Text.Json;
using Curation.Pipelines.Storage;

namespace Curation.Pipelines.Stages;

/// <summary>
/// A stage's structured report: <c>report.json</c> in the stage's folder, written by the stage's last single task and
/// embedded in the manifest under <c>reports</c> by stage folder (e.g. <c>06-semantic_dedup</c>).
/// </summary>
public static class StageReports
{
    public const string FileName = "report.json";

    public static string Key(Execution.JobLayout layout, PipelineStage stage) => layout.StageRoot(stage.Index, stage.Name) + FileName;

    internal static Task WriteAsync<T>(TaskContext task, T report, CancellationToken cancellationToken) =>
        StageObjects.WriteJsonOnceAsync(task.Job.Data, Key(task.Job.Layout, task.Stage), report, cancellationToken);

    /// <summary>
    /// The sums over one phase's task stats, for a report: every metric by name, plus <c>""</c> = documents (or rows) in
    /// and <c>"kept"</c> = kept.
    /// </summary>
    internal static async Task<Dictionary<string, double>> SumPhaseAsync(TaskContext task, string phase, int tasks, CancellationToken cancellationToken)
    {
        var sums = new Dictionary<string, double>();
        foreach (var stats in await task.Job.PhaseStatsAsync(task.Stage, phase, tasks, cancellationToken).ConfigureAwait(false))
        {
            sums[""] = sums.GetValueOrDefault("") + stats.In;
            sums["kept"] = sums.GetValueOrDefault("kept") + stats.Kept;
            foreach (var (name, value) in stats.Metrics) sums[name] = sums.GetValueOrDefault(name) + value;
        }
        return sums;
    }

    /// <summary>The report of a stage, or null when it writes none.</summary>
    public static async Task<JsonElement?> TryReadAsync(Execution.JobContext job, PipelineStage stage, CancellationToken cancellationToken)
    {
        var (report, _) = await job.Data.TryReadJsonAsync<JsonElement>(Key(job.Layout, stage), cancellationToken: cancellationToken).ConfigureAwait(false);
        return report.ValueKind == JsonValueKind.Undefined ? null : report;
    }
}

/// <summary>One bin of a histogram over [From, To).</summary>
public sealed record HistogramBin(double From, double To, long Count);

/// <summary>Documents removed at one eps of the curve and the fraction kept.</summary>
public sealed record EpsPoint(double Eps, long Removed, double KeptFraction);

/// <summary>One cluster's members and how many were removed and kept.</summary>
public sealed record ClusterCount(int Cluster, long Size, long Healthy, long Removed, long Kept);

/// <summary>A size bucket: clusters with more than the previous bucket's limit and at most <c>UpTo</c> members.</summary>
public sealed record SizeBucket(long UpTo, int Clusters);

/// <summary>The distribution of cluster sizes: extremes, median and power-of-four buckets.</summary>
public sealed record ClusterSizeSummary(int Clusters, long Min, long Median, long Max, IReadOnlyList<SizeBucket> Buckets)
{
    public static ClusterSizeSummary Of(IEnumerable<long> sizes)
    {
        var sorted = sizes.Order().ToArray();
        if (sorted.Length == 0) return new ClusterSizeSummary(0, 0, 0, 0, []);
        var buckets = new List<SizeBucket>();
        for (long limit = 1, previous = 0; previous < sorted[^1]; previous = limit, limit *= 4)
            buckets.Add(new SizeBucket(limit, sorted.Count(s => s > previous && s <= limit)));
        return new ClusterSizeSummary(sorted.Length, sorted[0], sorted[sorted.Length / 2], sorted[^1], buckets);
    }
}

/// <summary>Where removed documents' twins point: the direct twin kept, a kept member found past a chain, or none kept within eps.</summary>
public sealed record TwinSummary(long Direct, long KeptPastChain, long ChainOnly);

/// <summary>What semantic_dedup did, for the manifest and the dashboard.</summary>
public sealed record SemanticDedupReport
{
    public double Eps { get; init; }
    public double? TargetKeepFraction { get; init; }
    public long Documents { get; init; }
    public long Removed { get; init; }
    public double KeptFraction { get; init; }

    /// <summary>Documents kept out of dedup by the embedding-health check, by issue.</summary>
    public Dictionary<string, long> Unhealthy { get; init; } = [];
    public IReadOnlyList<EpsPoint> EpsCurve { get; init; } = [];

    /// <summary>M (highest similarity to an earlier member of the cluster) of the healthy documents.</summary>
    public IReadOnlyList<HistogramBin> MaxSimilarityHistogram { get; init; } = [];
    public required ClusterSizeSummary ClusterSizes { get; init; }
    public IReadOnlyList<ClusterCount> Clusters { get; init; } = [];
    public required TwinSummary Twins { get; init; }

    /// <summary>The two-tier cascade (<c>verify</c>); null when the stage ran on one tier.</summary>
    public CascadeSummary? Cascade { get; init; }
}

/// <summary>
/// What the cascade did: candidate pairs at <paramref name="CandidateEps"/> on the static tier, the documents in them
/// that the transformer (<paramref name="Model"/>) embedded — their number and their share of the stage's documents —
/// and the pairs it confirmed at eps.
/// </summary>
public sealed record CascadeSummary(double CandidateEps, string Model, long CandidateMembers, long CandidatePairs, long VerifiedPairs,
    long TransformerEmbedded, double TransformerEmbeddedFraction);

/// <summary>What d4 did.</summary>
public sealed record D4Report
{
    public double KeepFraction { get; init; }
    public long Documents { get; init; }
    public long Removed { get; init; }

    /// <summary>Documents at or below this distance to their centroid (ties by id) were removed; null when none were.</summary>
    public float? CutoffDistance { get; init; }
    public string? CutoffId { get; init; }
    public required ClusterSizeSummary ClusterSizes { get; init; }
    public IReadOnlyList<ClusterCount> Clusters { get; init; } = [];
    public IReadOnlyList<HistogramBin> DistanceHistogram { get; init; } = [];
}
