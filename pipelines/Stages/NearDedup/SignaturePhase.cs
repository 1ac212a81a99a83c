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
}
