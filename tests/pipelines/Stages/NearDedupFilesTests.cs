using Curation.Pipelines.NearDup;
using Curation.Pipelines.Spec;
using Curation.Pipelines.Stages;
using Curation.Pipelines.Storage;
using Curation.Testing;

namespace Curation.Pipelines.Tests.Stages;

/// <summary>near_dedup's shuffle files between phases: row-addressable signatures and shingle sets, band keys by partition.</summary>
public sealed class NearDedupFilesTests : IDisposable
{
    private readonly TempDirectory _temp = new("near-files");
    private readonly LocalFolderStore _store;

    public NearDedupFilesTests() => _store = new LocalFolderStore(_temp.Combine("store"), null);

    public void Dispose() => _temp.Dispose();

    private static readonly string[] Texts =
    [
        "the quick brown fox jumps over the lazy dog near the river bank today",
        "", // no shingles: no signature
        "東京都の天気は晴れのち曇りで、午後から雨が降るでしょう",
        "the quick brown fox jumps over the lazy dog near the river bank tonight",
    ];

    [Fact]
    public async Task Signatures_and_ids_read_back_by_row_and_in_order()
    {
        var hasher = new MinHasher(14, 8, 42);
        var shingler = new Shingler(new NearDedupStageSpec());
        var expected = new List<(string Id, uint[]? Signature)>();
        await using (var writer = new SignatureFileWriter(hasher.Permutations))
        {
            var hashes = new List<ulong>();
            for (var row = 0; row < Texts.Length; row++)
            {
                var id = row == 2 ? "ドキュメント-2" : $"doc-{row}";
                uint[]? signature = null;
                if (shingler.Shingle(Texts[row], hashes) != ShingleOutcome.Empty)
                {
                    signature = new uint[hasher.Permutations];
                    hasher.Signature(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(hashes), signature);
                }
                writer.Add(id, signature);
                expected.Add((id, signature));
            }
            await writer.CommitOnceAsync(_store, "sig.bin", default);
        }

        await using var reader = await SignatureFileReader.OpenAsync(_store, "sig.bin", default);
        Assert.Equal(Texts.Length, reader.Rows);
        // By row: one, some, all.
        foreach (long[] rows in new[] { new long[] { 2 }, [0, 3], [0, 1, 2, 3] })
        {
            Assert.Equal(rows.Select(r => expected[(int)r].Id), await reader.ReadIdsAsync(rows, default));
            var signatures = await reader.ReadSignaturesAsync(rows, default);
            for (var i = 0; i < rows.Length; i++)
                Assert.Equal(expected[(int)rows[i]].Signature is { } s ? MinHasher.ToBytes(s) : [], signatures[i]);
        }
        await Assert.ThrowsAsync<InvalidDataException>(() => reader.ReadIdsAsync([Texts.Length], default));
        // In order.
        var all = new List<(long Row, string Id, byte[] Signature)>();
        await foreach (var entry in reader.ReadAllAsync(default)) all.Add(entry);
        Assert.Equal(Enumerable.Range(0, Texts.Length).Select(r => (long)r), all.Select(a => a.Row));
        Assert.Equal(expected.Select(e => e.Id), all.Select(a => a.Id));
        Assert.Equal(expected.Select(e => e.Signature is null ? 0 : 4 * hasher.Permutations), all.Select(a => a.Signature.Length));
    }

    [Fact]
    public async Task Band_keys_read_back_per_partition_and_whole()
    {
        var random = new Random(7);
        var partitions = Enumerable.Range(0, 5).Select(_ => new List<BandRecord>()).ToArray();
        for (var row = 0; row < 300; row++)
            for (var band = 0; band < 14; band++)
            {
                var key = (ulong)random.NextInt64() * 3;
                partitions[(int)(key % 5)].Add(new BandRecord(key, band, row));
            }
        partitions[3].Clear(); // an empty partition
        await BandFile.WriteAsync(_store, "bands.bin", partitions, default);

        for (var p = 0; p < partitions.Length; p++) Assert.Equal(partitions[p], await BandFile.ReadAsync(_store, "bands.bin", p, default));
        Assert.Equal(partitions.SelectMany(p => p), await BandFile.ReadAsync(_store, "bands.bin", null, default));
        await Assert.ThrowsAsync<InvalidDataException>(() => BandFile.ReadAsync(_store, "bands.bin", 5, default));
    }

    [Fact]
    public async Task Shingle_sets_read_back_by_row()
    {
        ulong[][] sets = [[1, 5, ulong.MaxValue], [], [42]];
        await using (var writer = new ShingleSetFile.Writer())
        {
            foreach (var set in sets) writer.Add(set);
            await writer.CommitOnceAsync(_store, "sets.bin", default);
        }
        var some = await ShingleSetFile.ReadAsync(_store, "sets.bin", [2, 0], default);
        Assert.Equal([0L, 2L], some.Keys.Order());
        Assert.Equal(sets[0], MinHasher.HashesFromBytes(some[0]));
        Assert.Equal(sets[2], MinHasher.HashesFromBytes(some[2]));
        var all = await ShingleSetFile.ReadAsync(_store, "sets.bin", null, default);
        Assert.Equal(sets.Length, all.Count);
        Assert.Empty(all[1]);
    }

    [Fact]
    public async Task Byte_ranges_read_near_ranges_as_one_run_and_far_ones_apart()
    {
        var data = Enumerable.Range(0, 300_000).Select(i => (byte)(i * 7)).ToArray();
        using var stream = new MemoryStream(data);
        (long, int)[] ranges = [(0, 3), (10, 5), (12, 2), (200_000, 4), (299_990, 10)];
        var read = await ByteRanges.ReadAsync(stream, ranges, default);
        for (var i = 0; i < ranges.Length; i++) Assert.Equal(data.AsSpan((int)ranges[i].Item1, ranges[i].Item2).ToArray(), read[i]);
        await Assert.ThrowsAsync<ArgumentException>(() => ByteRanges.ReadAsync(stream, [(10, 1), (5, 1)], default));
    }

    [Fact]
    public async Task A_truncated_file_is_named_as_corrupt()
    {
        await _store.WriteAsync("bad.bin", (s, ct) => s.WriteAsync(new byte[40], ct).AsTask(), WriteCondition.CreateOnly);
        var signatures = await Assert.ThrowsAsync<InvalidDataException>(() => SignatureFileReader.OpenAsync(_store, "bad.bin", default));
        Assert.Contains("bad.bin", signatures.Message);
        var bands = await Assert.ThrowsAsync<InvalidDataException>(() => BandFile.ReadAsync(_store, "bad.bin", 0, default));
        Assert.Contains("bad.bin", bands.Message);
        var sets = await Assert.ThrowsAsync<InvalidDataException>(() => ShingleSetFile.ReadAsync(_store, "bad.bin", null, default));
        Assert.Contains("bad.bin", sets.Message);
    }
}
