using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Curation.Pipelines.IO;
using Curation.Pipelines.Model;
using Curation.Pipelines.Reports;
using Xunit.Abstractions;

namespace Curation.Pipelines.Tests.IO;

/// <summary>
/// A string column read from Parquet stays the UTF-8 it was stored as until something asks for its strings: rows selected
/// and written back give the same bytes as the decoded strings would, and what reads it (strings, one row, the report's
/// tally) sees the same values either way.
/// </summary>
public sealed class Utf8ColumnTests(ITestOutputHelper output)
{
    private static readonly string[] Pieces =
    [
        "a", "Z", " ", "\r", "\n", "\r\n", "\t", "\u0001", "\u0301", "e\u0301", "\u200D", "\U0001F469\u200D\U0001F4BB", "\U0001F1EB\U0001F1F7",
        "한", "\u1100\u1161", "ก\u0E31", "中", "\uFE0F", "x\u0308\u0301", ".", "7", "\u0915\u094D\u0937", "\u0600", "\u0600a", "1\uFE0F\u20E3",
        "é", "ü", "word ", "\uFFFD",
    ];

    private static string RandomText(Random random, int maxPieces)
    {
        var text = new StringBuilder();
        for (var k = random.Next(0, maxPieces); k > 0; k--) text.Append(Pieces[random.Next(Pieces.Length)]);
        return text.ToString();
    }

    [Fact]
    public void Text_elements_on_UTF8_match_the_string_count()
    {
        var seed = Environment.TickCount;
        output.WriteLine($"seed {seed}");
        var random = new Random(seed);
        for (var n = 0; n < 5_000; n++)
        {
            var s = RandomText(random, 40);
            var expected = CorpusReport.TextElements(s);
            Assert.True(expected == Utf8TextElements.Count(Encoding.UTF8.GetBytes(s)),
                $"'{s}' ({string.Join(" ", s.Select(c => ((int)c).ToString("X4", CultureInfo.InvariantCulture)))})");
        }
    }

    [Fact]
    public async Task Selected_rows_written_back_undecoded_are_the_bytes_of_their_strings()
    {
        var seed = Environment.TickCount;
        output.WriteLine($"seed {seed}");
        var random = new Random(seed);
        var batch = Batch(random, 500);
        var stored = await ReadBackAsync(await WriteAsync(batch));
        var texts = stored.Texts;
        Assert.NotNull(texts.Utf8);
        Assert.NotNull(stored.GetColumn<string>("note").Utf8);

        var rows = Enumerable.Range(0, batch.RowCount).Where(_ => random.Next(3) > 0).Reverse().ToArray();
        var selected = stored.Select(rows);
        Assert.NotNull(selected.Texts.Utf8); // selecting rows makes no string
        Assert.Equal(batch.Texts[rows[0]], selected.Texts.ValueAt(0));
        Assert.NotNull(selected.Texts.Utf8); // nor does reading one row
        var undecoded = await WriteAsync(selected);
        Assert.NotNull(selected.Texts.Utf8); // nor writing

        var expected = batch.Select(rows);
        Assert.Equal(SHA256.HashData(await WriteAsync(expected)), SHA256.HashData(undecoded));
        var back = await ReadBackAsync(undecoded);
        foreach (var name in new[] { Columns.Id, Columns.Text, Columns.Source, "note" })
            Assert.Equal(expected.GetColumn<string>(name).List, back.GetColumn<string>(name).List);
        Assert.Null(back.Texts.Utf8); // decoded once, on first use
        Assert.Equal(Utf8StringColumn.Utf8Bytes(expected.Texts), Utf8StringColumn.Utf8Bytes(selected.Texts));
    }

    [Fact]
    public async Task The_report_tally_of_undecoded_rows_is_the_tally_of_their_strings()
    {
        var seed = Environment.TickCount;
        output.WriteLine($"seed {seed}");
        var batch = Batch(new Random(seed), 300);
        var stored = await ReadBackAsync(await WriteAsync(batch));
        var (fromStrings, fromUtf8) = (new ReportTally(), new ReportTally());
        fromStrings.Add(batch);
        fromUtf8.Add(stored);
        Assert.NotNull(stored.Texts.Utf8);
        Assert.Equal(JsonSerializer.Serialize(fromStrings), JsonSerializer.Serialize(fromUtf8));
    }

    /// <summary>Documents from a few sources (in runs, as a shard holds them), and a passed-through string field with nulls.</summary>
    private static RecordBatch Batch(Random random, int rows)
    {
        var batch = RecordBatch.ForDocuments();
        var note = batch.GetOrAddColumn<string>("note");
        var source = "a/b.jsonl";
        for (var i = 0; i < rows; i++)
        {
            if (random.Next(20) == 0) source = $"dir{random.Next(3)}/part{random.Next(3)}.jsonl";
            batch.AddDocument($"{source}#{i:D10}", RandomText(random, 60), source, i);
            note.Add(random.Next(4) == 0 ? null! : RandomText(random, 5));
        }
        return batch;
    }

    private static async Task<byte[]> WriteAsync(RecordBatch batch)
    {
        using var stream = new MemoryStream();
        await using (var writer = await ParquetTableWriter.CreateAsync(stream, batch.Schema))
            await writer.WriteAsync(batch);
        return stream.ToArray();
    }

    private static async Task<RecordBatch> ReadBackAsync(byte[] file)
    {
        await using var reader = await ParquetTableReader.OpenAsync(new MemoryStream(file));
        Assert.Equal(1, reader.RowGroupCount);
        return await reader.ReadRowGroupAsync(0);
    }
}
