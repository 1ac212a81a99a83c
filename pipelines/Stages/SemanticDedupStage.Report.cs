using System.Diagnostics;
using Curation.Pipelines.Execution;
using Curation.Pipelines.Model;

namespace Curation.Pipelines.Stages;

// The report and apply phases: the stage's report from every partition's stats, then the verdicts applied to each shard.
public sealed partial class SemanticDedupStage
{
    private async Task<TaskStats> ReportAsync(TaskContext task, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        var choice = await ReadChoiceAsync(task, cancellationToken).ConfigureAwait(false);
        var assignStats = await PhaseStatsAsync(task, AssignPhase, task.Job.Plan.ShardCount, cancellationToken).ConfigureAwait(false);
        var scoreStats = await PhaseStatsAsync(task, _cascade.FinalScorePhase, _spec.Partitions, cancellationToken).ConfigureAwait(false);
        var decideStats = await PhaseStatsAsync(task, DecidePhase, _spec.Partitions, cancellationToken).ConfigureAwait(false);
        var histogram = await MergedHistogramAsync(task, cancellationToken).ConfigureAwait(false);
        var clusters = new List<ClusterCount>();
        for (var partition = 0; partition < _spec.Partitions; partition++)
        {
            var table = await StageObjects.ReadParquetAsync(task.Job.Data, Key(task, $"clusters/{partition:D4}.parquet"), cancellationToken).ConfigureAwait(false);
            for (var i = 0; i < table.RowCount; i++)
            {
                var (size, removedCount) = (table.GetColumn<long>("size")[i], table.GetColumn<long>("removed")[i]);
                clusters.Add(new ClusterCount(table.GetColumn<int>("cluster")[i], size, table.GetColumn<long>("healthy")[i], removedCount, size - removedCount));
            }
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
        return new TaskStats { Seconds = clock.Elapsed.TotalSeconds };
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

    private async Task<TaskStats> ApplyAsync(TaskContext task, CancellationToken cancellationToken)
    {
        var verdicts = new Dictionary<long, Verdict>();
        await foreach (var info in task.Job.Data.ListAsync(Key(task, $"verdicts/{JobLayout.ShardName(task.Task)}/"), cancellationToken).ConfigureAwait(false))
        {
            var batch = await StageObjects.ReadParquetAsync(task.Job.Data, info.Key, cancellationToken).ConfigureAwait(false);
            var (rows, clusters, max, twins, twinSimilarity, twinKept, health) = (batch.GetColumn<long>("row"), batch.GetColumn<int>("cluster"),
                batch.GetColumn<float>("max_similarity"), batch.GetColumn<string>(DropsSchema.TwinId), batch.GetColumn<float>("twin_similarity"),
                batch.GetColumn<bool>("twin_kept"), batch.GetColumn<string>("health"));
            for (var i = 0; i < batch.RowCount; i++) verdicts[rows[i]] = new Verdict(clusters[i], max[i], twins[i], twinSimilarity[i], twinKept[i], health[i]);
        }
        return await ShardTransformer.RunAsync(task, task.Task, new ApplyVerdicts(verdicts), cancellationToken).ConfigureAwait(false);
    }

    private sealed record Verdict(int Cluster, float Max, string Twin, float TwinSimilarity, bool TwinKept, string Health);

    private sealed class ApplyVerdicts(Dictionary<long, Verdict> verdicts) : IDocumentTransform
    {
        private long _offset;

        public IReadOnlyList<ColumnSchema> AddedColumns { get; } =
            [new(ClusterColumn, typeof(int)), new(MaxSimilarityColumn, typeof(float)), new(HealthColumn, typeof(string))];

        public void Process(RecordBatch batch, DropCollector drops)
        {
            var clusters = batch.ResetColumn<int>(ClusterColumn, batch.RowCount);
            var max = batch.ResetColumn<float>(MaxSimilarityColumn, batch.RowCount);
            var health = batch.ResetColumn<string>(HealthColumn, batch.RowCount);
            for (var i = 0; i < batch.RowCount; i++)
            {
                var verdict = verdicts.TryGetValue(_offset + i, out var v)
                    ? v
                    : throw new InvalidOperationException($"Row {_offset + i} ({batch.Ids[i]}) has no semantic dedup verdict.");
                clusters.Add(verdict.Cluster);
                max.Add(verdict.Max);
                health.Add(verdict.Health);
                if (verdict.Twin.Length == 0) continue;
                drops.Drop(i, DuplicateReason, verdict.TwinKept
                    ? $"cosine {verdict.TwinSimilarity:0.0000} to kept document {verdict.Twin} of cluster {verdict.Cluster}"
                    : $"cosine {verdict.TwinSimilarity:0.0000} to {verdict.Twin} of cluster {verdict.Cluster}, itself removed; no kept document is within eps",
                    verdict.Twin);
            }
            _offset += batch.RowCount;
        }
    }

    private static void Bump(Dictionary<string, double> counters, string key) => counters[key] = counters.GetValueOrDefault(key) + 1;
}
