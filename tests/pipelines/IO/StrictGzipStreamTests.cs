using System.Buffers.Binary;
using System.IO.Compression;
using System.IO.Hashing;
using System.Text;
using Curation.Pipelines.IO.Readers;
using static Curation.Pipelines.Tests.IO.ReaderTestSupport;

namespace Curation.Pipelines.Tests.IO;

public class StrictGzipStreamTests
{
    private static byte[] RandomBytes(int length, int seed, bool compressible)
    {
        var random = new Random(seed);
        var bytes = new byte[length];
        if (compressible)
            for (var i = 0; i < length; i++) bytes[i] = (byte)"abcdefgh \n"[random.Next(10)];
        else
            random.NextBytes(bytes);
        return bytes;
    }

    private static async Task<byte[]> DecompressAsync(Stream compressed, int readSize = 81920, bool sync = false)
    {
        await using var gzip = new StrictGzipStream(compressed);
        var output = new MemoryStream();
        var buffer = new byte[readSize];
        while (true)
        {
            var read = sync ? gzip.Read(buffer, 0, buffer.Length) : await gzip.ReadAsync(buffer);
            if (read == 0) break;
            output.Write(buffer, 0, read);
        }
        return output.ToArray();
    }

    [Theory]
    [InlineData(0, true)]
    [InlineData(1, true)]
    [InlineData(1000, true)]
    [InlineData(100_000, false)]   // incompressible: stored blocks, members larger than the 64 KiB buffer
    [InlineData(1_000_000, true)]
    [InlineData(300_000, false)]
    public async Task Round_trips_single_and_multi_member_at_any_read_pattern(int length, bool compressible)
    {
        var data = RandomBytes(length, length, compressible);
        var single = length == 0 ? EmptyGzipMember : Gzip(data);
        Assert.Equal(data, await DecompressAsync(new MemoryStream(single)));
        Assert.Equal(data, await DecompressAsync(new MemoryStream(single), sync: true));

        var second = RandomBytes(length / 2 + 3, length + 1, compressible);
        var multi = (byte[])[.. single, .. Gzip(second, CompressionLevel.Fastest), .. EmptyGzipMember];
        var expected = (byte[])[.. data, .. second];
        Assert.Equal(expected, await DecompressAsync(new MemoryStream(multi)));
        Assert.Equal(expected, await DecompressAsync(new TrickleStream(multi, 65_537)));
        if (length > 100_000) return; // byte-sized reads of megabytes only take time
        Assert.Equal(expected, await DecompressAsync(new TrickleStream(multi, 1), readSize: 7));
        Assert.Equal(expected, await DecompressAsync(new TrickleStream(multi, 9), readSize: 1, sync: true));
    }

    [Fact]
    public async Task Header_fields_name_comment_extra_and_header_crc_are_skipped()
    {
        var data = Encoding.UTF8.GetBytes("{\"text\":\"with a full header\"}\n");
        var deflated = new MemoryStream();
        using (var deflate = new DeflateStream(deflated, CompressionLevel.Optimal, leaveOpen: true)) deflate.Write(data);
        var header = new List<byte> { 0x1F, 0x8B, 8, 0x02 | 0x04 | 0x08 | 0x10, 0, 0, 0, 0, 0, 3 };
        header.AddRange([5, 0, (byte)'A', (byte)'B', 1, 0, 0xEE]);           // FEXTRA: 5 bytes
        header.AddRange(Encoding.Latin1.GetBytes("file.jsonl\0"));            // FNAME
        header.AddRange(Encoding.Latin1.GetBytes("a comment\0"));             // FCOMMENT
        header.AddRange([0x12, 0x34]);                                        // FHCRC (not checked)
        var trailer = new byte[8];
        BinaryPrimitives.WriteUInt32LittleEndian(trailer, Crc32.HashToUInt32(data));
        BinaryPrimitives.WriteUInt32LittleEndian(trailer.AsSpan(4), (uint)data.Length);
        var member = (byte[])[.. header, .. deflated.ToArray(), .. trailer];

        Assert.Equal(data, await DecompressAsync(new TrickleStream(member, 3)));
        Assert.Equal((byte[])[.. data, .. data], await DecompressAsync(new MemoryStream([.. member, .. member])));
    }

    [Theory]
    [InlineData(3_000, true, 1)]       // members smaller than a feed chunk: every cut point
    [InlineData(150_000, false, 97)]   // members spanning many chunks and buffer refills: every 97th cut point
    public async Task Every_truncation_point_throws_truncated_naming_the_member(int size, bool compressible, int stride)
    {
        var data = RandomBytes(size, 5, compressible);
        var two = (byte[])[.. Gzip(data), .. Gzip(data)];
        var firstLength = Gzip(data).Length;
        var cuts = Enumerable.Range(1, two.Length - 1)
            .Where(n => n % stride == 0 || Math.Abs(n - firstLength) < 24 || n > two.Length - 24 || n < 24);
        foreach (var length in cuts)
        {
            if (length == firstLength) continue; // a whole first member: a valid file
            var cut = two.AsSpan(0, length).ToArray();
            var error = await Assert.ThrowsAsync<GzipFormatException>(() => DecompressAsync(new MemoryStream(cut)));
            Assert.True(error.Truncated, $"cut at {length}: {error.Message}");
            Assert.Equal(length <= firstLength ? 1 : 2, error.Member);
        }
    }

    [Fact]
    public async Task GZipStream_itself_ends_quietly_on_truncation()
    {
        // The reason StrictGzipStream exists; if this starts failing, .NET began to detect truncation by default.
        var data = RandomBytes(50_000, 9, compressible: true);
        var cut = Gzip(data).AsSpan(0, Gzip(data).Length / 2).ToArray();
        using var gzip = new GZipStream(new MemoryStream(cut), CompressionMode.Decompress);
        var output = new MemoryStream();
        await gzip.CopyToAsync(output);
        Assert.True(output.Length < data.Length);
    }

    [Fact]
    public async Task Crc_and_length_mismatches_and_trailing_garbage_are_corrupt_but_zero_padding_is_fine()
    {
        var data = RandomBytes(5000, 2, compressible: true);
        var good = Gzip(data);

        var badCrc = good.ToArray();
        badCrc[^8] ^= 1;
        var crcError = await Assert.ThrowsAsync<GzipFormatException>(() => DecompressAsync(new MemoryStream(badCrc)));
        Assert.False(crcError.Truncated);
        Assert.Contains("CRC-32", crcError.Message);

        // A damaged trailer followed by an identical member: the next member's trailer matches this member's data,
        // yet this member's own trailer is bad (and the repeat must not be skipped).
        var badLength = good.ToArray();
        badLength[^1] ^= 1;
        var repeatError = await Assert.ThrowsAsync<GzipFormatException>(() => DecompressAsync(new MemoryStream([.. badLength, .. good])));
        Assert.False(repeatError.Truncated);
        Assert.Equal(1, repeatError.Member);
        repeatError = await Assert.ThrowsAsync<GzipFormatException>(() => DecompressAsync(new MemoryStream([.. good, .. badCrc, .. good])));
        Assert.Equal(2, repeatError.Member);
        Assert.Contains("CRC-32", repeatError.Message);
        // Damaged trailer, a valid member, a member with a damaged header repeating the first: the middle one is not skipped.
        var other = Gzip(RandomBytes(300, 3, compressible: true));
        var badMagic = good.ToArray();
        badMagic[1] = 0x9B;
        Assert.False((await Assert.ThrowsAsync<GzipFormatException>(() => DecompressAsync(new MemoryStream([.. badCrc, .. other, .. badMagic])))).Truncated);

        // An intact member followed by a copy of itself whose magic is damaged: the copy is not skipped.
        var damagedCopy = good.ToArray();
        damagedCopy[1] = 0x08;
        var copyError = await Assert.ThrowsAsync<GzipFormatException>(() => DecompressAsync(new MemoryStream([.. good, .. damagedCopy])));
        Assert.Contains("after gzip member 1", copyError.Message);
        // An empty member's trailer is all zeros and overlaps the end of its deflate data: the members after it are read.
        Assert.Equal((byte[])[.. data, .. data], await DecompressAsync(new MemoryStream([.. EmptyGzipMember, .. good, .. EmptyGzipMember, .. good, .. EmptyGzipMember, 0, 0])));

        var corruptData = good.ToArray();
        for (var i = 30; i < 60; i++) corruptData[i] ^= 0x5A;
        var dataError = await Assert.ThrowsAsync<GzipFormatException>(() => DecompressAsync(new MemoryStream(corruptData)));
        Assert.Equal(1, dataError.Member);

        var garbage = await Assert.ThrowsAsync<GzipFormatException>(() => DecompressAsync(new MemoryStream([.. good, 0, 0, 0x42, 0x43])));
        Assert.Contains("after gzip member 1", garbage.Message);
        Assert.Equal(good.Length + 2, garbage.CompressedOffset);

        Assert.Equal(data, await DecompressAsync(new MemoryStream([.. good, .. new byte[1000]])));

        var notGzip = await Assert.ThrowsAsync<GzipFormatException>(() => DecompressAsync(new MemoryStream("{\"text\":1}"u8.ToArray())));
        Assert.Contains("not a gzip stream", notGzip.Message);
        Assert.Contains("0x7B22", notGzip.Message);
    }
}
