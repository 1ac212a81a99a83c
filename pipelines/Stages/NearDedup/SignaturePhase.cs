using System.Diagnostics;
using Curation.Pipelines.Execution;
using Curation.Pipelines.IO;
using Curation.Pipelines.Model;
using Curation.Pipelines.NearDup;
using Curation.Pipelines.Spec;

namespace Curation.Pipelines.Stages;

// The signature phase: shingles → MinHash signature, band keys routed by bucket partition.
public sealed partial class NearDedupStage
{
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
                var (signedRows, signedIds, signedShingles, signedSignatures) = (signed.GetColumn<long>(Row).List, signed.Ids.List,
                    signed.GetColumn<int>("shingles").List, signed.GetColumn<byte[]>("signature").List);
                var (setRows, setHashes) = (sets.GetColumn<long>(Row).List, sets.GetColumn<byte[]>("hashes").List);
                var (ids, texts) = (batch.Ids.List, batch.Texts.List);
                // Band keys by partition, in partition order (a partition with no key this batch writes nothing).
                var byPartition = new BandColumns?[spec.Partitions];
                var expected = batch.RowCount * keys.Length / spec.Partitions + 16;
                for (var i = 0; i < batch.RowCount; i++, row++)
                {
                    var (id, text) = (ids[i], texts[i]);
                    bytesIn += System.Text.Encoding.UTF8.GetByteCount(text);
                    var outcome = shingler.Shingle(text, hashes);
                    outcomes[(int)outcome]++;
                    shingles += hashes.Count;
                    signedRows.Add(row);
                    signedIds.Add(id);
                    signedShingles.Add(hashes.Count);
                    if (outcome == ShingleOutcome.Empty)
                    {
                        signedSignatures.Add([]);
                        continue;
                    }
                    hasher.Signature(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(hashes), signature);
                    signedSignatures.Add(MinHasher.ToBytes(signature));
                    if (exact)
                    {
                        setRows.Add(row);
                        setHashes.Add(MinHasher.ToBytes(Distinct(hashes)));
                    }
                    hasher.BandKeys(signature, keys);
                    for (var band = 0; band < keys.Length; band++)
                        (byPartition[(int)(keys[band] % (ulong)spec.Partitions)] ??= new BandColumns(expected)).Add(band, keys[band], id, row);
                }
                await signatures.WriteAsync(0, signed, cancellationToken).ConfigureAwait(false);
                if (shingleSets is not null) await shingleSets.WriteAsync(0, sets, cancellationToken).ConfigureAwait(false);
                for (var partition = 0; partition < byPartition.Length; partition++)
                    if (byPartition[partition] is { } entries) await bands.WriteAsync(partition, entries.Batch, cancellationToken).ConfigureAwait(false);
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

    /// <summary>One partition's band keys of a batch, filled column by column.</summary>
    private sealed class BandColumns
    {
        private readonly List<int> _bands;
        private readonly List<long> _keys;
        private readonly List<string> _ids;
        private readonly List<long> _rows;

        public BandColumns(int capacity)
        {
            Batch = RecordBatch.WithSchema(BandSchema, capacity);
            (_bands, _keys, _ids, _rows) = (Batch.GetColumn<int>("band").List, Batch.GetColumn<long>("key").List, Batch.Ids.List, Batch.GetColumn<long>(Row).List);
        }

        public RecordBatch Batch { get; }

        public void Add(int band, ulong key, string id, long row)
        {
            _bands.Add(band);
            _keys.Add(unchecked((long)key));
            _ids.Add(id);
            _rows.Add(row);
        }
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
}
