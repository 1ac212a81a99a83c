using System.Diagnostics;
using Curation.Pipelines.Execution;
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
/// <item><b>locate-high</b>: the bin holding the last document to remove; <b>count-low</b> (per shard) /
/// <b>locate-low</b>: the exact distance inside it; <b>ties</b> (per shard) / <b>cutoff</b>: the last id at that
/// distance;</item>
/// <item><b>apply</b> (per shard): drops documents at or before the cutoff (<c>d4_prototypical</c>); <b>report</b>.</item>
/// </list>
/// </summary>
public sealed class D4Stage : PipelineStage
{
    public const string PrototypicalReason = "d4_prototypical";
    public const string ClusterColumn = "d4_cluster";
    public const string DistanceColumn = "d4_distance";

    private const string AssignPhase = "assign";
    private const string LocateHighPhase = "locate-high";
    private const string CountLowPhase = "count-low";
    private const string LocateLowPhase = "locate-low";
    private const string TiesPhase = "ties";
    private const string CutoffPhase = "cutoff";
    private const string ApplyPhase = "apply";
    private const string ReportPhase = "report";

    private static readonly IReadOnlyList<ColumnSchema> DistanceSchema =
        [new("row", typeof(long)), new(Columns.Id, typeof(string)), new("cluster", typeof(int)), new("distance", typeof(float))];

    private readonly D4StageSpec _spec;
    private readonly KMeansPhases _kmeans;

    public D4Stage(int index, D4StageSpec spec) : base(index)
    {
        _spec = spec;
        _kmeans = new KMeansPhases(this, spec);
    }

    public override string Name => D4StageSpec.TypeName;

    public override IReadOnlyList<PhaseInfo> Phases(JobPlan plan) =>
    [
        .. _kmeans.Phases(plan),
        new(AssignPhase, TaskScope.Shard, plan.ShardCount, false),
        new(LocateHighPhase, TaskScope.Single, 1, false),
        new(CountLowPhase, TaskScope.Shard, plan.ShardCount, false),
        new(LocateLowPhase, TaskScope.Single, 1, false),
        new(TiesPhase, TaskScope.Shard, plan.ShardCount, false),
        new(CutoffPhase, TaskScope.Single, 1, false),
        new(ApplyPhase, TaskScope.Shard, plan.ShardCount, true),
        new(ReportPhase, TaskScope.Single, 1, false),
    ];

    public override Task<TaskStats> RunAsync(TaskContext task, CancellationToken cancellationToken) => task.Phase switch
    {
        AssignPhase => AssignAsync(task, cancellationToken),
        LocateHighPhase => LocateHighAsync(task, cancellationToken),
        CountLowPhase => CountLowAsync(task, cancellationToken),
        LocateLowPhase => LocateLowAsync(task, cancellationToken),
        TiesPhase => TiesAsync(task, cancellationToken),
        CutoffPhase => CutoffAsync(task, cancellationToken),
        ApplyPhase => ApplyAsync(task, cancellationToken),
        ReportPhase => ReportAsync(task, cancellationToken),
        _ => _kmeans.TryRun(task, cancellationToken) ?? throw new ArgumentException($"{this} has no phase '{task.Phase}'."),
    };

    private string Key(TaskContext task, string relative) => task.Job.Layout.StageRoot(Index, Name) + relative;

    private string ShardKey(TaskContext task, string folder, int shard, string extension) => Key(task, $"{folder}/{JobLayout.ShardName(shard)}.{extension}");

    /// <summary>The rounds' decisions: what locate-high, locate-low and cutoff found.</summary>
    public sealed record Round(long Documents, long Remove, int HighBin = 0, long RankInHigh = 0, uint Key = 0, long RankAmongTies = 0, string? LastId = null);

    private Task WriteRoundAsync(TaskContext task, string name, Round round, CancellationToken cancellationToken) =>
        StageObjects.WriteJsonOnceAsync(task.Job.Data, Key(task, $"{name}.json"), round, cancellationToken);

    private async Task<Round> ReadRoundAsync(TaskContext task, string name, CancellationToken cancellationToken) =>
        (await Storage.ObjectStoreExtensions.TryReadJsonAsync<Round>(task.Job.Data, Key(task, $"{name}.json"), cancellationToken: cancellationToken).ConfigureAwait(false)).Value
        ?? throw new InvalidOperationException($"{this}: {name}.json is missing.");

    private async Task<RecordBatch> ReadDistancesAsync(TaskContext task, int shard, CancellationToken cancellationToken) =>
        await StageObjects.ReadParquetAsync(task.Job.Data, ShardKey(task, "distances", shard, "parquet"), cancellationToken).ConfigureAwait(false);

    private async Task<TaskStats> AssignAsync(TaskContext task, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        var centroids = await _kmeans.FinalCentroidsAsync(task, cancellationToken).ConfigureAwait(false);
        var (ids, vectors, dimensions) = await KMeansPhases.LoadShardAsync(task, task.Task, cancellationToken).ConfigureAwait(false);
        var clusters = new int[ids.Count];
        var distances = new float[ids.Count];
        SphericalKMeans.Assign(vectors, dimensions, centroids, clusters, distances);
        var batch = RecordBatch.WithSchema(DistanceSchema, ids.Count);
        for (var i = 0; i < ids.Count; i++) batch.GetColumn<long>("row").Add(i);
        batch.Ids.AddRange(ids);
        batch.GetColumn<int>("cluster").AddRange(clusters);
        batch.GetColumn<float>("distance").AddRange(distances);
        await StageObjects.WriteParquetAsync(task.Job.Data, ShardKey(task, "distances", task.Task, "parquet"), batch, null, cancellationToken).ConfigureAwait(false);
        var high = new long[D4Selection.HistogramBins];
        D4Selection.CountHigh(distances, high);
        await StageObjects.WriteSparseHistogramAsync(task.Job.Data, ShardKey(task, "high", task.Task, "bin"), high, cancellationToken).ConfigureAwait(false);
        return new TaskStats { In = ids.Count, Seconds = clock.Elapsed.TotalSeconds };
    }

    private async Task<long[]> MergeAsync(TaskContext task, string folder, CancellationToken cancellationToken)
    {
        var histogram = new long[D4Selection.HistogramBins];
        for (var shard = 0; shard < task.Job.Plan.ShardCount; shard++)
            await StageObjects.AddSparseHistogramAsync(task.Job.Data, ShardKey(task, folder, shard, "bin"), histogram, cancellationToken).ConfigureAwait(false);
        return histogram;
    }

    private async Task<TaskStats> LocateHighAsync(TaskContext task, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        var high = await MergeAsync(task, "high", cancellationToken).ConfigureAwait(false);
        var documents = high.Sum();
        var remove = documents - D4Selection.KeepCount(documents, _spec.KeepFraction);
        var round = new Round(documents, remove);
        if (remove > 0)
        {
            var (bin, rankInBin) = D4Selection.Locate(high, remove - 1);
            round = round with { HighBin = bin, RankInHigh = rankInBin };
        }
        await WriteRoundAsync(task, LocateHighPhase, round, cancellationToken).ConfigureAwait(false);
        return new TaskStats { Seconds = clock.Elapsed.TotalSeconds, Metrics = { ["to_remove"] = remove } };
    }

    private async Task<TaskStats> CountLowAsync(TaskContext task, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        var round = await ReadRoundAsync(task, LocateHighPhase, cancellationToken).ConfigureAwait(false);
        var low = new long[D4Selection.HistogramBins];
        if (round.Remove > 0)
        {
            var distances = (await ReadDistancesAsync(task, task.Task, cancellationToken).ConfigureAwait(false)).GetColumn<float>("distance");
            D4Selection.CountLow(distances.List.ToArray(), round.HighBin, low);
        }
        await StageObjects.WriteSparseHistogramAsync(task.Job.Data, ShardKey(task, "low", task.Task, "bin"), low, cancellationToken).ConfigureAwait(false);
        return new TaskStats { Seconds = clock.Elapsed.TotalSeconds };
    }

    private async Task<TaskStats> LocateLowAsync(TaskContext task, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        var round = await ReadRoundAsync(task, LocateHighPhase, cancellationToken).ConfigureAwait(false);
        if (round.Remove > 0)
        {
            var (bin, rankAmongTies) = D4Selection.Locate(await MergeAsync(task, "low", cancellationToken).ConfigureAwait(false), round.RankInHigh);
            round = round with { Key = ((uint)round.HighBin << 16) | (uint)bin, RankAmongTies = rankAmongTies };
        }
        await WriteRoundAsync(task, LocateLowPhase, round, cancellationToken).ConfigureAwait(false);
        return new TaskStats { Seconds = clock.Elapsed.TotalSeconds };
    }

    private async Task<TaskStats> TiesAsync(TaskContext task, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        var round = await ReadRoundAsync(task, LocateLowPhase, cancellationToken).ConfigureAwait(false);
        var ties = RecordBatch.WithSchema([new(Columns.Id, typeof(string))]);
        if (round.Remove > 0)
        {
            var table = await ReadDistancesAsync(task, task.Task, cancellationToken).ConfigureAwait(false);
            var distances = table.GetColumn<float>("distance");
            for (var i = 0; i < table.RowCount; i++)
                if (D4Selection.KeyOf(distances[i]) == round.Key) ties.Ids.Add(table.Ids[i]);
        }
        await StageObjects.WriteParquetAsync(task.Job.Data, ShardKey(task, "ties", task.Task, "parquet"), ties, null, cancellationToken).ConfigureAwait(false);
        return new TaskStats { Seconds = clock.Elapsed.TotalSeconds, Metrics = { ["ties"] = ties.RowCount } };
    }

    private async Task<TaskStats> CutoffAsync(TaskContext task, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        var round = await ReadRoundAsync(task, LocateLowPhase, cancellationToken).ConfigureAwait(false);
        if (round.Remove > 0)
        {
            var ids = new List<string>();
            for (var shard = 0; shard < task.Job.Plan.ShardCount; shard++)
                ids.AddRange((await StageObjects.ReadParquetAsync(task.Job.Data, ShardKey(task, "ties", shard, "parquet"), cancellationToken).ConfigureAwait(false)).Ids.List);
            round = round with { LastId = D4Selection.CutoffAmongTies(round.Key, ids, round.RankAmongTies).LastId };
        }
        await WriteRoundAsync(task, CutoffPhase, round, cancellationToken).ConfigureAwait(false);
        return new TaskStats { Seconds = clock.Elapsed.TotalSeconds };
    }

    private static float DistanceOf(uint key)
    {
        var bits = (key & 0x8000_0000u) != 0 ? key & 0x7FFF_FFFFu : ~key;
        return BitConverter.UInt32BitsToSingle(bits);
    }

    private async Task<TaskStats> ApplyAsync(TaskContext task, CancellationToken cancellationToken)
    {
        var round = await ReadRoundAsync(task, CutoffPhase, cancellationToken).ConfigureAwait(false);
        var cutoff = round.LastId is null ? D4Cutoff.None : new D4Cutoff(round.Key, round.LastId);
        var table = await ReadDistancesAsync(task, task.Task, cancellationToken).ConfigureAwait(false);
        var transform = new ApplyCutoff(table, cutoff, DistanceOf(round.Key));
        var stats = await ShardTransformer.RunAsync(task, task.Task, transform, cancellationToken).ConfigureAwait(false);
        // Per cluster: members and removed, as (cluster, size, removed) triples for the report.
        var counts = transform.Counts.OrderBy(c => c.Key).SelectMany(c => new[] { c.Key, c.Value.Size, c.Value.Removed }).ToArray();
        await StageObjects.WriteArrayAsync(task.Job.Data, ShardKey(task, "counts", task.Task, "bin"), counts, cancellationToken).ConfigureAwait(false);
        return stats;
    }

    private sealed class ApplyCutoff(RecordBatch table, D4Cutoff cutoff, float cutoffDistance) : IDocumentTransform
    {
        private int _offset;

        public Dictionary<long, (long Size, long Removed)> Counts { get; } = [];

        public IReadOnlyList<ColumnSchema> AddedColumns { get; } = [new(ClusterColumn, typeof(int)), new(DistanceColumn, typeof(float))];

        public void Process(RecordBatch batch, DropCollector drops)
        {
            var clusters = batch.ResetColumn<int>(ClusterColumn, batch.RowCount);
            var distances = batch.ResetColumn<float>(DistanceColumn, batch.RowCount);
            var (ids, clusterOf, distanceOf) = (table.Ids, table.GetColumn<int>("cluster"), table.GetColumn<float>("distance"));
            for (var i = 0; i < batch.RowCount; i++)
            {
                var row = _offset + i;
                if (row >= table.RowCount || ids[row] != batch.Ids[i])
                    throw new InvalidOperationException($"Row {row} ({batch.Ids[i]}) has no d4 assignment; the shard changed under the stage.");
                var (cluster, distance) = (clusterOf[row], distanceOf[row]);
                clusters.Add(cluster);
                distances.Add(distance);
                var removed = cutoff.Removes(distance, batch.Ids[i]);
                var count = Counts.GetValueOrDefault(cluster);
                Counts[cluster] = (count.Size + 1, count.Removed + (removed ? 1 : 0));
                if (removed)
                    drops.Drop(i, PrototypicalReason, $"cosine distance {distance:0.000000} to the centroid of cluster {cluster}, at or below the cutoff {cutoffDistance:0.000000}");
            }
            _offset += batch.RowCount;
        }
    }

    private async Task<TaskStats> ReportAsync(TaskContext task, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        var round = await ReadRoundAsync(task, CutoffPhase, cancellationToken).ConfigureAwait(false);
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
        var high = await MergeAsync(task, "high", cancellationToken).ConfigureAwait(false);
        var report = new D4Report
        {
            KeepFraction = _spec.KeepFraction,
            Documents = round.Documents,
            Removed = counts.Values.Sum(c => c.Removed),
            CutoffDistance = round.LastId is null ? null : DistanceOf(round.Key),
            CutoffId = round.LastId,
            ClusterSizes = ClusterSizeSummary.Of(counts.Values.Select(c => c.Size)),
            Clusters = counts.Select(c => new ClusterCount((int)c.Key, c.Value.Size, c.Value.Size, c.Value.Removed, c.Value.Size - c.Value.Removed)).ToArray(),
            DistanceHistogram = DistanceHistogram(high),
        };
        await StageReports.WriteAsync(task, report, cancellationToken).ConfigureAwait(false);
        return new TaskStats { Seconds = clock.Elapsed.TotalSeconds };
    }

    /// <summary>Cosine distance to the centroid in 40 bins of 0.025 over [0, 1] (larger distances in the last bin).</summary>
    private static HistogramBin[] DistanceHistogram(long[] high)
    {
        const int bins = 40;
        var counts = new long[bins];
        for (var bin = 0; bin < high.Length; bin++)
        {
            if (high[bin] == 0) continue;
            var distance = Math.Max(0, DistanceOf((uint)bin << 16));
            counts[Math.Min(bins - 1, (int)(distance * bins))] += high[bin];
        }
        return counts.Select((c, b) => new HistogramBin((double)b / bins, (double)(b + 1) / bins, c)).ToArray();
    }
}
