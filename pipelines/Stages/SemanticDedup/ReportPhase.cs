using Curation.Pipelines.Execution;
using Curation.Pipelines.IO;

namespace Curation.Pipelines.Stages;

// The report phase: the stage's report from every partition's stats.
public sealed partial class SemanticDedupStage
{
    private async Task<TaskStats> ReportAsync(TaskContext task, CancellationToken cancellationToken)
    {
        var choice = await ReadChoiceAsync(task, cancellationToken).ConfigureAwait(false);
        var assignStats = await PhaseStatsAsync(task, AssignPhase, task.Job.Plan.ShardCount, cancellationToken).ConfigureAwait(false);
        var scoreStats = await PhaseStatsAsync(task, _cascade.FinalScorePhase, _spec.Partitions, cancellationToken).ConfigureAwait(false);
        var decideStats = await PhaseStatsAsync(task, DecidePhase, _spec.Partitions, cancellationToken).ConfigureAwait(false);
        var histogram = await MergedHistogramAsync(task, cancellationToken).ConfigureAwait(false);
        var clusters = new List<ClusterCount>();
        for (var partition = 0; partition < _spec.Partitions; partition++)
        {
            foreach (var row in await ShuffleTable.ReadAllAsync<ClusterRow>(task.Job.Data, Key(task, $"clusters/{partition:D4}.parquet"), cancellationToken)
                .ConfigureAwait(false))
                clusters.Add(new ClusterCount(row.Cluster, row.Size, row.Healthy, row.Removed, row.Size - row.Removed));
        }
        clusters.Sort((a, b) => a.Cluster.CompareTo(b.Cluster));

        var documents = scoreStats.Sum(s => s.In);
        var removed = (long)decideStats.Sum(s => s.Metrics.GetValueOrDefault("removed"));
        var report = new SemanticDedupReport
        {
            Eps = choice.Eps,
            TargetKeepFraction = choice.TargetKeepFraction,
            Documents = documents,
            Removed = removed,
            KeptFraction = documents == 0 ? 1 : (double)(documents - removed) / documents,
            Unhealthy = Sum(assignStats, "health_"),
            EpsCurve = _spec.EpsCurve.Select(e =>
            {
                var r = (long)scoreStats.Sum(s => s.Metrics.GetValueOrDefault(EpsMetric(e)));
                return new EpsPoint(e, r, documents == 0 ? 1 : (double)(documents - r) / documents);
            }).ToArray(),
            MaxSimilarityHistogram = Coarsen(histogram, 50),
            ClusterSizes = ClusterSizeSummary.Of(clusters.Select(c => c.Size)),
            Clusters = clusters,
            Twins = new TwinSummary(
                (long)decideStats.Sum(s => s.Metrics.GetValueOrDefault("twins_kept")) - (long)decideStats.Sum(s => s.Metrics.GetValueOrDefault("chain_twins_kept")),
                (long)decideStats.Sum(s => s.Metrics.GetValueOrDefault("chain_twins_kept")),
                (long)decideStats.Sum(s => s.Metrics.GetValueOrDefault("chain_twins_removed"))),
            Cascade = _cascade.Enabled
                ? _cascade.Summary(await PhaseStatsAsync(task, CascadePhases.EmbedPhase, task.Job.Plan.ShardCount, cancellationToken).ConfigureAwait(false), scoreStats, documents)
                : null,
        };
        await StageReports.WriteAsync(task, report, cancellationToken).ConfigureAwait(false);
        return new TaskStats();
    }

    private static Dictionary<string, long> Sum(IEnumerable<TaskStats> stats, string prefix)
    {
        var total = new SortedDictionary<string, long>(StringComparer.Ordinal);
        foreach (var s in stats)
            foreach (var (key, value) in s.Metrics)
                if (key.StartsWith(prefix, StringComparison.Ordinal)) total[key[prefix.Length..]] = total.GetValueOrDefault(key[prefix.Length..]) + (long)value;
        return new Dictionary<string, long>(total);
    }

    private static HistogramBin[] Coarsen(long[] histogram, int bins)
    {
        var counts = new long[bins];
        for (var bin = 0; bin < histogram.Length; bin++) counts[(long)bin * bins / histogram.Length] += histogram[bin];
        return counts.Select((c, b) => new HistogramBin((double)b / bins, (double)(b + 1) / bins, c)).ToArray();
    }
}
