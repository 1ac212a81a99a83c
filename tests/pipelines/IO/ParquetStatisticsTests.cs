using System.Text;
using Curation.Pipelines.IO;
using Curation.Pipelines.Model;
using Curation.Testing;
using Parquet;

namespace Curation.Pipelines.Tests.IO;

/// <summary>
/// String columns are written without min/max statistics (Parquet.Net 6.1 would copy the smallest and largest document
/// eight times into the file): a big document costs its compressed bytes once, and every reader still sees UTF-8 strings.
/// </summary>
public sealed class ParquetStatisticsTests(Xunit.Abstractions.ITestOutputHelper log) : IDisposable
{
    private readonly TempDirectory _temp = new("parquet-stats");

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task A_big_text_costs_its_bytes_once_and_reads_back_the_same_in_our_reader_and_DuckDB()
    {
        var seed = Environment.TickCount;
        log.WriteLine($"seed {seed}");
        var random = new Random(seed);
        // 4 MiB of characters Snappy cannot shrink much, with CJK and a surrogate pair in it.
        var big = new StringBuilder();
        while (big.Length < 4 << 20) big.Append((char)('!' + random.Next(90))).Append(random.Next(50) == 0 ? "日本語😀" : "");
        var text = big.ToString();
        var batch = RecordBatch.WithSchema([new ColumnSchema("id", typeof(string)), new ColumnSchema("text", typeof(string)), new ColumnSchema("note", typeof(string))]);
        batch.GetColumn<string>("id").AddRange(["b", "a", "c"]);
        batch.GetColumn<string>("text").AddRange([text, "", "ไทย short"]);
        batch.GetColumn<string>("note").AddRange([null!, "x", null!]);
        var path = _temp.Combine("big.parquet");
        await using (var file = File.Create(path))
        await using (var writer = await ParquetTableWriter.CreateAsync(file, batch.Schema))
            await writer.WriteAsync(batch);

        var utf8 = Encoding.UTF8.GetByteCount(text);
        var size = new FileInfo(path).Length;
        log.WriteLine($"text {utf8:N0} bytes (UTF-8), file {size:N0} bytes");
        Assert.True(size < utf8 + (64 << 10), $"file {size:N0} bytes for {utf8:N0} bytes of text: the text is in it more than once");

        await using (var file = File.OpenRead(path))
        {
            await using var parquet = await ParquetReader.CreateAsync(file);
            var fields = parquet.Schema.GetDataFields();
            // Declared UTF-8 strings (Parquet.Net 6 reports them as character memory), not binary.
            Assert.All(fields, f => Assert.Equal(typeof(ReadOnlyMemory<char>), f.ClrType));
            using var group = parquet.OpenRowGroupReader(0);
            foreach (var field in fields)
            {
                var stats = group.GetStatistics(field);
                Assert.NotNull(stats);
                Assert.Null(stats.MinValue);
                Assert.Null(stats.MaxValue);
            }
            Assert.Equal(2, group.GetStatistics(fields.Single(f => f.Name == "note"))!.NullCount);
        }
        await using (var file = File.OpenRead(path))
        await using (var reader = await ParquetTableReader.OpenAsync(file))
        {
            var read = await reader.ReadRowGroupAsync(0);
            Assert.Equal(batch.GetColumn<string>("id").List, read.GetColumn<string>("id").List);
            Assert.Equal(batch.GetColumn<string>("text").List, read.GetColumn<string>("text").List);
            Assert.Equal<string?>([null, "x", null], read.GetColumn<string>("note").List);
        }

        var results = DuckDbReference.Query(
            $"SELECT id, typeof(text) AS type, length(text)::INTEGER AS chars, sha256(text) AS sha, note FROM read_parquet('{path}') ORDER BY id",
            $"SELECT path_in_schema AS col, stats_min AS lo, stats_max AS hi, stats_min_value AS lov, stats_max_value AS hiv FROM parquet_metadata('{path}')");
        var rows = results[0].EnumerateArray().ToArray();
        Assert.Equal(["a", "b", "c"], rows.Select(r => r.GetProperty("id").GetString()));
        Assert.All(rows, r => Assert.Equal("VARCHAR", r.GetProperty("type").GetString()));
        Assert.Equal(text.EnumerateRunes().Count(), rows[1].GetProperty("chars").GetInt64());
        Assert.Equal(Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes(text))), rows[1].GetProperty("sha").GetString());
        Assert.Equal("x", rows[0].GetProperty("note").GetString());
        var columns = results[1].EnumerateArray().ToArray();
        Assert.Equal(3, columns.Length);
        foreach (var column in columns)
            foreach (var stat in new[] { "lo", "hi", "lov", "hiv" })
                Assert.Equal(System.Text.Json.JsonValueKind.Null, column.GetProperty(stat).ValueKind);
    }
}
