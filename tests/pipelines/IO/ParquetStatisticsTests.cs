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

    [Fact]
    public async Task A_column_chunk_with_a_value_of_16_MiB_or_more_is_written_uncompressed_and_reads_back_the_same()
    {
        var seed = Environment.TickCount;
        log.WriteLine($"seed {seed}");
        var random = new Random(seed);
        var big = new StringBuilder();
        while (big.Length < (16 << 20) + 1000)
            big.Append((char)('a' + random.Next(26))).Append(random.Next(1000) == 0 ? " 日本語 😀\n" : "");
        var text = big.ToString();
        Assert.True(Encoding.UTF8.GetByteCount(text) >= Utf8StringColumn.UncompressedFrom);
        var path = _temp.Combine("huge.parquet");
        var schema = new[] { new ColumnSchema("id", typeof(string)), new ColumnSchema("text", typeof(string)) };
        await using (var file = File.Create(path))
        await using (var writer = await ParquetTableWriter.CreateAsync(file, schema))
        {
            var first = RecordBatch.WithSchema(schema);
            first.GetColumn<string>("id").AddRange(["big", "small"]);
            first.GetColumn<string>("text").AddRange([text, "short ไทย"]);
            await writer.WriteAsync(first);
            var second = RecordBatch.WithSchema(schema); // an ordinary row group after it: compressed again
            second.GetColumn<string>("id").AddRange(["next"]);
            second.GetColumn<string>("text").AddRange(["ordinary text"]);
            await writer.WriteAsync(second);
        }

        await using (var file = File.OpenRead(path))
        await using (var reader = await ParquetTableReader.OpenAsync(file))
        {
            var read = await reader.ReadRowGroupAsync(0);
            Assert.Equal(["big", "small"], read.GetColumn<string>("id").List);
            Assert.Equal(text, read.GetColumn<string>("text").List[0]);
            Assert.Equal("short ไทย", read.GetColumn<string>("text").List[1]);
            Assert.Equal(["ordinary text"], (await reader.ReadRowGroupAsync(1)).GetColumn<string>("text").List);
        }
        var results = DuckDbReference.Query(
            $"SELECT id, sha256(text) AS sha FROM read_parquet('{path}') ORDER BY id",
            $"SELECT row_group_id::INTEGER AS g, path_in_schema AS col, compression FROM parquet_metadata('{path}') ORDER BY g, col");
        Assert.Equal(Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes(text))),
            results[0].EnumerateArray().First().GetProperty("sha").GetString());
        var codecs = results[1].EnumerateArray().Select(c => $"{c.GetProperty("g")}/{c.GetProperty("col").GetString()}: {c.GetProperty("compression").GetString()}").ToArray();
        log.WriteLine(string.Join("; ", codecs));
        Assert.Equal(["0/id: SNAPPY", "0/text: UNCOMPRESSED", "1/id: SNAPPY", "1/text: SNAPPY"], codecs);
    }
}
