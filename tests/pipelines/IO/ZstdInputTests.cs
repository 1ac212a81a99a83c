using System.Text;
using Curation.Pipelines.IO;
using Curation.Pipelines.IO.Readers;
using Curation.Pipelines.Spec;
using static Curation.Pipelines.Tests.IO.ReaderTestSupport;

namespace Curation.Pipelines.Tests.IO;

/// <summary>.jsonl.zst inputs: every frame of a multi-frame file is read; truncation and bad data end the object as corrupt_object.</summary>
public sealed class ZstdInputTests
{
    private static string Lines(int from, int count) =>
        string.Concat(Enumerable.Range(from, count).Select(i => $"{{\"id\": \"d{i}\", \"text\": \"document {i} with some words\"}}\n"));

    private static byte[] Frame(string text, int level = 3)
    {
        using var compressor = new ZstdSharp.Compressor(level);
        return compressor.Wrap(Encoding.UTF8.GetBytes(text)).ToArray();
    }

    [Fact]
    public void Zst_extensions_choose_the_zstd_reader()
    {
        foreach (var key in new[] { "a.jsonl.zst", "b.ndjson.zst", "c.json.zst", "d.zst", "E.JSONL.ZST" })
            Assert.Equal(StreamCompression.Zstd, Assert.IsType<JsonlReader>(InputReaders.For(MakeSpec(), key)).Compression);
        Assert.Equal(StreamCompression.Zstd, Assert.IsType<JsonlReader>(InputReaders.For(MakeSpec(format: InputFormat.JsonlZst), "data.bin")).Compression);
    }

    [Fact]
    public async Task A_multi_frame_file_is_read_whole()
    {
        var bytes = Frame(Lines(0, 300)).Concat(Frame(Lines(300, 5), level: 19)).Concat(Frame(Lines(305, 200))).ToArray();
        var records = await ReadAllAsync(JsonlReader.Zstd, bytes, MakeSpec(idField: "id"), "c.jsonl.zst");
        Assert.Equal(Enumerable.Range(0, 505).Select(i => $"d{i}"), records.Select(r => r.Id));
        Assert.Equal(Enumerable.Range(0, 505).Select(i => (long)i), records.Select(r => r.Position));
        Assert.All(records, r => Assert.False(r.IsQuarantined));
    }

    [Fact]
    public async Task A_truncated_frame_is_a_corrupt_object_after_the_lines_read_whole()
    {
        var whole = Frame(Lines(0, 2000)).Concat(Frame(Lines(2000, 2000))).ToArray();
        foreach (var cut in new[] { whole.Length - 1, whole.Length / 2, whole.Length / 4, 10 })
        {
            var records = await ReadAllAsync(JsonlReader.Zstd, whole[..cut], MakeSpec(idField: "id"), "t.jsonl.zst");
            var last = records[^1];
            Assert.Equal(QuarantineReasons.CorruptObject, last.Problem);
            Assert.Contains("t.jsonl.zst: truncated zstd stream", last.Detail);
            Assert.All(records[..^1], r => Assert.False(r.IsQuarantined));
            Assert.Equal(Enumerable.Range(0, records.Count - 1).Select(i => $"d{i}"), records[..^1].Select(r => r.Id));
        }
    }

    [Fact]
    public async Task Data_that_is_not_zstd_is_a_corrupt_object()
    {
        var records = await ReadAllAsync(JsonlReader.Zstd, Encoding.UTF8.GetBytes(Lines(0, 3)), MakeSpec(), "plain.jsonl.zst");
        var only = Assert.Single(records);
        Assert.Equal(QuarantineReasons.CorruptObject, only.Problem);
        Assert.Contains("plain.jsonl.zst: corrupt zstd stream before line 1", only.Detail);
    }

    [Fact]
    public async Task A_compressed_object_whose_name_does_not_say_so_is_read_decompressed()
    {
        var lines = Lines(0, 40);
        using var gzipped = new MemoryStream();
        using (var gzip = new System.IO.Compression.GZipStream(gzipped, System.IO.Compression.CompressionLevel.Fastest, leaveOpen: true))
            gzip.Write(Encoding.UTF8.GetBytes(lines));
        foreach (var bytes in new[] { Frame(lines), gzipped.ToArray() })
        {
            var records = await ReadAllAsync(JsonlReader.Plain, bytes, MakeSpec(idField: "id"), "export/data.jsonl");
            Assert.Equal(Enumerable.Range(0, 40).Select(i => $"d{i}"), records.Select(r => r.Id));
            Assert.All(records, r => Assert.False(r.IsQuarantined));
        }

        // An HTML page saved compressed (.html.gz, .html.zst) is the page.
        const string page = "<html><head><meta charset=\"utf-8\"><title>Ünïcode</title></head><body><p>Grüße aus Köln</p></body></html>";
        var html = await ReadAllAsync(InputReaders.For(MakeSpec(), "site/a.html.zst"), Frame(page), MakeSpec(), "site/a.html.zst");
        Assert.Equal(page, Assert.Single(html).Text);
    }

    [Fact]
    public async Task Utf16_and_utf32_text_with_a_byte_order_mark_is_read_as_utf8()
    {
        // PowerShell 5's Out-File and Notepad's "Unicode" write UTF-16 LE with a BOM and CRLF; each line was quarantined as invalid UTF-8.
        var lines = string.Concat(Enumerable.Range(0, 30).Select(i => $"{{\"id\": \"d{i}\", \"text\": \"Grüße {i}: 你好，世界 — ข้อความ 🙂\"}}\r\n"));
        Encoding[] encodings = [new UnicodeEncoding(false, true), new UnicodeEncoding(true, true), new UTF32Encoding(false, true), new UTF32Encoding(true, true)];
        foreach (var encoding in encodings)
        {
            byte[] bytes = [.. encoding.GetPreamble(), .. encoding.GetBytes(lines)];
            foreach (var content in new[] { bytes, CompressZstd(bytes) })
            {
                var records = await ReadAllAsync(JsonlReader.Plain, content, MakeSpec(idField: "id"), "export/ps.jsonl");
                Assert.Equal(Enumerable.Range(0, 30).Select(i => $"d{i}"), records.Select(r => r.Id));
                Assert.Equal(Enumerable.Range(0, 30).Select(i => $"Grüße {i}: 你好，世界 — ข้อความ 🙂"), records.Select(r => r.Text));
            }
            var text = await ReadAllAsync(TextInputReader.Instance, [.. encoding.GetPreamble(), .. encoding.GetBytes("第一行\r\n\r\nsecond line\r\n")],
                MakeSpec(mode: TextDocumentMode.Line), "notes.txt");
            Assert.Equal(["第一行", "second line"], text.Select(r => r.Text));
        }
    }

    private static byte[] CompressZstd(byte[] bytes)
    {
        using var compressor = new ZstdSharp.Compressor(3);
        return compressor.Wrap(bytes).ToArray();
    }
}
