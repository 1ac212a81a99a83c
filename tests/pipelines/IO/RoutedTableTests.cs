using System.Buffers.Binary;
using Curation.Pipelines.IO;
using Curation.Pipelines.Model;
using Curation.Pipelines.Storage;
using Curation.Testing;

namespace Curation.Pipelines.Tests.IO;

/// <summary>
/// Routed shuffle objects (one per sender, one Parquet segment per target, a side index at the end): each target reads
/// back exactly its rows in the order written, a target with nothing addressed to it reads nothing, a reader allocates
/// for its own rows and not for the number of targets in the object, and a short, corrupt or older-format object fails
/// naming the object.
/// </summary>
public sealed class RoutedTableTests : IDisposable
{
    private static readonly IReadOnlyList<ColumnSchema> Schema = [new("value", typeof(long)), new(Columns.Text, typeof(string))];

    private readonly TempDirectory _temp = new("routed-table");
    private readonly LocalFolderStore _store;

    public RoutedTableTests() => _store = new LocalFolderStore(_temp.Combine("data"));

    public void Dispose() => _temp.Dispose();

    private static RecordBatch Batch(long first, int rows)
    {
        var batch = RecordBatch.WithSchema(Schema);
        for (var i = 0; i < rows; i++)
        {
            batch.GetColumn<long>("value").Add(first + i);
            batch.GetColumn<string>(Columns.Text).Add($"row {first + i} 行");
        }
        return batch;
    }

    private async Task<List<List<long>>> ReadAsync(string key, int target)
    {
        var batches = new List<List<long>>();
        await foreach (var batch in RoutedTable.ReadAsync(_store, key, target, default))
        {
            Assert.Equal(batch.GetColumn<long>("value").List.Select(v => $"row {v} 行"), batch.GetColumn<string>(Columns.Text).List);
            batches.Add(batch.GetColumn<long>("value").List);
        }
        return batches;
    }

    [Fact]
    public async Task Each_target_reads_its_rows_in_the_order_written_and_an_empty_target_reads_nothing()
    {
        await using (var writer = await RoutedTableWriter.CreateAsync(Schema, default))
        {
            await writer.WriteAsync(3, Batch(0, 5), default);
            await writer.WriteAsync(3, Batch(100, 2), default);   // the same segment, a second row group
            await writer.WriteAsync(7, Batch(0, 0), default);     // empty: nothing written
            await writer.WriteAsync(1, Batch(200, 3), default);
            await writer.WriteAsync(3, Batch(300, 1), default);   // target 3 again: another segment
            Assert.Equal(11, writer.Rows);
            await writer.CommitOnceAsync(_store, "jobs/j/shuffle/shard-00000.parquet", default);
        }
        const string Key = "jobs/j/shuffle/shard-00000.parquet";
        Assert.Equal([[0, 1, 2, 3, 4], [100, 101], [300]], await ReadAsync(Key, 3));
        Assert.Equal([[200, 201, 202]], await ReadAsync(Key, 1));
        Assert.Empty(await ReadAsync(Key, 7));
        Assert.Empty(await ReadAsync(Key, 0));
        Assert.Empty(await ReadAsync(Key, 1_000_000));

        // RoutedTable.WriteAsync: target order, empty targets left out, every segment readable on its own.
        await RoutedTable.WriteAsync(_store, "groups.parquet", Schema,
            [KeyValuePair.Create(9, Batch(90, 2)), KeyValuePair.Create(2, Batch(20, 1)), KeyValuePair.Create(5, Batch(0, 0))], default);
        Assert.Equal([[90, 91]], await ReadAsync("groups.parquet", 9));
        Assert.Equal([[20]], await ReadAsync("groups.parquet", 2));
        Assert.Empty(await ReadAsync("groups.parquet", 5));
    }

    [Fact]
    public async Task A_sender_with_no_rows_writes_only_the_index_trailer_and_every_target_reads_nothing()
    {
        await RoutedTable.WriteAsync(_store, "empty.parquet", Schema, [KeyValuePair.Create(4, Batch(0, 0))], default);
        Assert.Equal(RoutedIndex.TrailerBytes, (await _store.GetInfoAsync("empty.parquet"))!.Size);
        foreach (var target in new[] { 0, 4, 159 }) Assert.Empty(await ReadAsync("empty.parquet", target));
    }

    /// <summary>Bytes one read of <paramref name="target"/> allocates (the second of two rounds: the first warms pools and code).</summary>
    private async Task<long> AllocatedReadingAsync(string key, int target, int expectedRows)
    {
        long allocated = 0;
        for (var round = 0; round < 2; round++)
        {
            var thread = Environment.CurrentManagedThreadId;
            var before = GC.GetAllocatedBytesForCurrentThread();
            var rows = 0;
            await foreach (var batch in RoutedTable.ReadAsync(_store, key, target, default)) rows += batch.RowCount;
            allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            // A local folder store's reads complete in place: every allocation of the read was on this thread.
            Assert.Equal(thread, Environment.CurrentManagedThreadId);
            Assert.Equal(expectedRows, rows);
        }
        return allocated;
    }

    [Fact]
    public async Task A_reader_allocates_for_its_own_rows_not_for_the_number_of_targets()
    {
        // Two senders' objects, 20 and 2,000 targets of 4 rows each. The old layout (one Parquet file, one row group per
        // target) made every reader decode the whole footer: one row-group entry per target, ~1.2 MiB at 160 targets.
        async Task WriteAsync(string key, int targets)
        {
            await using var writer = await RoutedTableWriter.CreateAsync(Schema, default);
            for (var target = 0; target < targets; target++) await writer.WriteAsync(target * 2, Batch(target * 10L, 4), default);
            await writer.CommitOnceAsync(_store, key, default);
        }
        await WriteAsync("few.parquet", 20);
        await WriteAsync("many.parquet", 2_000);

        var emptyFew = await AllocatedReadingAsync("few.parquet", 11, 0);
        var emptyMany = await AllocatedReadingAsync("many.parquet", 11, 0);
        var rowsFew = await AllocatedReadingAsync("few.parquet", 10, 4);
        var rowsMany = await AllocatedReadingAsync("many.parquet", 10, 4);
        var detail = $"nothing addressed: {emptyFew:N0} B of 20 targets, {emptyMany:N0} B of 2,000; 4 rows: {rowsFew:N0} B, {rowsMany:N0} B";
        // 100 × the targets: the same bytes but for the index's 28 bytes an entry, read through one pooled buffer.
        Assert.True(emptyMany - emptyFew < 8 * 1024, detail);
        Assert.True(rowsMany - rowsFew < 8 * 1024, detail);
        // Nothing addressed to the reader: the open (a file stream and its 64 KiB buffer), the trailer and the index, no Parquet at all.
        Assert.True(emptyMany < 96 * 1024, detail);
    }

    private async Task<byte[]> BytesAsync(string key)
    {
        await using var input = await _store.OpenReadAsync(key);
        using var copy = new MemoryStream();
        await input.CopyToAsync(copy);
        return copy.ToArray();
    }

    private async Task<string> FailsAsync(byte[] bytes, int target = 1)
    {
        const string Key = "jobs/j/03-near_dedup/candidates/part-0007.parquet";
        await _store.WriteAsync(Key, (s, ct) => s.WriteAsync(bytes, ct).AsTask(), WriteCondition.Overwrite);
        var e = await Assert.ThrowsAsync<InvalidDataException>(() => ReadAsync(Key, target));
        Assert.Contains(Key, e.Message, StringComparison.Ordinal);
        return e.Message;
    }

    [Fact]
    public async Task A_short_corrupt_or_older_object_fails_naming_the_object()
    {
        await using (var writer = await RoutedTableWriter.CreateAsync(Schema, default))
        {
            await writer.WriteAsync(1, Batch(0, 3), default);
            await writer.WriteAsync(2, Batch(10, 3), default);
            await writer.CommitOnceAsync(_store, "good.parquet", default);
        }
        var good = await BytesAsync("good.parquet");
        var trailer = good.Length - RoutedIndex.TrailerBytes;
        var entry0 = trailer - 2 * RoutedIndex.EntryBytes;
        byte[] Edit(Action<byte[]> edit)
        {
            var copy = good.ToArray();
            edit(copy);
            return copy;
        }

        Assert.Contains("shorter than the index trailer", await FailsAsync(good[..10]));
        Assert.Contains("magic", await FailsAsync(good[..^3]));
        Assert.Contains("format 7", await FailsAsync(Edit(b => BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(trailer + 4), 7))));
        Assert.Contains("do not fit", await FailsAsync(Edit(b => BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(trailer), 1 << 30))));
        Assert.Contains("index entry 0", await FailsAsync(Edit(b => BinaryPrimitives.WriteInt64LittleEndian(b.AsSpan(entry0 + 4), 5))));
        Assert.Contains("index entry 1", await FailsAsync(Edit(b => BinaryPrimitives.WriteInt64LittleEndian(b.AsSpan(entry0 + 28 + 12), long.MaxValue))));
        Assert.Contains("index entry 1", await FailsAsync(Edit(b => BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(entry0 + 28), -2))));
        // The last segment one byte short: the segments end before the index starts.
        var length1 = BinaryPrimitives.ReadInt64LittleEndian(good.AsSpan(entry0 + 28 + 12));
        Assert.Contains("end at byte", await FailsAsync(Edit(b => BinaryPrimitives.WriteInt64LittleEndian(b.AsSpan(entry0 + 28 + 12), length1 - 1))));
        Assert.Contains("index entry says 4", await FailsAsync(Edit(b => BinaryPrimitives.WriteInt64LittleEndian(b.AsSpan(entry0 + 20), 4))));
        // Segment 0's own Parquet tail ("PAR1") overwritten.
        var length0 = (int)BinaryPrimitives.ReadInt64LittleEndian(good.AsSpan(entry0 + 12));
        Assert.Contains("not a readable Parquet file", await FailsAsync(Edit(b => b.AsSpan(length0 - 4, 4).Clear())));

        // Format 1, an older release's routed shuffle: one Parquet file (a target list in its metadata). Refused, never misread.
        var rows = new ShuffleRows<OldRow>();
        rows.Add(new OldRow(1));
        await ShuffleTable.WriteAsync(_store, "old.parquet", rows, new Dictionary<string, string> { ["curation.targets"] = "1" }, default);
        Assert.Contains("format 1", await FailsAsync(await BytesAsync("old.parquet")));
    }

    private readonly record struct OldRow(long Value);
}
