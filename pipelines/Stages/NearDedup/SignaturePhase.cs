using Curation.Pipelines.Execution;
using Curation.Pipelines.IO;
using Curation.Pipelines.Model;
using Curation.Pipelines.NearDup;
using Curation.Pipelines.Spec;

namespace Curation.Pipelines.Stages;

// The signature phase: shingles → MinHash signature (a row-addressable signature file), band keys grouped by bucket partition.
public sealed partial class NearDedupStage
{
    private async Task<TaskStats> SignatureAsync(TaskContext task, CancellationToken cancellationToken)
    {
        var shingler = new Shingler(spec);
        var hasher = new MinHasher(spec.Bands, spec.Rows, task.Job.Spec.Seed);
        var exact = spec.Verify == NearDedupVerify.Exact;
        var outcomes = new long[Enum.GetValues<ShingleOutcome>().Length];
        var hashes = new List<ulong>();
        var signature = new uint[hasher.Permutations];
        var keys = new ulong[spec.Bands];
        long row = 0, shingles = 0, bytesIn = 0;

        await using var signatures = new SignatureFileWriter(hasher.Permutations);
        var bands = new List<BandRecord>[spec.Partitions];
        for (var partition = 0; partition < bands.Length; partition++) bands[partition] = [];
        await using var shingleSets = exact ? new ShingleSetFile.Writer() : null;
        await using (var input = await task.Job.Data.OpenReadAsync(task.InputShardKey(task.Task), cancellationToken).ConfigureAwait(false))
        await using (var reader = await ParquetTableReader.OpenAsync(input, cancellationToken).ConfigureAwait(false))
            await foreach (var batch in reader.ReadColumnsAsync([Columns.Id, Columns.Text], cancellationToken).ConfigureAwait(false))
            {
                var (ids, texts) = (batch.Ids.List, batch.Texts.List);
                for (var i = 0; i < batch.RowCount; i++, row++)
                {
                    var (id, text) = (ids[i], texts[i]);
                    bytesIn += System.Text.Encoding.UTF8.GetByteCount(text);
                    var outcome = shingler.Shingle(text, hashes);
                    outcomes[(int)outcome]++;
                    shingles += hashes.Count;
                    if (outcome == ShingleOutcome.Empty)
                    {
                        signatures.Add(id, []);
                        shingleSets?.Add([]);
                        continue;
                    }
                    hasher.Signature(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(hashes), signature);
                    signatures.Add(id, signature);
                    shingleSets?.Add(Distinct(hashes));
                    hasher.BandKeys(signature, keys);
                    for (var band = 0; band < keys.Length; band++)
                        bands[(int)(keys[band] % (ulong)spec.Partitions)].Add(new BandRecord(keys[band], band, checked((int)row)));
                }
            }

        await signatures.CommitOnceAsync(task.Job.Data, SignatureKey(task, task.Task), cancellationToken).ConfigureAwait(false);
        if (shingleSets is not null) await shingleSets.CommitOnceAsync(task.Job.Data, ShingleSetKey(task, task.Task), cancellationToken).ConfigureAwait(false);
        await BandFile.WriteAsync(task.Job.Data, BandsKey(task, task.Task), bands, cancellationToken).ConfigureAwait(false);
        return new TaskStats
        {
            In = row, BytesIn = bytesIn,
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
