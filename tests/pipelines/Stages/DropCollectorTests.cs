using Curation.Pipelines.Model;
using Curation.Pipelines.Stages;

namespace Curation.Pipelines.Tests.Stages;

/// <summary>
/// <see cref="DropCollector"/>: which rows are kept, the drops file's rows (row order, whatever order the drops were made
/// in), one reason per row (the first), and reason counters added in the order the drops were made.
/// </summary>
public sealed class DropCollectorTests
{
    private static RecordBatch Batch(int rows)
    {
        var batch = RecordBatch.WithSchema(Columns.Core);
        for (var i = 0; i < rows; i++) batch.AddDocument($"d{i}", $"text {i}", "s.jsonl", i);
        return batch;
    }

    [Fact]
    public void Rows_dropped_out_of_order_are_written_in_row_order_with_their_first_reason()
    {
        var batch = Batch(200);
        var drops = new DropCollector(batch, "stage_x");
        drops.Drop(150, "b", "second");
        drops.Drop(3, "a");
        drops.Drop(64, "a", twinId: "d1");
        drops.Drop(150, "c", "ignored: already dropped");
        drops.Drop(199, "b");

        Assert.Equal(4, drops.Count);
        Assert.True(drops.IsDropped(64));
        Assert.False(drops.IsDropped(63));
        Assert.False(drops.IsDropped(500));
        Assert.Equal(Enumerable.Range(0, 200).Except([3, 64, 150, 199]), drops.KeptRows());

        var written = drops.ToDropsBatch();
        Assert.Equal(["d3", "d64", "d150", "d199"], written.Ids.List);
        Assert.Equal(["a", "a", "b", "b"], written.GetColumn<string>(DropsSchema.Reason).List);
        Assert.Equal(["", "", "second", ""], written.GetColumn<string>(DropsSchema.Detail).List);
        Assert.Equal(["", "d1", "", ""], written.GetColumn<string>(DropsSchema.TwinId).List);
        Assert.All(written.GetColumn<string>(DropsSchema.Stage).List, s => Assert.Equal("stage_x", s));

        var counters = new Dictionary<string, long> { ["z"] = 1 };
        drops.CountReasons(counters);
        Assert.Equal([("z", 1L), ("b", 2L), ("a", 2L)], counters.Select(c => (c.Key, c.Value)));
    }

    [Fact]
    public void No_drop_keeps_every_row_and_writes_an_empty_drops_batch()
    {
        var drops = new DropCollector(Batch(70), "s");
        Assert.Equal(0, drops.Count);
        Assert.Equal(Enumerable.Range(0, 70), drops.KeptRows());
        Assert.Equal(0, drops.ToDropsBatch().RowCount);
        Assert.Throws<ArgumentOutOfRangeException>(() => drops.Drop(-1, "r"));
    }
}
