using System.Buffers.Binary;
using System.Security.Cryptography;
using Curation.Pipelines.Execution;
using Curation.Pipelines.IO;
using Curation.Pipelines.Stages;
using Curation.Pipelines.Training;
using Xunit;

namespace Curation.Testing;

/// <summary>
/// Checks the token files of a finished job in a local folder against its manifest and curated Parquet: SHA-256s,
/// Megatron .idx read by an independent minimal reader, .bin and .npy holding the same tokens, sizes summing to the
/// manifest's totals, an end-of-document token closing every document and nowhere else, and every curated document
/// decoding back from the files (weight 1) exactly.
/// </summary>
public static class TokenOutput
{
    public sealed record Checked(long Sequences, long Tokens, IReadOnlyList<string> Decoded);

    public static async Task<Checked> VerifyAsync(string root, Manifest manifest, TrainingTokenizer tokenizer, bool everyDocumentOnce = true)
    {
        var tokens = manifest.Tokens ?? throw new Xunit.Sdk.XunitException("the manifest has no tokens section");
        var texts = new List<string>();
        long columnTokens = 0;
        foreach (var shard in manifest.Shards)
        {
            await using var reader = await ParquetTableReader.OpenAsync(File.OpenRead(Path.Combine(root, shard.Key)));
            await foreach (var batch in reader.ReadAllAsync())
            {
                texts.AddRange(batch.Texts.List);
                columnTokens += batch.GetColumn<long>(TrainTokenizeStage.TokensColumn).List.Sum();
            }
        }
        Assert.Equal(tokens.Tokens, columnTokens);
        Assert.Equal(tokens.Tokens, tokens.PerSource.Values.Sum());
        Assert.Equal(manifest.Accounting.Kept, tokens.Documents);
        foreach (var file in tokens.Files)
            Assert.Equal(file.Sha256, Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(Path.Combine(root, file.Key)))));

        var decoded = new List<string>();
        long sizes = 0, sequences = 0;
        foreach (var idx in tokens.Files.Where(f => f.Kind == TokenShards.MegatronIdx))
        {
            var index = MinimalIdx.Read(Path.Combine(root, idx.Key));
            var size = index.DTypeCode == 8 ? 2 : 4;
            Assert.Equal(tokenizer.DType, (TokenDType)index.DTypeCode);
            Assert.Equal(idx.Tokens, index.Lengths.Sum(l => (long)l));
            sizes += idx.Tokens;
            sequences += index.Lengths.Length;
            var prefix = Path.Combine(root, idx.Key[..^".idx".Length]);
            var bin = File.ReadAllBytes(prefix + ".bin");
            Assert.Equal(idx.Tokens * size, bin.Length);
            if (File.Exists(prefix + ".tokens.npy"))
            {
                var npy = File.ReadAllBytes(prefix + ".tokens.npy");
                Assert.Equal(bin, npy[(npy.Length - bin.Length)..]);
                using var reader = TokenFileReader.Open(prefix + ".tokens.npy");
                Assert.Equal(index.Lengths, reader.Lengths);
            }
            for (var d = 0; d < index.Lengths.Length; d++)
            {
                var ids = Enumerable.Range(0, index.Lengths[d]).Select(i => size == 2
                    ? BinaryPrimitives.ReadUInt16LittleEndian(bin.AsSpan((int)index.Pointers[d] + i * 2))
                    : BinaryPrimitives.ReadInt32LittleEndian(bin.AsSpan((int)index.Pointers[d] + i * 4))).ToArray();
                Assert.Equal(tokenizer.EndOfDocument, ids[^1]);
                Assert.DoesNotContain(tokenizer.EndOfDocument, ids[..^1]);
                decoded.Add(tokenizer.Decode(ids[..^1]));
            }
        }
        Assert.Equal(tokens.FileTokens, sizes);
        Assert.Equal(tokens.FileSequences, sequences);
        if (everyDocumentOnce)
        {
            Assert.Equal(tokens.Tokens + tokens.Documents, sizes);   // every document once, plus its end-of-document token
            // Round trip: the token files decode to exactly the curated documents; shuffled, not in shard order.
            Assert.Equal(texts.Order(StringComparer.Ordinal), decoded.Order(StringComparer.Ordinal));
            Assert.NotEqual(texts, decoded);
        }
        return new Checked(sequences, sizes, decoded);
    }

    /// <summary>
    /// An independent reader of Megatron-LM's .idx (MMIDIDX v1), written from the format description only: header,
    /// version, dtype code, counts, then lengths (int32), pointers (int64) and document indices (int64).
    /// </summary>
    public sealed record MinimalIdx(byte DTypeCode, int[] Lengths, long[] Pointers, long[] DocumentIndices)
    {
        public static MinimalIdx Read(string path)
        {
            var b = File.ReadAllBytes(path);
            Assert.Equal("MMIDIDX\0\0"u8.ToArray(), b[..9]);
            Assert.Equal(1UL, BinaryPrimitives.ReadUInt64LittleEndian(b.AsSpan(9)));
            var dtype = b[17];
            Assert.Contains(dtype, new byte[] { 4, 8 });
            var sequences = (int)BinaryPrimitives.ReadUInt64LittleEndian(b.AsSpan(18));
            var documents = (int)BinaryPrimitives.ReadUInt64LittleEndian(b.AsSpan(26));
            var at = 34;
            var lengths = new int[sequences];
            for (var i = 0; i < sequences; i++, at += 4) lengths[i] = BinaryPrimitives.ReadInt32LittleEndian(b.AsSpan(at));
            var pointers = new long[sequences];
            for (var i = 0; i < sequences; i++, at += 8) pointers[i] = BinaryPrimitives.ReadInt64LittleEndian(b.AsSpan(at));
            var docs = new long[documents];
            for (var i = 0; i < documents; i++, at += 8) docs[i] = BinaryPrimitives.ReadInt64LittleEndian(b.AsSpan(at));
            Assert.Equal(b.Length, at);
            Assert.Equal(sequences + 1, documents);
            Assert.Equal(Enumerable.Range(0, documents).Select(i => (long)i), docs);
            var size = dtype == 8 ? 2 : 4;
            long expected = 0;
            for (var i = 0; i < sequences; i++) { Assert.Equal(expected, pointers[i]); expected += lengths[i] * size; }
            return new MinimalIdx(dtype, lengths, pointers, docs);
        }
    }
}
