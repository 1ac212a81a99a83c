using Curation.Pipelines.Execution;
using Curation.Pipelines.IO;
using Curation.Pipelines.Semantic;
using Curation.Pipelines.Storage;

namespace Curation.Pipelines.Stages;

// The what-if: M is stored per document in the scores, and removal at eps is M ≥ 1 − eps, so any eps counts exactly.
public sealed partial class SemanticDedupStage : IExactWhatIf
{
    public async Task<ExactWhatIf> WhatIfAsync(JobContext job, CancellationToken cancellationToken)
    {
        var root = job.Layout.StageRoot(Index, Name);
        var (choice, _) = await job.Data.TryReadJsonAsync<EpsChoice>(root + "eps.json", cancellationToken: cancellationToken).ConfigureAwait(false);
        if (choice is null) throw new InvalidOperationException($"{this}: eps.json is missing; the stage has not decided yet.");
        var histogram = new long[SimilarityBins];
        for (var partition = 0; partition < _spec.Partitions; partition++)
            await StageObjects.AddSparseHistogramAsync(job.Data, root + $"mhist/{partition:D4}.bin", histogram, cancellationToken).ConfigureAwait(false);
        var threshold = _spec.Thresholds[0] with { Current = choice.Eps };
        var bins = Coarsen(histogram, 100);
        return new ExactWhatIf(threshold, choice.Documents, choice.Removed,
            new MeasureHistogram(threshold.Field, threshold.Measure, choice.Eps, threshold.DropsAbove, false, bins),
            WhatIf.Grid(0, 0.3, 60), (values, ct) => RemovedAtAsync(job, values, ct),
            // The cascade re-embedded only the pairs its static tier proposed at the candidate eps: beyond it, M is the static tier's.
            _cascade.Enabled ? _cascade.CandidateEps : double.PositiveInfinity);
    }

    /// <summary>Documents the decide phase removes at each eps: healthy members of this run whose M ≥ 1 − eps, streamed from the final scores.</summary>
    private async Task<long[]> RemovedAtAsync(JobContext job, IReadOnlyList<double> eps, CancellationToken cancellationToken)
    {
        var removed = new long[eps.Count];
        for (var partition = 0; partition < _spec.Partitions; partition++)
        {
            var key = job.Layout.StageRoot(Index, Name) + $"scores/{partition:D4}.parquet";
            await foreach (var rows in ShuffleTable.ReadAsync<ScoreRow>(job.Data, key, cancellationToken).ConfigureAwait(false))
                foreach (var row in rows)
                {
                    if (row.Rank < 0 || row.Shard == BaseShard) continue;
                    for (var e = 0; e < eps.Count; e++)
                        if (SemDeDup.IsDuplicate(row.MaxSimilarity, eps[e])) removed[e]++;
                }
        }
        return removed;
    }
}
