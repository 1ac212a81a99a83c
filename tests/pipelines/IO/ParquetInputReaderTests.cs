using System.Text;
using Curation.Pipelines.IO;
using Curation.Pipelines.IO.Readers;
using Parquet;
using Parquet.Schema;
using static Curation.Pipelines.Tests.IO.ReaderTestSupport;

namespace Curation.Pipelines.Tests.IO;

public class ParquetInputReaderTests
{
    private static readonly ParquetInputReader Reader = ParquetInputReader.Instance;

    /// <summary>Writes columns (name → values per row group) with the low-level API; one row group per entry.</summary>
    private static async Task<byte[]> WriteAsync(DataField[] fields, params Func<ParquetRowGroupWriter, Task>[] rowGroups)
    {
        var output = new MemoryStream();
        await using (var writer = await ParquetWriter.CreateAsync(new ParquetSchema(fields), output))
        {
            foreach (var write in rowGroups)
            {
                using var rowGroup = writer.CreateRowGroup();
                await write(rowGroup);
            }
        }
        return output.ToArray();
    }

    [Fact]
    public async Task Reads_text_and_string_ids_across_row_groups()
    {
        var id = new DataField<string>("doc_id");
        var text = new DataField<string>("content");
        var other = new DataField<double>("score");
        var bytes = await WriteAsync([id, other, text],
            async g => { await g.WriteAsync(id, (string?[])["a", "b"]); await g.WriteAsync<double>(other, new double[] { 1, 2 }); await g.WriteAsync(text, (string?[])["alpha", "béta"]); },
            async g => { await g.WriteAsync(id, (string?[])["c", null]); await g.WriteAsync<double>(other, new double[] { 3, 4 }); await g.WriteAsync(text, (string?[])[null, ""]); },
            async g => { await g.WriteAsync(id, (string?[])[""]); await g.WriteAsync<double>(other, new double[] { 5 }); await g.WriteAsync(text, (string?[])["empty id"]); });

        var records = await ReadAllAsync(Reader, bytes, MakeSpec(textField: "content", idField: "doc_id"), "t/part.parquet");

        Assert.Equal(5, records.Count);
        AssertDocument(records[0], 0, "alpha", "a");
        AssertDocument(records[1], 1, "béta", "b");
        AssertQuarantined(records[2], 2, QuarantineReasons.MissingTextField, "row 2: text column 'content' is null");
        AssertQuarantined(records[3], 3, QuarantineReasons.MissingIdField, "row 3: id column 'doc_id' is null");
        AssertQuarantined(records[4], 4, QuarantineReasons.MissingIdField, "row 4: id column 'doc_id' is an empty string");
    }

    [Fact]
    public async Task Integer_ids_become_invariant_strings_and_no_id_field_means_no_id()
    {
        var id = new DataField<long>("id");
        var small = new DataField<int?>("small");
        var text = new DataField<string>("text");
        var bytes = await WriteAsync([id, small, text], async g =>
        {
            await g.WriteAsync<long>(id, new long[] { 9_007_199_254_740_993L, -5 });
            await g.WriteAsync<int>(small, (int?[])[12345, null]);
            await g.WriteAsync(text, (string?[])["x", "y"]);
        });

        var records = await ReadAllAsync(Reader, bytes, MakeSpec(idField: "id"), "ids.parquet");
        AssertDocument(records[0], 0, "x", "9007199254740993");
        AssertDocument(records[1], 1, "y", "-5");

        records = await ReadAllAsync(Reader, bytes, MakeSpec(idField: "small"), "ids.parquet");
        AssertDocument(records[0], 0, "x", "12345");
        AssertQuarantined(records[1], 1, QuarantineReasons.MissingIdField, "row 1: id column 'small' is null");

        records = await ReadAllAsync(Reader, bytes, MakeSpec(), "ids.parquet");
        AssertDocument(records[1], 1, "y");
    }

    [Fact]
    public async Task A_binary_text_column_is_read_as_strict_utf8_and_large_texts_are_quarantined()
    {
        var text = new DataField<byte[]>("text");
        var bytes = await WriteAsync([text], async g => await g.WriteAsync(text, (byte[]?[])
        [
            "plain"u8.ToArray(),
            [.. "bad "u8, 0xFE],
            Encoding.UTF8.GetBytes(new string('z', 500)),
        ]));
        var records = await ReadAllAsync(Reader, bytes, MakeSpec(maxRecordBytes: 100), "bin.parquet");

        Assert.Equal(3, records.Count);
        AssertDocument(records[0], 0, "plain");
        AssertQuarantined(records[1], 1, QuarantineReasons.InvalidUtf8, "row 1: column 'text' has invalid UTF-8 at byte 4 (0xFE)");
        AssertQuarantined(records[2], 2, QuarantineReasons.RecordTooLarge, "row 2: 500 bytes > limit 100");

        var strings = new DataField<string>("text");
        bytes = await WriteAsync([strings], async g => await g.WriteAsync(strings, (string?[])[new string('é', 60), new string('é', 40)]));
        records = await ReadAllAsync(Reader, bytes, MakeSpec(maxRecordBytes: 100), "s.parquet");
        AssertQuarantined(records[0], 0, QuarantineReasons.RecordTooLarge, "row 0: 120 bytes > limit 100");
        AssertDocument(records[1], 1, new string('é', 40));
    }

    [Fact]
    public async Task A_missing_or_unusable_column_is_one_corrupt_record_naming_the_object_and_the_columns()
    {
        var id = new DataField<string>("id");
        var body = new DataField<string>("body");
        var score = new DataField<double>("score");
        var bytes = await WriteAsync([id, body, score], async g =>
        {
            await g.WriteAsync(id, (string?[])["a"]);
            await g.WriteAsync(body, (string?[])["b"]);
            await g.WriteAsync<double>(score, new double[] { 0.5 });
        });

        var records = await ReadAllAsync(Reader, bytes, MakeSpec(), "x/a.parquet");
        AssertQuarantined(Assert.Single(records), 0, QuarantineReasons.CorruptObject, "x/a.parquet: no text column 'text' (columns: id, body, score)");

        records = await ReadAllAsync(Reader, bytes, MakeSpec(textField: "body", idField: "uid"), "x/a.parquet");
        AssertQuarantined(Assert.Single(records), 0, QuarantineReasons.CorruptObject, "x/a.parquet: no id column 'uid'");

        records = await ReadAllAsync(Reader, bytes, MakeSpec(textField: "score"), "x/a.parquet");
        AssertQuarantined(Assert.Single(records), 0, QuarantineReasons.CorruptObject, "x/a.parquet: text column 'score' holds Double, not strings");

        records = await ReadAllAsync(Reader, bytes, MakeSpec(textField: "body", idField: "score"), "x/a.parquet");
        AssertQuarantined(Assert.Single(records), 0, QuarantineReasons.CorruptObject, "id column 'score' holds Double, not strings or integers");
    }

    [Fact]
    public async Task Bytes_that_are_not_parquet_are_one_corrupt_record()
    {
        var records = await ReadAllAsync(Reader, Encoding.UTF8.GetBytes(JsonLines(10)), MakeSpec(), "fake.parquet");
        AssertQuarantined(Assert.Single(records), 0, QuarantineReasons.CorruptObject, "fake.parquet: not a Parquet file (");

        records = await ReadAllAsync(Reader, Array.Empty<byte>(), MakeSpec(), "empty.parquet");
        AssertQuarantined(Assert.Single(records), 0, QuarantineReasons.CorruptObject, "empty.parquet: not a Parquet file (");

        var text = new DataField<string>("text");
        var good = await WriteAsync([text], async g => await g.WriteAsync(text, (string?[])["a", "b", "c"]));
        records = await ReadAllAsync(Reader, good.AsSpan(0, good.Length - 10).ToArray(), MakeSpec(), "cut.parquet");
        AssertQuarantined(Assert.Single(records), 0, QuarantineReasons.CorruptObject, "cut.parquet: not a Parquet file (");
    }

    [Fact]
    public async Task A_stream_that_cannot_seek_is_spooled_and_read()
    {
        var text = new DataField<string>("text");
        var id = new DataField<long>("id");
        var values = Enumerable.Range(0, 5000).Select(i => $"document {i}").ToArray();
        var bytes = await WriteAsync([id, text], async g =>
        {
            await g.WriteAsync<long>(id, Enumerable.Range(0, 5000).Select(i => (long)i).ToArray());
            await g.WriteAsync(text, values);
        });
        var records = await ReadAllAsync(Reader, new TrickleStream(bytes, 1000), MakeSpec(idField: "id"), "stream.parquet");

        Assert.Equal(5000, records.Count);
        Assert.All(records, r => Assert.Equal($"document {r.Position}", r.Text));
        Assert.All(records, r => Assert.Equal(r.Position.ToString(System.Globalization.CultureInfo.InvariantCulture), r.Id));
    }
}
