using Curation.Pipelines.IO;
using Curation.Pipelines.Model;
using Curation.Pipelines.Storage;
using Curation.Testing;

namespace Curation.Pipelines.Tests.IO;

/// <summary>
/// Typed shuffle tables: a row record declares its columns once; what it writes is the same file the column API
/// writes, it reads back the same rows (one row group at a time), and a file of another schema fails naming the object
/// and the column.
/// </summary>
public sealed class ShuffleTableTests : IDisposable
{
    private readonly TempDirectory _temp = new("shuffle-table");
    private readonly LocalFolderStore _store;

    public ShuffleTableTests() => _store = new LocalFolderStore(_temp.Combine("data"));

    public void Dispose() => _temp.Dispose();

    private readonly record struct SampleRow(int Shard, long Row, string Id, float MaxSimilarity, double Weight, bool Kept,
        [ShuffleColumn("embedding")] byte[] Vector, long? Count);

    private readonly record struct NarrowRow(string Id, long Row);

    private readonly record struct WrongTypeRow(string Id, int Row);

    private static SampleRow Sample(int i) => new(i % 3, i * 10L, $"doc-{i}", i / 7f, i * 0.25, i % 2 == 0, [(byte)i, (byte)(i + 1)], i % 4 == 0 ? null : i);

    [Fact]
    public void The_schema_is_the_records_parameters_in_order_snake_case_or_named()
    {
        var schema = ShuffleTable.Schema<SampleRow>();
        Assert.Equal(["shard", "row", "id", "max_similarity", "weight", "kept", "embedding", "count"], schema.Select(c => c.Name));
        Assert.Equal([typeof(int), typeof(long), typeof(string), typeof(float), typeof(double), typeof(bool), typeof(byte[]), typeof(long?)],
            schema.Select(c => c.Type));
    }

    [Fact]
    public async Task Rows_round_trip_and_the_file_is_byte_identical_to_the_column_api()
    {
        var rows = new ShuffleRows<SampleRow>();
        for (var i = 0; i < 100; i++) rows.Add(Sample(i));
        await ShuffleTable.WriteAsync(_store, "typed.parquet", rows, new Dictionary<string, string> { ["k"] = "v" }, default);

        // The same table built column by column, as the stages did before, written with the same writer.
        var batch = RecordBatch.WithSchema(
        [
            new("shard", typeof(int)), new("row", typeof(long)), new(Columns.Id, typeof(string)), new("max_similarity", typeof(float)),
            new("weight", typeof(double)), new("kept", typeof(bool)), new("embedding", typeof(byte[])), new("count", typeof(long?)),
        ]);
        for (var i = 0; i < 100; i++)
        {
            var s = Sample(i);
            batch.GetColumn<int>("shard").Add(s.Shard);
            batch.GetColumn<long>("row").Add(s.Row);
            batch.Ids.Add(s.Id);
            batch.GetColumn<float>("max_similarity").Add(s.MaxSimilarity);
            batch.GetColumn<double>("weight").Add(s.Weight);
            batch.GetColumn<bool>("kept").Add(s.Kept);
            batch.GetColumn<byte[]>("embedding").Add(s.Vector);
            batch.GetColumn<long?>("count").Add(s.Count);
        }
        await using (var spool = SpoolFile.Create())
        {
            await using (var writer = await ParquetTableWriter.CreateAsync(spool.Stream, batch.Schema, new Dictionary<string, string> { ["k"] = "v" }))
                await writer.WriteAsync(batch);
            await spool.CommitOnceAsync(_store, "columns.parquet");
        }
        Assert.Equal(await _store.ReadBytesAsync("columns.parquet"), await _store.ReadBytesAsync("typed.parquet"));

        var back = await ShuffleTable.ReadAllAsync<SampleRow>(_store, "typed.parquet", default);
        Assert.Equal(100, back.Count);
        for (var i = 0; i < 100; i++)
        {
            var (expected, actual) = (Sample(i), back[i]);
            Assert.Equal(expected with { Vector = [] }, actual with { Vector = [] });
            Assert.Equal(expected.Vector, actual.Vector);
        }

        // A projection reads only its columns.
        var narrow = await ShuffleTable.ReadAllAsync<NarrowRow>(_store, "typed.parquet", default);
        Assert.Equal(Enumerable.Range(0, 100).Select(i => new NarrowRow($"doc-{i}", i * 10L)), narrow);
    }

    [Fact]
    public async Task A_table_is_streamed_one_row_group_at_a_time()
    {
        await using (var writer = await RoutedTableWriter.CreateAsync(ShuffleTable.Schema<NarrowRow>(), default))
        {
            for (var group = 0; group < 3; group++)
            {
                var rows = new ShuffleRows<NarrowRow>();
                for (var i = 0; i < 5; i++) rows.Add(new NarrowRow($"g{group}-{i}", i));
                await writer.WriteAsync(group % 2, rows.Batch, default);
            }
            await writer.CommitOnceAsync(_store, "routed.parquet", default);
        }
        // A routed object is one Parquet segment per target run, not one Parquet file: each target streams its row groups.
        var groups = new List<int>();
        var target0 = new List<string>();
        await foreach (var rows in ShuffleTable.ReadRoutedAsync<NarrowRow>(_store, "routed.parquet", 0, default))
        {
            groups.Add(rows.Count);
            target0.AddRange(rows.Select(r => r.Id));
        }
        await foreach (var rows in ShuffleTable.ReadRoutedAsync<NarrowRow>(_store, "routed.parquet", 1, default)) groups.Add(rows.Count);
        Assert.Equal([5, 5, 5], groups);
        Assert.Equal(Enumerable.Range(0, 5).Select(i => $"g0-{i}").Concat(Enumerable.Range(0, 5).Select(i => $"g2-{i}")), target0);

        await ShuffleTable.WriteRoutedAsync(_store, "routed2.parquet",
            [KeyValuePair.Create(4, Rows(new NarrowRow("b", 2))), KeyValuePair.Create(1, Rows(new NarrowRow("a", 1)))], default);
        var target4 = new List<NarrowRow>();
        await foreach (var rows in ShuffleTable.ReadRoutedAsync<NarrowRow>(_store, "routed2.parquet", 4, default)) target4.AddRange(rows);
        Assert.Equal([new NarrowRow("b", 2)], target4);
        await foreach (var rows in ShuffleTable.ReadRoutedAsync<NarrowRow>(_store, "routed2.parquet", 3, default)) Assert.Fail("target 3 has no rows");

        static ShuffleRows<NarrowRow> Rows(params NarrowRow[] rows)
        {
            var table = new ShuffleRows<NarrowRow>();
            foreach (var row in rows) table.Add(row);
            return table;
        }
    }

    [Fact]
    public async Task A_file_of_another_schema_fails_naming_the_object_and_the_column()
    {
        var rows = new ShuffleRows<NarrowRow>();
        rows.Add(new NarrowRow("x", 1));
        await ShuffleTable.WriteAsync(_store, "jobs/j/stage/narrow.parquet", rows, null, default);

        var wrongType = await Assert.ThrowsAsync<InvalidDataException>(() => ShuffleTable.ReadAllAsync<WrongTypeRow>(_store, "jobs/j/stage/narrow.parquet", default));
        Assert.Contains("jobs/j/stage/narrow.parquet", wrongType.Message);
        Assert.Contains("'row'", wrongType.Message);
        Assert.Contains("Int64", wrongType.Message);

        var missing = await Assert.ThrowsAsync<InvalidDataException>(() => ShuffleTable.ReadAllAsync<SampleRow>(_store, "jobs/j/stage/narrow.parquet", default));
        Assert.Contains("jobs/j/stage/narrow.parquet", missing.Message);
        Assert.Contains("'shard'", missing.Message);

        // A batch already in memory is checked the same way.
        var batch = RecordBatch.WithSchema([new(Columns.Id, typeof(string))]);
        batch.Ids.Add("y");
        var inMemory = Assert.Throws<InvalidDataException>(() => ShuffleTable.Rows<NarrowRow>(batch, "drops/00001.parquet"));
        Assert.Contains("drops/00001.parquet", inMemory.Message);
        Assert.Contains("'row'", inMemory.Message);
    }
}
