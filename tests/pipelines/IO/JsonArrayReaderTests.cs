using System.IO.Compression;
using System.Text;
using System.Text.Json;
using Curation.Pipelines.IO;
using Curation.Pipelines.IO.Readers;
using static Curation.Pipelines.Tests.IO.ReaderTestSupport;

namespace Curation.Pipelines.Tests.IO;

/// <summary>
/// A <c>.json</c> file holding one JSON array (as <c>json.dump</c> writes it, indented or not) is read element by element
/// with the JSON Lines record rules, streaming, whatever size the reads come in.
/// </summary>
public class JsonArrayReaderTests
{
    private static readonly object[] Elements =
    [
        new { id = "a", text = "plain", tags = new[] { "x", "y" } },
        new { id = "b", text = "brackets [ ] { } and , commas \"quoted\" \\ backslash", nested = new { deeper = new object[] { 1, new { text = "not me" } } } },
        42,
        new { id = "c", text = "日本語のテキスト, ไทย [and] {more}" },
        new { id = 7, text = "number id" },
    ];

    private static void AssertElements(IReadOnlyList<InputRecord> records)
    {
        Assert.Equal(5, records.Count);
        AssertDocument(records[0], 0, "plain", "a");
        AssertDocument(records[1], 1, "brackets [ ] { } and , commas \"quoted\" \\ backslash", "b");
        AssertQuarantined(records[2], 2, QuarantineReasons.MalformedJson, "element 3:", "a JSON number, not an object");
        AssertDocument(records[3], 3, "日本語のテキスト, ไทย [and] {more}", "c");
        AssertDocument(records[4], 4, "number id", "7");
    }

    [Theory]
    [InlineData(true, int.MaxValue)]
    [InlineData(false, int.MaxValue)]
    [InlineData(true, 1)]    // every refill boundary: inside strings, escapes, nesting and the whitespace between elements
    [InlineData(false, 7)]
    public async Task Indented_and_compact_arrays_are_read_element_by_element(bool indented, int chunk)
    {
        var bytes = Encoding.UTF8.GetBytes("\uFEFF" + JsonSerializer.Serialize(Elements, new JsonSerializerOptions { WriteIndented = indented }) + "\n");
        var records = await ReadAllAsync(JsonlReader.Plain, new TrickleStream(bytes, chunk), MakeSpec(idField: "id"), "data.json");
        AssertElements(records);
    }

    [Fact]
    public async Task A_gzip_compressed_array_and_an_empty_one()
    {
        using var gz = new MemoryStream();
        await using (var zip = new GZipStream(gz, CompressionLevel.Fastest, leaveOpen: true))
            await zip.WriteAsync(JsonSerializer.SerializeToUtf8Bytes(Elements));
        AssertElements(await ReadAllAsync(JsonlReader.Gzip, gz.ToArray(), MakeSpec(idField: "id"), "data.json.gz"));
        Assert.Empty(await ReadAllAsync(JsonlReader.Plain, " [ \n ] \n", MakeSpec(), "empty.json"));
    }

    [Fact]
    public async Task Bounded_memory_an_element_over_the_limit_is_skipped_and_the_rest_is_read()
    {
        var big = new string('z', 300_000); // past the 64 KiB buffer the splitter starts with
        var content = JsonSerializer.Serialize(new object[] { new { text = "before" }, new { text = big }, new { text = "after" } });
        var records = await ReadAllAsync(JsonlReader.Plain, new TrickleStream(Encoding.UTF8.GetBytes(content), 5000), MakeSpec(maxRecordBytes: 100_000), "big.json");
        Assert.Equal(3, records.Count);
        AssertDocument(records[0], 0, "before");
        AssertQuarantined(records[1], 1, QuarantineReasons.RecordTooLarge, "element 2: 300,011 bytes > limit 100,000");
        AssertDocument(records[2], 2, "after");

        // Under the limit, an element larger than the first buffer is read whole.
        records = await ReadAllAsync(JsonlReader.Plain, new TrickleStream(Encoding.UTF8.GetBytes(content), 5000), MakeSpec(maxRecordBytes: 400_000), "big.json");
        Assert.Equal(big, records[1].Text);
    }

    [Theory]
    [InlineData("[{\"text\":\"kept\"},{\"text\":\"cut", "ends before its closing ']'")]
    [InlineData("[{\"text\":\"kept\"}] trailing", "has data after its closing ']'")]
    [InlineData("[{\"text\":\"kept\"},]", "has an empty element 2")]
    public async Task A_broken_array_keeps_the_elements_before_and_ends_with_a_corrupt_object(string content, string problem)
    {
        var records = await ReadAllAsync(JsonlReader.Plain, content, MakeSpec(), "broken.json");
        Assert.Equal(2, records.Count);
        AssertDocument(records[0], 0, "kept");
        AssertQuarantined(records[1], 1, QuarantineReasons.CorruptObject, $"broken.json: the JSON array {problem}");
    }

    /// <summary>Objects written over many lines one after another, as <c>jq</c> (without <c>-c</c>) prints them.</summary>
    private static string JqPretty(int chunkIndent = 2) =>
        string.Concat(new[] { Elements[0], Elements[1], Elements[3], Elements[4] }.Select(e =>
            JsonSerializer.Serialize(e, new JsonSerializerOptions { WriteIndented = true, IndentSize = chunkIndent, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }) + "\n"));

    [Theory]
    [InlineData(int.MaxValue)]
    [InlineData(1)]   // every refill boundary
    [InlineData(7)]
    public async Task Objects_written_over_many_lines_one_after_another_are_one_record_each(int chunk)
    {
        // Each line of them was a record: "{" alone was malformed_json, and so was every line after it.
        var records = await ReadAllAsync(JsonlReader.Plain, new TrickleStream(Encoding.UTF8.GetBytes("\uFEFF" + JqPretty()), chunk), MakeSpec(idField: "id"), "jq.json");
        Assert.Equal(4, records.Count);
        AssertDocument(records[0], 0, "plain", "a");
        AssertDocument(records[1], 1, "brackets [ ] { } and , commas \"quoted\" \\ backslash", "b");
        AssertDocument(records[2], 2, "日本語のテキスト, ไทย [and] {more}", "c");
        AssertDocument(records[3], 3, "number id", "7");
    }

    [Fact]
    public async Task One_object_over_many_lines_is_one_record_and_a_sequence_cut_short_ends_with_a_corrupt_object()
    {
        // /usr/share/iso-codes/json/iso_639-3.json: one object holding the array of languages. It was 49,084 lines, each
        // quarantined as malformed_json; it is one record now, whose missing text field names the field it has.
        const string iso = "{\n  \"639-3\": [\n    {\n      \"alpha_3\": \"aaa\",\n      \"name\": \"Ghotuo\"\n    }\n  ]\n}\n";
        var records = await ReadAllAsync(JsonlReader.Plain, iso, MakeSpec(textField: "name"), "iso_639-3.json");
        AssertQuarantined(Assert.Single(records), 0, QuarantineReasons.MissingTextField, "value 1: no field 'name' (fields: 639-3); " +
            "its field \"639-3\" holds an array of 1 object, which are not read as records: write them as JSON Lines first (jq -c '.[\"639-3\"][]' file.json > file.jsonl)");

        var pretty = JqPretty();
        records = await ReadAllAsync(JsonlReader.Plain, pretty[..(pretty.IndexOf("\"text\": \"日本", StringComparison.Ordinal) + 12)], MakeSpec(), "cut.json");
        Assert.Equal(3, records.Count);
        AssertDocument(records[1], 1, "brackets [ ] { } and , commas \"quoted\" \\ backslash");
        AssertQuarantined(records[2], 2, QuarantineReasons.CorruptObject, "cut.json: the JSON text ends inside a value");

        // JSON Lines whose first line is a whole object stay lines, a malformed line included; so does a file whose first
        // line is a broken "{" followed by whole objects (read as values, that one line took every record with it).
        records = await ReadAllAsync(JsonlReader.Plain, "{\"text\":\"one\"}\n{\n{\"text\":\"two\"}\n", MakeSpec(), "lines.jsonl");
        Assert.Equal(["one", null, "two"], records.Select(r => r.Text));
        records = await ReadAllAsync(JsonlReader.Plain, "{\n{\"text\":\"one\"}\n{\"text\":\"two\"}\n", MakeSpec(), "broken-first.jsonl");
        Assert.Equal([null, "one", "two"], records.Select(r => r.Text));
        Assert.Equal(QuarantineReasons.MalformedJson, records[0].Problem);
        // An empty object over two lines is a value.
        Assert.Equal(QuarantineReasons.MissingTextField, Assert.Single(await ReadAllAsync(JsonlReader.Plain, "{\n}\n", MakeSpec(), "empty.json")).Problem);
    }

    [Fact]
    public async Task Lines_that_start_with_an_object_are_still_json_lines()
    {
        var records = await ReadAllAsync(JsonlReader.Plain, "\n  {\"text\":\"one\"}\n[1]\n", MakeSpec(), "lines.json");
        Assert.Equal(2, records.Count);
        AssertDocument(records[0], 1, "one");
        AssertQuarantined(records[1], 2, QuarantineReasons.MalformedJson, "line 3:", "a JSON array, not an object");
    }
}
