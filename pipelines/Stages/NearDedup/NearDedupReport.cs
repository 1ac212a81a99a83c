using Curation.Pipelines.Execution;
using Curation.Pipelines.NearDup;
using Curation.Pipelines.Spec;
using Curation.Pipelines.Storage;

namespace Curation.Pipelines.Stages;

// The report phase: the stage's report summed from every partition's stats.
public sealed partial class NearDedupStage
{
    private async Task<TaskStats> ReportAsync(TaskContext task, CancellationToken cancellationToken)
    {
        Task<Dictionary<string, double>> SumAsync(string phase, int tasks) => StageReports.SumPhaseAsync(task, phase, tasks, cancellationToken);

        var shards = task.Job.Plan.ShardCount;
        var signature = await SumAsync(SignaturePhase, shards).ConfigureAwait(false);
        var verify = await SumAsync(VerifyPhase, shards).ConfigureAwait(false);
        var candidatePairs = verify.GetValueOrDefault("candidate_pairs");
        if (task.Job.Refresh?.BaseSnapshot is not null)
            candidatePairs += (await SumAsync(BasePairPhase, spec.Partitions).ConfigureAwait(false)).GetValueOrDefault("candidate_pairs");
        var removed = (await ComponentStatsAsync(task.Job, cancellationToken).ConfigureAwait(false)).Sum(s => s.Metrics.GetValueOrDefault("removed"));
        var sizes = new SortedDictionary<long, long>();
        var rounds = 0;
        for (var partition = 0; partition < spec.Partitions; partition++)
        {
            var (summary, _) = await task.Job.Data.TryReadJsonAsync<ComponentSummary>(ComponentSummaryKey(task, partition), cancellationToken: cancellationToken)
                .ConfigureAwait(false);
            if (summary is null) throw new InvalidOperationException($"{this}: components of partition {partition} are missing.");
            rounds = Math.Max(rounds, summary.Round + 1);
            foreach (var (size, count) in summary.Sizes) sizes[size] = sizes.GetValueOrDefault(size) + count;
        }

        var report = new NearDedupReport
        {
            Bands = spec.Bands, Rows = spec.Rows, Permutations = spec.Bands * spec.Rows, LshThreshold = Math.Round(MinHasher.Threshold(spec.Bands, spec.Rows), 4),
            Verify = spec.Verify, Threshold = spec.Threshold,
            Documents = (long)signature.GetValueOrDefault(""),
            Shingling = new NearDedupShingling((long)signature.GetValueOrDefault("shingled_words"), (long)signature.GetValueOrDefault("shingled_chars"),
                (long)signature.GetValueOrDefault("shingled_char_fallback"), (long)signature.GetValueOrDefault("shingled_single"),
                (long)signature.GetValueOrDefault("skipped_empty")),
            CandidatePairs = (long)candidatePairs,
            VerifiedEdges = (long)verify.GetValueOrDefault("verified_edges"),
            RejectedCandidates = (long)verify.GetValueOrDefault("rejected_candidates"),
            Rounds = rounds,
            Components = sizes.Values.Sum(),
            DocumentsInComponents = sizes.Sum(s => s.Key * s.Value),
            Removed = (long)removed,
            LargestComponent = sizes.Count == 0 ? 0 : sizes.Keys.Max(),
            ComponentSizes = sizes.Select(s => new ComponentSizeCount(s.Key, s.Value)).ToArray(),
            CandidateSimilarity = spec.Verify == NearDedupVerify.None
                ? null
                : MeasureHistogram.Collect(spec.Thresholds[0], await task.Job.PhaseStatsAsync(this, VerifyPhase, shards, cancellationToken).ConfigureAwait(false)),
        };
        await StageReports.WriteAsync(task, report, cancellationToken).ConfigureAwait(false);
        return new TaskStats();
    }
}

/// <summary>How the documents were shingled.</summary>
public sealed record NearDedupShingling(long Words, long Chars, long CharFallback, long SingleShingle, long SkippedEmpty);

/// <summary>Components of one size.</summary>
public sealed record ComponentSizeCount(long Size, long Components);

/// <summary>What near_dedup did, for the manifest's <c>reports</c>.</summary>
public sealed record NearDedupReport
{
    public int Bands { get; init; }
    public int Rows { get; init; }
    public int Permutations { get; init; }

    /// <summary>(1/bands)^(1/rows): the Jaccard similarity at which a pair becomes a candidate with probability ≈ ½.</summary>
    public double LshThreshold { get; init; }
    public NearDedupVerify Verify { get; init; }
    public double Threshold { get; init; }
    public long Documents { get; init; }
    public required NearDedupShingling Shingling { get; init; }
    public long CandidatePairs { get; init; }
    public long VerifiedEdges { get; init; }
    public long RejectedCandidates { get; init; }

    /// <summary>Connected-components rounds that did work (the last one found the graph already in star form or finished it).</summary>
    public int Rounds { get; init; }
    public long Components { get; init; }
    public long DocumentsInComponents { get; init; }
    public long Removed { get; init; }
    public long LargestComponent { get; init; }

    /// <summary>Component size histogram: every size that occurs, with its number of components (singletons not counted).</summary>
    public IReadOnlyList<ComponentSizeCount> ComponentSizes { get; init; } = [];

    /// <summary>The similarity of every candidate pair (the measure the threshold cuts; null without verify): the what-if's histogram.</summary>
    public MeasureHistogram? CandidateSimilarity { get; init; }
}
