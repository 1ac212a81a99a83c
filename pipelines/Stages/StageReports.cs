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

/// <summary>
/// A threshold a stage applies to a measure (<paramref name="Field"/> is the spec field holding it, camelCase as in the
/// job JSON) and the scale its histogram is recorded on: <paramref name="Bins"/> bins over [<paramref name="Min"/>,
/// <paramref name="Max"/>] (values outside land in the end bins), evenly spaced or, with <paramref name="Log"/>, evenly in
/// log(1 + v). <paramref name="DropsAbove"/>: values above the threshold remove a document (else values below do).
/// Document stages record values with <see cref="DropCollector.Measure"/>, multi-phase stages with <see cref="MeasureCounts"/>;
/// the counts travel in the task's metrics, add up across tasks and come back with <see cref="MeasureHistogram.Collect"/>.
/// The what-if curve "documents removed at threshold t" (<see cref="WhatIf"/>) is read from it. <paramref name="Integer"/>: the
/// spec field is a whole number (a what-if threshold is rounded as the adjusted spec rounds it).
/// </summary>
public sealed record ThresholdMeasure(string Field, string Measure, double Current, bool DropsAbove, double Min, double Max, int Bins = 100, bool Log = false,
    bool Integer = false)
{
    private double Scale(double value) => Log ? Math.Log(1 + Math.Max(0, value)) : value;

    /// <summary>
    /// The bin a value falls in: [From, To) when values below the threshold remove a document, (From, To] when values above
    /// do, settled against <see cref="Edge"/> itself, so a threshold on an edge splits the histogram exactly as the stage's
    /// comparison splits the documents.
    /// </summary>
    public int BinOf(double value)
    {
        var (lo, hi) = (Scale(Min), Scale(Max));
        var position = (Scale(value) - lo) / (hi - lo) * Bins;
        if (double.IsNaN(position)) return 0;
        var bin = (int)Math.Clamp(Math.Floor(position), 0, Bins - 1);
        if (DropsAbove)
        {
            while (bin > 0 && value <= Edge(bin)) bin--;
            while (bin < Bins - 1 && value > Edge(bin + 1)) bin++;
        }
        else
        {
            while (bin > 0 && value < Edge(bin)) bin--;
            while (bin < Bins - 1 && value >= Edge(bin + 1)) bin++;
        }
        return bin;
    }

    /// <summary>Whether a threshold lies on an edge of the histogram, where the count it removes is exact.</summary>
    public bool IsEdge(double threshold) => Enumerable.Range(0, Bins + 1).Any(b => Edge(b) == threshold);

    /// <summary>The lower edge of bin <paramref name="bin"/> (bin <see cref="Bins"/> gives the upper edge of the last).</summary>
    public double Edge(int bin)
    {
        var (lo, hi) = (Scale(Min), Scale(Max));
        var scaled = lo + (hi - lo) * bin / Bins;
        return Log ? Math.Exp(scaled) - 1 : scaled;
    }

    /// <summary>The metric under which tasks count bin <paramref name="bin"/>.</summary>
    public string Metric(int bin) => $"measure.{Field}.{bin:D4}";

    /// <summary>
    /// The metric counting documents every other check passes but that this rule does not apply to (e.g. mean word length
    /// of a text in an unspaced script): no threshold removes them.
    /// </summary>
    public string UnmeasuredMetric => $"measure.{Field}.none";
}

/// <summary>Counts of one <see cref="ThresholdMeasure"/> in one task; <see cref="AddTo"/> puts the non-empty bins into its metrics.</summary>
public sealed class MeasureCounts(ThresholdMeasure measure)
{
    private readonly long[] _counts = new long[measure.Bins];
    private long _unmeasured;

    public ThresholdMeasure Measure => measure;

    public void Add(double value) => _counts[measure.BinOf(value)]++;

    /// <summary>Counts a document the rule does not apply to (see <see cref="ThresholdMeasure.UnmeasuredMetric"/>).</summary>
    public void AddUnmeasured() => _unmeasured++;

    public void AddTo(IDictionary<string, double> metrics)
    {
        if (_unmeasured != 0)
            metrics[measure.UnmeasuredMetric] = metrics.TryGetValue(measure.UnmeasuredMetric, out var none) ? none + _unmeasured : _unmeasured;
        for (var bin = 0; bin < _counts.Length; bin++)
            if (_counts[bin] != 0) metrics[measure.Metric(bin)] = metrics.TryGetValue(measure.Metric(bin), out var had) ? had + _counts[bin] : _counts[bin];
    }
}

/// <summary>
/// The histogram of a thresholded measure, summed over a stage's tasks: what its report stores for the what-if.
/// <paramref name="Unmeasured"/>: documents every other check passes that the rule does not apply to (kept at any threshold).
/// </summary>
public sealed record MeasureHistogram(string Field, string Measure, double Current, bool DropsAbove, bool Log, IReadOnlyList<HistogramBin> Bins,
    long Unmeasured = 0)
{
    public static MeasureHistogram Collect(ThresholdMeasure measure, IEnumerable<Execution.TaskStats> stats)
    {
        var counts = new long[measure.Bins];
        long unmeasured = 0;
        foreach (var task in stats)
        {
            for (var bin = 0; bin < counts.Length; bin++)
                if (task.Metrics.TryGetValue(measure.Metric(bin), out var count)) counts[bin] += (long)count;
            if (task.Metrics.TryGetValue(measure.UnmeasuredMetric, out var none)) unmeasured += (long)none;
        }
        return new MeasureHistogram(measure.Field, measure.Measure, measure.Current, measure.DropsAbove, measure.Log,
            counts.Select((c, b) => new HistogramBin(measure.Edge(b), measure.Edge(b + 1), c)).ToArray(), unmeasured);
    }

    /// <summary>
    /// Documents of the histogram the threshold <paramref name="threshold"/> removes, to the bins' resolution: a bin counts
    /// when it lies wholly on the removing side (values above a DropsAbove threshold, below otherwise).
    /// </summary>
    public long RemovedAt(double threshold) => DropsAbove
        ? Bins.Where(b => b.From >= threshold).Sum(b => b.Count)
        : Bins.Where(b => b.To <= threshold).Sum(b => b.Count);
}
