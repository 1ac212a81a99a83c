using Curation.Pipelines.IO;
using Curation.Pipelines.Stages;
using Curation.Pipelines.Tests.IO;

namespace Curation.Pipelines.Tests.Stages;

/// <summary>
/// line_dedup's ranked ids as resolve reads them back: the ids asked for, from any stream (seekable or not, short reads,
/// ids across buffer boundaries), holding only those (a resolve task asks every shard of the corpus, so what one lookup
/// holds must not be the shard's whole object), and a corrupt object named in the error.
/// </summary>
public sealed class LineDedupRankedIdsTests
{
    private static (byte[] Encoded, string[] ByRank) Encode(IReadOnlyList<string> ids)
    {
        var (_, order) = RankedIds.Rank(ids);
        return (RankedIds.Encode(ids, order), order.Select(row => ids[row]).ToArray());
    }

    private static List<string> Ids(int count, int seed)
    {
        var random = new Random(seed);
        var ids = new List<string>(count);
        for (var i = 0; i < count; i++)
            ids.Add(random.Next(20) switch
            {
                0 => $"文書-{random.Next(1_000_000)}",
                1 => $"doc-é-{i}",
                2 => new string('x', random.Next(1, 40)) + i,
                _ => $"doc-{random.Next(100_000_000):D9}",
            });
        ids.Add(new string('L', 40_000)); // longer than the reader's buffer: read across several refills
        ids.Add("doc-000000001");         // a duplicate id: ranks still tell its rows apart
        ids.Add("doc-000000001");
        return ids;
    }

    public static TheoryData<string> Streams => ["seekable", "unseekable", "trickle"];

    private static Stream Open(byte[] bytes, string kind) => kind switch
    {
        "seekable" => new MemoryStream(bytes, writable: false),
        "unseekable" => new TrickleStream(bytes),
        _ => new TrickleStream(bytes, chunk: 7),
    };

    [Theory]
    [MemberData(nameof(Streams))]
    public async Task The_ids_asked_for_come_back_in_rank_order_from_any_stream(string kind)
    {
        var (encoded, byRank) = Encode(Ids(5_000, seed: 3));
        var random = new Random(5);
        int[][] asks =
        [
            [0],
            [byRank.Length - 1],
            [10, 11, 12, 13],
            [.. Enumerable.Range(0, byRank.Length)],
            [.. Enumerable.Range(0, byRank.Length).Where(_ => random.Next(30) == 0)],
            [],
        ];
        foreach (var ranks in asks)
        {
            await using var input = Open(encoded, kind);
            var ids = await RankedIds.ReadAsync(input, "jobs/j/ids", ranks, CancellationToken.None);
            Assert.Equal(ranks.Select(rank => byRank[rank]), ids);
        }
    }

    [Fact]
    public async Task A_lookup_holds_the_ids_asked_for_not_the_shards_object()
    {
        // ~3.4 MB of ids; 200 asked for, spread over the object. The old lookup read the object whole (a copy of it
        // and the buffers grown on the way: ~3 times its size) for every shard a resolve task asks.
        var ids = Enumerable.Range(0, 200_000).Select(i => $"doc-{i * 7919 % 200_000:D9}").ToList();
        var (encoded, byRank) = Encode(ids);
        var ranks = Enumerable.Range(0, 200).Select(i => i * 997).ToArray();
        for (var round = 0; round < 2; round++) // the first round warms the pool and the code
        {
            using var input = new MemoryStream(encoded, writable: false);
            var before = GC.GetAllocatedBytesForCurrentThread();
            var lookup = RankedIds.ReadAsync(input, "jobs/j/ids", ranks, CancellationToken.None);
            var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            Assert.True(lookup.IsCompletedSuccessfully, "a memory stream completes at once: every allocation was on this thread");
            Assert.Equal(ranks.Select(rank => byRank[rank]), await lookup);
            if (round == 0) continue;
            // The ids themselves (200 strings of 13 characters, ~12 KB), their offsets and the task: far below the object.
            Assert.True(allocated < 64 * 1024, $"one lookup of 200 ids allocated {allocated:N0} bytes; the object is {encoded.Length:N0}");
        }
    }

    [Fact]
    public async Task A_corrupt_object_or_a_rank_it_lacks_fails_naming_the_object()
    {
        var (encoded, _) = Encode(Ids(1_000, seed: 9));
        const string Key = "jobs/j/01-line_dedup/hash/shard-00007.ids";
        async Task<InvalidDataException> Fails(byte[] bytes, int[] ranks, string kind = "seekable")
        {
            await using var input = Open(bytes, kind);
            var e = await Assert.ThrowsAsync<InvalidDataException>(() => RankedIds.ReadAsync(input, Key, ranks, CancellationToken.None));
            Assert.Contains(Key, e.Message);
            return e;
        }

        var count = BitConverter.ToInt32(encoded, 0);
        await Fails(encoded, [count]);
        await Fails(encoded, [-1]);
        await Fails(encoded, [5, 3]);
        await Fails(encoded, [4, 4]);
        // Cut short: inside the offsets, inside the ids (a stream that cannot tell its length finds out at the end).
        await Fails(encoded[..100], [count - 1]);
        foreach (var kind in new[] { "seekable", "unseekable" })
            Assert.Contains("rank", (await Fails(encoded[..(encoded.Length - 3)], [count - 1], kind)).Message);
        // An offset that points back into the header.
        var broken = (byte[])encoded.Clone();
        BitConverter.TryWriteBytes(broken.AsSpan(4 * (10 + 1)), 8);
        await Fails(broken, [10]);
        await Fails(Array.Empty<byte>(), [0]);
    }

    [Fact]
    public async Task A_forward_reader_seeks_past_long_gaps_reads_short_ones_and_never_goes_back()
    {
        var bytes = Enumerable.Range(0, 1 << 20).Select(i => (byte)(i * 31)).ToArray();
        var ranges = new[] { (0L, 10), (100L, 5), (300_000L, 40_000), (900_000L, 3), ((1L << 20) - 1, 1) };
        foreach (var seekable in new[] { true, false })
        {
            Stream stream = seekable ? new MemoryStream(bytes, writable: false) : new TrickleStream(bytes, chunk: 1000);
            await using var input = stream;
            using var reader = new ForwardReader(input, bufferBytes: 4096);
            foreach (var (position, length) in ranges)
            {
                var got = new byte[length];
                await reader.ReadAsync(position, got, CancellationToken.None);
                Assert.Equal(bytes.AsSpan((int)position, length).ToArray(), got);
            }
            // Seeking skips the gaps: about the ranges and a buffer per range; without it every byte up to the last.
            if (seekable) Assert.True(reader.BytesRead < 70_000, $"read {reader.BytesRead:N0} bytes");
            else Assert.Equal(bytes.Length, reader.BytesRead);
            await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => reader.ReadAsync(5, new byte[1], CancellationToken.None).AsTask());
            await Assert.ThrowsAsync<EndOfStreamException>(() => reader.ReadAsync(bytes.Length, new byte[1], CancellationToken.None).AsTask());
        }
    }
}
