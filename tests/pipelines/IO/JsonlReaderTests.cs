using System.Text;
using Curation.Pipelines.IO;
using Curation.Pipelines.IO.Readers;
using static Curation.Pipelines.Tests.IO.ReaderTestSupport;

namespace Curation.Pipelines.Tests.IO;

public class JsonlReaderTests
{
    [Fact]
    public async Task Reads_documents_with_string_and_number_ids_and_skips_blank_lines()
    {
        var content = "{\"id\":\"a\",\"text\":\"first\"}\n" +
                      "\n" +
                      "   \t\n" +
                      "{\"text\":\"second \\\"quoted\\\" \\u00e9\",\"id\":42,\"extra\":{\"nested\":[1,2,{\"text\":\"not me\"}]}}\n" +
                      "{\"id\":-1.5e3,\"text\":\"\"}\n" +
                      "\n";
        var records = await ReadAllAsync(JsonlReader.Plain, content, MakeSpec(idField: "id"));

        Assert.Equal(3, records.Count);
        AssertDocument(records[0], 0, "first", "a");
        AssertDocument(records[1], 3, "second \"quoted\" é", "42");
        AssertDocument(records[2], 4, "", "-1.5e3");
    }

    [Fact]
    public async Task Number_fields_keep_their_value_and_an_integer_past_int64_keeps_every_digit()
    {
        var content = """{"text":"t","small":-42,"max":9223372036854775807,"big":123456789012345678901234567890,"neg":-98765432109876543210,"f":0.1,"e":2.5e-3,"huge":1e400}""";
        var record = Assert.Single(await ReadAllAsync(JsonlReader.Plain, content, MakeSpec()));
        var fields = record.Fields!.ToDictionary(f => f.Name, f => f.Value);
        Assert.Equal(-42L, fields["small"]);
        Assert.Equal(long.MaxValue, fields["max"]);
        // As a double it was 1.2345678901234568E+29: the last digits of a 128-bit id or a uint64 hash were gone.
        Assert.Equal(new RawJson("123456789012345678901234567890"), fields["big"]);
        Assert.Equal(new RawJson("-98765432109876543210"), fields["neg"]);
        Assert.Equal(0.1, fields["f"]);
        Assert.Equal(0.0025, fields["e"]);
        Assert.Equal(new RawJson("1e400"), fields["huge"]);
    }

    [Fact]
    public async Task Without_an_id_field_documents_have_no_id_and_a_custom_text_field_is_used()
    {
        var records = await ReadAllAsync(JsonlReader.Plain, "{\"content\":\"x\",\"text\":5}\n", MakeSpec(textField: "content"));
        AssertDocument(Assert.Single(records), 0, "x");
    }

    [Fact]
    public async Task Crlf_line_endings_a_bom_and_a_last_line_without_newline_are_handled()
    {
        var content = "\uFEFF{\"text\":\"one\"}\r\n\r\n{\"text\":\"two\\r\"}\r\n{\"text\":\"three\"}";
        var records = await ReadAllAsync(JsonlReader.Plain, content, MakeSpec());

        Assert.Equal(3, records.Count);
        AssertDocument(records[0], 0, "one");
        AssertDocument(records[1], 2, "two\r");
        AssertDocument(records[2], 3, "three");
    }

    [Fact]
    public async Task Empty_object_yields_nothing()
    {
        Assert.Empty(await ReadAllAsync(JsonlReader.Plain, Array.Empty<byte>(), MakeSpec()));
        Assert.Empty(await ReadAllAsync(JsonlReader.Plain, "\n\n \r\n", MakeSpec()));
        Assert.Empty(await ReadAllAsync(JsonlReader.Gzip, Array.Empty<byte>(), MakeSpec(), "a.jsonl.gz"));
        Assert.Empty(await ReadAllAsync(JsonlReader.Gzip, EmptyGzipMember, MakeSpec(), "a.jsonl.gz"));
        Assert.Empty(await ReadAllAsync(JsonlReader.Gzip, Gzip(""), MakeSpec(), "a.jsonl.gz")); // 0 bytes: .NET writes no header for nothing
    }

    [Fact]
    public async Task Every_quarantine_reason_is_reported_at_its_line()
    {
        var lines = new List<byte[]>
        {
            "{\"id\":\"ok\",\"text\":\"fine\"}"u8.ToArray(),                  // 0: document
            "{\"id\":\"x\",\"text\": }"u8.ToArray(),                            // 1: malformed
            "[{\"text\":\"in an array\"}]"u8.ToArray(),                        // 2: not an object
            "{\"id\":\"x\",\"text\":\"a\"} trailing"u8.ToArray(),               // 3: trailing data
            (byte[])[.. "{\"id\":\"x\",\"text\":\"caf"u8, 0xC3, 0x28, .. "\"}"u8],    // 4: invalid UTF-8 at byte 23
            "{\"id\":\"x\",\"body\":\"no text\",\"lang\":\"en\"}"u8.ToArray(), // 5: missing text
            "{\"id\":\"x\",\"text\":17}"u8.ToArray(),                           // 6: text a number
            "{\"id\":\"x\",\"text\":null}"u8.ToArray(),                         // 7: text null
            "{\"text\":\"no id\"}"u8.ToArray(),                                  // 8: missing id
            "{\"id\":null,\"text\":\"null id\"}"u8.ToArray(),                   // 9: null id
            "{\"id\":{\"a\":1},\"text\":\"object id\"}"u8.ToArray(),            // 10: object id
            "{\"id\":\"x\",\"text\":\"lone \\ud800 surrogate\"}"u8.ToArray(),   // 11: escaped lone surrogate
            (byte[])[.. "{\"id\":\"x\",\"text\":\""u8, .. Enumerable.Repeat((byte)'z', 300), .. "\"}"u8], // 12: too large
            "{\"id\":\"\",\"text\":\"empty id\"}"u8.ToArray(),                  // 13: empty id
            "{\"id\":\"last\",\"text\":\"still read\"}"u8.ToArray(),           // 14: document
        };
        var content = lines.SelectMany(l => l.Append((byte)'\n')).ToArray();
        var records = await ReadAllAsync(JsonlReader.Plain, content, MakeSpec(idField: "id", maxRecordBytes: 200));

        Assert.Equal(15, records.Count);
        AssertDocument(records[0], 0, "fine", "ok");
        AssertQuarantined(records[1], 1, QuarantineReasons.MalformedJson, "line 2:", "invalid start of a value", "at byte 18");
        AssertQuarantined(records[2], 2, QuarantineReasons.MalformedJson, "line 3:", "array, not an object");
        AssertQuarantined(records[3], 3, QuarantineReasons.MalformedJson, "line 4:", "invalid after a single JSON value");
        AssertQuarantined(records[4], 4, QuarantineReasons.InvalidUtf8, "line 5:", "at byte 21 ", "0xC3");
        AssertQuarantined(records[5], 5, QuarantineReasons.MissingTextField, "line 6:", "no field 'text'", "fields: id, body, lang");
        AssertQuarantined(records[6], 6, QuarantineReasons.TextNotString, "line 7:", "'text' is a number");
        AssertQuarantined(records[7], 7, QuarantineReasons.TextNotString, "line 8:", "'text' is null");
        AssertQuarantined(records[8], 8, QuarantineReasons.MissingIdField, "line 9:", "no field 'id'", "fields: text");
        AssertQuarantined(records[9], 9, QuarantineReasons.MissingIdField, "line 10:", "'id' is null");
        AssertQuarantined(records[10], 10, QuarantineReasons.MissingIdField, "line 11:", "'id' is an object");
        AssertQuarantined(records[11], 11, QuarantineReasons.InvalidUtf8, "line 12:", "'text' is not valid Unicode");
        AssertQuarantined(records[12], 12, QuarantineReasons.RecordTooLarge, "line 13: 320 bytes > limit 200");
        AssertQuarantined(records[13], 13, QuarantineReasons.MissingIdField, "line 14:", "'id' is an empty string", "leave idField out");
        AssertDocument(records[14], 14, "still read", "last");
    }

    /// <summary>A UTF-16 file (as Windows tools write it) is read as the text it is (its every line was quarantined), gzip-compressed too.</summary>
    [Theory]
    [InlineData("utf-16")]
    [InlineData("utf-16BE")]
    public async Task A_utf16_file_is_read_as_its_text(string encoding)
    {
        var utf16 = System.Text.Encoding.GetEncoding(encoding);
        var content = (byte[])[.. utf16.GetPreamble(), .. utf16.GetBytes("{\"text\":\"saved by Notepad\"}\r\n{\"text\":\"Grüße 你好\"}\r\n")];
        var records = await ReadAllAsync(JsonlReader.Plain, content, MakeSpec());
        Assert.Equal(["saved by Notepad", "Grüße 你好"], records.Select(r => r.Text));
        using var gzipped = new MemoryStream();
        using (var gzip = new System.IO.Compression.GZipStream(gzipped, System.IO.Compression.CompressionLevel.Fastest, leaveOpen: true)) gzip.Write(content);
        records = await ReadAllAsync(JsonlReader.Gzip, gzipped.ToArray(), MakeSpec(), "export.jsonl.gz");
        Assert.Equal(["saved by Notepad", "Grüße 你好"], records.Select(r => r.Text));
    }

    [Fact]
    public async Task A_dotted_field_name_is_said_to_be_no_path_into_nested_objects()
    {
        var records = await ReadAllAsync(JsonlReader.Plain, "{\"id\": \"n1\", \"content\": {\"text\": \"nested\"}}\n", MakeSpec(textField: "content.text", idField: "meta.id"));
        AssertQuarantined(records[0], 0, QuarantineReasons.MissingTextField, "no field 'content.text' (fields: id, content)",
            "'content.text' is not a path into 'content': flatten the records first (jq -c '.text = .content.text') and name 'text'");
    }

    [Fact]
    public async Task Details_are_short_even_for_long_bad_lines()
    {
        var longText = new string('x', 100_000);
        var content = $"{{\"text\":\"{longText}\" oops}}\n{{\"text\":\"{longText}\",\"id\":1}}\n";
        var records = await ReadAllAsync(JsonlReader.Plain, content, MakeSpec());
        Assert.Equal(2, records.Count);
        AssertQuarantined(records[0], 0, QuarantineReasons.MalformedJson, "line 1:", "at byte 100,011");
        Assert.True(records[0].Detail!.Length < 250, records[0].Detail);
        AssertDocument(records[1], 1, longText);
    }

    [Fact]
    public async Task The_limit_applies_to_the_line_without_its_terminator()
    {
        // {"text":"…"} is 11 bytes plus the text.
        var atLimit = "{\"text\":\"" + new string('a', 89) + "\"}";
        var overLimit = "{\"text\":\"" + new string('a', 90) + "\"}";
        var content = atLimit + "\r\n" + overLimit + "\r\n" + atLimit + "\n" + overLimit;
        var records = await ReadAllAsync(JsonlReader.Plain, content, MakeSpec(maxRecordBytes: 100));

        Assert.Equal(4, records.Count);
        AssertDocument(records[0], 0, new string('a', 89));
        AssertQuarantined(records[1], 1, QuarantineReasons.RecordTooLarge, "line 2: 101 bytes > limit 100");
        AssertDocument(records[2], 2, new string('a', 89));
        AssertQuarantined(records[3], 3, QuarantineReasons.RecordTooLarge, "line 4: 101 bytes > limit 100");
    }

    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(4096)]
    public async Task Long_lines_are_skipped_at_any_read_size(int chunk)
    {
        var big = "{\"text\":\"" + new string('b', 5000) + "\"}";
        var content = Encoding.UTF8.GetBytes($"{{\"text\":\"a\"}}\n{big}\r\n{{\"text\":\"c\"}}\n{big}");
        var spec = MakeSpec(maxRecordBytes: 1000);
        var records = await ReadAllAsync(JsonlReader.Plain, new TrickleStream(content, chunk), spec);

        Assert.Equal(4, records.Count);
        AssertDocument(records[0], 0, "a");
        AssertQuarantined(records[1], 1, QuarantineReasons.RecordTooLarge, "line 2: 5,011 bytes > limit 1,000");
        AssertDocument(records[2], 2, "c");
        AssertQuarantined(records[3], 3, QuarantineReasons.RecordTooLarge, "line 4: 5,011 bytes > limit 1,000");
    }

    [Fact]
    public void A_50_MB_line_is_quarantined_without_a_50_MB_allocation()
    {
        const long size = 50L * 1024 * 1024;
        var prefix = "{\"text\":\"ok\"}\n{\"text\":\""u8.ToArray();
        var suffix = "\"}\n{\"text\":\"after\"}\n"u8.ToArray();
        var stream = new GeneratedStream(prefix, (byte)'x', size - 11, suffix);
        var input = new InputObject("big.jsonl", stream.Length, MakeSpec());

        var before = GC.GetAllocatedBytesForCurrentThread();
        var records = ReadAllOnThisThread(JsonlReader.Plain, stream, input);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(3, records.Count);
        AssertDocument(records[0], 0, "ok");
        AssertQuarantined(records[1], 1, QuarantineReasons.RecordTooLarge, "line 2: 52,428,800 bytes > limit 8,388,608");
        AssertDocument(records[2], 2, "after");
        // The line buffer may grow to the 8 MiB limit (64 KiB doubling, ~16 MiB in all), never to the line.
        Assert.True(allocated < 20L * 1024 * 1024, $"allocated {allocated:N0} bytes");
    }

    [Fact]
    public void A_large_valid_file_streams_with_bounded_memory_and_no_per_line_garbage()
    {
        const int lines = 100_000;
        const int textBytes = 300;
        var stream = new JsonLinesStream(lines, textBytes);
        // Without passthrough (fields: []): kept fields are data the reader returns, like the text.
        var input = new InputObject("large.jsonl", 0, MakeSpec(idField: "id") with { Fields = [] });
        var ids = Enumerable.Range(0, 26).Select(k => k.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToArray();
        long count = 0, stringBytes = 0, wrong = 0;

        var before = GC.GetAllocatedBytesForCurrentThread();
        ReadAllOnThisThread(JsonlReader.Plain, stream, input, record =>
        {
            // No asserts in here: they allocate, and this counts allocations.
            if (record.Text is { } text && record.Id is { } id && text.Length == textBytes && id == ids[count % 26])
                stringBytes += 2L * text.Length + 32 + 2L * id.Length + 32;
            else
                wrong++;
            count++;
        }, keep: false);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(lines, count);
        Assert.Equal(0, wrong);
        Assert.True(stream.BytesProduced > 35_000_000);
        // Beyond the strings returned, the reader allocates a fixed amount (buffer, state), not something per line.
        Assert.True(allocated - stringBytes < 1024 * 1024, $"allocated {allocated:N0} bytes, strings {stringBytes:N0}");
    }

    [Fact]
    public async Task A_read_failure_ends_the_object_with_one_corrupt_record_after_the_valid_ones()
    {
        var content = Encoding.UTF8.GetBytes(JsonLines(100));
        var failAt = content.Length / 2;
        var records = await ReadAllAsync(JsonlReader.Plain, new TrickleStream(content, 1000, failAfter: failAt), MakeSpec(idField: "id"), "s3/shard.jsonl");

        var valid = records.Take(records.Count - 1).ToList();
        Assert.All(valid, r => Assert.False(r.IsQuarantined));
        Assert.Equal(Enumerable.Range(0, valid.Count).Select(i => $"d{i}"), valid.Select(r => r.Id));
        var linesBefore = content.AsSpan(0, failAt).Count((byte)'\n');
        Assert.Equal(linesBefore, valid.Count);
        AssertQuarantined(records[^1], valid.Count, QuarantineReasons.CorruptObject,
            "s3/shard.jsonl: read failed after line " + valid.Count, "IOException", "connection reset");
    }

    [Fact]
    public async Task Cancellation_propagates()
    {
        using var cancel = new CancellationTokenSource();
        cancel.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() =>
            ReadAllAsync(JsonlReader.Plain, new TrickleStream(Encoding.UTF8.GetBytes(JsonLines(10))), MakeSpec(), cancellationToken: cancel.Token));
    }

    [Fact]
    public async Task Gzip_jsonl_reads_like_plain()
    {
        var text = JsonLines(1000) + "{\"text\":7}\n";
        var records = await ReadAllAsync(JsonlReader.Gzip, Gzip(text), MakeSpec(idField: "id"), "a.jsonl.gz");
        Assert.Equal(1001, records.Count);
        AssertDocument(records[999], 999, "document number 999", "d999");
        AssertQuarantined(records[1000], 1000, QuarantineReasons.TextNotString, "line 1,001:");
    }

    [Fact]
    public async Task Multi_member_gzip_reads_every_member()
    {
        // What `cat a.gz b.gz c.gz` makes; b is an empty member, c does not end with a newline.
        var a = Gzip(JsonLines(3));
        var b = EmptyGzipMember;
        var c = Gzip("{\"id\":\"c\",\"text\":\"from c\"}\n{\"id\":\"c2\",\"text\":\"end\"}");
        var records = await ReadAllAsync(JsonlReader.Gzip, [.. a, .. b, .. c], MakeSpec(idField: "id"), "cat.jsonl.gz");

        Assert.Equal(5, records.Count);
        Assert.Equal(["d0", "d1", "d2", "c", "c2"], records.Select(r => r.Id));
        Assert.Equal([0L, 1, 2, 3, 4], records.Select(r => r.Position));
    }

    [Theory]
    [InlineData(0.5)]
    [InlineData(0.9)]
    [InlineData(0.999)]
    public async Task Truncated_gzip_yields_the_lines_before_and_one_corrupt_record_naming_the_object(double keep)
    {
        var text = JsonLines(5000);
        var full = Gzip(Encoding.UTF8.GetBytes(text));
        var cut = full.AsSpan(0, (int)(full.Length * keep)).ToArray();
        var records = await ReadAllAsync(JsonlReader.Gzip, cut, MakeSpec(idField: "id"), "az://corpus/part-7.jsonl.gz");

        var valid = records.Take(records.Count - 1).ToList();
        Assert.NotEmpty(valid);
        Assert.True(valid.Count < 5000);
        Assert.Equal(Enumerable.Range(0, valid.Count).Select(i => $"d{i}"), valid.Select(r => r.Id));
        AssertQuarantined(records[^1], valid.Count, QuarantineReasons.CorruptObject,
            $"az://corpus/part-7.jsonl.gz: truncated gzip stream after line {valid.Count.ToString("N0", System.Globalization.CultureInfo.InvariantCulture)} (", "cut short");
    }

    [Fact]
    public async Task Gzip_cut_anywhere_is_never_read_as_complete()
    {
        var full = Gzip(JsonLines(40));
        for (var length = 1; length < full.Length; length++)
        {
            var records = await ReadAllAsync(JsonlReader.Gzip, full.AsSpan(0, length).ToArray(), MakeSpec(idField: "id"), "t.jsonl.gz");
            var last = Assert.IsType<InputRecord>(records[^1]);
            Assert.Equal(QuarantineReasons.CorruptObject, last.Problem);
            Assert.Contains("t.jsonl.gz: truncated gzip stream", last.Detail);
            Assert.All(records.Take(records.Count - 1), r => Assert.False(r.IsQuarantined));
        }
    }

    [Fact]
    public async Task Corrupt_gzip_is_reported_not_ignored()
    {
        var full = Gzip(JsonLines(200));
        var badCrc = full.ToArray();
        badCrc[^6] ^= 0xFF;
        var records = await ReadAllAsync(JsonlReader.Gzip, badCrc, MakeSpec(), "crc.jsonl.gz");
        Assert.Equal(200, records.Count(r => !r.IsQuarantined));
        AssertQuarantined(records[^1], 200, QuarantineReasons.CorruptObject, "crc.jsonl.gz: corrupt gzip stream after line 200", "CRC-32");

        var garbage = (byte[])[.. full, .. "not gzip"u8];
        records = await ReadAllAsync(JsonlReader.Gzip, garbage, MakeSpec(), "junk.jsonl.gz");
        Assert.Equal(200, records.Count(r => !r.IsQuarantined));
        AssertQuarantined(records[^1], 200, QuarantineReasons.CorruptObject, "junk.jsonl.gz: corrupt gzip stream", "not a gzip header");

        records = await ReadAllAsync(JsonlReader.Gzip, JsonLines(3), MakeSpec(), "plain.jsonl.gz");
        AssertQuarantined(Assert.Single(records), 0, QuarantineReasons.CorruptObject, "plain.jsonl.gz: corrupt gzip stream before line 1", "not a gzip stream");
    }
}
