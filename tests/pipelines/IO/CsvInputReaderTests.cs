using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Curation.Pipelines.IO;
using Curation.Pipelines.IO.Readers;
using static Curation.Pipelines.Tests.IO.ReaderTestSupport;

namespace Curation.Pipelines.Tests.IO;

/// <summary>CSV and TSV inputs: RFC 4180 rows (quoted delimiters, quotes and line breaks), checked against Python's csv module.</summary>
public sealed class CsvInputReaderTests
{
    private static readonly CsvInputReader Reader = CsvInputReader.Instance;

    private static string? Field(InputRecord record, string name) => (string?)record.Fields?.SingleOrDefault(f => f.Name == name).Value;

    [Fact]
    public async Task Rows_with_quoted_delimiters_quotes_and_line_breaks_are_read_as_Pythons_csv_module_reads_them()
    {
        const string csv =
            "id,text,lang,score\r\n" +
            "a1,\"Hello, world\",en,0.9\r\n" +
            "a2,\"She said \"\"hi\"\"\nand left.\",en,\r\n" +
            "a3,# a Markdown heading is text,,1\r\n" +
            "a4,\"第一段，中文。\r\n\r\n第二段 ข้อความภาษาไทย\",zh,0.5\r\n" +
            "a5,plain  spaced   text ,de,2\n" +
            // Quotes that break RFC 4180, as real exports hold them (a PyPI summary): text, as Python reads them. Strict
            // parsing stopped the object at the first, losing every later row.
            "a6,\"AGENT\" K is a complete minimalistic kubectl \"doner\"-wrap,en,1\n" +
            "a7,x\"y\"z,,\n" +
            "a8,\"q\"\"\" tail,,\n" +
            "a9,last row,en,3\n";
        var records = await ReadAllAsync(Reader, "\uFEFF" + csv, MakeSpec(idField: "id"), "export/data.csv");

        // The reference: Python's csv.DictReader on the same bytes.
        var path = Path.Combine(Path.GetTempPath(), $"csv-parity-{Guid.NewGuid():N}.csv");
        await File.WriteAllTextAsync(path, csv, new UTF8Encoding(false));
        try
        {
            var start = new ProcessStartInfo("python3", ["-c",
                "import csv,json,sys; print(json.dumps(list(csv.DictReader(open(sys.argv[1], newline='', encoding='utf-8')))))", path])
            { RedirectStandardOutput = true };
            using var python = Process.Start(start)!;
            var expected = JsonSerializer.Deserialize<List<Dictionary<string, string>>>(await python.StandardOutput.ReadToEndAsync())!;
            await python.WaitForExitAsync();
            Assert.Equal(expected.Count, records.Count);
            for (var i = 0; i < expected.Count; i++)
            {
                Assert.Equal(i, records[i].Position);
                Assert.Equal(expected[i]["id"], records[i].Id);
                Assert.Equal(expected[i]["text"], records[i].Text);
                foreach (var column in new[] { "lang", "score" })
                    Assert.Equal(expected[i][column] is "" ? null : expected[i][column], Field(records[i], column)); // an empty value is null
            }
        }
        finally
        {
            File.Delete(path);
        }
        Assert.Equal("She said \"hi\"\nand left.", records[1].Text);
        Assert.Equal("# a Markdown heading is text", records[2].Text); // '#' starts no comment
    }

    [Fact]
    public async Task Tab_and_semicolon_files_and_compressed_ones_are_read()
    {
        var tsv = await ReadAllAsync(Reader, "text\tid\nfirst, with a comma\tx1\nsecond; with a semicolon\tx2\n", MakeSpec(idField: "id"), "a.tsv");
        Assert.Equal(["first, with a comma", "second; with a semicolon"], tsv.Select(r => r.Text));
        // A European spreadsheet export: semicolons (the delimiter is told from the header), with Excel's "CSV UTF-8" byte
        // order mark or without (with one, the delimiter was not found: every row was one column, or malformed_csv).
        foreach (var bom in new[] { "", "\uFEFF" })
        {
            var semicolons = await ReadAllAsync(Reader, bom + "id;text;note\r\n1;Grüße, aus Köln;3,5\r\n2;\"a; b\";\r\n", MakeSpec(idField: "id"), "b.csv");
            Assert.True(semicolons.All(r => r.Problem is null), $"BOM {bom.Length}: " + string.Join("; ", semicolons.Select(r => r.Detail)));
            Assert.Equal(["Grüße, aus Köln", "a; b"], semicolons.Select(r => r.Text));
            Assert.Equal(["1", "2"], semicolons.Select(r => r.Id));
            Assert.Equal(["3,5", null], semicolons.Select(r => Field(r, "note")));
            var tabs = await ReadAllAsync(Reader, bom + "id\ttext\n1\tfirst, with; both\n", MakeSpec(idField: "id"), "c.csv");
            Assert.Equal("first, with; both", Assert.Single(tabs).Text);
            // A first column name of 4 characters or more: the delimiter was looked for in the first 4 bytes only.
            var longName = await ReadAllAsync(Reader, bom + "text;identifier\nHallo, Welt;k1\n", MakeSpec(idField: "identifier"), "d.csv");
            Assert.Equal(("k1", "Hallo, Welt"), (Assert.Single(longName).Id, longName[0].Text));
        }

        using var gzipped = new MemoryStream();
        using (var gzip = new System.IO.Compression.GZipStream(gzipped, System.IO.Compression.CompressionLevel.Fastest, leaveOpen: true))
            gzip.Write(Encoding.UTF8.GetBytes("text\none\ntwo\n"));
        var compressed = await ReadAllAsync(InputReaders.For(MakeSpec(), "c.csv.gz"), gzipped.ToArray(), MakeSpec(), "c.csv.gz");
        Assert.Equal(["one", "two"], compressed.Select(r => r.Text));
    }

    [Fact]
    public async Task Bad_rows_are_quarantined_at_their_row_and_the_rest_is_read()
    {
        const string csv = "id,text,extra\n" +
                           "r1,fine,x\n" +
                           "r2,too,many,fields\n" +  // a delimiter in an unquoted value
                           "r3\n" +                  // no text field
                           ",no id,y\n" +
                           "r5,short row\n" +        // a missing trailing value is empty
                           "r6,last,z\n";
        var records = await ReadAllAsync(Reader, csv, MakeSpec(idField: "id"), "bad.csv");
        Assert.Equal(6, records.Count);
        AssertDocument(records[0], 0, "fine", "r1");
        AssertQuarantined(records[1], 1, CsvInputReader.MalformedCsv, "row 2: 4 fields, the header has 3");
        AssertQuarantined(records[2], 2, QuarantineReasons.MissingTextField, "row 3: 1 fields, so no 'text'");
        AssertQuarantined(records[3], 3, QuarantineReasons.MissingIdField, "row 4: field 'id' is an empty string");
        AssertDocument(records[4], 4, "short row", "r5");
        Assert.Null(Field(records[4], "extra"));
        AssertDocument(records[5], 5, "last", "r6");

        // A text column the file does not have: every row says so, naming the columns it has.
        var wrong = await ReadAllAsync(Reader, "body,title\nx,y\nz,w\n", MakeSpec(), "wrong.csv");
        Assert.All(wrong, r => Assert.Equal(QuarantineReasons.MissingTextField, r.Problem));
        Assert.Contains("no column 'text' (columns: body, title)", wrong[0].Detail);
    }

    [Fact]
    public async Task What_the_parser_cannot_get_past_ends_the_object_naming_the_row()
    {
        // Bytes that are not UTF-8 (a Latin-1 export) quarantine their own row; the rows around it are read.
        byte[] badUtf8 = [.. "text,n\nok,1\n"u8, .. "caf"u8, 0xE9, .. ",2\nafter,3\n"u8];
        var records = await ReadAllAsync(Reader, badUtf8, MakeSpec(), "latin1.csv");
        Assert.Equal(["ok", null, "after"], records.Select(r => r.Text));
        AssertQuarantined(records[1], 1, QuarantineReasons.InvalidUtf8, "row 2: field 'text' holds bytes that are not UTF-8");

        var big = "text\nsmall\n\"" + new string('x', 5000) + "\"\nnext\n";
        records = await ReadAllAsync(Reader, big, MakeSpec(maxRecordBytes: 2000), "big.csv");
        Assert.Equal("small", records[0].Text);
        AssertQuarantined(records[^1], 1, QuarantineReasons.RecordTooLarge, "big.csv: row 2: a row over the limit of 2,000 bytes");

        // A quote that never closes runs to the end of the object, as in Python's csv module; past the limit, that row ends it.
        records = await ReadAllAsync(Reader, "text\nok\n\"never closed\nmore\n", MakeSpec(), "open.csv");
        Assert.Equal(["ok", "never closed\nmore\n"], records.Select(r => r.Text));
        records = await ReadAllAsync(Reader, "text\nok\n\"never closed\n" + string.Concat(Enumerable.Repeat("more,\n", 1000)), MakeSpec(maxRecordBytes: 2000), "open.csv");
        Assert.Equal("ok", records[0].Text);
        AssertQuarantined(records[^1], 1, QuarantineReasons.RecordTooLarge, "open.csv: row 2: a row over the limit of 2,000 bytes");
    }
}
