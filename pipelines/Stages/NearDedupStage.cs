using System.Diagnostics;
using System.Globalization;
using Curation.Pipelines.Execution;
using Curation.Pipelines.IO;
using Curation.Pipelines.Model;
using Curation.Pipelines.NearDup;
using Curation.Pipelines.Spec;
using Curation.Pipelines.Storage;

namespace Curation.Pipelines.Stages;

/// <summary>
/// Near-duplicate dedup (MinHash LSH) as shuffles, so no task ever sees every document:
/// <list type="number">
/// <item><b>signature</b> (per shard): shingles → MinHash signature (stored per shard) → one key per band, written
/// grouped by bucket partition (band key mod partitions);</item>
/// <item><b>bucket</b> (per partition): documents grouped by (band, key); each member of a shared bucket is paired with
/// the bucket's <c>anchors</c> smallest members (O(n) pairs per bucket); pairs routed to the shard of their smaller end;</item>
/// <item><b>pair</b> (per shard): distinct candidate pairs, each with the smaller end's signature (or shingle set)
/// attached, routed to the shard of the other end;</item>
/// <item><b>verify</b> (per shard): estimated or exact Jaccard against <c>threshold</c> (or none); accepted pairs become
/// edges, routed by node partition;</item>
/// <item><b>cc-NNN</b> (per partition): alternating large-star / small-star rounds (<see cref="StarContraction"/>) until
/// every component is a star around its smallest document; converged rounds are no-ops;</item>
/// <item><b>components</b> (per partition): checks the star form (a graph not converged after <c>maxRounds</c> fails
/// the job), and decides: every leaf is dropped naming its star's centre; <b>report</b> sums it up;</item>
/// <item><b>apply</b> (per shard): drops the decided rows with reason <c>near_duplicate</c> and the kept twin's id.</item>
/// </list>
/// Every choice depends only on ids, positions, the spec and the seed, so silo count and timing never change the result.
/// </summary>
public sealed class NearDedupStage(int index, NearDedupStageSpec spec) : PipelineStage(index)
{
    public const string DuplicateReason = "near_duplicate";
    public const string SignaturePhase = "signature";
    public const string BucketPhase = "bucket";
    public const string PairPhase = "pair";
    public const string VerifyPhase = "verify";
    public const string RoundPhasePrefix = "cc-";
    public const string ComponentsPhase = "components";
    public const string ReportPhase = "report";
    public const string ApplyPhase = "apply";
    public const string BasePairPhase = "base-pair";
    public const string IndexPhase = "index";

    /// <summary>Durable index of a versioned corpus, per bucket partition: (band, key) → up to <c>anchors</c> smallest kept ids.</summary>
    public const string BandsIndex = "bands";

    /// <summary>Durable index of a versioned corpus, per id partition: each kept document's signature (and shingle set with exact verify).</summary>
    public const string SignaturesIndex = "signatures";

    private static readonly IReadOnlyList<ColumnSchema> BandIndexSchema =
        [new("band", typeof(int)), new("key", typeof(long)), new(Columns.Id, typeof(string))];

    private static readonly IReadOnlyList<ColumnSchema> SignatureIndexSchema =
        [new(Columns.Id, typeof(string)), new("signature", typeof(byte[])), new("hashes", typeof(byte[]))];

    private const string Row = "row";

    private static readonly IReadOnlyList<ColumnSchema> SignatureSchema =
        [new(Row, typeof(long)), new(Columns.Id, typeof(string)), new("shingles", typeof(int)), new("signature", typeof(byte[]))];

    private static readonly IReadOnlyList<ColumnSchema> ShingleSetSchema = [new(Row, typeof(long)), new("hashes", typeof(byte[]))];

    private static readonly IReadOnlyList<ColumnSchema> BandSchema =
        [new("band", typeof(int)), new("key", typeof(long)), new(Columns.Id, typeof(string)), new(Row, typeof(long))];

    private static readonly IReadOnlyList<ColumnSchema> CandidateSchema =
        [new("u_id", typeof(string)), new("u_row", typeof(long)), new("v_id", typeof(string)), new("v_shard", typeof(int)), new("v_row", typeof(long))];

    private static readonly IReadOnlyList<ColumnSchema> PairSchema =
    [
        new("u_id", typeof(string)), new("u_shard", typeof(int)), new("u_row", typeof(long)), new("v_id", typeof(string)), new("v_row", typeof(long)),
        new("u_data", typeof(byte[])),
    ];

    private static readonly IReadOnlyList<ColumnSchema> EdgeSchema =
    [
        new("src_id", typeof(string)), new("src_shard", typeof(int)), new("src_row", typeof(long)),
        new("dst_id", typeof(string)), new("dst_shard", typeof(int)), new("dst_row", typeof(long)),
    ];

    private static readonly IReadOnlyList<ColumnSchema> DecisionSchema =
        [new(Row, typeof(long)), new(DropsSchema.TwinId, typeof(string)), new("component_size", typeof(long))];

    public override string Name => NearDedupStageSpec.TypeName;

    public NearDedupStageSpec Spec => spec;

    public override IReadOnlyList<PhaseInfo> Phases(JobPlan plan)
    {
        var phases = new List<PhaseInfo>
        {
            new(SignaturePhase, TaskScope.Shard, plan.ShardCount, false),
            new(BucketPhase, TaskScope.Partition, spec.Partitions, false),
            new(PairPhase, TaskScope.Shard, plan.ShardCount, false),
            new(VerifyPhase, TaskScope.Shard, plan.ShardCount, false),
        };
        // A refresh pairs candidates with documents of the base snapshot: their signatures come from its index.
        if (plan.Refresh?.BaseSnapshot is not null) phases.Insert(3, new(BasePairPhase, TaskScope.Partition, spec.Partitions, false));
        for (var round = 0; round < spec.MaxRounds; round++) phases.Add(new(RoundPhase(round), TaskScope.Partition, spec.Partitions, false));
        phases.Add(new(ComponentsPhase, TaskScope.Partition, spec.Partitions, false));
        phases.Add(new(ReportPhase, TaskScope.Single, 1, false));
        phases.Add(new(ApplyPhase, TaskScope.Shard, plan.ShardCount, true));
        if (plan.Refresh is not null) phases.Add(new(IndexPhase, TaskScope.Partition, spec.Partitions, false));
        return phases;
    }

    public static string RoundPhase(int round) => $"{RoundPhasePrefix}{round:D3}";

    public override Task<TaskStats> RunAsync(TaskContext task, CancellationToken cancellationToken) => task.Phase switch
    {
        SignaturePhase => SignatureAsync(task, cancellationToken),
        BucketPhase => BucketAsync(task, cancellationToken),
        PairPhase => PairAsync(task, cancellationToken),
        VerifyPhase => VerifyAsync(task, cancellationToken),
        ComponentsPhase => ComponentsAsync(task, cancellationToken),
        ReportPhase => ReportAsync(task, cancellationToken),
        ApplyPhase => ApplyAsync(task, cancellationToken),
        BasePairPhase => BasePairAsync(task, cancellationToken),
        IndexPhase => IndexAsync(task, cancellationToken),
        var p when p.StartsWith(RoundPhasePrefix, StringComparison.Ordinal) =>
            RoundAsync(task, int.Parse(p[RoundPhasePrefix.Length..], CultureInfo.InvariantCulture), cancellationToken),
        _ => throw new ArgumentException($"{this} has no phase '{task.Phase}'."),
    };

    private string Key(TaskContext task, string relative) => task.Job.Layout.StageRoot(Index, Name) + relative;
    private string SignatureKey(TaskContext task, int shard) => Key(task, $"{SignaturePhase}/{JobLayout.ShardName(shard)}.parquet");
    private string ShingleSetKey(TaskContext task, int shard) => Key(task, $"{SignaturePhase}/{JobLayout.ShardName(shard)}.shingles.parquet");
    private string BandsKey(TaskContext task, int shard) => Key(task, $"{SignaturePhase}/{JobLayout.ShardName(shard)}.bands.parquet");
    private string CandidatesKey(TaskContext task, int partition) => Key(task, $"{BucketPhase}/{partition:D5}.parquet");
    private string PairsKey(TaskContext task, int shard) => Key(task, $"{PairPhase}/{JobLayout.ShardName(shard)}.parquet");
    private string EdgesKey(TaskContext task, int shard) => Key(task, $"{VerifyPhase}/{JobLayout.ShardName(shard)}.parquet");
    private string RoundKey(TaskContext task, int round, int partition) => Key(task, $"{RoundPhase(round)}/{partition:D5}.parquet");
    private string RoundSummaryKey(TaskContext task, int round, int partition) => Key(task, $"{RoundPhase(round)}/{partition:D5}.json");
    private string DecisionsKey(TaskContext task, int partition) => Key(task, $"{ComponentsPhase}/{partition:D5}.parquet");
    private string ComponentSummaryKey(TaskContext task, int partition) => Key(task, $"{ComponentsPhase}/{partition:D5}.json");
    private string BasePairsKey(TaskContext task, int partition) => Key(task, $"{BasePairPhase}/{partition:D5}.parquet");
    private string IndexInputKey(TaskContext task, int shard, string name) => Key(task, $"{IndexPhase}/{JobLayout.ShardName(shard)}.{name}.parquet");

    /// <summary>The signature-index partition of a document id (base documents are looked up there).</summary>
    private int IdPartition(string id) => (int)((ulong)Node.Base(id).Row % (ulong)spec.Partitions);

    // ---- signature -------------------------------------------------------------------------------------------------

    private async Task<TaskStats> SignatureAsync(TaskContext task, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        var shingler = new Shingler(spec);
        var hasher = new MinHasher(spec.Bands, spec.Rows, task.Job.Spec.Seed);
        var exact = spec.Verify == NearDedupVerify.Exact;
        var outcomes = new long[Enum.GetValues<ShingleOutcome>().Length];
        var hashes = new List<ulong>();
        var signature = new uint[hasher.Permutations];
        var keys = new ulong[spec.Bands];
        long row = 0, shingles = 0, bytesIn = 0;

        await using var signatures = await RoutedTableWriter.CreateAsync(SignatureSchema, cancellationToken).ConfigureAwait(false);
        await using var bands = await RoutedTableWriter.CreateAsync(BandSchema, cancellationToken).ConfigureAwait(false);
        await using var shingleSets = exact ? await RoutedTableWriter.CreateAsync(ShingleSetSchema, cancellationToken).ConfigureAwait(false) : null;
        await using (var input = await task.Job.Data.OpenReadAsync(task.InputShardKey(task.Task), cancellationToken).ConfigureAwait(false))
        await using (var reader = await ParquetTableReader.OpenAsync(input, cancellationToken).ConfigureAwait(false))
            await foreach (var batch in reader.ReadColumnsAsync([Columns.Id, Columns.Text], cancellationToken).ConfigureAwait(false))
            {
                var signed = RecordBatch.WithSchema(SignatureSchema, batch.RowCount);
                var sets = RecordBatch.WithSchema(ShingleSetSchema, exact ? batch.RowCount : 0);
                var byPartition = new SortedDictionary<int, RecordBatch>();
                for (var i = 0; i < batch.RowCount; i++, row++)
                {
                    var (id, text) = (batch.Ids[i], batch.Texts[i]);
                    bytesIn += System.Text.Encoding.UTF8.GetByteCount(text);
                    var outcome = shingler.Shingle(text, hashes);
                    outcomes[(int)outcome]++;
                    shingles += hashes.Count;
                    signed.GetColumn<long>(Row).Add(row);
                    signed.Ids.Add(id);
                    signed.GetColumn<int>("shingles").Add(hashes.Count);
                    if (outcome == ShingleOutcome.Empty)
                    {
                        signed.GetColumn<byte[]>("signature").Add([]);
                        continue;
                    }
                    hasher.Signature(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(hashes), signature);
                    signed.GetColumn<byte[]>("signature").Add(MinHasher.ToBytes(signature));
                    if (exact)
                    {
                        sets.GetColumn<long>(Row).Add(row);
                        sets.GetColumn<byte[]>("hashes").Add(MinHasher.ToBytes(Distinct(hashes)));
                    }
                    hasher.BandKeys(signature, keys);
                    for (var band = 0; band < keys.Length; band++)
                    {
                        var partition = (int)(keys[band] % (ulong)spec.Partitions);
                        if (!byPartition.TryGetValue(partition, out var target)) byPartition[partition] = target = RecordBatch.WithSchema(BandSchema);
                        target.GetColumn<int>("band").Add(band);
                        target.GetColumn<long>("key").Add(unchecked((long)keys[band]));
                        target.Ids.Add(id);
                        target.GetColumn<long>(Row).Add(row);
                    }
                }
                await signatures.WriteAsync(0, signed, cancellationToken).ConfigureAwait(false);
                if (shingleSets is not null) await shingleSets.WriteAsync(0, sets, cancellationToken).ConfigureAwait(false);
                foreach (var (partition, entries) in byPartition) await bands.WriteAsync(partition, entries, cancellationToken).ConfigureAwait(false);
            }

        await signatures.CommitOnceAsync(task.Job.Data, SignatureKey(task, task.Task), cancellationToken).ConfigureAwait(false);
        if (shingleSets is not null) await shingleSets.CommitOnceAsync(task.Job.Data, ShingleSetKey(task, task.Task), cancellationToken).ConfigureAwait(false);
        await bands.CommitOnceAsync(task.Job.Data, BandsKey(task, task.Task), cancellationToken).ConfigureAwait(false);
        return new TaskStats
        {
            In = row, BytesIn = bytesIn, Seconds = clock.Elapsed.TotalSeconds,
            Metrics =
            {
                ["shingles"] = shingles,
                ["shingled_words"] = outcomes[(int)ShingleOutcome.Words],
                ["shingled_chars"] = outcomes[(int)ShingleOutcome.Characters],
                ["shingled_char_fallback"] = outcomes[(int)ShingleOutcome.CharacterFallback],
                ["shingled_single"] = outcomes[(int)ShingleOutcome.SingleShingle],
                ["skipped_empty"] = outcomes[(int)ShingleOutcome.Empty],
            },
        };
    }

    private static ulong[] Distinct(List<ulong> hashes)
    {
        var set = hashes.ToArray();
        Array.Sort(set);
        var distinct = set.Length == 0 ? 0 : 1;
        for (var i = 1; i < set.Length; i++)
            if (set[i] != set[distinct - 1]) set[distinct++] = set[i];
        return set[..distinct];
    }

    // ---- bucket ----------------------------------------------------------------------------------------------------

    private async Task<TaskStats> BucketAsync(TaskContext task, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        // Memory: one entry per (document, band) whose key falls in this partition: documents × bands / partitions.
        var entries = new List<(int Band, long Key, Node Node)>();
        for (var shard = 0; shard < task.Job.Plan.ShardCount; shard++)
            await foreach (var batch in RoutedTable.ReadAsync(task.Job.Data, BandsKey(task, shard), task.Task, cancellationToken).ConfigureAwait(false))
            {
                var (band, key, rows) = (batch.GetColumn<int>("band"), batch.GetColumn<long>("key"), batch.GetColumn<long>(Row));
                for (var i = 0; i < batch.RowCount; i++) entries.Add((band[i], key[i], new Node(batch.Ids[i], shard, rows[i])));
            }
        // A refresh: the base snapshot's kept documents of the buckets this run's documents fall in (memory stays
        // proportional to the new documents); they order before every new document, so they are the anchors.
        if (task.Job.Refresh?.BaseSnapshot is not null)
        {
            var buckets = entries.Select(e => (e.Band, e.Key)).ToHashSet();
            var baseIndex = (await task.Job.BaseIndexAsync(Folder, BandsIndex, spec.Partitions, cancellationToken).ConfigureAwait(false))[task.Task];
            await foreach (var batch in StageObjects.ReadIndexAsync(task.Job, baseIndex, cancellationToken).ConfigureAwait(false))
            {
                var (band, key) = (batch.GetColumn<int>("band"), batch.GetColumn<long>("key"));
                for (var i = 0; i < batch.RowCount; i++)
                    if (buckets.Contains((band[i], key[i]))) entries.Add((band[i], key[i], Node.Base(batch.Ids[i])));
            }
        }
        entries.Sort((a, b) => a.Band != b.Band ? a.Band.CompareTo(b.Band) : a.Key != b.Key ? a.Key.CompareTo(b.Key) : a.Node.CompareTo(b.Node));

        var pairs = new HashSet<(Node U, Node V)>();
        long sharedBuckets = 0, bucketPairs = 0, largest = 0;
        for (var start = 0; start < entries.Count;)
        {
            var end = start + 1;
            while (end < entries.Count && entries[end].Band == entries[start].Band && entries[end].Key == entries[start].Key) end++;
            var size = end - start;
            if (size > 1)
            {
                sharedBuckets++;
                largest = Math.Max(largest, size);
                // Members are sorted, so the anchors are the bucket's smallest documents and each pair is (smaller, larger).
                for (var i = start + 1; i < end; i++)
                    for (var a = start; a < Math.Min(i, start + spec.Anchors); a++)
                    {
                        if (entries[a].Node.IsBase && entries[i].Node.IsBase) continue; // both curated already
                        bucketPairs++;
                        pairs.Add((entries[a].Node, entries[i].Node));
                    }
            }
            start = end;
        }

        // Routed to the shard of the smaller end, which attaches its signature; a base document's pairs go to target
        // shards + its id partition, where the base-pair phase attaches its indexed signature.
        var byShard = new Dictionary<int, RecordBatch>();
        var shardCount = task.Job.Plan.ShardCount;
        foreach (var (u, v) in pairs.OrderBy(p => p.U).ThenBy(p => p.V))
        {
            var target = u.IsBase ? shardCount + IdPartition(u.Id) : u.Shard;
            if (!byShard.TryGetValue(target, out var batch)) byShard[target] = batch = RecordBatch.WithSchema(CandidateSchema);
            batch.GetColumn<string>("u_id").Add(u.Id);
            batch.GetColumn<long>("u_row").Add(u.Row);
            batch.GetColumn<string>("v_id").Add(v.Id);
            batch.GetColumn<int>("v_shard").Add(v.Shard);
            batch.GetColumn<long>("v_row").Add(v.Row);
        }
        await RoutedTable.WriteAsync(task.Job.Data, CandidatesKey(task, task.Task), CandidateSchema, byShard, cancellationToken).ConfigureAwait(false);
        return new TaskStats
        {
            Seconds = clock.Elapsed.TotalSeconds,
            Metrics = { ["band_entries"] = entries.Count, ["shared_buckets"] = sharedBuckets, ["bucket_pairs"] = bucketPairs },
        };
    }

    // ---- pair ------------------------------------------------------------------------------------------------------

    private async Task<TaskStats> PairAsync(TaskContext task, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        var shard = task.Task;
        var pairs = new HashSet<(Node U, Node V)>();
        for (var partition = 0; partition < spec.Partitions; partition++)
            await foreach (var batch in RoutedTable.ReadAsync(task.Job.Data, CandidatesKey(task, partition), shard, cancellationToken).ConfigureAwait(false))
            {
                var (uIds, uRows, vIds, vShards, vRows) = (batch.GetColumn<string>("u_id"), batch.GetColumn<long>("u_row"), batch.GetColumn<string>("v_id"),
                    batch.GetColumn<int>("v_shard"), batch.GetColumn<long>("v_row"));
                for (var i = 0; i < batch.RowCount; i++) pairs.Add((new Node(uIds[i], shard, uRows[i]), new Node(vIds[i], vShards[i], vRows[i])));
            }

        var data = spec.Verify == NearDedupVerify.None
            ? []
            : await LoadVerificationDataAsync(task, shard, pairs.Select(p => p.U.Row).ToHashSet(), cancellationToken).ConfigureAwait(false);
        var byShard = new Dictionary<int, RecordBatch>();
        foreach (var (u, v) in pairs.OrderBy(p => p.U).ThenBy(p => p.V))
        {
            if (!byShard.TryGetValue(v.Shard, out var batch)) byShard[v.Shard] = batch = RecordBatch.WithSchema(PairSchema);
            batch.GetColumn<string>("u_id").Add(u.Id);
            batch.GetColumn<int>("u_shard").Add(u.Shard);
            batch.GetColumn<long>("u_row").Add(u.Row);
            batch.GetColumn<string>("v_id").Add(v.Id);
            batch.GetColumn<long>("v_row").Add(v.Row);
            batch.GetColumn<byte[]>("u_data").Add(data.GetValueOrDefault(u.Row, []));
        }
        await RoutedTable.WriteAsync(task.Job.Data, PairsKey(task, shard), PairSchema, byShard, cancellationToken).ConfigureAwait(false);
        return new TaskStats { Seconds = clock.Elapsed.TotalSeconds, Metrics = { ["candidate_pairs"] = pairs.Count } };
    }

    /// <summary>The signatures (estimated) or shingle sets (exact) of the given rows of a shard, as stored bytes.</summary>
    private async Task<Dictionary<long, byte[]>> LoadVerificationDataAsync(TaskContext task, int shard, HashSet<long> rows, CancellationToken cancellationToken)
    {
        var result = new Dictionary<long, byte[]>(rows.Count);
        if (rows.Count == 0) return result;
        var (key, column) = spec.Verify == NearDedupVerify.Exact ? (ShingleSetKey(task, shard), "hashes") : (SignatureKey(task, shard), "signature");
        await foreach (var batch in RoutedTable.ReadAsync(task.Job.Data, key, 0, cancellationToken).ConfigureAwait(false))
        {
            var (rowColumn, values) = (batch.GetColumn<long>(Row), batch.GetColumn<byte[]>(column));
            for (var i = 0; i < batch.RowCount; i++)
                if (rows.Contains(rowColumn[i])) result[rowColumn[i]] = values[i];
        }
        return result;
    }

    // ---- verify ----------------------------------------------------------------------------------------------------

    private async Task<TaskStats> VerifyAsync(TaskContext task, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        var shard = task.Task;
        var pairs = new List<(Node U, Node V, byte[] UData)>();
        for (var from = 0; from < task.Job.Plan.ShardCount; from++)
            await foreach (var batch in RoutedTable.ReadAsync(task.Job.Data, PairsKey(task, from), shard, cancellationToken).ConfigureAwait(false))
            {
                var (uIds, uShards, uRows, vIds, vRows, uData) = (batch.GetColumn<string>("u_id"), batch.GetColumn<int>("u_shard"), batch.GetColumn<long>("u_row"),
                    batch.GetColumn<string>("v_id"), batch.GetColumn<long>("v_row"), batch.GetColumn<byte[]>("u_data"));
                for (var i = 0; i < batch.RowCount; i++)
                    pairs.Add((new Node(uIds[i], uShards[i], uRows[i]), new Node(vIds[i], shard, vRows[i]), uData[i]));
            }
        if (task.Job.Refresh?.BaseSnapshot is not null)
            for (var partition = 0; partition < spec.Partitions; partition++)
                await foreach (var batch in RoutedTable.ReadAsync(task.Job.Data, BasePairsKey(task, partition), shard, cancellationToken).ConfigureAwait(false))
                {
                    var (uIds, vIds, vRows, uData) = (batch.GetColumn<string>("u_id"), batch.GetColumn<string>("v_id"), batch.GetColumn<long>("v_row"),
                        batch.GetColumn<byte[]>("u_data"));
                    for (var i = 0; i < batch.RowCount; i++) pairs.Add((Node.Base(uIds[i]), new Node(vIds[i], shard, vRows[i]), uData[i]));
                }

        var data = spec.Verify == NearDedupVerify.None
            ? []
            : await LoadVerificationDataAsync(task, shard, pairs.Select(p => p.V.Row).ToHashSet(), cancellationToken).ConfigureAwait(false);
        var edges = new List<(Node, Node)>();
        long rejected = 0;
        foreach (var (u, v, uData) in pairs)
        {
            if (spec.Verify != NearDedupVerify.None)
            {
                var vData = data[v.Row];
                var similarity = spec.Verify == NearDedupVerify.Exact
                    ? MinHasher.Exact(MinHasher.HashesFromBytes(uData), MinHasher.HashesFromBytes(vData))
                    : MinHasher.Estimate(MinHasher.FromBytes(uData), MinHasher.FromBytes(vData));
                if (similarity < spec.Threshold)
                {
                    rejected++;
                    continue;
                }
            }
            edges.Add((u, v));
        }
        await WriteEdgesAsync(task, EdgesKey(task, shard), edges, cancellationToken).ConfigureAwait(false);
        return new TaskStats
        {
            Seconds = clock.Elapsed.TotalSeconds,
            Metrics = { ["verified_edges"] = edges.Count, ["rejected_candidates"] = rejected },
        };
    }

    /// <summary>Writes undirected edges as directed pairs both ways, each routed to the partition of its source, sorted and distinct.</summary>
    private async Task<long> WriteEdgesAsync(TaskContext task, string key, IEnumerable<(Node A, Node B)> edges, CancellationToken cancellationToken)
    {
        var byPartition = new Dictionary<int, SortedSet<(Node Src, Node Dst)>>();
        void Add(Node src, Node dst)
        {
            var partition = src.PartitionOf(spec.Partitions);
            if (!byPartition.TryGetValue(partition, out var set)) byPartition[partition] = set = new SortedSet<(Node, Node)>(EdgeOrder.Instance);
            set.Add((src, dst));
        }
        foreach (var (a, b) in edges)
        {
            if (a.Equals(b)) continue;
            Add(a, b);
            Add(b, a);
        }
        var batches = new Dictionary<int, RecordBatch>();
        long written = 0;
        foreach (var (partition, set) in byPartition)
        {
            var batch = RecordBatch.WithSchema(EdgeSchema, set.Count);
            foreach (var (src, dst) in set)
            {
                batch.GetColumn<string>("src_id").Add(src.Id);
                batch.GetColumn<int>("src_shard").Add(src.Shard);
                batch.GetColumn<long>("src_row").Add(src.Row);
                batch.GetColumn<string>("dst_id").Add(dst.Id);
                batch.GetColumn<int>("dst_shard").Add(dst.Shard);
                batch.GetColumn<long>("dst_row").Add(dst.Row);
            }
            written += set.Count;
            batches[partition] = batch;
        }
        await RoutedTable.WriteAsync(task.Job.Data, key, EdgeSchema, batches, cancellationToken).ConfigureAwait(false);
        return written;
    }

    private sealed class EdgeOrder : IComparer<(Node Src, Node Dst)>
    {
        public static readonly EdgeOrder Instance = new();

        public int Compare((Node Src, Node Dst) x, (Node Src, Node Dst) y)
        {
            var bySrc = x.Src.CompareTo(y.Src);
            return bySrc != 0 ? bySrc : x.Dst.CompareTo(y.Dst);
        }
    }

    /// <summary>The adjacency of this partition's nodes, read from the row groups addressed to it; neighbours sorted.</summary>
    private async Task<SortedDictionary<Node, List<Node>>> ReadAdjacencyAsync(TaskContext task, IEnumerable<string> sources, int partition,
        CancellationToken cancellationToken)
    {
        var adjacency = new SortedDictionary<Node, List<Node>>();
        foreach (var key in sources)
            await foreach (var batch in RoutedTable.ReadAsync(task.Job.Data, key, partition, cancellationToken).ConfigureAwait(false))
            {
                var (srcIds, srcShards, srcRows) = (batch.GetColumn<string>("src_id"), batch.GetColumn<int>("src_shard"), batch.GetColumn<long>("src_row"));
                var (dstIds, dstShards, dstRows) = (batch.GetColumn<string>("dst_id"), batch.GetColumn<int>("dst_shard"), batch.GetColumn<long>("dst_row"));
                for (var i = 0; i < batch.RowCount; i++)
                {
                    var src = new Node(srcIds[i], srcShards[i], srcRows[i]);
                    if (!adjacency.TryGetValue(src, out var list)) adjacency[src] = list = [];
                    list.Add(new Node(dstIds[i], dstShards[i], dstRows[i]));
                }
            }
        foreach (var list in adjacency.Values)
        {
            list.Sort();
            var distinct = 1;
            for (var i = 1; i < list.Count; i++)
                if (!list[i].Equals(list[distinct - 1])) list[distinct++] = list[i];
            list.RemoveRange(distinct, list.Count - distinct);
        }
        return adjacency;
    }

    // ---- connected components --------------------------------------------------------------------------------------

    /// <summary>What one round task found: nodes of its input not yet in star form, and whether it ran at all.</summary>
    private sealed record RoundSummary(long Violations, long Edges, bool Skipped);

    private async Task<RoundSummary?> ReadRoundSummaryAsync(TaskContext task, int round, int partition, CancellationToken cancellationToken)
    {
        var (summary, _) = await task.Job.Data.TryReadJsonAsync<RoundSummary>(RoundSummaryKey(task, round, partition), cancellationToken: cancellationToken)
            .ConfigureAwait(false);
        return summary;
    }

    /// <summary>True when round <paramref name="round"/> has nothing to do: the input of the round before was already all stars (or it skipped).</summary>
    private async Task<bool> ConvergedBeforeAsync(TaskContext task, int round, CancellationToken cancellationToken)
    {
        if (round == 0) return false;
        long violations = 0;
        for (var partition = 0; partition < spec.Partitions; partition++)
        {
            var summary = await ReadRoundSummaryAsync(task, round - 1, partition, cancellationToken).ConfigureAwait(false)
                ?? throw new InvalidOperationException($"{this}: round {round - 1} of partition {partition} left no summary.");
            if (summary.Skipped) return true;
            violations += summary.Violations;
        }
        return violations == 0;
    }

    private IEnumerable<string> RoundInputs(TaskContext task, int round) => round == 0
        ? Enumerable.Range(0, task.Job.Plan.ShardCount).Select(shard => EdgesKey(task, shard))
        : Enumerable.Range(0, spec.Partitions).Select(partition => RoundKey(task, round - 1, partition));

    private async Task<TaskStats> RoundAsync(TaskContext task, int round, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        var partition = task.Task;
        if (await ConvergedBeforeAsync(task, round, cancellationToken).ConfigureAwait(false))
        {
            await StageObjects.WriteJsonOnceAsync(task.Job.Data, RoundSummaryKey(task, round, partition), new RoundSummary(0, 0, true), cancellationToken).ConfigureAwait(false);
            return new TaskStats { Seconds = clock.Elapsed.TotalSeconds, Metrics = { ["cc_skipped_converged"] = partition == 0 ? 1 : 0 } };
        }

        var adjacency = await ReadAdjacencyAsync(task, RoundInputs(task, round), partition, cancellationToken).ConfigureAwait(false);
        long violations = 0, edgesIn = 0;
        var emitted = new List<(Node, Node)>();
        foreach (var (node, neighbours) in adjacency)
        {
            edgesIn += neighbours.Count;
            if (!StarContraction.IsStarNode(node, neighbours)) violations++;
            StarContraction.Apply(round, node, neighbours, emitted);
        }
        await WriteEdgesAsync(task, RoundKey(task, round, partition), emitted, cancellationToken).ConfigureAwait(false);
        await StageObjects.WriteJsonOnceAsync(task.Job.Data, RoundSummaryKey(task, round, partition), new RoundSummary(violations, edgesIn, false), cancellationToken)
            .ConfigureAwait(false);
        return new TaskStats
        {
            Seconds = clock.Elapsed.TotalSeconds,
            Metrics = { ["cc_rounds"] = partition == 0 ? 1 : 0, ["cc_edges_in"] = edgesIn, ["cc_unsettled_nodes"] = violations },
        };
    }

    /// <summary>What one components task decided: how many components of each size it holds the centres of.</summary>
    private sealed record ComponentSummary(int Round, Dictionary<long, long> Sizes);

    private async Task<TaskStats> ComponentsAsync(TaskContext task, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        var partition = task.Task;
        var last = 0;
        while (last + 1 < spec.MaxRounds && (await ReadRoundSummaryAsync(task, last + 1, partition, cancellationToken).ConfigureAwait(false))?.Skipped == false)
            last++;

        var adjacency = await ReadAdjacencyAsync(task, Enumerable.Range(0, spec.Partitions).Select(p => RoundKey(task, last, p)), partition, cancellationToken)
            .ConfigureAwait(false);
        var unsettled = adjacency.Count(a => !StarContraction.IsStarNode(a.Key, a.Value));
        if (unsettled > 0)
            throw new InvalidOperationException(
                $"{this}: connected components did not converge in {spec.MaxRounds} rounds ({unsettled} document(s) of partition {partition} not yet " +
                $"in a star around their component's smallest id); raise the stage's maxRounds.");

        var sizes = new Dictionary<long, long>();
        var byShard = new Dictionary<int, RecordBatch>();
        long removed = 0;
        foreach (var (centre, leaves) in adjacency)
        {
            if (leaves[0] < centre) continue; // a leaf: its centre decides
            var size = leaves.Count + 1L;
            sizes[size] = sizes.GetValueOrDefault(size) + 1;
            foreach (var leaf in leaves)
            {
                if (leaf.IsBase) continue; // a curated document is never removed (its component is centred on a base document)
                if (!byShard.TryGetValue(leaf.Shard, out var batch)) byShard[leaf.Shard] = batch = RecordBatch.WithSchema(DecisionSchema);
                batch.GetColumn<long>(Row).Add(leaf.Row);
                batch.GetColumn<string>(DropsSchema.TwinId).Add(centre.Id);
                batch.GetColumn<long>("component_size").Add(size);
                removed++;
            }
        }
        await RoutedTable.WriteAsync(task.Job.Data, DecisionsKey(task, partition), DecisionSchema, byShard, cancellationToken).ConfigureAwait(false);
        await StageObjects.WriteJsonOnceAsync(task.Job.Data, ComponentSummaryKey(task, partition), new ComponentSummary(last, sizes), cancellationToken)
            .ConfigureAwait(false);

        var metrics = new Dictionary<string, double>
        {
            ["components"] = sizes.Values.Sum(), ["component_documents"] = sizes.Sum(s => s.Key * s.Value), ["removed"] = removed,
        };
        foreach (var (size, count) in sizes)
        {
            var bin = SizeBin(size);
            metrics[bin] = metrics.GetValueOrDefault(bin) + count;
        }
        return new TaskStats { Seconds = clock.Elapsed.TotalSeconds, Metrics = metrics };
    }

    /// <summary>Histogram bin of a component size in the metrics: exact up to 4, then powers of two (<c>component_size_5_8</c>, …).</summary>
    public static string SizeBin(long size)
    {
        if (size <= 4) return $"component_size_{size}";
        long upper = 8;
        while (upper < size) upper *= 2;
        return $"component_size_{upper / 2 + 1}_{upper}";
    }

    // ---- report ----------------------------------------------------------------------------------------------------

    private async Task<TaskStats> ReportAsync(TaskContext task, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        async Task<Dictionary<string, double>> SumAsync(string phase, int tasks)
        {
            var sums = new Dictionary<string, double>();
            for (var t = 0; t < tasks; t++)
            {
                var (stats, _) = await task.Job.Data.TryReadJsonAsync<TaskStats>(task.Job.Layout.TaskStats(Index, Name, phase, t), cancellationToken: cancellationToken)
                    .ConfigureAwait(false);
                if (stats is null) throw new InvalidOperationException($"{this}/{phase} task {t} has not finished; the report cannot be written yet.");
                sums[""] = sums.GetValueOrDefault("") + stats.In;
                foreach (var (name, value) in stats.Metrics) sums[name] = sums.GetValueOrDefault(name) + value;
            }
            return sums;
        }

        var shards = task.Job.Plan.ShardCount;
        var signature = await SumAsync(SignaturePhase, shards).ConfigureAwait(false);
        var pair = await SumAsync(PairPhase, shards).ConfigureAwait(false);
        if (task.Job.Refresh?.BaseSnapshot is not null)
            foreach (var (name, value) in await SumAsync(BasePairPhase, spec.Partitions).ConfigureAwait(false)) pair[name] = pair.GetValueOrDefault(name) + value;
        var verify = await SumAsync(VerifyPhase, shards).ConfigureAwait(false);
        var components = await SumAsync(ComponentsPhase, spec.Partitions).ConfigureAwait(false);
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
            CandidatePairs = (long)pair.GetValueOrDefault("candidate_pairs"),
            VerifiedEdges = (long)verify.GetValueOrDefault("verified_edges"),
            RejectedCandidates = (long)verify.GetValueOrDefault("rejected_candidates"),
            Rounds = rounds,
            Components = sizes.Values.Sum(),
            DocumentsInComponents = sizes.Sum(s => s.Key * s.Value),
            Removed = (long)components.GetValueOrDefault("removed"),
            LargestComponent = sizes.Count == 0 ? 0 : sizes.Keys.Max(),
            ComponentSizes = sizes.Select(s => new ComponentSizeCount(s.Key, s.Value)).ToArray(),
        };
        await StageReports.WriteAsync(task, report, cancellationToken).ConfigureAwait(false);
        return new TaskStats { Seconds = clock.Elapsed.TotalSeconds };
    }

    // ---- apply -----------------------------------------------------------------------------------------------------

    private async Task<TaskStats> ApplyAsync(TaskContext task, CancellationToken cancellationToken)
    {
        var decisions = new Dictionary<long, (string Twin, long Size)>();
        for (var partition = 0; partition < spec.Partitions; partition++)
            await foreach (var batch in RoutedTable.ReadAsync(task.Job.Data, DecisionsKey(task, partition), task.Task, cancellationToken).ConfigureAwait(false))
            {
                var (rows, twins, sizes) = (batch.GetColumn<long>(Row), batch.GetColumn<string>(DropsSchema.TwinId), batch.GetColumn<long>("component_size"));
                for (var i = 0; i < batch.RowCount; i++) decisions[rows[i]] = (twins[i], sizes[i]);
            }
        if (task.Job.Refresh is not null) await WriteIndexInputsAsync(task, decisions.Keys.ToHashSet(), cancellationToken).ConfigureAwait(false);
        return await ShardTransformer.RunAsync(task, task.Task, new ApplyDecisions(decisions), cancellationToken).ConfigureAwait(false);
    }

    // ---- durable index (versioned corpora) -------------------------------------------------------------------------

    /// <summary>
    /// The surviving documents of this shard as index entries for the next snapshot: their band keys routed by bucket
    /// partition, their signatures (and shingle sets) routed by id partition.
    /// </summary>
    private async Task WriteIndexInputsAsync(TaskContext task, HashSet<long> removed, CancellationToken cancellationToken)
    {
        var shard = task.Task;
        var bands = new Dictionary<int, RecordBatch>();
        await using (var input = await task.Job.Data.OpenReadAsync(BandsKey(task, shard), cancellationToken).ConfigureAwait(false))
        await using (var reader = await ParquetTableReader.OpenAsync(input, cancellationToken).ConfigureAwait(false))
            await foreach (var batch in reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
            {
                var (band, key, rows) = (batch.GetColumn<int>("band"), batch.GetColumn<long>("key"), batch.GetColumn<long>(Row));
                for (var i = 0; i < batch.RowCount; i++)
                {
                    if (removed.Contains(rows[i])) continue;
                    var partition = (int)((ulong)key[i] % (ulong)spec.Partitions);
                    if (!bands.TryGetValue(partition, out var target)) bands[partition] = target = RecordBatch.WithSchema(BandIndexSchema);
                    target.GetColumn<int>("band").Add(band[i]);
                    target.GetColumn<long>("key").Add(key[i]);
                    target.Ids.Add(batch.Ids[i]);
                }
            }
        await RoutedTable.WriteAsync(task.Job.Data, IndexInputKey(task, shard, BandsIndex), BandIndexSchema, bands, cancellationToken).ConfigureAwait(false);

        var shingleSets = new Dictionary<long, byte[]>();
        if (spec.Verify == NearDedupVerify.Exact)
            await foreach (var batch in RoutedTable.ReadAsync(task.Job.Data, ShingleSetKey(task, shard), 0, cancellationToken).ConfigureAwait(false))
                for (var i = 0; i < batch.RowCount; i++) shingleSets[batch.GetColumn<long>(Row)[i]] = batch.GetColumn<byte[]>("hashes")[i];
        var signatures = new Dictionary<int, RecordBatch>();
        await foreach (var batch in RoutedTable.ReadAsync(task.Job.Data, SignatureKey(task, shard), 0, cancellationToken).ConfigureAwait(false))
        {
            var (rows, values) = (batch.GetColumn<long>(Row), batch.GetColumn<byte[]>("signature"));
            for (var i = 0; i < batch.RowCount; i++)
            {
                if (removed.Contains(rows[i]) || values[i].Length == 0) continue; // removed, or nothing to compare (empty text)
                var partition = IdPartition(batch.Ids[i]);
                if (!signatures.TryGetValue(partition, out var target)) signatures[partition] = target = RecordBatch.WithSchema(SignatureIndexSchema);
                target.Ids.Add(batch.Ids[i]);
                target.GetColumn<byte[]>("signature").Add(values[i]);
                target.GetColumn<byte[]>("hashes").Add(shingleSets.GetValueOrDefault(rows[i], []));
            }
        }
        await RoutedTable.WriteAsync(task.Job.Data, IndexInputKey(task, shard, SignaturesIndex), SignatureIndexSchema, signatures, cancellationToken)
            .ConfigureAwait(false);
    }

    /// <summary>
    /// Per partition, the next snapshot's index: bands = the base's buckets with this run's survivors added up to
    /// <c>anchors</c> ids per bucket (base ids first: they are the anchors a later refresh pairs with); signatures = the
    /// base's plus this run's survivors (sorted by id). A partition this run added nothing to is carried by reference.
    /// </summary>
    private async Task<TaskStats> IndexAsync(TaskContext task, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        var partition = task.Task;
        var job = task.Job;
        var hasBase = job.Refresh!.BaseSnapshot is not null;
        var indexes = new List<SnapshotIndex>();

        // bands
        var added = new List<(int Band, long Key, string Id)>();
        for (var shard = 0; shard < job.Plan.ShardCount; shard++)
            await foreach (var batch in RoutedTable.ReadAsync(job.Data, IndexInputKey(task, shard, BandsIndex), partition, cancellationToken).ConfigureAwait(false))
                for (var i = 0; i < batch.RowCount; i++) added.Add((batch.GetColumn<int>("band")[i], batch.GetColumn<long>("key")[i], batch.Ids[i]));
        var baseBands = hasBase ? (await job.BaseIndexAsync(Folder, BandsIndex, spec.Partitions, cancellationToken).ConfigureAwait(false))[partition] : null;
        if (baseBands is not null && added.Count == 0) indexes.Add(baseBands);
        else
        {
            var buckets = new SortedDictionary<(int Band, long Key), List<string>>();
            if (baseBands is not null)
                await foreach (var batch in StageObjects.ReadIndexAsync(job, baseBands, cancellationToken).ConfigureAwait(false))
                    for (var i = 0; i < batch.RowCount; i++)
                    {
                        var bucket = (batch.GetColumn<int>("band")[i], batch.GetColumn<long>("key")[i]);
                        if (!buckets.TryGetValue(bucket, out var ids)) buckets[bucket] = ids = [];
                        ids.Add(batch.Ids[i]);
                    }
            added.Sort((a, b) => a.Band != b.Band ? a.Band.CompareTo(b.Band) : a.Key != b.Key ? a.Key.CompareTo(b.Key) : string.CompareOrdinal(a.Id, b.Id));
            foreach (var (band, key, id) in added)
            {
                if (!buckets.TryGetValue((band, key), out var ids)) buckets[(band, key)] = ids = [];
                if (ids.Count < spec.Anchors) ids.Add(id);
            }
            var index = RecordBatch.WithSchema(BandIndexSchema);
            foreach (var ((band, key), ids) in buckets)
                foreach (var id in ids)
                {
                    index.GetColumn<int>("band").Add(band);
                    index.GetColumn<long>("key").Add(key);
                    index.Ids.Add(id);
                }
            indexes.Add(await StageObjects.WriteIndexAsync(task, BandsIndex, partition, index, cancellationToken).ConfigureAwait(false));
        }

        // signatures
        var fresh = RecordBatch.WithSchema(SignatureIndexSchema);
        for (var shard = 0; shard < job.Plan.ShardCount; shard++)
            await foreach (var batch in RoutedTable.ReadAsync(job.Data, IndexInputKey(task, shard, SignaturesIndex), partition, cancellationToken).ConfigureAwait(false))
                foreach (var column in batch.AllColumns)
                    foreach (var value in column.Values) fresh.Find(column.Name)!.Values.Add(value);
        var baseSignatures = hasBase ? (await job.BaseIndexAsync(Folder, SignaturesIndex, spec.Partitions, cancellationToken).ConfigureAwait(false))[partition] : null;
        if (baseSignatures is not null && fresh.RowCount == 0) indexes.Add(baseSignatures);
        else
        {
            var merged = RecordBatch.WithSchema(SignatureIndexSchema);
            void Append(RecordBatch from, IEnumerable<int> rows)
            {
                foreach (var row in rows)
                {
                    merged.Ids.Add(from.Ids[row]);
                    merged.GetColumn<byte[]>("signature").Add(from.GetColumn<byte[]>("signature")[row]);
                    merged.GetColumn<byte[]>("hashes").Add(from.GetColumn<byte[]>("hashes")[row]);
                }
            }
            if (baseSignatures is not null)
                await foreach (var batch in StageObjects.ReadIndexAsync(job, baseSignatures, cancellationToken).ConfigureAwait(false))
                    Append(batch, Enumerable.Range(0, batch.RowCount));
            Append(fresh, Enumerable.Range(0, fresh.RowCount).OrderBy(row => fresh.Ids[row], StringComparer.Ordinal));
            indexes.Add(await StageObjects.WriteIndexAsync(task, SignaturesIndex, partition, merged, cancellationToken).ConfigureAwait(false));
        }
        return new TaskStats { Seconds = clock.Elapsed.TotalSeconds, Indexes = indexes };
    }

    /// <summary>
    /// A refresh, per id partition: candidate pairs whose smaller end is a base document get that document's indexed
    /// signature (or shingle set) attached, and go on to the verify phase of the new end's shard.
    /// </summary>
    private async Task<TaskStats> BasePairAsync(TaskContext task, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        var partition = task.Task;
        var job = task.Job;
        var target = job.Plan.ShardCount + partition;
        var pairs = new HashSet<(string U, Node V)>();
        for (var bucketPartition = 0; bucketPartition < spec.Partitions; bucketPartition++)
            await foreach (var batch in RoutedTable.ReadAsync(job.Data, CandidatesKey(task, bucketPartition), target, cancellationToken).ConfigureAwait(false))
            {
                var (uIds, vIds, vShards, vRows) = (batch.GetColumn<string>("u_id"), batch.GetColumn<string>("v_id"), batch.GetColumn<int>("v_shard"),
                    batch.GetColumn<long>("v_row"));
                for (var i = 0; i < batch.RowCount; i++) pairs.Add((uIds[i], new Node(vIds[i], vShards[i], vRows[i])));
            }

        var data = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        if (pairs.Count > 0 && spec.Verify != NearDedupVerify.None)
        {
            var wanted = pairs.Select(p => p.U).ToHashSet(StringComparer.Ordinal);
            var column = spec.Verify == NearDedupVerify.Exact ? "hashes" : "signature";
            var index = (await job.BaseIndexAsync(Folder, SignaturesIndex, spec.Partitions, cancellationToken).ConfigureAwait(false))[partition];
            await foreach (var batch in StageObjects.ReadIndexAsync(job, index, cancellationToken).ConfigureAwait(false))
                for (var i = 0; i < batch.RowCount; i++)
                    if (wanted.Contains(batch.Ids[i])) data[batch.Ids[i]] = batch.GetColumn<byte[]>(column)[i];
        }

        var byShard = new Dictionary<int, RecordBatch>();
        foreach (var (u, v) in pairs.OrderBy(p => p.U, StringComparer.Ordinal).ThenBy(p => p.V))
        {
            if (!byShard.TryGetValue(v.Shard, out var batch)) byShard[v.Shard] = batch = RecordBatch.WithSchema(PairSchema);
            var b = Node.Base(u);
            batch.GetColumn<string>("u_id").Add(u);
            batch.GetColumn<int>("u_shard").Add(b.Shard);
            batch.GetColumn<long>("u_row").Add(b.Row);
            batch.GetColumn<string>("v_id").Add(v.Id);
            batch.GetColumn<long>("v_row").Add(v.Row);
            batch.GetColumn<byte[]>("u_data").Add(data.GetValueOrDefault(u, []));
        }
        await RoutedTable.WriteAsync(job.Data, BasePairsKey(task, partition), PairSchema, byShard, cancellationToken).ConfigureAwait(false);
        return new TaskStats { Seconds = clock.Elapsed.TotalSeconds, Metrics = { ["candidate_pairs"] = pairs.Count, ["candidate_pairs_with_corpus"] = pairs.Count } };
    }

    /// <summary>The apply phase's transform: drops decided rows (by running row number), naming the component's kept document.</summary>
    private sealed class ApplyDecisions(Dictionary<long, (string Twin, long Size)> decisions) : IDocumentTransform
    {
        private long _offset;

        public IReadOnlyList<ColumnSchema> AddedColumns { get; } = [];

        public void Process(RecordBatch batch, DropCollector drops)
        {
            for (var i = 0; i < batch.RowCount; i++)
                if (decisions.TryGetValue(_offset + i, out var decision))
                    drops.Drop(i, DuplicateReason, $"component of {decision.Size.ToString(CultureInfo.InvariantCulture)}", decision.Twin);
            _offset += batch.RowCount;
        }
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
}
