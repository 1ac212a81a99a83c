using Curation.Pipelines.Execution;
using Curation.Pipelines.Spec;

namespace Curation.Pipelines.Stages;

// The choose phase: eps, the spec's or picked from the merged M histogram for a target keep fraction.
public sealed partial class SemanticDedupStage
{
    private async Task<long[]> MergedHistogramAsync(TaskContext task, CancellationToken cancellationToken)
    {
        var histogram = new long[SimilarityBins];
        for (var partition = 0; partition < _spec.Partitions; partition++)
            await StageObjects.AddSparseHistogramAsync(task.Job.Data, Key(task, $"mhist/{partition:D4}.bin"), histogram, cancellationToken).ConfigureAwait(false);
        return histogram;
    }

    private async Task<TaskStats> ChooseAsync(TaskContext task, CancellationToken cancellationToken)
    {
        var histogram = await MergedHistogramAsync(task, cancellationToken).ConfigureAwait(false);
        var documents = (long)(await PhaseStatsAsync(task, _cascade.FinalScorePhase, _spec.Partitions, cancellationToken).ConfigureAwait(false)).Sum(s => s.In);
        var eps = _spec.TargetKeepFraction is { } target ? PickEps(histogram, documents, target) : _spec.Eps ?? SemanticDedupStageSpec.DefaultEps;
        // The removal count follows from the histogram only for eps on a bin edge (a picked eps always is).
        var removed = 0L;
        var threshold = 1.0 - eps;
        for (var bin = 0; bin < SimilarityBins; bin++)
            if ((double)bin / SimilarityBins >= threshold) removed += histogram[bin];
        var choice = new EpsChoice(eps, _spec.TargetKeepFraction, documents, removed);
        await StageObjects.WriteJsonOnceAsync(task.Job.Data, Key(task, "eps.json"), choice, cancellationToken).ConfigureAwait(false);
        // A versioned corpus: the centroids (and mean direction) every later refresh assigns with.
        List<SnapshotIndex>? indexes = task.Job.Refresh is null ? null : [await WriteCentroidsIndexAsync(task, cancellationToken).ConfigureAwait(false)];
        return new TaskStats { Metrics = { ["eps"] = eps }, Indexes = indexes };
    }

    /// <summary>
    /// The eps for a target keep fraction: thresholds t = b / 65536 (b ≥ 1), removal M ≥ t, eps = 1 − t — exact in
    /// binary, so the rule applied later removes exactly the counted bins. The kept fraction closest to the target wins;
    /// on equal distance the higher threshold (the smaller eps, removing less).
    /// </summary>
    public static double PickEps(long[] histogram, long documents, double targetKeepFraction)
    {
        ArgumentNullException.ThrowIfNull(histogram);
        if (documents == 0) return SemanticDedupStageSpec.DefaultEps;
        var bestBin = SimilarityBins - 1;
        var bestGap = double.PositiveInfinity;
        long removedFromHere = 0;
        for (var bin = SimilarityBins - 1; bin >= 1; bin--)
        {
            removedFromHere += histogram[bin];
            var gap = Math.Abs((double)(documents - removedFromHere) / documents - targetKeepFraction);
            if (gap < bestGap) { bestGap = gap; bestBin = bin; }
        }
        return 1.0 - (double)bestBin / SimilarityBins;
    }
}
