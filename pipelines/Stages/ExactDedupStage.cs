using System.Diagnostics;
using Curation.Pipelines.Execution;
using Curation.Pipelines.IO;
using Curation.Pipelines.Model;
using Curation.Pipelines.Spec;
using Curation.Pipelines.Text;

namespace Curation.Pipelines.Stages;

/// <summary>
/// Exact dedup as a shuffle, so no process ever holds the whole corpus:
/// <list type="number">
/// <item><b>hash</b> (per shard): the key of every document (its <see cref="DedupKey"/>: the content hash for
/// exact_dedup, the normalised URL's hash for url_dedup) and its rank, written grouped by key partition (by the fused
/// document pass before this stage as it writes the shard, <see cref="IShardTap"/>, else by this phase reading the shard);</item>
/// <item><b>resolve</b> (per partition): within each group of equal keys the document with the smallest
/// (rank, id, shard, row) is kept (with <c>keep: none</c> it too is dropped, naming itself); the others become decisions
/// routed back to their shard;</item>
/// <item><b>apply</b> (per shard): drops the decided rows with the key's reason (<c>exact_duplicate</c>) and the kept twin's id
/// (<see cref="ShardDecisions"/>). When the next stage is the output, that happens inside the output's write of the shard
/// (<see cref="DeferredApplyAsync"/>): this phase then only records its books from the decisions, and the shard is read and
/// written once instead of twice, with the same bytes.</item>
/// </list>
/// The keep rule uses only ranks, ids and positions, so the result never depends on timing or silo count.
/// </summary>
public sealed class ExactDedupStage(int index, DedupKey key) : PipelineStage(index)
{
    public const string HashPhase = "hash";
    public const string ResolvePhase = "resolve";
    public const string ApplyPhase = "apply";
    public const string DuplicateReason = "exact_duplicate";
    public const string HashColumn = "content_hash";

    private static readonly IReadOnlyList<ColumnSchema> HashSchema =
    [
        new("partition", typeof(int)), new("hash_hi", typeof(long)), new("hash_lo", typeof(long)),
        new(Columns.Id, typeof(string)), new("row", typeof(long)), new("rank", typeof(long)),
    ];

    /// <summary>The durable index of a versioned corpus, per hash partition: every kept document's hash, sorted.</summary>
    public const string IndexName = "hashes";

    private static readonly IReadOnlyList<ColumnSchema> IndexSchema =
        [new("hash_hi", typeof(long)), new("hash_lo", typeof(long)), new(Columns.Id, typeof(string))];

    public override string Name => key.StageName;

    protected override IReadOnlyList<StagePhase> DeclarePhases(JobPlan plan) =>
    [
        new(HashPhase, TaskScope.Shard, plan.ShardCount, HashAsync),
        new(ResolvePhase, TaskScope.Partition, key.Partitions, ResolveAsync),
        new(ApplyPhase, TaskScope.Shard, plan.ShardCount, ApplyAsync, producesShardOutput: true),
    ];

    private string HashKey(JobContext job, int shard) => $"{job.Layout.PhaseRoot(Index, Name, HashPhase)}{JobLayout.ShardName(shard)}.parquet";

    /// <summary>Where the resolver tasks' decisions lie: one object per partition, one row group per shard in it (<see cref="ShardDecisions"/>).</summary>
    private string DecisionFolder(JobContext job) => job.Layout.PhaseRoot(Index, Name, ResolvePhase);

    /// <summary>The hash phase's work done while the document pass before this stage writes the shard (one read less).</summary>
    public override IShardTap? TapInput(JobContext job, int shard) => new ShardHashes(key, job, HashKey(job, shard));

    private async Task<TaskStats> HashAsync(TaskContext task, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        var hashKey = HashKey(task.Job, task.Task);
        // Tapped: the document pass before this stage hashed the rows as it wrote them (the same object, byte for byte).
        if (await task.Job.Data.GetInfoAsync(hashKey, cancellationToken).ConfigureAwait(false) is not null)
        {
            var rows = await RoutedTable.RowCountAsync(task.Job.Data, hashKey, cancellationToken).ConfigureAwait(false);
            return new TaskStats { In = rows, Seconds = clock.Elapsed.TotalSeconds };
        }
        var shard = new ShardHashes(key, task.Job, hashKey);
        await using (var input = await task.Job.Data.OpenReadAsync(task.InputShardKey(task.Task), cancellationToken).ConfigureAwait(false))
        await using (var reader = await ParquetTableReader.OpenAsync(input, cancellationToken).ConfigureAwait(false))
            await foreach (var batch in reader.ReadColumnsAsync([Columns.Id, .. key.ReadColumns], cancellationToken).ConfigureAwait(false))
                shard.Add(batch);
        await shard.CommitAsync(cancellationToken).ConfigureAwait(false);
        return new TaskStats { In = shard.Rows, Seconds = clock.Elapsed.TotalSeconds };
    }

    /// <summary>
    /// One shard's hash file: the key and rank of every row that has a key, written grouped by key partition (a
    /// <see cref="RoutedTable"/>: one segment per non-empty partition, so a resolver reads only the index and its own part of
    /// every shard's file). Fed by the hash phase reading the shard, or
    /// by the document pass writing it (<see cref="IShardTap"/>): the same rows in the same order, so the same bytes.
    /// </summary>
    private sealed class ShardHashes(DedupKey key, JobContext job, string objectKey) : IShardTap
    {
        // Per partition, in row order: small lists (no sort, no one large array regrown as the shard fills).
        private readonly List<(ContentHash Hash, string Id, long Row, long Rank)>?[] _partitions = new List<(ContentHash, string, long, long)>?[key.Partitions];

        public long Rows { get; private set; }

        public void Add(RecordBatch batch)
        {
            for (var i = 0; i < batch.RowCount; i++, Rows++)
                if (key.KeyOf(batch, i) is var (hash, rank)) (_partitions[hash.PartitionOf(key.Partitions)] ??= []).Add((hash, batch.Ids[i], Rows, rank));
        }

        public async Task CommitAsync(CancellationToken cancellationToken)
        {
            await using var writer = await RoutedTableWriter.CreateAsync(HashSchema, cancellationToken).ConfigureAwait(false);
            for (var partition = 0; partition < _partitions.Length; partition++)
            {
                if (_partitions[partition] is not { Count: > 0 } entries) continue;
                var batch = RecordBatch.WithSchema(HashSchema, entries.Count);
                var (partitionColumn, high, low, ids, rows, ranks) = (batch.GetColumn<int>("partition"), batch.GetColumn<long>("hash_hi"),
                    batch.GetColumn<long>("hash_lo"), batch.Ids, batch.GetColumn<long>("row"), batch.GetColumn<long>("rank"));
                foreach (var e in entries)
                {
                    partitionColumn.Add(partition);
                    high.Add(e.Hash.High);
                    low.Add(e.Hash.Low);
                    ids.Add(e.Id);
                    rows.Add(e.Row);
                    ranks.Add(e.Rank);
                }
                await writer.WriteAsync(partition, batch, cancellationToken).ConfigureAwait(false);
            }
            await writer.CommitOnceAsync(job.Data, objectKey, cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task<TaskStats> ResolveAsync(TaskContext task, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        var partition = task.Task;
        var shards = task.Job.Plan.ShardCount;

        // Pass 1: the keeper of every hash in this partition. Memory: one entry per distinct hash of the partition.
        // A versioned corpus first loads its base snapshot's index of this partition: those documents are already
        // curated, always win, and a new document with the same hash is dropped naming the indexed one.
        var keepers = new Dictionary<ContentHash, Keeper>();
        var baseIndex = await CorpusIndex.BaseAsync(task, IndexName, key.Partitions, partition, cancellationToken).ConfigureAwait(false);
        if (baseIndex is not null)
            await foreach (var batch in StageObjects.ReadIndexAsync(task.Job, baseIndex, cancellationToken).ConfigureAwait(false))
            {
                var (high, low, ids) = (batch.GetColumn<long>("hash_hi"), batch.GetColumn<long>("hash_lo"), batch.Ids);
                for (var i = 0; i < batch.RowCount; i++) keepers[new ContentHash(high[i], low[i])] = new Keeper(ids[i], -1, -1, 0, 1, Indexed: true);
            }
        var indexed = keepers.Count;
        long documents = 0;
        // Each shard's rows of this partition, read once for both passes (as much memory as the keepers: one partition).
        var read = new List<RecordBatch>[shards];
        for (var shard = 0; shard < shards; shard++)
        {
            read[shard] = [];
            await foreach (var batch in ReadPartitionAsync(task, shard, partition, cancellationToken).ConfigureAwait(false))
                read[shard].Add(batch);
        }
        // Sized once for every row read (no rehashing as it fills: its arrays are large objects, each growth a new one).
        keepers.EnsureCapacity(keepers.Count + read.Sum(batches => batches.Sum(b => b.RowCount)));
        for (var shard = 0; shard < shards; shard++)
        {
            foreach (var batch in read[shard])
            {
                var (high, low, rows, ids, ranks) = (batch.GetColumn<long>("hash_hi"), batch.GetColumn<long>("hash_lo"), batch.GetColumn<long>("row"),
                    batch.Ids, batch.GetColumn<long>("rank"));
                for (var i = 0; i < batch.RowCount; i++)
                {
                    documents++;
                    var hash = new ContentHash(high[i], low[i]);
                    var candidate = new Keeper(ids[i], shard, rows[i], ranks[i], 1);
                    keepers[hash] = keepers.TryGetValue(hash, out var current)
                        ? (!current.Indexed && candidate.IsBefore(current) ? candidate with { Count = current.Count + 1 } : current with { Count = current.Count + 1 })
                        : candidate;
                }
            }
        }

        // Pass 2: every non-keeper of a repeated hash becomes a decision for its own shard; all shards' decisions of this
        // partition go into one object (one flush to disk per resolver task, not one per shard).
        long duplicates = 0, ofIndexed = 0;
        var groups = keepers.Values.Count(k => k.Count > 1);
        var decided = new List<(long Row, ShardDecision Decision)>[shards];
        for (var shard = 0; shard < shards; shard++)
        {
            var decisions = decided[shard] = [];
            foreach (var batch in read[shard])
            {
                var (high, low, rows) = (batch.GetColumn<long>("hash_hi"), batch.GetColumn<long>("hash_lo"), batch.GetColumn<long>("row"));
                for (var i = 0; i < batch.RowCount; i++)
                {
                    var keeper = keepers[new ContentHash(high[i], low[i])];
                    var row = rows[i];
                    if (keeper.Count == 1 || (key.Keep != DedupKeep.None && keeper.Shard == shard && keeper.Row == row)) continue;
                    if (keeper.Indexed) ofIndexed++;
                    decisions.Add((row, new ShardDecision(key.Reason, TwinId: keeper.Id)));
                }
            }
            duplicates += decisions.Count;
        }
        await ShardDecisions.WriteAsync(task.Job.Data, $"{DecisionFolder(task.Job)}{partition:D4}.parquet", decided, cancellationToken).ConfigureAwait(false);

        // A versioned corpus: the next snapshot's index of this partition is the base's plus this run's keepers
        // (sorted by hash); when this run kept nothing new here, the base's object is carried by reference.
        List<SnapshotIndex>? indexes = null;
        if (task.Job.Refresh is not null)
            indexes = [await CorpusIndex.MergeOrCarryAsync(task, IndexName, partition, baseIndex, addsNothing: keepers.Count == indexed, IndexSchema, null,
                (writer, _, ct) =>
                {
                    // The base's rows are already among the keepers: the merge is the keepers sorted by hash.
                    var index = RecordBatch.WithSchema(IndexSchema, keepers.Count);
                    var (high, low, ids) = (index.GetColumn<long>("hash_hi"), index.GetColumn<long>("hash_lo"), index.Ids);
                    foreach (var (hash, keeper) in keepers.OrderBy(k => k.Key.High).ThenBy(k => k.Key.Low))
                    {
                        high.Add(hash.High);
                        low.Add(hash.Low);
                        ids.Add(keeper.Id);
                    }
                    return writer.WriteAsync(index, ct);
                }, cancellationToken).ConfigureAwait(false)];

        var stats = new TaskStats
        {
            In = documents, Seconds = clock.Elapsed.TotalSeconds, Indexes = indexes,
            Metrics = { ["distinct_hashes"] = keepers.Count - indexed, ["duplicate_groups"] = groups, ["duplicates"] = duplicates },
        };
        if (task.Job.Refresh is not null) stats.Metrics["duplicates_of_corpus"] = ofIndexed;
        return stats;
    }

    /// <summary>This partition's rows of a shard's hash file (a <see cref="RoutedTable"/>: its index, then only this partition's segment).</summary>
    private IAsyncEnumerable<RecordBatch> ReadPartitionAsync(TaskContext task, int shard, int partition, CancellationToken cancellationToken) =>
        RoutedTable.ReadAsync(task.Job.Data, HashKey(task.Job, shard), partition, cancellationToken);

    private async Task<TaskStats> ApplyAsync(TaskContext task, CancellationToken cancellationToken)
    {
        if (DefersApplyToOutput(task.Job))
        {
            var decisions = await ShardDecisions.ReadShardAsync(task.Job.Data, DecisionFolder(task.Job), task.Task, cancellationToken).ConfigureAwait(false);
            var rows = await ShardDecisions.RowCountAsync(task.Job.Data, task.InputShardKey(task.Task), cancellationToken).ConfigureAwait(false);
            return ShardDecisions.StatsOf(rows, decisions);
        }
        var transform = await ApplyTransformAsync(task.Job, task.Task, cancellationToken).ConfigureAwait(false);
        return await ShardTransformer.RunAsync(task, task.Task, transform, cancellationToken).ConfigureAwait(false);
    }

    public override async Task<IDocumentTransform?> DeferredApplyAsync(JobContext job, int shard, CancellationToken cancellationToken) =>
        await ApplyTransformAsync(job, shard, cancellationToken).ConfigureAwait(false);

    public override Task<IReadOnlyList<ColumnSchema>> DeferredApplyColumnsAsync(JobContext job, int shard, CancellationToken cancellationToken) =>
        Task.FromResult(ApplyColumns);

    /// <summary>The column the apply adds: each row's key in readable form.</summary>
    private IReadOnlyList<ColumnSchema> ApplyColumns => [new(key.OutputColumn, typeof(string))];

    /// <summary>
    /// Drops the decided rows and records each row's key in readable form: where the output column is the key itself (the
    /// content hash), every row's key as the hash phase computed it from this very input (no second hashing); otherwise
    /// the key computes the column.
    /// </summary>
    private async Task<IDocumentTransform> ApplyTransformAsync(JobContext job, int shard, CancellationToken cancellationToken)
    {
        var decisions = await ShardDecisions.ReadShardAsync(job.Data, DecisionFolder(job), shard, cancellationToken).ConfigureAwait(false);
        ContentHash[]? keys = null;
        if (key.OutputIsKey)
        {
            var hashKey = HashKey(job, shard);
            keys = new ContentHash[await RoutedTable.RowCountAsync(job.Data, hashKey, cancellationToken).ConfigureAwait(false)];
            await foreach (var batch in RoutedTable.ReadAllAsync(job.Data, hashKey, ["row", "hash_hi", "hash_lo"], cancellationToken).ConfigureAwait(false))
            {
                var (rows, high, low) = (batch.GetColumn<long>("row"), batch.GetColumn<long>("hash_hi"), batch.GetColumn<long>("hash_lo"));
                for (var i = 0; i < batch.RowCount; i++) keys[rows[i]] = new ContentHash(high[i], low[i]);
            }
        }
        return new ApplyDecisionsTransform(decisions, ApplyColumns, (batch, offset) =>
        {
            var column = batch.ResetColumn<string>(key.OutputColumn, batch.RowCount);
            for (var i = 0; i < batch.RowCount; i++) column.Add(keys is null ? key.OutputValue(batch, i)! : keys[offset + i].ToString());
        });
    }

    /// <param name="Indexed">A document of the corpus' base snapshot (from its index): kept whatever its id.</param>
    private readonly record struct Keeper(string Id, int Shard, long Row, long Rank, long Count, bool Indexed = false)
    {
        public bool IsBefore(Keeper other)
        {
            if (Rank != other.Rank) return Rank < other.Rank;
            var byId = string.CompareOrdinal(Id, other.Id);
            if (byId != 0) return byId < 0;
            return Shard != other.Shard ? Shard < other.Shard : Row < other.Row;
        }
    }
}
