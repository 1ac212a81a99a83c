using Curation.Pipelines.Execution;
using Curation.Pipelines.IO;
using Curation.Pipelines.Model;
using Curation.Pipelines.NearDup;
using Curation.Pipelines.Spec;

namespace Curation.Pipelines.Stages;

// The bucket phase: candidate pairs from shared LSH buckets; the verification data of a shard's rows, read by row.
public sealed partial class NearDedupStage
{
    private async Task<TaskStats> BucketAsync(TaskContext task, CancellationToken cancellationToken)
    {
        // Memory: one entry per (document, band) whose key falls in this partition: documents × bands / partitions; no ids.
        var entries = new List<BucketEntry>();
        for (var shard = 0; shard < task.Job.Plan.ShardCount; shard++)
        {
            var records = await BandFile.ReadAsync(task.Job.Data, BandsKey(task, shard), task.Task, cancellationToken).ConfigureAwait(false);
            entries.EnsureCapacity(entries.Count + records.Count);
            foreach (var record in records) entries.Add(new BucketEntry(unchecked((long)record.Key), record.Band, shard, record.Row));
        }
        // A refresh: the base snapshot's kept documents of the buckets this run's documents fall in (memory stays
        // proportional to the new documents); they order before every new document, so they are the anchors.
        var baseIds = new List<string>();
        if (task.Job.Refresh?.BaseSnapshot is not null)
        {
            var buckets = entries.Select(e => (e.Band, e.Key)).ToHashSet();
            var baseIndex = (await task.Job.BaseIndexAsync(Folder, BandsIndex, spec.Partitions, cancellationToken).ConfigureAwait(false))[task.Task];
            await foreach (var batch in StageObjects.ReadIndexAsync(task.Job, baseIndex, cancellationToken).ConfigureAwait(false))
            {
                var (band, key) = (batch.GetColumn<int>("band"), batch.GetColumn<long>("key"));
                for (var i = 0; i < batch.RowCount; i++)
                    if (buckets.Contains((band[i], key[i])))
                    {
                        entries.Add(new BucketEntry(key[i], band[i], -1, baseIds.Count));
                        baseIds.Add(batch.Ids[i]);
                    }
            }
        }
        var shared = SharedBuckets(entries);
        var ids = await ResolveIdsAsync(task, shared, cancellationToken).ConfigureAwait(false);
        var pairs = new HashSet<(Node U, Node V)>();
        var (sharedBuckets, bucketPairs) = CollectPairs(shared, entry => entry.Shard < 0
            ? Node.Base(baseIds[entry.Row])
            : new Node(ids[(entry.Shard, entry.Row)], entry.Shard, entry.Row), pairs);

        // Routed to the shard of the larger end, whose verify task reads both ends' signatures by row; a base document's
        // pairs go to target shards + its id partition, where the base-pair phase attaches its indexed signature.
        var byShard = new Dictionary<int, RecordBatch>();
        var shardCount = task.Job.Plan.ShardCount;
        foreach (var (u, v) in pairs.OrderBy(p => p.U).ThenBy(p => p.V))
        {
            var target = u.IsBase ? shardCount + IdPartition(u.Id) : v.Shard;
            if (!byShard.TryGetValue(target, out var batch)) byShard[target] = batch = RecordBatch.WithSchema(CandidateSchema);
            batch.GetColumn<string>("u_id").Add(u.Id);
            batch.GetColumn<int>("u_shard").Add(u.Shard);
            batch.GetColumn<long>("u_row").Add(u.Row);
            batch.GetColumn<string>("v_id").Add(v.Id);
            batch.GetColumn<int>("v_shard").Add(v.Shard);
            batch.GetColumn<long>("v_row").Add(v.Row);
        }
        await RoutedTable.WriteAsync(task.Job.Data, CandidatesKey(task, task.Task), CandidateSchema, byShard, cancellationToken).ConfigureAwait(false);
        return new TaskStats
        {
            Metrics = { ["band_entries"] = entries.Count, ["shared_buckets"] = sharedBuckets, ["bucket_pairs"] = bucketPairs },
        };
    }

    /// <summary>One document's key in one band, as the bucket phase groups them: a row of a shard, or (shard −1) a base document by its index in the base ids.</summary>
    private readonly record struct BucketEntry(long Key, int Band, int Shard, int Row);

    /// <summary>
    /// The shared buckets (same band, same key, more than one member), each as its members. Buckets are found by sorting
    /// the keys alone (a primitive sort: the order of buckets is irrelevant, as pairs are collected in a set and sorted);
    /// only the few entries whose key recurs are grouped by band, and only their documents' ids are ever looked up.
    /// </summary>
    private static List<BucketEntry[]> SharedBuckets(List<BucketEntry> entries)
    {
        var keys = new long[entries.Count];
        var order = new int[entries.Count];
        for (var i = 0; i < keys.Length; i++) (keys[i], order[i]) = (entries[i].Key, i);
        Array.Sort(keys, order);

        var shared = new List<BucketEntry[]>();
        var group = new List<BucketEntry>();
        for (var start = 0; start < keys.Length;)
        {
            var end = start + 1;
            while (end < keys.Length && keys[end] == keys[start]) end++;
            if (end - start > 1)
            {
                group.Clear();
                for (var i = start; i < end; i++) group.Add(entries[order[i]]);
                group.Sort(static (x, y) => x.Band.CompareTo(y.Band));
                for (var first = 0; first < group.Count;)
                {
                    var last = first + 1;
                    while (last < group.Count && group[last].Band == group[first].Band) last++;
                    if (last - first > 1) shared.Add(group.GetRange(first, last - first).ToArray());
                    first = last;
                }
            }
            start = end;
        }
        return shared;
    }

    /// <summary>The ids of the shard documents in shared buckets, each read from its shard's signature file by row.</summary>
    private async Task<Dictionary<(int Shard, int Row), string>> ResolveIdsAsync(TaskContext task, List<BucketEntry[]> shared, CancellationToken cancellationToken)
    {
        var ids = new Dictionary<(int Shard, int Row), string>();
        foreach (var byShard in shared.SelectMany(bucket => bucket).Where(e => e.Shard >= 0).Select(e => (e.Shard, e.Row)).Distinct().GroupBy(e => e.Shard).OrderBy(g => g.Key))
        {
            await using var reader = await SignatureFileReader.OpenAsync(task.Job.Data, SignatureKey(task, byShard.Key), cancellationToken).ConfigureAwait(false);
            var rows = byShard.Select(e => e.Row).Order().ToList();
            var found = await reader.ReadIdsAsync(rows.ConvertAll(row => (long)row), cancellationToken).ConfigureAwait(false);
            for (var i = 0; i < rows.Count; i++) ids[(byShard.Key, rows[i])] = found[i];
        }
        return ids;
    }

    /// <summary>
    /// Pairs every member of a shared bucket with the bucket's <c>anchors</c> smallest members (O(n) pairs per bucket).
    /// Returns the shared buckets and the pairs counted.
    /// </summary>
    private (long Shared, long Pairs) CollectPairs(List<BucketEntry[]> shared, Func<BucketEntry, Node> node, HashSet<(Node U, Node V)> pairs)
    {
        long bucketPairs = 0;
        foreach (var bucket in shared)
        {
            var members = Array.ConvertAll(bucket, e => node(e));
            Array.Sort(members);
            // Members are sorted, so the anchors are the bucket's smallest documents and each pair is (smaller, larger).
            for (var i = 1; i < members.Length; i++)
                for (var a = 0; a < Math.Min(i, spec.Anchors); a++)
                {
                    if (members[a].IsBase && members[i].IsBase) continue; // both curated already
                    bucketPairs++;
                    pairs.Add((members[a], members[i]));
                }
        }
        return (shared.Count, bucketPairs);
    }

    /// <summary>The signatures (estimated: read by row) or shingle sets (exact) of the given rows of a shard, as stored bytes.</summary>
    private async Task<Dictionary<long, byte[]>> LoadVerificationDataAsync(TaskContext task, int shard, HashSet<long> rows, CancellationToken cancellationToken)
    {
        if (rows.Count == 0) return [];
        if (spec.Verify != NearDedupVerify.Exact)
        {
            var sorted = rows.Order().ToList();
            await using var signatures = await SignatureFileReader.OpenAsync(task.Job.Data, SignatureKey(task, shard), cancellationToken).ConfigureAwait(false);
            var values = await signatures.ReadSignaturesAsync(sorted, cancellationToken).ConfigureAwait(false);
            var result = new Dictionary<long, byte[]>(sorted.Count);
            for (var i = 0; i < sorted.Count; i++) result[sorted[i]] = values[i];
            return result;
        }
        return await ShingleSetFile.ReadAsync(task.Job.Data, ShingleSetKey(task, shard), rows, cancellationToken).ConfigureAwait(false);
    }
}
