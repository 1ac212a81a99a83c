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
/// A versioned corpus (<c>output.snapshots</c>) keeps durable indexes in each snapshot: <c>centroids</c> (the centroids
/// and mean direction used; written by choose) and, per partition, <c>members</c> (id, cluster and vector of every kept
/// healthy member of the corpus; written by decide). A refresh fits nothing: the k-means phases forward the base's
/// centroids, assign uses them, and score ranks each cluster's base members first (already curated: compared with,
/// never removed), so a new document within eps of a curated one is dropped naming it. The next index is the base's
/// members plus this run's kept ones; a partition this run kept nothing new in is carried by reference.
/// </summary>
public sealed partial class SemanticDedupStage : PipelineStage
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

    /// <summary>Durable index (versioned corpora): the centroids used and the mean direction (one partition).</summary>
    public const string CentroidsIndex = "centroids";

    /// <summary>Durable index (versioned corpora), per cluster partition: every kept healthy member's id, cluster and vector.</summary>
    public const string MembersIndex = "members";

    /// <summary>The <c>clusters</c> setting the corpus was created with (centroids index metadata).</summary>
    public const string ClustersMetadata = "curation.clusters";

    /// <summary>The cluster value of the centroids index row holding the mean direction.</summary>
    private const int MeanRow = -1;

    private static readonly IReadOnlyList<ColumnSchema> CentroidsIndexSchema =
    [
        new("cluster", typeof(int)), new("resultant_length", typeof(double)), new("count", typeof(long)), new(EmbeddingFile.VectorColumn, typeof(byte[])),
    ];

    private static readonly IReadOnlyList<ColumnSchema> MembersIndexSchema =
        [new(Columns.Id, typeof(string)), new("cluster", typeof(int)), new(EmbeddingFile.VectorColumn, typeof(byte[]))];

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
    private readonly CascadePhases _cascade;

    public SemanticDedupStage(int index, SemanticDedupStageSpec spec) : base(index)
    {
        _spec = spec;
        _kmeans = new KMeansPhases(this, spec, new BaseClustering(this));
        _cascade = new CascadePhases(this, spec);
    }

    /// <summary>A refresh of a versioned corpus with a base snapshot: cluster and deduplicate against the base's index.</summary>
    private static bool Refreshing(TaskContext task) => task.Job.Refresh?.BaseManifest is not null;

    private sealed class BaseClustering(SemanticDedupStage stage) : IFixedClustering
    {
        public bool Applies(TaskContext task) => Refreshing(task);

        public Task<(Centroids Centroids, MeanDirection Mean)> LoadAsync(TaskContext task, CancellationToken cancellationToken) =>
            stage.LoadBaseClusteringAsync(task, cancellationToken);
    }

    private async Task<SnapshotIndex> BaseCentroidsIndexAsync(TaskContext task, CancellationToken cancellationToken) =>
        (await task.Job.BaseIndexAsync(Folder, CentroidsIndex, 1, cancellationToken).ConfigureAwait(false))[0];

    private async Task<SnapshotIndex> BaseMembersIndexAsync(TaskContext task, int partition, CancellationToken cancellationToken) =>
        (await task.Job.BaseIndexAsync(Folder, MembersIndex, _spec.Partitions, cancellationToken).ConfigureAwait(false))[partition];

    /// <summary>
    /// The base snapshot's centroids and mean direction. Fails, naming the setting, when the corpus was created with
    /// other clusters or partitions: its members index is laid out by them.
    /// </summary>
    private async Task<(Centroids, MeanDirection)> LoadBaseClusteringAsync(TaskContext task, CancellationToken cancellationToken)
    {
        var index = await BaseCentroidsIndexAsync(task, cancellationToken).ConfigureAwait(false);
        await BaseMembersIndexAsync(task, 0, cancellationToken).ConfigureAwait(false); // checks the partition count
        var (table, metadata) = await StageObjects.ReadSmallIndexAsync(task.Job, index, cancellationToken).ConfigureAwait(false);
        if (!metadata.TryGetValue(ClustersMetadata, out var clusters) || clusters != _spec.Clusters.ToString(CultureInfo.InvariantCulture))
            throw new InvalidOperationException(
                $"{this}: the base snapshot {task.Job.Refresh!.BaseSnapshot} was clustered with clusters = {clusters ?? "?"}, this job asks for " +
                $"{_spec.Clusters}: a refresh reuses the corpus' centroids, so clusters and partitions must stay the same (start a new corpus instead).");
        var (ids, resultant, counts, vectors) = (table.GetColumn<int>("cluster"), table.GetColumn<double>("resultant_length"), table.GetColumn<long>("count"),
            table.GetColumn<byte[]>(EmbeddingFile.VectorColumn));
        var dimensions = vectors[0].Length / sizeof(float);
        var k = ids.List.Count(c => c != MeanRow);
        var values = new float[k * dimensions];
        MeanDirection? mean = null;
        for (var i = 0; i < table.RowCount; i++)
        {
            if (ids[i] == MeanRow)
            {
                var direction = new float[dimensions];
                EmbeddingFile.Decode(vectors[i], direction, float16: false);
                mean = new MeanDirection(direction, resultant[i], counts[i]);
            }
            else EmbeddingFile.Decode(vectors[i], values.AsSpan(ids[i] * dimensions, dimensions), float16: false);
        }
        return (new Centroids(values, dimensions), mean ?? throw new InvalidOperationException($"{index.Key} holds no mean direction."));
    }

    /// <summary>The centroids index of the snapshot this job writes: the base's, by reference, or this run's fit.</summary>
    private async Task<SnapshotIndex> WriteCentroidsIndexAsync(TaskContext task, CancellationToken cancellationToken)
    {
        if (Refreshing(task)) return await BaseCentroidsIndexAsync(task, cancellationToken).ConfigureAwait(false);
        var centroids = await _kmeans.FinalCentroidsAsync(task, cancellationToken).ConfigureAwait(false);
        var mean = await _kmeans.MeanAsync(task, cancellationToken).ConfigureAwait(false);
        var batch = RecordBatch.WithSchema(CentroidsIndexSchema, centroids.Count + 1);
        void Add(int cluster, double resultant, long count, ReadOnlySpan<float> vector)
        {
            batch.GetColumn<int>("cluster").Add(cluster);
            batch.GetColumn<double>("resultant_length").Add(resultant);
            batch.GetColumn<long>("count").Add(count);
            batch.GetColumn<byte[]>(EmbeddingFile.VectorColumn).Add(EmbeddingFile.Encode(vector, EmbeddingPrecision.Float32));
        }
        for (var c = 0; c < centroids.Count; c++) Add(c, 0, 0, centroids[c]);
        Add(MeanRow, mean.ResultantLength, mean.Count, mean.Direction);
        var metadata = new Dictionary<string, string>
        {
            [ClustersMetadata] = _spec.Clusters.ToString(CultureInfo.InvariantCulture),
            [EmbeddingFile.DimensionsKey] = centroids.Dimensions.ToString(CultureInfo.InvariantCulture),
        };
        return await StageObjects.WriteIndexAsync(task, CentroidsIndex, 0, CentroidsIndexSchema, metadata, (writer, ct) => writer.WriteAsync(batch, ct),
            cancellationToken).ConfigureAwait(false);
    }

    public override string Name => SemanticDedupStageSpec.TypeName;

    private static ulong Seed(TaskContext task) => unchecked((ulong)task.Job.Spec.Seed);

    public override IReadOnlyList<PhaseInfo> Phases(JobPlan plan) =>
    [
        .. _kmeans.Phases(plan),
        new(AssignPhase, TaskScope.Shard, plan.ShardCount, false),
        new(ScorePhase, TaskScope.Partition, _spec.Partitions, false),
        .. _cascade.Phases(plan),
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
        _ => _kmeans.TryRun(task, cancellationToken) ?? _cascade.TryRun(task, cancellationToken) ?? throw new ArgumentException($"{this} has no phase '{task.Phase}'."),
    };

    private string Key(TaskContext task, string relative) => task.Job.Layout.StageRoot(Index, Name) + relative;

    private string MembersFolder(TaskContext task, int partition) => Key(task, $"members/{partition:D4}/");

    private async Task<TaskStats> AssignAsync(TaskContext task, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        var centroids = await _kmeans.FinalCentroidsAsync(task, cancellationToken).ConfigureAwait(false);
        var mean = await _kmeans.MeanAsync(task, cancellationToken).ConfigureAwait(false);
        var (ids, vectors, dimensions) = await KMeansPhases.LoadShardAsync(task, task.Task, cancellationToken).ConfigureAwait(false);
        // clusterDims: assignment (and the distance that ranks members) in the projected space; dedup on the full vectors.
        var (clusterVectors, clusterDimensions) = await _kmeans.ClusterSpaceAsync(task, vectors, dimensions, cancellationToken).ConfigureAwait(false);
        if (ids.Count > 0 && clusterDimensions != centroids.Dimensions)
            throw new InvalidOperationException($"{this}: shard {task.Task} has {dimensions}-dimensional embeddings, the centroids {centroids.Dimensions} " +
                "(a refresh must embed with the corpus' model).");
        var clusters = new int[ids.Count];
        var distances = new float[ids.Count];
        SphericalKMeans.Assign(clusterVectors, clusterDimensions, centroids, clusters, distances);
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
    /// <paramref name="wanted"/> accepts to a spill <paramref name="createSpill"/> makes (on the first piece).
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

    /// <summary>The shard of a base snapshot's member in score tables (its row is its position in the base's index partition).</summary>
    private const int BaseShard = -1;

    /// <summary>
    /// A refresh: the base snapshot's indexed members of this partition whose cluster <paramref name="wanted"/> accepts,
    /// in index order, their vectors spilled to the spill <paramref name="spillFor"/> gives (by dimensions).
    /// </summary>
    private async Task<List<Member>> ReadBaseMembersAsync(TaskContext task, int partition, Func<int, bool> wanted, Func<int, VectorSpill> spillFor,
        CancellationToken cancellationToken)
    {
        var members = new List<Member>();
        var index = await BaseMembersIndexAsync(task, partition, cancellationToken).ConfigureAwait(false);
        long ordinal = 0;
        float[]? vector = null;
        await foreach (var batch in StageObjects.ReadIndexAsync(task.Job, index, cancellationToken).ConfigureAwait(false))
        {
            var (clusters, vectors) = (batch.GetColumn<int>("cluster"), batch.GetColumn<byte[]>(EmbeddingFile.VectorColumn));
            for (var i = 0; i < batch.RowCount; i++, ordinal++)
            {
                if (!wanted(clusters[i])) continue;
                vector ??= new float[vectors[i].Length / sizeof(float)];
                EmbeddingFile.Decode(vectors[i], vector, float16: false);
                members.Add(new Member(BaseShard, ordinal, batch.Ids[i], clusters[i], 0, "", spillFor(vector.Length).Append(vector)));
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
            // A refresh: the corpus' members of the clusters this run's healthy documents fall in (other clusters have nothing to compare).
            List<Member> baseMembers = [];
            if (Refreshing(task) && members.Any(m => m.SpillRow >= 0))
            {
                var wanted = members.Where(m => m.SpillRow >= 0).Select(m => m.Cluster).ToHashSet();
                baseMembers = await ReadBaseMembersAsync(task, partition, wanted.Contains, _ => spill!, cancellationToken).ConfigureAwait(false);
            }
            var candidates = _cascade.Enabled ? new List<CandidatePair>() : null;
            var scores = Score(members, baseMembers, spill, Seed(task), candidates);
            var metrics = new Dictionary<string, double> { ["documents"] = members.Count, ["healthy"] = scores.Healthy, ["clusters"] = scores.Clusters };
            if (candidates is not null)
            {
                // The cascade: the verify phases decide the candidates and write the final scores and histogram.
                foreach (var (key, value) in await _cascade.WriteCandidatesAsync(task, partition, scores.Table, candidates, cancellationToken).ConfigureAwait(false))
                    metrics[key] = value;
            }
            else
            {
                await StageObjects.WriteParquetAsync(task.Job.Data, Key(task, $"scores/{partition:D4}.parquet"), scores.Table, null, cancellationToken).ConfigureAwait(false);
                await StageObjects.WriteSparseHistogramAsync(task.Job.Data, Key(task, $"mhist/{partition:D4}.bin"), scores.Histogram, cancellationToken).ConfigureAwait(false);
            }

            if (Refreshing(task)) metrics["base_members_compared"] = baseMembers.Count;
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

    /// <summary>The M histogram's bin of a similarity: bin b holds [b/65536, (b+1)/65536), exact in binary, so choose's
    /// threshold b/65536 removes exactly the counted bins.</summary>
    internal static int SimilarityBin(float maxSimilarity) =>
        Math.Min(SimilarityBins - 1, (int)(Math.Max(0, maxSimilarity) * (double)SimilarityBins));

    internal static string EpsMetric(double eps) => $"eps_{eps.ToString(CultureInfo.InvariantCulture)}_removed";

    private sealed record PartitionScores(RecordBatch Table, long[] Histogram, List<float> MaxSimilarity, long Healthy, int Clusters);

    /// <summary>
    /// Ranks each cluster's healthy members and computes M and direct twins over the spilled vectors. A refresh's base
    /// members of the cluster rank first (in index order): every new member is compared with them, they get no M
    /// (rank ≥ 0, shard <see cref="BaseShard"/>), and they count nowhere in this run's histogram or totals.
    /// </summary>
    private unsafe PartitionScores Score(List<Member> members, List<Member> baseMembers, VectorSpill? spill, ulong seed, List<CandidatePair>? candidates)
    {
        var baseOf = baseMembers.GroupBy(m => m.Cluster).ToDictionary(g => g.Key, g => g.ToArray());
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
            var corpus = baseOf.GetValueOrDefault(cluster.Key) ?? [];
            var rowOfRank = corpus.Select(m => m.SpillRow).Concat(ranking.Select(r => list[r].SpillRow)).ToArray();
            var (max, twinRank) = SemDeDup.ComputeRanked(source, spill?.Dimensions ?? 1, rowOfRank, _spec.TileSize, firstScored: corpus.Length);
            if (candidates is not null && spill is not null)
                CascadePhases.CollectCandidates(candidates, source, spill.Count, spill.Dimensions, rowOfRank, max, _cascade.CandidateEps, table.RowCount);
            for (var b = 0; b < corpus.Length; b++) AddScore(table, corpus[b], b, 0, -1);
            for (var r = corpus.Length; r < rowOfRank.Length; r++)
            {
                AddScore(table, list[ranking[r - corpus.Length]], r, max[r], twinRank[r]);
                histogram[SimilarityBin(max[r])]++;
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

    private Task<IReadOnlyList<TaskStats>> PhaseStatsAsync(TaskContext task, string phase, int count, CancellationToken cancellationToken) =>
        task.Job.PhaseStatsAsync(this, phase, count, cancellationToken);

    private async Task<TaskStats> ChooseAsync(TaskContext task, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
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
        return new TaskStats { Seconds = clock.Elapsed.TotalSeconds, Metrics = { ["eps"] = eps }, Indexes = indexes };
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
}
