using System.Text;
using Curation.Pipelines.IO;
using Curation.Pipelines.IO.Readers;
using Curation.Pipelines.Spec;
using static Curation.Pipelines.Tests.IO.ReaderTestSupport;

namespace Curation.Pipelines.Tests.IO;

public class TextInputReaderTests
{
    private static readonly TextInputReader Reader = TextInputReader.Instance;

    [Fact]
    public async Task File_mode_reads_the_whole_object_as_one_document_as_it_is()
    {
        var content = "\uFEFFTitle\r\n\r\nFirst paragraph.\nSecond line.\n";
        var records = await ReadAllAsync(Reader, content, MakeSpec(mode: TextDocumentMode.File), "notes/readme.md");
        AssertDocument(Assert.Single(records), 0, "Title\r\n\r\nFirst paragraph.\nSecond line.\n");

        Assert.Empty(await ReadAllAsync(Reader, "", MakeSpec(mode: TextDocumentMode.File)));
        Assert.Empty(await ReadAllAsync(Reader, " \r\n\t\n", MakeSpec(mode: TextDocumentMode.File)));
    }

    [Fact]
    public async Task File_mode_quarantines_an_object_over_the_limit_without_reading_it_all()
    {
        var content = new byte[1_000_000];
        content.AsSpan().Fill((byte)'w');
        var stream = new TrickleStream(content, 4096);
        var records = await ReadAllAsync(Reader, stream, MakeSpec(maxRecordBytes: 10_000, mode: TextDocumentMode.File), "big.txt");

        AssertQuarantined(Assert.Single(records), 0, QuarantineReasons.RecordTooLarge, "big.txt: more than 10,000 bytes > limit 10,000");
        Assert.True(stream.BytesRead < 100_000, $"read {stream.BytesRead:N0} bytes");

        // With a known size the detail says it.
        records = await ReadAllAsync(Reader, new MemoryStream(content), MakeSpec(maxRecordBytes: 10_000, mode: TextDocumentMode.File), "big.txt");
        AssertQuarantined(Assert.Single(records), 0, QuarantineReasons.RecordTooLarge, "big.txt: 1,000,000 bytes > limit 10,000");

        var exact = new byte[10_000];
        exact.AsSpan().Fill((byte)'e');
        records = await ReadAllAsync(Reader, new TrickleStream(exact, 999), MakeSpec(maxRecordBytes: 10_000, mode: TextDocumentMode.File), "exact.txt");
        AssertDocument(Assert.Single(records), 0, new string('e', 10_000));
    }

    [Fact]
    public async Task File_mode_reports_invalid_utf8_with_its_byte_and_line()
    {
        byte[] content = [.. "line one\nline two "u8, 0xFF, .. " rest"u8];
        var records = await ReadAllAsync(Reader, content, MakeSpec(mode: TextDocumentMode.File), "bad.txt");
        AssertQuarantined(Assert.Single(records), 0, QuarantineReasons.InvalidUtf8, "bad.txt: invalid UTF-8 at byte 18 (line 2, 0xFF)");
    }

    [Fact]
    public async Task Line_mode_makes_each_non_blank_line_a_document_at_its_line_number()
    {
        byte[] content =
        [
            .. "first\r\n"u8, .. "\r\n"u8, .. "  \t \n"u8, .. "fourth line\n"u8,
            .. "bad "u8, 0xED, 0xA0, 0x80, .. "\n"u8, // an encoded surrogate: not strict UTF-8
            .. Encoding.UTF8.GetBytes(new string('L', 50)), .. "\n"u8,
            .. "last"u8,
        ];
        var records = await ReadAllAsync(Reader, content, MakeSpec(mode: TextDocumentMode.Line, maxRecordBytes: 40), "lines.txt");

        Assert.Equal(5, records.Count);
        AssertDocument(records[0], 0, "first");
        AssertDocument(records[1], 3, "fourth line");
        AssertQuarantined(records[2], 4, QuarantineReasons.InvalidUtf8, "line 5: invalid UTF-8 at byte 4 of the line (0xED)");
        AssertQuarantined(records[3], 5, QuarantineReasons.RecordTooLarge, "line 6: 50 bytes > limit 40");
        AssertDocument(records[4], 6, "last");
    }

    [Fact]
    public async Task Paragraph_mode_splits_at_blank_lines_and_joins_lines_with_lf()
    {
        var content = "\n\nFirst paragraph,\r\nstill first.\r\n\r\n \t\r\n\r\nSecond.\n\n\nThird\nparagraph\nhere\n\n";
        var records = await ReadAllAsync(Reader, content, MakeSpec(mode: TextDocumentMode.Paragraph), "paras.md");

        Assert.Equal(3, records.Count);
        AssertDocument(records[0], 0, "First paragraph,\nstill first.");
        AssertDocument(records[1], 1, "Second.");
        AssertDocument(records[2], 2, "Third\nparagraph\nhere");
    }

    [Fact]
    public async Task Paragraph_mode_quarantines_oversized_and_invalid_paragraphs_and_goes_on()
    {
        var longLine = new string('p', 30);
        byte[] content =
        [
            .. "ok one\n\n"u8,
            .. Encoding.UTF8.GetBytes($"{longLine}\n{longLine}\n{longLine}\n\n"), // 92 bytes joined: over 64
            .. Encoding.UTF8.GetBytes(new string('q', 200)), .. "\nshort\n\n"u8,  // a line over the limit
            .. "fine\nbut "u8, 0xC0, 0xAF, .. "\n\n"u8,                            // overlong encoding
            .. "ok two"u8,
        ];
        var records = await ReadAllAsync(Reader, content, MakeSpec(mode: TextDocumentMode.Paragraph, maxRecordBytes: 64), "p.txt");

        Assert.Equal(5, records.Count);
        AssertDocument(records[0], 0, "ok one");
        AssertQuarantined(records[1], 1, QuarantineReasons.RecordTooLarge, "paragraph 2 (lines 3–5): 92 bytes > limit 64");
        AssertQuarantined(records[2], 2, QuarantineReasons.RecordTooLarge, "paragraph 3 (lines 7–8): 206 bytes > limit 64");
        AssertQuarantined(records[3], 3, QuarantineReasons.InvalidUtf8, "paragraph 4 (lines 10–11): invalid UTF-8 at byte 4 of line 11 (0xC0)");
        AssertDocument(records[4], 4, "ok two");
    }

    [Fact]
    public async Task A_read_failure_ends_the_object_with_one_corrupt_record()
    {
        var content = Encoding.UTF8.GetBytes(string.Concat(Enumerable.Range(0, 50).Select(i => $"line {i}\n")));
        var records = await ReadAllAsync(Reader, new TrickleStream(content, 64, failAfter: 100), MakeSpec(mode: TextDocumentMode.Line), "f.txt");
        var valid = records.Take(records.Count - 1).ToList();
        Assert.All(valid, r => Assert.False(r.IsQuarantined));
        AssertQuarantined(records[^1], valid.Count, QuarantineReasons.CorruptObject, $"f.txt: read failed after line {valid.Count}", "IOException");

        records = await ReadAllAsync(Reader, new TrickleStream(content, 64, failAfter: 100), MakeSpec(mode: TextDocumentMode.File), "f.txt");
        AssertQuarantined(Assert.Single(records), 0, QuarantineReasons.CorruptObject, "f.txt: read failed after byte 100", "IOException");
    }

    private static byte[] Gzip(string text)
    {
        using var buffer = new MemoryStream();
        using (var gzip = new System.IO.Compression.GZipStream(buffer, System.IO.Compression.CompressionLevel.Fastest)) gzip.Write(Encoding.UTF8.GetBytes(text));
        return buffer.ToArray();
    }

    private static byte[] Zstd(string text)
    {
        using var compressor = new ZstdSharp.Compressor(3);
        return compressor.Wrap(Encoding.UTF8.GetBytes(text)).ToArray();
    }

    [Fact]
    public async Task Gzip_and_zstd_text_is_decompressed_in_every_mode_whatever_its_name()
    {
        const string text = "第一段：中文文本。\n\nSecond paragraph,\nwith two lines.\n\nดิฉันอ่านหนังสือ\n";
        // Two gzip members (cat a.gz b.gz) read as one text, and one zstd frame; a compressed file named .txt too.
        var half = text.IndexOf("Second", StringComparison.Ordinal);
        byte[][] compressed = [[.. Gzip(text[..half]), .. Gzip(text[half..])], Zstd(text)];
        foreach (var (bytes, key) in compressed.SelectMany(b => new[] { (b, "books/part-1.txt.gz"), (b, "books/mislabelled.txt") }))
        {
            var file = await ReadAllAsync(Reader, bytes, MakeSpec(mode: TextDocumentMode.File), key);
            AssertDocument(Assert.Single(file), 0, text);
            var lines = await ReadAllAsync(Reader, bytes, MakeSpec(mode: TextDocumentMode.Line), key);
            Assert.Equal(["第一段：中文文本。", "Second paragraph,", "with two lines.", "ดิฉันอ่านหนังสือ"], lines.Select(r => r.Text));
            Assert.Equal([0L, 2, 3, 5], lines.Select(r => r.Position));
            var paragraphs = await ReadAllAsync(Reader, bytes, MakeSpec(mode: TextDocumentMode.Paragraph), key);
            Assert.Equal(["第一段：中文文本。", "Second paragraph,\nwith two lines.", "ดิฉันอ่านหนังสือ"], paragraphs.Select(r => r.Text));
        }
    }

    [Fact]
    public async Task A_truncated_or_corrupt_compressed_text_is_a_corrupt_object_saying_so()
    {
        var whole = Gzip(string.Concat(Enumerable.Range(0, 5000).Select(i => $"line {i} of a compressed book\n")));
        var records = await ReadAllAsync(Reader, whole[..(whole.Length / 2)], MakeSpec(mode: TextDocumentMode.Line), "b.txt.gz");
        Assert.All(records[..^1], r => Assert.False(r.IsQuarantined));
        Assert.True(records.Count > 100, $"{records.Count} records before the cut");
        AssertQuarantined(records[^1], records.Count - 1, QuarantineReasons.CorruptObject, $"b.txt.gz: truncated gzip stream after line {(records.Count - 1).ToString("N0", System.Globalization.CultureInfo.InvariantCulture)}");

        records = await ReadAllAsync(Reader, whole[..(whole.Length / 2)], MakeSpec(mode: TextDocumentMode.File), "b.txt.gz");
        AssertQuarantined(Assert.Single(records), 0, QuarantineReasons.CorruptObject, "b.txt.gz: read failed after byte", "truncated gzip stream");

        // Over the limit: the detail never states the compressed size as the text's.
        var random = new Random(5);
        var letters = Gzip(new string(Enumerable.Range(0, 20_000).Select(_ => (char)('a' + random.Next(26))).ToArray()));
        Assert.True(letters.Length > 1_000);
        records = await ReadAllAsync(Reader, letters, MakeSpec(mode: TextDocumentMode.File, maxRecordBytes: 1_000), "big.txt.gz");
        AssertQuarantined(Assert.Single(records), 0, QuarantineReasons.RecordTooLarge, "big.txt.gz: more than 1,000 bytes > limit 1,000");

        byte[] badZstd = [.. Zstd("some text")[..4], .. "not a zstd frame at all"u8];
        records = await ReadAllAsync(Reader, badZstd, MakeSpec(mode: TextDocumentMode.File), "c.txt.zst");
        AssertQuarantined(Assert.Single(records), 0, QuarantineReasons.CorruptObject, "c.txt.zst: read failed", "corrupt zstd stream");
    }
}
