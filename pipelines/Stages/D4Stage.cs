using Curation.Pipelines.Execution;
using Curation.Pipelines.IO;
using Curation.Pipelines.Model;
using Curation.Pipelines.Semantic;
using Curation.Pipelines.Spec;

namespace Curation.Pipelines.Stages;

/// <summary>
/// D4 diversification (<see cref="D4Selection"/>): re-cluster the documents reaching the stage, then remove the most
/// prototypical — smallest cosine distance to their centroid, ties by id — until <c>keepFraction</c> of them remain.
/// The single global cutoff on (distance, id) is found without gathering the corpus, in three histogram rounds:
/// <list type="number">
/// <item>k-means (<see cref="KMeansPhases"/>), then <b>assign</b> (per shard): cluster and distance of every document,
/// and a histogram of the distances' high 16 key bits;</item>
/// <item>the global cutoff's rounds (<see cref="GlobalCutoffPhases"/>): <b>locate-high</b>, <b>count-low</b>,
/// <b>locate-low</b>, <b>ties</b>, <b>cutoff</b>;</item>
/// <item><b>apply</b> (per shard): drops documents at or before the cutoff (<c>d4_prototypical</c>); <b>report</b>.</item>
/// </list>
/// </summary>
public sealed class D4Stage : PipelineStage
{
    public const string PrototypicalReason = "d4_prototypical";
    public const string ClusterColumn = "d4_cluster";
    public const string DistanceColumn = "d4_distance";

    private const string AssignPhase = "assign";
    private const string ApplyPhase = "apply";
    private const string ReportPhase = "report";

    /// <summary>A row of a shard's distances table: a document's cluster and cosine distance to its centroid, in shard row order.</summary>
    private readonly record struct DistanceRow(long Row, string Id, int Cluster, float Distance);

    private readonly D4StageSpec _spec;
    private readonly KMeansPhases _kmeans;
    private readonly GlobalCutoffPhases _cutoff;

    public D4Stage(int index, D4StageSpec spec) : base(index)
    {
        _spec = spec;
        _kmeans = new KMeansPhases(this, spec);
        _cutoff = new GlobalCutoffPhases(this, spec.KeepFraction, "distance", (task, shard) => ShardKey(task, "distances", shard, "parquet"));
    }

    public override string Name => D4StageSpec.TypeName;

    protected override IReadOnlyList<StagePhase> DeclarePhases(JobPlan plan) =>
    [
        .. _kmeans.Phases(plan),
        new(AssignPhase, TaskScope.Shard, plan.ShardCount, AssignAsync),
        .. _cutoff.Declare(plan),
        new(ApplyPhase, TaskScope.Shard, plan.ShardCount, ApplyAsync, producesShardOutput: true),
        new(ReportPhase, TaskScope.Single, 1, ReportAsync),
    ];

    private string Key(TaskContext task, string relative) => task.Job.Layout.StageRoot(Index, Name) + relative;

    private string ShardKey(TaskContext task, string folder, int shard, string extension) => Key(task, $"{folder}/{JobLayout.ShardName(shard)}.{extension}");

    private async Task<RecordBatch> ReadDistancesAsync(TaskContext task, int shard, CancellationToken cancellationToken) =>
        await StageObjects.ReadParquetAsync(task.Job.Data, ShardKey(task, "distances", shard, "parquet"), cancellationToken).ConfigureAwait(false);

    private async Task<TaskStats> AssignAsync(TaskContext task, CancellationToken cancellationToken)
    {
        var centroids = await _kmeans.FinalCentroidsAsync(task, cancellationToken).ConfigureAwait(false);
        var (ids, vectors, dimensions) = await KMeansPhases.LoadShardAsync(task, task.Task, cancellationToken).ConfigureAwait(false);
        var clusters = new int[ids.Count];
        var distances = new float[ids.Count];
        SphericalKMeans.Assign(vectors, dimensions, centroids, clusters, distances);
        var rows = new ShuffleRows<DistanceRow>(ids.Count);
        for (var i = 0; i < ids.Count; i++) rows.Add(new DistanceRow(i, ids[i], clusters[i], distances[i]));
        await ShuffleTable.WriteAsync(task.Job.Data, ShardKey(task, "distances", task.Task, "parquet"), rows, null, cancellationToken).ConfigureAwait(false);
        await _cutoff.WriteHighAsync(task, distances, cancellationToken).ConfigureAwait(false);
        return new TaskStats { In = ids.Count };
    }

    /// <summary>
    /// The cutoff turned into decisions of the shard (rows at or before it; <see cref="ShardDecisions"/>), applied by the
    /// shared transform, which also records every row's cluster and distance.
    /// </summary>
    private async Task<TaskStats> ApplyAsync(TaskContext task, CancellationToken cancellationToken)
    {
        var (cutoff, round) = await _cutoff.CutoffAsync(task, cancellationToken).ConfigureAwait(false);
        var table = await ReadDistancesAsync(task, task.Task, cancellationToken).ConfigureAwait(false);
        var cutoffDistance = GlobalCutoffPhases.ValueOf(round.Key);
        var (ids, clusterOf, distanceOf) = (table.Ids, table.GetColumn<int>("cluster"), table.GetColumn<float>("distance"));
        var decisions = new Dictionary<long, ShardDecision>();
        var sizes = new Dictionary<long, (long Size, long Removed)>();
        for (var row = 0; row < table.RowCount; row++)
        {
            var (cluster, distance) = (clusterOf[row], distanceOf[row]);
            var removed = cutoff.Removes(distance, ids[row]);
            var count = sizes.GetValueOrDefault(cluster);
            sizes[cluster] = (count.Size + 1, count.Removed + (removed ? 1 : 0));
            if (removed)
                decisions[row] = new ShardDecision(PrototypicalReason,
                    $"cosine distance {distance:0.000000} to the centroid of cluster {cluster}, at or below the cutoff {cutoffDistance:0.000000}");
        }
        var transform = new ApplyDecisionsTransform(decisions, [new(ClusterColumn, typeof(int)), new(DistanceColumn, typeof(float))], (batch, offset) =>
        {
            var clusters = batch.ResetColumn<int>(ClusterColumn, batch.RowCount);
            var distances = batch.ResetColumn<float>(DistanceColumn, batch.RowCount);
            for (var i = 0; i < batch.RowCount; i++)
            {
                var row = offset + i;
                if (row >= table.RowCount || ids[(int)row] != batch.Ids[i])
                    throw new InvalidOperationException($"Row {row} ({batch.Ids[i]}) has no d4 assignment; the shard changed under the stage.");
                clusters.Add(clusterOf[(int)row]);
                distances.Add(distanceOf[(int)row]);
            }
        });
        var stats = await ShardTransformer.RunAsync(task, task.Task, transform, cancellationToken).ConfigureAwait(false);
        if (stats.In != table.RowCount)
            throw new InvalidOperationException($"shard {task.Task} has {stats.In} rows, its d4 assignments {table.RowCount}; the shard changed under the stage.");
        // Per cluster: members and removed, as (cluster, size, removed) triples for the report.
        var counts = sizes.OrderBy(c => c.Key).SelectMany(c => new[] { c.Key, c.Value.Size, c.Value.Removed }).ToArray();
        await StageObjects.WriteArrayAsync(task.Job.Data, ShardKey(task, "counts", task.Task, "bin"), counts, cancellationToken).ConfigureAwait(false);
        return stats;
    }

    private async Task<TaskStats> ReportAsync(TaskContext task, CancellationToken cancellationToken)
    {
        var (_, round) = await _cutoff.CutoffAsync(task, cancellationToken).ConfigureAwait(false);
        var counts = new SortedDictionary<long, (long Size, long Removed)>();
        for (var shard = 0; shard < task.Job.Plan.ShardCount; shard++)
        {
            var triples = await StageObjects.ReadArrayAsync<long>(task.Job.Data, ShardKey(task, "counts", shard, "bin"), cancellationToken).ConfigureAwait(false);
            for (var i = 0; i < triples.Length; i += 3)
            {
                var c = counts.GetValueOrDefault(triples[i]);
                counts[triples[i]] = (c.Size + triples[i + 1], c.Removed + triples[i + 2]);
            }
        }
        var high = await _cutoff.MergeHighAsync(task, cancellationToken).ConfigureAwait(false);
        var report = new D4Report
        {
            KeepFraction = _spec.KeepFraction,
            Documents = round.Documents,
            Removed = counts.Values.Sum(c => c.Removed),
            CutoffDistance = round.LastId is null ? null : GlobalCutoffPhases.ValueOf(round.Key),
            CutoffId = round.LastId,
            ClusterSizes = ClusterSizeSummary.Of(counts.Values.Select(c => c.Size)),
            Clusters = counts.Select(c => new ClusterCount((int)c.Key, c.Value.Size, c.Value.Size, c.Value.Removed, c.Value.Size - c.Value.Removed)).ToArray(),
            DistanceHistogram = DistanceHistogram(high),
        };
        await StageReports.WriteAsync(task, report, cancellationToken).ConfigureAwait(false);
        return new TaskStats();
    }

    /// <summary>Cosine distance to the centroid in 40 bins of 0.025 over [0, 1] (larger distances in the last bin).</summary>
    private static HistogramBin[] DistanceHistogram(long[] high)
    {
        const int bins = 40;
        var counts = new long[bins];
        for (var bin = 0; bin < high.Length; bin++)
        {
            if (high[bin] == 0) continue;
            var distance = Math.Max(0, GlobalCutoffPhases.ValueOf((uint)bin << 16));
            counts[Math.Min(bins - 1, (int)(distance * bins))] += high[bin];
        }
        return counts.Select((c, b) => new HistogramBin((double)b / bins, (double)(b + 1) / bins, c)).ToArray();
    }
}
