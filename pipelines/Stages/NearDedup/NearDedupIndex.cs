using Curation.Pipelines.Execution;
using Curation.Pipelines.IO;
using Curation.Pipelines.Model;
using Curation.Pipelines.NearDup;
using Curation.Pipelines.Spec;

namespace Curation.Pipelines.Stages;

// The durable index of versioned corpora: index inputs, merge into the snapshot's index, and base pairs for refreshes.
public sealed partial class NearDedupStage
{
    /// <summary>
    /// The surviving documents of this shard as index entries for the next snapshot: their band keys routed by bucket
    /// partition, their signatures (and shingle sets) routed by id partition.
    /// </summary>
    private async Task WriteIndexInputsAsync(TaskContext task, HashSet<long> removed, CancellationToken cancellationToken)
    {
        var shard = task.Task;
        var survivors = new List<(long Row, string Id, byte[] Signature)>();
        var ids = new List<string>();
        await using (var reader = await SignatureFileReader.OpenAsync(task.Job.Data, SignatureKey(task, shard), cancellationToken).ConfigureAwait(false))
            await foreach (var entry in reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
            {
                ids.Add(entry.Id);
                if (!removed.Contains(entry.Row) && entry.Signature.Length != 0) survivors.Add(entry); // else removed, or nothing to compare (empty text)
            }

        var bands = new Dictionary<int, RecordBatch>();
        foreach (var record in await BandFile.ReadAsync(task.Job.Data, BandsKey(task, shard), null, cancellationToken).ConfigureAwait(false))
        {
            if (removed.Contains(record.Row)) continue;
            var partition = (int)(record.Key % (ulong)spec.Partitions);
            if (!bands.TryGetValue(partition, out var target)) bands[partition] = target = RecordBatch.WithSchema(BandIndexSchema);
            target.GetColumn<int>("band").Add(record.Band);
            target.GetColumn<long>("key").Add(unchecked((long)record.Key));
            target.Ids.Add(ids[record.Row]);
        }
        await RoutedTable.WriteAsync(task.Job.Data, IndexInputKey(task, shard, BandsIndex), BandIndexSchema, bands, cancellationToken).ConfigureAwait(false);

        var shingleSets = spec.Verify == NearDedupVerify.Exact
            ? await ShingleSetFile.ReadAsync(task.Job.Data, ShingleSetKey(task, shard), survivors.Select(s => s.Row), cancellationToken).ConfigureAwait(false)
            : [];
        var signatures = new Dictionary<int, RecordBatch>();
        foreach (var (row, id, signature) in survivors)
        {
            var partition = IdPartition(id);
            if (!signatures.TryGetValue(partition, out var target)) signatures[partition] = target = RecordBatch.WithSchema(SignatureIndexSchema);
            target.Ids.Add(id);
            target.GetColumn<byte[]>("signature").Add(signature);
            target.GetColumn<byte[]>("hashes").Add(shingleSets.GetValueOrDefault(row, []));
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
        var partition = task.Task;
        var job = task.Job;
        var indexes = new List<SnapshotIndex>();

        // bands
        var added = new List<(int Band, long Key, string Id)>();
        for (var shard = 0; shard < job.Plan.ShardCount; shard++)
            await foreach (var batch in RoutedTable.ReadAsync(job.Data, IndexInputKey(task, shard, BandsIndex), partition, cancellationToken).ConfigureAwait(false))
                for (var i = 0; i < batch.RowCount; i++) added.Add((batch.GetColumn<int>("band")[i], batch.GetColumn<long>("key")[i], batch.Ids[i]));
        var baseBands = await CorpusIndex.BaseAsync(task, BandsIndex, spec.Partitions, partition, cancellationToken).ConfigureAwait(false);
        indexes.Add(await CorpusIndex.MergeOrCarryAsync(task, BandsIndex, partition, baseBands, addsNothing: added.Count == 0, BandIndexSchema, null,
            async (writer, baseRows, ct) =>
            {
                var buckets = new SortedDictionary<(int Band, long Key), List<string>>();
                await foreach (var batch in baseRows.ConfigureAwait(false))
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
                await writer.WriteAsync(index, ct).ConfigureAwait(false);
            }, cancellationToken).ConfigureAwait(false));

        // signatures: the base's rows as they are, then this run's survivors sorted by id
        var fresh = RecordBatch.WithSchema(SignatureIndexSchema);
        for (var shard = 0; shard < job.Plan.ShardCount; shard++)
            await foreach (var batch in RoutedTable.ReadAsync(job.Data, IndexInputKey(task, shard, SignaturesIndex), partition, cancellationToken).ConfigureAwait(false))
                foreach (var column in batch.AllColumns)
                    foreach (var value in column.Values) fresh.Find(column.Name)!.Values.Add(value);
        var baseSignatures = await CorpusIndex.BaseAsync(task, SignaturesIndex, spec.Partitions, partition, cancellationToken).ConfigureAwait(false);
        indexes.Add(await CorpusIndex.MergeOrCarryAsync(task, SignaturesIndex, partition, baseSignatures, addsNothing: fresh.RowCount == 0,
            SignatureIndexSchema, null,
            async (writer, baseRows, ct) =>
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
                await foreach (var batch in baseRows.ConfigureAwait(false)) Append(batch, Enumerable.Range(0, batch.RowCount));
                Append(fresh, Enumerable.Range(0, fresh.RowCount).OrderBy(row => fresh.Ids[row], StringComparer.Ordinal));
                await writer.WriteAsync(merged, ct).ConfigureAwait(false);
            }, cancellationToken).ConfigureAwait(false));
        return new TaskStats { Indexes = indexes };
    }

    /// <summary>
    /// A refresh, per id partition: candidate pairs whose smaller end is a base document get that document's indexed
    /// signature (or shingle set) attached, and go on to the verify phase of the new end's shard.
    /// </summary>
    private async Task<TaskStats> BasePairAsync(TaskContext task, CancellationToken cancellationToken)
    {
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
            var index = await CorpusIndex.BaseAsync(task, SignaturesIndex, spec.Partitions, partition, cancellationToken).ConfigureAwait(false)
                ?? throw new InvalidOperationException($"{Folder}: the base snapshot has no '{SignaturesIndex}' index partition {partition}.");
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
        return new TaskStats { Metrics = { ["candidate_pairs"] = pairs.Count, ["candidate_pairs_with_corpus"] = pairs.Count } };
    }
}
