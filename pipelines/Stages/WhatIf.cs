using System.Globalization;
using System.Text.Json;
using Curation.Pipelines.Execution;
using Curation.Pipelines.Spec;

namespace Curation.Pipelines.Stages;

/// <summary>A stage spec whose thresholds the what-if can move: its thresholded measures, and itself with one threshold changed.</summary>
public interface IThresholdedSpec
{
    IReadOnlyList<ThresholdMeasure> Thresholds { get; }

    StageSpec WithThreshold(string field, double value);
}

/// <summary>A stage that counts, from what it stored, exactly the documents a re-run at another threshold would remove.</summary>
public interface IExactWhatIf
{
    Task<ExactWhatIf> WhatIfAsync(JobContext job, CancellationToken cancellationToken);
}

/// <summary>
/// What an exact stage offers the what-if: its threshold (with the value the run used), the documents it saw, the histogram
/// of its measure, the thresholds of its curve, and <paramref name="RemovedAt"/> counting removals at any thresholds exactly
/// for thresholds up to <paramref name="ExactUpTo"/> (a cascade only re-verified candidates up to its candidate eps).
/// </summary>
public sealed record ExactWhatIf(ThresholdMeasure Threshold, long Documents, long Removed, MeasureHistogram Histogram, IReadOnlyList<double> Grid,
    Func<IReadOnlyList<double>, CancellationToken, Task<long[]>> RemovedAt, double ExactUpTo = double.PositiveInfinity);

/// <summary>
/// "What if I moved this threshold?" for a finished job: the documents a stage removes at threshold t, as a curve and at one
/// requested t, and the adjusted spec as a new job (its own name and output: never an in-place change). Near and semantic
/// dedup count exactly from stored per-pair / per-document values (<see cref="IExactWhatIf"/>); document filters count from
/// the histograms their tasks recorded: exactly at the bins' edges (the curve's points), to the bin between them.
/// </summary>
public static class WhatIf
{
    public sealed record Point(double Threshold, long Removed);

    public sealed record Answer(string Stage, string Folder, string Field, string Measure, double Current, long Documents, long Removed,
        double? Threshold, long? RemovedAtThreshold, bool Exact, IReadOnlyList<Point> Curve, MeasureHistogram Histogram,
        IReadOnlyList<string> Fields, JsonElement? AdjustedSpec);

    /// <summary>The stage a reference names: its folder (<c>02-quality_filter</c>), its index, or its type (the first of it).</summary>
    public static PipelineStage? FindStage(JobContext job, string reference) =>
        job.Stages.FirstOrDefault(s => s.Folder == reference || s.Index.ToString(CultureInfo.InvariantCulture) == reference)
        ?? job.Stages.FirstOrDefault(s => s.Name == reference);

    /// <summary>The stages of a job a what-if can move, with their threshold fields.</summary>
    public static IReadOnlyList<(PipelineStage Stage, IReadOnlyList<string> Fields)> Options(JobContext job) =>
        [.. job.Stages.Where(s => s.Index > 0 && s.Index <= job.Spec.Stages.Count && job.Spec.Stages[s.Index - 1] is IThresholdedSpec { Thresholds.Count: > 0 })
            .Select(s => (s, (IReadOnlyList<string>)[.. ((IThresholdedSpec)job.Spec.Stages[s.Index - 1]).Thresholds.Select(t => t.Field)]))];

    public static async Task<Answer> ComputeAsync(JobContext job, PipelineStage stage, string? field, double? threshold, CancellationToken cancellationToken)
    {
        var spec = stage.Index > 0 && stage.Index <= job.Spec.Stages.Count ? job.Spec.Stages[stage.Index - 1] as IThresholdedSpec : null;
        if (spec is not { Thresholds.Count: > 0 }) throw new ArgumentException($"stage {stage.Folder} has no threshold to move");
        var fields = spec.Thresholds.Select(t => t.Field).ToArray();
        var measure = field is null ? spec.Thresholds[0] : spec.Thresholds.FirstOrDefault(t => t.Field == field)
            ?? throw new ArgumentException($"stage {stage.Folder} has no threshold '{field}' (it has {string.Join(", ", fields)})");
        if (measure.Integer && threshold is { } requested) threshold = Math.Round(requested); // as the adjusted spec holds it

        long documents, removed;
        MeasureHistogram histogram;
        IReadOnlyList<double> grid;
        Func<IReadOnlyList<double>, CancellationToken, Task<long[]>> removedAt;
        Func<double, bool> exactAt;
        if (stage is IExactWhatIf exact)
        {
            var data = await exact.WhatIfAsync(job, cancellationToken).ConfigureAwait(false);
            (measure, documents, removed, histogram, grid, removedAt) =
                (data.Threshold, data.Documents, data.Removed, data.Histogram, data.Grid, data.RemovedAt);
            exactAt = t => t <= data.ExactUpTo;
        }
        else
        {
            // A document filter: the histogram holds the documents every other check passes (those the rule does not apply
            // to counted apart), so the other checks remove the rest. Exact on the histogram's edges.
            var stats = await job.PhaseStatsAsync(stage, DocumentStage.ApplyPhase, job.Plan.ShardCount, cancellationToken).ConfigureAwait(false);
            histogram = MeasureHistogram.Collect(measure, stats);
            documents = stats.Sum(s => s.In);
            removed = stats.Sum(s => s.Dropped.Values.Sum());
            var others = documents - histogram.Bins.Sum(b => b.Count) - histogram.Unmeasured;
            grid = CurveGrid(measure, histogram);
            var h = histogram;
            removedAt = (values, _) => Task.FromResult(values.Select(t => others + h.RemovedAt(t)).ToArray());
            exactAt = measure.IsEdge;
        }

        var curve = await removedAt(grid, cancellationToken).ConfigureAwait(false);
        long? atThreshold = null;
        JsonElement? adjusted = null;
        if (threshold is { } t)
        {
            atThreshold = (await removedAt([t], cancellationToken).ConfigureAwait(false))[0];
            adjusted = JsonSerializer.Deserialize<JsonElement>(AdjustedSpec(job.Spec, stage.Index, spec.WithThreshold(measure.Field, t), measure.Field, t).ToJson());
        }
        return new Answer(stage.Name, stage.Folder, measure.Field, measure.Measure, measure.Current, documents, removed, threshold, atThreshold,
            threshold is { } x && exactAt(x), [.. grid.Zip(curve, (g, r) => new Point(g, r))], histogram, fields, adjusted);
    }

    /// <summary>
    /// The thresholds of a document filter's curve: the histogram's edges from the first bin holding documents to the last
    /// (and the run's threshold), one bin of margin each side. Outside them the curve is flat, and a scale wide enough for
    /// any corpus (characters up to 10⁷) would squeeze the part that moves into a sliver of the chart.
    /// </summary>
    public static double[] CurveGrid(ThresholdMeasure measure, MeasureHistogram histogram)
    {
        var current = measure.BinOf(measure.Current);
        var (first, last) = (current, current);
        for (var bin = 0; bin < histogram.Bins.Count; bin++)
            if (histogram.Bins[bin].Count > 0) (first, last) = (Math.Min(first, bin), Math.Max(last, bin));
        var from = Math.Max(0, first - 1);
        var to = Math.Min(measure.Bins, last + 2);
        return [.. Enumerable.Range(from, to - from + 1).Select(measure.Edge)];
    }

    /// <summary>The job's spec with one stage replaced, as a new job: its name and output path carry the change, so the original output stays as it is.</summary>
    public static JobSpec AdjustedSpec(JobSpec spec, int stageIndex, StageSpec stage, string field, double value)
    {
        var stages = spec.Stages.ToArray();
        stages[stageIndex - 1] = stage;
        var suffix = $"-{field}-{value.ToString("0.######", CultureInfo.InvariantCulture)}";
        return spec with
        {
            Name = spec.Name + suffix,
            Stages = stages,
            Output = spec.Output with { Path = spec.Output.Path.TrimEnd('/') + suffix },
        };
    }

    /// <summary>Evenly spaced thresholds from <paramref name="from"/> to <paramref name="to"/> (both included).</summary>
    public static double[] Grid(double from, double to, int steps) =>
        [.. Enumerable.Range(0, steps + 1).Select(i => Math.Round(from + (to - from) * i / steps, 6))];
}
