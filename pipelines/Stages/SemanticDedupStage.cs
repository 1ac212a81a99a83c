using System.Diagnostics;
using System.Globalization;
using Curation.Pipelines.Execution;
using Curation.Pipelines.IO;
using Curation.Pipelines.Model;
using Curation.Pipelines.Semantic;
using Curation.Pipelines.Spec;
using Curation.Pipelines.Storage;

namespace Curation.Pipelines.Stages;

/// <summary>
/// SemDeDup over the embeddings of the last embed stage, distributed as phases of the job:
/// <list type="number">
/// <item>k-means (<see cref="KMeansPhases"/>): sample, init, assign-i / reduce-i;</item>
/// <item><b>assign</b> (per shard): each document's cluster, distance to its centroid and embedding health, shuffled
/// by cluster partition (cluster mod partitions) together with its vector, so each partition reads only its own;</item>
/// <item><b>score</b> (per partition): per cluster, healthy members ranked (hard/easy/random); M and the direct twin of
/// every member, computed in tiles over a memory-mapped spill of the partition's vectors (bounded memory); a fine
/// histogram of M and the eps curve;</item>
/// <item><b>choose</b>: eps — the spec's, or picked from the merged histogram for a target keep fraction;</item>
/// <item><b>decide</b> (per partition): removal (M ≥ 1 − eps) and lineage: every removed document names the most
/// similar kept earlier member of its cluster when one lies within eps (always, unless it is the tail of a chain);</item>
/// <item><b>report</b>: <c>report.json</c> (eps curve, M histogram, cluster sizes, removed/kept per cluster);</item>
/// <item><b>apply</b> (per shard): drops the removed documents (<c>semantic_duplicate</c>, twin) and adds
/// <c>semantic_cluster</c>, <c>semantic_max_similarity</c> and <c>embedding_health</c>.</item>
/// </list>
/// </summary>
public sealed class SemanticDedupStage : PipelineStage
{
    public const string DuplicateReason = "semantic_duplicate";
    public const string ClusterColumn = "semantic_cluster";
    public const string MaxSimilarityColumn = "semantic_max_similarity";
    public const string HealthColumn = "embedding_health";

    public const string AssignPhase = "assign";
    public const string ScorePhase = "score";
    public const string ChoosePhase = "choose";
    public const string DecidePhase = "decide";
    public const string ReportPhase = "report";
    public const string ApplyPhase = "apply";

    /// <summary>Bins of the M histogram eps is chosen from: M in [b/65536, (b+1)/65536), M ≥ 1 in the last.</summary>
    public const int SimilarityBins = 65536;

    private static readonly IReadOnlyList<ColumnSchema> MemberSchema =
    [
        new("row", typeof(long)), new(Columns.Id, typeof(string)), new("cluster", typeof(int)), new("distance", typeof(float)),
        new("health", typeof(string)), new(EmbeddingFile.VectorColumn, typeof(byte[])),
    ];

    private static readonly IReadOnlyList<ColumnSchema> ScoreSchema =
    [
        new("shard", typeof(int)), new("row", typeof(long)), new(Columns.Id, typeof(string)), new("cluster", typeof(int)),
        new("rank", typeof(int)), new("max_similarity", typeof(float)), new("twin_rank", typeof(int)), new("health", typeof(string)),
    ];

    private static readonly IReadOnlyList<ColumnSchema> VerdictSchema =
    [
        new("row", typeof(long)), new("cluster", typeof(int)), new("max_similarity", typeof(float)), new(DropsSchema.TwinId, typeof(string)),
        new("twin_similarity", typeof(float)), new("twin_kept", typeof(bool)), new("health", typeof(string)),
    ];

    private static readonly IReadOnlyList<ColumnSchema> ClusterSchema =
        [new("cluster", typeof(int)), new("size", typeof(long)), new("healthy", typeof(long)), new("removed", typeof(long))];

    private readonly SemanticDedupStageSpec _spec;
    private readonly KMeansPhases _kmeans;

    public SemanticDedupStage(int index, SemanticDedupStageSpec spec) : base(index)
    {
        _spec = spec;
        _kmeans = new KMeansPhases(this, spec);
    }

    public override string Name => SemanticDedupStageSpec.TypeName;

    private ulong Seed(TaskContext task) => unchecked((ulong)task.Job.Spec.Seed);

    public override IReadOnlyList<PhaseInfo> Phases(JobPlan plan) =>
    [
        .. _kmeans.Phases(plan),
        new(AssignPhase, TaskScope.Shard, plan.ShardCount, false),
        new(ScorePhase, TaskScope.Partition, _spec.Partitions, false),
        new(ChoosePhase, TaskScope.Single, 1, false),
        new(DecidePhase, TaskScope.Partition, _spec.Partitions, false),
        new(ReportPhase, TaskScope.Single, 1, false),
        new(ApplyPhase, TaskScope.Shard, plan.ShardCount, true),
    ];

    public override Task<TaskStats> RunAsync(TaskContext task, CancellationToken cancellationToken) => task.Phase switch
    {
        AssignPhase => AssignAsync(task, cancellationToken),
        ScorePhase => ScoreAsync(task, cancellationToken),
        ChoosePhase => ChooseAsync(task, cancellationToken),
        DecidePhase => DecideAsync(task, cancellationToken),
        ReportPhase => ReportAsync(task, cancellationToken),
        ApplyPhase => ApplyAsync(task, cancellationToken),
        _ => _kmeans.TryRun(task, cancellationToken) ?? throw new ArgumentException($"{this} has no phase '{task.Phase}'."),
    };

    private string Key(TaskContext task, string relative) => task.Job.Layout.StageRoot(Index, Name) + relative;

    private string MembersFolder(TaskContext task, int partition) => Key(task, $"members/{partition:D4}/");

    private async Task<TaskStats> AssignAsync(TaskContext task, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        var centroids = await _kmeans.FinalCentroidsAsync(task, cancellationToken).ConfigureAwait(false);
        var mean = await _kmeans.MeanAsync(task, cancellationToken).ConfigureAwait(false);
        var (ids, vectors, dimensions) = await KMeansPhases.LoadShardAsync(task, task.Task, cancellationToken).ConfigureAwait(false);
        var clusters = new int[ids.Count];
        var distances = new float[ids.Count];
        SphericalKMeans.Assign(vectors, dimensions, centroids, clusters, distances);
        // Degenerate embeddings sit near the mean direction and look alike whatever their text: they are kept out of
        // dedup (never removed, never anyone's twin) and reported, instead of being collapsed as duplicates.
        var health = EmbeddingHealth.Check(vectors, dimensions, mean, new EmbeddingHealthOptions { StickyCosine = _spec.StickyCosine });

        var pieces = new SortedDictionary<int, RecordBatch>();
        for (var i = 0; i < ids.Count; i++)
        {
            var partition = clusters[i] % _spec.Partitions;
            var piece = pieces.TryGetValue(partition, out var p) ? p : pieces[partition] = RecordBatch.WithSchema(MemberSchema);
            piece.GetColumn<long>("row").Add(i);
            piece.Ids.Add(ids[i]);
            piece.GetColumn<int>("cluster").Add(clusters[i]);
            piece.GetColumn<float>("distance").Add(distances[i]);
            piece.GetColumn<string>("health").Add(health.Issues[i] == EmbeddingIssues.None ? "" : string.Join("; ", health.Reasons(i)));
            piece.GetColumn<byte[]>(EmbeddingFile.VectorColumn).Add(EmbeddingFile.Encode(vectors.AsSpan(i * dimensions, dimensions), EmbeddingPrecision.Float32));
        }
        var metadata = EmbeddingFile.Metadata(dimensions, EmbeddingPrecision.Float32, "members");
        foreach (var (partition, piece) in pieces)
            await StageObjects.WriteParquetAsync(task.Job.Data, $"{MembersFolder(task, partition)}{JobLayout.ShardName(task.Task)}.parquet", piece, metadata, cancellationToken)
                .ConfigureAwait(false);
        var stats = new TaskStats { In = ids.Count, Seconds = clock.Elapsed.TotalSeconds };
        for (var i = 0; i < ids.Count; i++)
            if (health.Issues[i] != EmbeddingIssues.None)
                Bump(stats.Metrics, $"health_{health.Issues[i].ToString().ToLowerInvariant().Replace(", ", "_", StringComparison.Ordinal)}");
        return stats;
    }

    /// <summary>One document of a partition, as the score and decide phases track it (its vector lives in a spill).</summary>
    private sealed record Member(int Shard, long Row, string Id, int Cluster, float Distance, string Health, int SpillRow);

    /// <summary>
    /// Streams this partition's members from every shard's piece (shard order), spilling the vectors of those
    /// <paramref name="wanted"/> accepts to <paramref name="spill"/> (created on the first piece).
    /// </summary>
    private async Task<List<Member>> ReadMembersAsync(TaskContext task, int partition, Func<int, long, int, string, bool> wanted,
        Func<int, VectorSpill> createSpill, CancellationToken cancellationToken)
    {
        var members = new List<Member>();
        VectorSpill? spill = null;
        var keys = new List<string>();
        await foreach (var info in task.Job.Data.ListAsync(MembersFolder(task, partition), cancellationToken).ConfigureAwait(false)) keys.Add(info.Key);
        keys.Sort(StringComparer.Ordinal);
        foreach (var key in keys)
        {
            var shard = int.Parse(Path.GetFileNameWithoutExtension(key), CultureInfo.InvariantCulture);
            await using var input = await task.Job.Data.OpenReadAsync(key, cancellationToken).ConfigureAwait(false);
            await using var reader = await ParquetTableReader.OpenAsync(input, cancellationToken).ConfigureAwait(false);
            var dimensions = int.Parse(reader.Metadata[EmbeddingFile.DimensionsKey], CultureInfo.InvariantCulture);
            spill ??= createSpill(dimensions);
            var vector = new float[dimensions];
            await foreach (var batch in reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
            {
                var (rows, clusters, distances, health, vectors) = (batch.GetColumn<long>("row"), batch.GetColumn<int>("cluster"),
                    batch.GetColumn<float>("distance"), batch.GetColumn<string>("health"), batch.GetColumn<byte[]>(EmbeddingFile.VectorColumn));
                for (var i = 0; i < batch.RowCount; i++)
                {
                    var spillRow = -1;
                    if (health[i].Length == 0 && wanted(shard, rows[i], clusters[i], batch.Ids[i]))
                    {
                        EmbeddingFile.Decode(vectors[i], vector, float16: false);
                        spillRow = spill.Append(vector);
                    }
                    members.Add(new Member(shard, rows[i], batch.Ids[i], clusters[i], distances[i], health[i], spillRow));
                }
            }
        }
        return members;
    }

    private async Task<TaskStats> ScoreAsync(TaskContext task, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        var partition = task.Task;
        VectorSpill? spill = null;
        try
        {
            var members = await ReadMembersAsync(task, partition, (_, _, _, _) => true, d => spill = new VectorSpill(d), cancellationToken).ConfigureAwait(false);
            var scores = Score(members, spill, Seed(task));
            await StageObjects.WriteParquetAsync(task.Job.Data, Key(task, $"scores/{partition:D4}.parquet"), scores.Table, null, cancellationToken).ConfigureAwait(false);
            await StageObjects.WriteSparseHistogramAsync(task.Job.Data, Key(task, $"mhist/{partition:D4}.bin"), scores.Histogram, cancellationToken).ConfigureAwait(false);

            var metrics = new Dictionary<string, double> { ["documents"] = members.Count, ["healthy"] = scores.Healthy, ["clusters"] = scores.Clusters };
            // M is computed once, so every eps of the curve costs nothing more.
            foreach (var eps in _spec.EpsCurve)
                metrics[EpsMetric(eps)] = scores.MaxSimilarity.Count(m => SemDeDup.IsDuplicate(m, eps));
            return new TaskStats { In = members.Count, Seconds = clock.Elapsed.TotalSeconds, Metrics = metrics };
        }
        finally
        {
            spill?.Dispose();
        }
    }

    private static string EpsMetric(double eps) => $"eps_{eps.ToString(CultureInfo.InvariantCulture)}_removed";

    private sealed record PartitionScores(RecordBatch Table, long[] Histogram, List<float> MaxSimilarity, long Healthy, int Clusters);

    /// <summary>Ranks each cluster's healthy members and computes M and direct twins over the spilled vectors.</summary>
    private unsafe PartitionScores Score(List<Member> members, VectorSpill? spill, ulong seed)
    {
        var table = RecordBatch.WithSchema(ScoreSchema, members.Count);
        var histogram = new long[SimilarityBins];
        var allMax = new List<float>();
        spill?.Seal();
        var source = spill is null ? null : spill.Pointer;
        var clusters = members.Select((m, i) => (m, i)).GroupBy(x => x.m.Cluster).OrderBy(g => g.Key).ToList();
        long healthy = 0;
        foreach (var cluster in clusters)
        {
            var list = cluster.Where(x => x.m.SpillRow >= 0).Select(x => x.m).ToArray();
            var ranking = SemDeDup.Rank(list.Select(m => m.Distance).ToArray(), list.Select(m => m.Id).ToArray(), ToOrder(_spec.Order), seed);
            var rowOfRank = ranking.Select(r => list[r].SpillRow).ToArray();
            var (max, twinRank) = SemDeDup.ComputeRanked(source, spill?.Dimensions ?? 1, rowOfRank, _spec.TileSize);
            for (var r = 0; r < ranking.Length; r++)
            {
                AddScore(table, list[ranking[r]], r, max[r], twinRank[r]);
                histogram[Math.Min(SimilarityBins - 1, (int)(Math.Max(0, max[r]) * (double)SimilarityBins))]++;
                allMax.Add(max[r]);
            }
            healthy += list.Length;
            foreach (var (member, _) in cluster.Where(x => x.m.SpillRow < 0)) AddScore(table, member, -1, 0, -1);
        }
        return new PartitionScores(table, histogram, allMax, healthy, clusters.Count);

        static void AddScore(RecordBatch table, Member m, int rank, float max, int twinRank)
        {
            table.GetColumn<int>("shard").Add(m.Shard);
            table.GetColumn<long>("row").Add(m.Row);
            table.Ids.Add(m.Id);
            table.GetColumn<int>("cluster").Add(m.Cluster);
            table.GetColumn<int>("rank").Add(rank);
            table.GetColumn<float>("max_similarity").Add(max);
            table.GetColumn<int>("twin_rank").Add(twinRank);
            table.GetColumn<string>("health").Add(m.Health);
        }
    }

    private static SemDeDupOrder ToOrder(SemanticOrder order) =>
        order switch { SemanticOrder.Easy => SemDeDupOrder.Easy, SemanticOrder.Random => SemDeDupOrder.Random, _ => SemDeDupOrder.Hard };

    /// <summary>What the choose phase decided, read by decide and report.</summary>
    public sealed record EpsChoice(double Eps, double? TargetKeepFraction, long Documents, long Removed);

    private async Task<long[]> MergedHistogramAsync(TaskContext task, CancellationToken cancellationToken)
    {
        var histogram = new long[SimilarityBins];
        for (var partition = 0; partition < _spec.Partitions; partition++)
            await StageObjects.AddSparseHistogramAsync(task.Job.Data, Key(task, $"mhist/{partition:D4}.bin"), histogram, cancellationToken).ConfigureAwait(false);
        return histogram;
    }

    private async Task<List<TaskStats>> PhaseStatsAsync(TaskContext task, string phase, int count, CancellationToken cancellationToken)
    {
        var stats = new List<TaskStats>();
        for (var t = 0; t < count; t++)
        {
            var (s, _) = await task.Job.Data.TryReadJsonAsync<TaskStats>(task.Job.Layout.TaskStats(Index, Name, phase, t), cancellationToken: cancellationToken)
                .ConfigureAwait(false);
            stats.Add(s ?? throw new InvalidOperationException($"{this}/{phase} task {t} has not finished."));
        }
        return stats;
    }

    private async Task<TaskStats> ChooseAsync(TaskContext task, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        var histogram = await MergedHistogramAsync(task, cancellationToken).ConfigureAwait(false);
        var documents = (long)(await PhaseStatsAsync(task, ScorePhase, _spec.Partitions, cancellationToken).ConfigureAwait(false)).Sum(s => s.In);
        var eps = _spec.TargetKeepFraction is { } target ? PickEps(histogram, documents, target) : _spec.Eps ?? SemanticDedupStageSpec.DefaultEps;
        // The removal count follows from the histogram only for eps on a bin edge (a picked eps always is).
        var removed = 0L;
        var threshold = 1.0 - eps;
        for (var bin = 0; bin < SimilarityBins; bin++)
            if ((double)bin / SimilarityBins >= threshold) removed += histogram[bin];
        var choice = new EpsChoice(eps, _spec.TargetKeepFraction, documents, removed);
        await StageObjects.WriteJsonOnceAsync(task.Job.Data, Key(task, "eps.json"), choice, cancellationToken).ConfigureAwait(false);
        return new TaskStats { Seconds = clock.Elapsed.TotalSeconds, Metrics = { ["eps"] = eps } };
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

    private async Task<EpsChoice> ReadChoiceAsync(TaskContext task, CancellationToken cancellationToken) =>
        (await task.Job.Data.TryReadJsonAsync<EpsChoice>(Key(task, "eps.json"), cancellationToken: cancellationToken).ConfigureAwait(false)).Value
        ?? throw new InvalidOperationException($"{this}: eps.json is missing; the choose phase has not run.");

    private async Task<TaskStats> DecideAsync(TaskContext task, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        var partition = task.Task;
        var eps = (await ReadChoiceAsync(task, cancellationToken).ConfigureAwait(false)).Eps;
        var scores = await StageObjects.ReadParquetAsync(task.Job.Data, Key(task, $"scores/{partition:D4}.parquet"), cancellationToken).ConfigureAwait(false);
        var (shards, rows, clusterOf, ranks, max, twinRanks) = (scores.GetColumn<int>("shard"), scores.GetColumn<long>("row"), scores.GetColumn<int>("cluster"),
            scores.GetColumn<int>("rank"), scores.GetColumn<float>("max_similarity"), scores.GetColumn<int>("twin_rank"));
        var n = scores.RowCount;

        // Rows of one cluster are contiguous, healthy ones in rank order first: row of rank r = start + r.
        var removed = new bool[n];
        var twinRow = new int[n];
        var twinSimilarity = new float[n];
        var twinKept = new bool[n];
        var chains = new List<int>();
        var clusterStart = new Dictionary<int, int>();
        for (var i = 0; i < n; i++)
        {
            twinRow[i] = -1;
            if (!clusterStart.ContainsKey(clusterOf[i])) clusterStart[clusterOf[i]] = i;
            if (ranks[i] < 0 || !SemDeDup.IsDuplicate(max[i], eps)) continue;
            removed[i] = true;
            var twin = clusterStart[clusterOf[i]] + twinRanks[i];
            // The direct twin gave M, the maximum over every earlier member, so when it is kept it is also the most
            // similar kept one. When it is removed itself (a chain), the kept members are searched below.
            (twinRow[i], twinSimilarity[i], twinKept[i]) = (twin, max[i], !removed[twin]);
            if (removed[twin]) chains.Add(i);
        }

        long chainResolved = 0;
        if (chains.Count > 0) chainResolved = await ResolveChainsAsync(task, partition, scores, chains, removed, clusterStart, eps, twinRow, twinSimilarity, twinKept,
            cancellationToken).ConfigureAwait(false);

        var verdicts = new SortedDictionary<int, RecordBatch>();
        var clusterTable = RecordBatch.WithSchema(ClusterSchema);
        var health = scores.GetColumn<string>("health");
        for (var i = 0; i < n; i++)
        {
            var batch = verdicts.TryGetValue(shards[i], out var b) ? b : verdicts[shards[i]] = RecordBatch.WithSchema(VerdictSchema);
            batch.GetColumn<long>("row").Add(rows[i]);
            batch.GetColumn<int>("cluster").Add(clusterOf[i]);
            batch.GetColumn<float>("max_similarity").Add(max[i]);
            batch.GetColumn<string>(DropsSchema.TwinId).Add(removed[i] ? scores.Ids[twinRow[i]] : "");
            batch.GetColumn<float>("twin_similarity").Add(twinSimilarity[i]);
            batch.GetColumn<bool>("twin_kept").Add(twinKept[i]);
            batch.GetColumn<string>("health").Add(health[i]);
            if (i == clusterStart[clusterOf[i]])
            {
                var end = i;
                while (end < n && clusterOf[end] == clusterOf[i]) end++;
                clusterTable.GetColumn<int>("cluster").Add(clusterOf[i]);
                clusterTable.GetColumn<long>("size").Add(end - i);
                clusterTable.GetColumn<long>("healthy").Add(Enumerable.Range(i, end - i).Count(r => ranks[r] >= 0));
                clusterTable.GetColumn<long>("removed").Add(Enumerable.Range(i, end - i).Count(r => removed[r]));
            }
        }
        foreach (var (shard, batch) in verdicts)
            await StageObjects.WriteParquetAsync(task.Job.Data, Key(task, $"verdicts/{JobLayout.ShardName(shard)}/{partition:D4}.parquet"), batch, null, cancellationToken)
                .ConfigureAwait(false);
        await StageObjects.WriteParquetAsync(task.Job.Data, Key(task, $"clusters/{partition:D4}.parquet"), clusterTable, null, cancellationToken).ConfigureAwait(false);

        var removedCount = removed.Count(r => r);
        return new TaskStats
        {
            In = n, Seconds = clock.Elapsed.TotalSeconds,
            Metrics =
            {
                ["removed"] = removedCount, ["twins_kept"] = twinKept.Count(k => k),
                ["chain_twins_kept"] = chainResolved, ["chain_twins_removed"] = chains.Count - chainResolved,
            },
        };
    }

    /// <summary>
    /// For removed members whose direct twin was removed too: the most similar kept earlier member of the cluster
    /// (earliest rank on ties), when it lies within eps. Otherwise the direct twin stays — a removed document within
    /// eps whose own drop names the next link — because no kept document is within eps (a chain a ~ b ~ c).
    /// Loads only the vectors of the clusters concerned. Returns how many found a kept twin.
    /// </summary>
    private async Task<long> ResolveChainsAsync(TaskContext task, int partition, RecordBatch scores, List<int> chains, bool[] removed,
        Dictionary<int, int> clusterStart, double eps, int[] twinRow, float[] twinSimilarity, bool[] twinKept, CancellationToken cancellationToken)
    {
        var clusterOf = scores.GetColumn<int>("cluster");
        var ranks = scores.GetColumn<int>("rank");
        var wantedClusters = chains.Select(i => clusterOf[i]).ToHashSet();
        var rowOf = new Dictionary<(int Shard, long Row), int>();
        for (var i = 0; i < scores.RowCount; i++)
            if (ranks[i] >= 0 && wantedClusters.Contains(clusterOf[i])) rowOf[(scores.GetColumn<int>("shard")[i], scores.GetColumn<long>("row")[i])] = i;

        VectorSpill? spill = null;
        try
        {
            var spillRowOf = new Dictionary<int, int>();
            var members = await ReadMembersAsync(task, partition, (shard, row, cluster, _) => wantedClusters.Contains(cluster),
                d => spill = new VectorSpill(d), cancellationToken).ConfigureAwait(false);
            foreach (var m in members)
                if (m.SpillRow >= 0) spillRowOf[rowOf[(m.Shard, m.Row)]] = m.SpillRow;
            spill!.Seal();

            long resolved = 0;
            foreach (var j in chains)
            {
                var start = clusterStart[clusterOf[j]];
                var (best, bestRow) = (float.NegativeInfinity, -1);
                for (var i = start; i < j; i++)
                {
                    if (removed[i]) continue;
                    var similarity = VectorKernels.SequentialDot(spill.Row(spillRowOf[i]), spill.Row(spillRowOf[j]));
                    if (similarity > best) (best, bestRow) = (similarity, i);
                }
                if (bestRow < 0 || !SemDeDup.IsDuplicate(best, eps)) continue;
                (twinRow[j], twinSimilarity[j], twinKept[j]) = (bestRow, best, true);
                resolved++;
            }
            return resolved;
        }
        finally
        {
            spill?.Dispose();
        }
    }

    private async Task<TaskStats> ReportAsync(TaskContext task, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        var choice = await ReadChoiceAsync(task, cancellationToken).ConfigureAwait(false);
        var assignStats = await PhaseStatsAsync(task, AssignPhase, task.Job.Plan.ShardCount, cancellationToken).ConfigureAwait(false);
        var scoreStats = await PhaseStatsAsync(task, ScorePhase, _spec.Partitions, cancellationToken).ConfigureAwait(false);
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
