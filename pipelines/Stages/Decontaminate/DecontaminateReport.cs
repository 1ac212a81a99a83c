using Curation.Pipelines.Execution;
using Curation.Pipelines.IO;
using Curation.Pipelines.Storage;

namespace Curation.Pipelines.Stages;

// The report phase: contamination per benchmark and per item, summed from every shard's hits.
public sealed partial class DecontaminateStage
{
    /// <summary>Contaminated items the report lists (most documents first); the per-benchmark counts cover all.</summary>
    public const int ReportedItems = 1000;

    private async Task<TaskStats> ReportAsync(TaskContext task, CancellationToken cancellationToken)
    {
        var items = await ShuffleTable.ReadAllAsync<ItemRow>(task.Job.Data, ItemsKey(task), cancellationToken).ConfigureAwait(false);
        var (benchmarkOf, ids, ngrams) = (items.Select(r => r.Benchmark).ToArray(), items.Select(r => r.ItemId).ToArray(), items.Select(r => r.Ngrams).ToArray());
        var hits = new Dictionary<int, ItemHits>();
        var benchmarkDocuments = new long[spec.Benchmarks.Count];
        for (var shard = 0; shard < task.Job.Plan.ShardCount; shard++)
        {
            var (found, _) = await task.Job.Data.TryReadJsonAsync<ShardHits>(HitsKey(task, shard), cancellationToken: cancellationToken).ConfigureAwait(false);
            if (found is null) throw new InvalidOperationException($"{this}: the hits of shard {shard} are missing.");
            for (var b = 0; b < benchmarkDocuments.Length; b++) benchmarkDocuments[b] += found.BenchmarkDocuments[b];
            foreach (var (item, h) in found.Items)
                hits[item] = hits.TryGetValue(item, out var sum)
                    ? new ItemHits(sum.Documents + h.Documents, Math.Max(sum.MaxMatched, h.MaxMatched), Math.Max(sum.MaxFraction, h.MaxFraction))
                    : h;
        }
        var match = await task.Job.PhaseStatsAsync(this, MatchPhase, task.Job.Plan.ShardCount, cancellationToken).ConfigureAwait(false);
        var indexStats = await task.Job.PhaseStatsAsync(this, IndexPhase, spec.Partitions, cancellationToken).ConfigureAwait(false);

        var benchmarks = spec.Benchmarks.Select((b, i) =>
        {
            var mine = Enumerable.Range(0, items.Count).Where(item => benchmarkOf[item] == i).ToList();
            return new BenchmarkContamination(b.Name, b.Path, mine.Count, mine.Count(item => ngrams[item] == 0), mine.Sum(item => (long)ngrams[item]),
                mine.Count(hits.ContainsKey), benchmarkDocuments[i]);
        }).ToArray();
        var contaminated = hits.OrderByDescending(h => h.Value.Documents).ThenBy(h => h.Key).Take(ReportedItems)
            .Select(h => new ItemContamination(spec.Benchmarks[benchmarkOf[h.Key]].Name, ids[h.Key], ngrams[h.Key], h.Value.Documents, h.Value.MaxMatched,
                Math.Round(h.Value.MaxFraction, 6)))
            .ToArray();
        var report = new DecontaminateReport
        {
            Ngram = spec.Ngram, MinMatches = spec.MinMatches, MinFraction = spec.MinFraction, Mode = spec.Mode,
            IndexEntries = indexStats.Sum(s => s.In),
            Documents = match.Sum(s => s.In),
            Contaminated = (long)match.Sum(s => s.Metrics.GetValueOrDefault("contaminated_documents")),
            Dropped = match.Sum(s => s.DroppedTotal),
            SpansRemoved = (long)match.Sum(s => s.Metrics.GetValueOrDefault("spans_removed")),
            CharsRemoved = (long)match.Sum(s => s.Metrics.GetValueOrDefault("chars_removed")),
            Benchmarks = benchmarks,
            ContaminatedItems = hits.Count,
            Items = contaminated,
        };
        await StageReports.WriteAsync(task, report, cancellationToken).ConfigureAwait(false);
        return new TaskStats();
    }
}

/// <summary>One evaluation set: its items (those shorter than one n-gram are never matched), n-grams, contaminated items and documents.</summary>
public sealed record BenchmarkContamination(string Name, string Path, long Items, long ItemsTooShort, long Ngrams, long ContaminatedItems, long Documents);

/// <summary>One contaminated item: the documents it contaminated and the most of its n-grams one document shared (count and share).</summary>
public sealed record ItemContamination(string Benchmark, string Item, int Ngrams, long Documents, int MaxMatched, double MaxFraction);

/// <summary>What decontaminate did, for the manifest's <c>reports</c>.</summary>
public sealed record DecontaminateReport
{
    public int Ngram { get; init; }
    public int? MinMatches { get; init; }
    public double? MinFraction { get; init; }
    public DecontaminateMode Mode { get; init; }

    /// <summary>(n-gram, item) pairs in the index over all partitions.</summary>
    public long IndexEntries { get; init; }
    public long Documents { get; init; }
    public long Contaminated { get; init; }
    public long Dropped { get; init; }
    public long SpansRemoved { get; init; }
    public long CharsRemoved { get; init; }
    public IReadOnlyList<BenchmarkContamination> Benchmarks { get; init; } = [];
    public long ContaminatedItems { get; init; }

    /// <summary>The contaminated items, most documents first (at most <see cref="DecontaminateStage.ReportedItems"/>).</summary>
    public IReadOnlyList<ItemContamination> Items { get; init; } = [];
}
