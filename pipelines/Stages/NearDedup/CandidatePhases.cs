using System.Diagnostics;
using Curation.Pipelines.Execution;
using Curation.Pipelines.IO;
using Curation.Pipelines.Model;
using Curation.Pipelines.NearDup;
using Curation.Pipelines.Spec;

namespace Curation.Pipelines.Stages;

// The bucket and pair phases: candidate pairs from shared LSH buckets, each with its smaller end's signature attached.
public sealed partial class NearDedupStage
{
    private async Task<TaskStats> BucketAsync(TaskContext task, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        // Memory: one entry per (document, band) whose key falls in this partition: documents × bands / partitions.
        var entries = new List<BandEntry>();
        for (var shard = 0; shard < task.Job.Plan.ShardCount; shard++)
            await foreach (var batch in RoutedTable.ReadAsync(task.Job.Data, BandsKey(task, shard), task.Task, cancellationToken).ConfigureAwait(false))
            {
                var (band, key, rows, ids) = (batch.GetColumn<int>("band").List, batch.GetColumn<long>("key").List, batch.GetColumn<long>(Row).List, batch.Ids.List);
                entries.EnsureCapacity(entries.Count + batch.RowCount);
                for (var i = 0; i < batch.RowCount; i++) entries.Add(new BandEntry(key[i], band[i], new Node(ids[i], shard, rows[i])));
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
                    if (buckets.Contains((band[i], key[i]))) entries.Add(new BandEntry(key[i], band[i], Node.Base(batch.Ids[i])));
            }
        }
        var pairs = new HashSet<(Node U, Node V)>();
        var (sharedBuckets, bucketPairs, largest) = CollectPairs(entries, pairs);

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

    /// <summary>One document's key in one band, as the bucket phase groups them.</summary>
    private readonly record struct BandEntry(long Key, int Band, Node Node);

    /// <summary>
    /// Pairs every member of a shared bucket (same band, same key) with the bucket's <c>anchors</c> smallest members.
    /// Buckets are found by sorting the keys alone (a primitive sort: the order of buckets is irrelevant, as pairs are
    /// collected in a set and sorted); only the few entries whose key recurs are ordered by band and document, so most
    /// entries never compare ids. Returns the shared buckets, the pairs counted, and the largest bucket's size.
    /// </summary>
    private (long Shared, long Pairs, long Largest) CollectPairs(List<BandEntry> entries, HashSet<(Node U, Node V)> pairs)
    {
        var keys = new long[entries.Count];
        var order = new int[entries.Count];
        for (var i = 0; i < keys.Length; i++) (keys[i], order[i]) = (entries[i].Key, i);
        Array.Sort(keys, order);

        long sharedBuckets = 0, bucketPairs = 0, largest = 0;
        var group = new List<BandEntry>();
        for (var start = 0; start < keys.Length;)
        {
            var end = start + 1;
            while (end < keys.Length && keys[end] == keys[start]) end++;
            if (end - start > 1)
            {
                group.Clear();
                for (var i = start; i < end; i++) group.Add(entries[order[i]]);
                group.Sort(static (x, y) => x.Band != y.Band ? x.Band.CompareTo(y.Band) : x.Node.CompareTo(y.Node));
                for (var first = 0; first < group.Count;)
                {
                    var last = first + 1;
                    while (last < group.Count && group[last].Band == group[first].Band) last++;
                    var size = last - first;
                    if (size > 1)
                    {
                        sharedBuckets++;
                        largest = Math.Max(largest, size);
                        // Members are sorted, so the anchors are the bucket's smallest documents and each pair is (smaller, larger).
                        for (var i = first + 1; i < last; i++)
                            for (var a = first; a < Math.Min(i, first + spec.Anchors); a++)
                            {
                                if (group[a].Node.IsBase && group[i].Node.IsBase) continue; // both curated already
                                bucketPairs++;
                                pairs.Add((group[a].Node, group[i].Node));
                            }
                    }
                    first = last;
                }
            }
            start = end;
        }
        return (sharedBuckets, bucketPairs, largest);
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
        // Every row group of these files is addressed to target 0: only the two columns needed are decoded (not the ids).
        await using var input = await task.Job.Data.OpenReadAsync(key, cancellationToken).ConfigureAwait(false);
        await using var reader = await ParquetTableReader.OpenAsync(input, cancellationToken).ConfigureAwait(false);
        await foreach (var batch in reader.ReadColumnsAsync([Row, column], cancellationToken).ConfigureAwait(false))
        {
            var (rowColumn, values) = (batch.GetColumn<long>(Row), batch.GetColumn<byte[]>(column));
            for (var i = 0; i < batch.RowCount; i++)
                if (rows.Contains(rowColumn[i])) result[rowColumn[i]] = values[i];
        }
        return result;
    }
}
