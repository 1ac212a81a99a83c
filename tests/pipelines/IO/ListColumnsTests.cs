using System.Text.Json;
using Curation.Pipelines.IO;
using Curation.Pipelines.Model;
using Curation.Testing;

namespace Curation.Pipelines.Tests.IO;

/// <summary>List columns keep a null list, an empty list and a null element apart, in our reader and in DuckDB's.</summary>
public sealed class ListColumnsTests : IDisposable
{
    private readonly TempDirectory _temp = new("lists");

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task Lists_of_every_element_type_round_trip_through_Parquet_and_DuckDB_reads_them_the_same()
    {
        var batch = RecordBatch.WithSchema(
        [
            new ColumnSchema("id", typeof(string)), new ColumnSchema("words", typeof(List<string?>)), new ColumnSchema("counts", typeof(List<long?>)),
            new ColumnSchema("scores", typeof(List<double?>)), new ColumnSchema("flags", typeof(List<bool?>)),
        ]);
        batch.GetColumn<string>("id").AddRange(["a", "b", "c", "d"]);
        batch.GetColumn<List<string?>?>("words").AddRange([["日本語", "x"], [], null, ["z", null]]);
        batch.GetColumn<List<long?>?>("counts").AddRange([[1, long.MaxValue], null, [], [null, -3]]);
        batch.GetColumn<List<double?>?>("scores").AddRange([[0.5], [null], null, []]);
        batch.GetColumn<List<bool?>?>("flags").AddRange([[], [true, false, null], [false], null]);
        var path = _temp.Combine("lists.parquet");
        await using (var file = File.Create(path))
        await using (var writer = await ParquetTableWriter.CreateAsync(file, batch.Schema))
        {
            await writer.WriteAsync(batch);
            await writer.WriteAsync(batch.Select([3, 0])); // a second row group
        }

        await using (var file = File.OpenRead(path))
        await using (var reader = await ParquetTableReader.OpenAsync(file))
        {
            Assert.Equal(batch.Schema, reader.Schema);
            var groups = new List<RecordBatch>();
            await foreach (var group in reader.ReadAllAsync()) groups.Add(group);
            Assert.Equal(2, groups.Count);
            foreach (var name in new[] { "words", "counts", "scores", "flags" })
            {
                Assert.Equal(Render(batch.Find(name)!), Render(groups[0].Find(name)!));
                Assert.Equal(Render(batch.Select([3, 0]).Find(name)!), Render(groups[1].Find(name)!));
            }
        }

        var rows = DuckDbReference.Query(
            $"SELECT id, to_json(words)::VARCHAR AS words, to_json(counts)::VARCHAR AS counts, to_json(scores)::VARCHAR AS scores, " +
            $"to_json(flags)::VARCHAR AS flags, typeof(counts) AS type FROM read_parquet('{path}') ORDER BY id")[0].EnumerateArray().ToArray();
        string? Get(int row, string column) => rows[row].GetProperty(column).ValueKind == JsonValueKind.Null ? null : rows[row].GetProperty(column).GetString();
        Assert.Equal(6, rows.Length);
        Assert.Equal("BIGINT[]", rows[0].GetProperty("type").GetString());
        Assert.Equal("""["日本語","x"]""", Get(0, "words"));
        Assert.Equal("[]", Get(2, "words"));
        Assert.Null(Get(3, "words"));
        Assert.Equal("""["z",null]""", Get(4, "words"));
        Assert.Equal($"[1,{long.MaxValue}]", Get(0, "counts"));
        Assert.Null(Get(2, "counts"));
        Assert.Equal("[]", Get(3, "counts"));
        Assert.Equal("[null,-3]", Get(4, "counts"));
        Assert.Equal("[null]", Get(2, "scores"));
        Assert.Equal("[true,false,null]", Get(2, "flags"));
    }

    private static string Render(Column column)
    {
        var json = new System.Buffers.ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(json))
        {
            writer.WriteStartArray();
            foreach (var value in column.Values) InputFields.WriteJson(writer, value);
            writer.WriteEndArray();
        }
        return System.Text.Encoding.UTF8.GetString(json.WrittenSpan);
    }
}
