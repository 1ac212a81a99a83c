using Curation.Pipelines.Execution;
using Curation.Pipelines.IO;

namespace Curation.Pipelines.Tests.Execution;

public class LargeRecordReleaseTests
{
    [Fact]
    public async Task A_task_tracks_its_largest_record_from_the_threshold_up_across_the_flows_it_starts()
    {
        using var tracker = LargeRecordRelease.Begin();
        LargeRecordRelease.Saw(LargeRecordRelease.Threshold - 1); // ordinary records are not counted
        Assert.Equal(0, tracker.Largest);
        await Task.Run(() => LargeRecordRelease.Saw(LargeRecordRelease.Threshold + 5)); // a stage's pool thread
        LargeRecordRelease.Saw(LargeRecordRelease.Threshold);
        Assert.Equal(LargeRecordRelease.Threshold + 5, tracker.Largest);
    }

    [Fact]
    public async Task Each_task_has_its_own_tracker_and_outside_a_task_nothing_is_tracked()
    {
        LargeRecordRelease.Saw(LargeRecordRelease.Threshold * 2); // no task: a no-op
        var first = Task.Run(() =>
        {
            using var tracker = LargeRecordRelease.Begin();
            LargeRecordRelease.Saw(LargeRecordRelease.Threshold * 3);
            return tracker.Largest;
        });
        var second = Task.Run(() =>
        {
            using var tracker = LargeRecordRelease.Begin();
            return tracker.Largest;
        });
        Assert.Equal(LargeRecordRelease.Threshold * 3, await first);
        Assert.Equal(0, await second);
    }

    [Fact]
    public void Disposing_a_tracker_that_saw_a_big_record_runs_a_full_collection_and_frees_the_large_garbage()
    {
        var before = GC.CollectionCount(GC.MaxGeneration);
        var garbage = TaskWithABigRecord();
        Assert.True(GC.CollectionCount(GC.MaxGeneration) > before);
        Assert.False(garbage.IsAlive);
    }

    [Fact]
    public void A_task_with_a_record_of_16_MiB_or_more_collects_while_it_runs_once_its_garbage_has_piled_up()
    {
        var record = LargeRecordRelease.CollectWithinTaskFrom;
        using var tracker = LargeRecordRelease.Begin();
        LargeRecordRelease.Saw(record - 1); // below: tracked, never collected within the task
        var garbage = Copy((int)(LargeRecordRelease.PiledUpFactor * record) + (1 << 20)); // a margin over the threshold
        LargeRecordRelease.Saw(record - 1);
        Assert.Equal(0, tracker.CollectionsWithin);
        var before = GC.CollectionCount(GC.MaxGeneration);
        LargeRecordRelease.Saw(record); // 2 × the record allocated since the task began: collect before the next copy
        Assert.Equal(1, tracker.CollectionsWithin);
        Assert.True(GC.CollectionCount(GC.MaxGeneration) > before);
        Assert.False(garbage.IsAlive);
        LargeRecordRelease.Saw(record); // nothing piled up since: no second collection
        Assert.Equal(1, tracker.CollectionsWithin);
    }

    /// <summary>A task that made a big record's copy and dropped it; what it returns does not hold the copy.</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private static WeakReference TaskWithABigRecord()
    {
        using var tracker = LargeRecordRelease.Begin();
        var garbage = Copy((int)LargeRecordRelease.Threshold);
        LargeRecordRelease.Saw(LargeRecordRelease.Threshold);
        return garbage;
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private static WeakReference Copy(int bytes) => new(new byte[bytes]);

    [Theory]
    [InlineData(16, true)]
    [InlineData(1024 * 1024, true)]
    [InlineData(1024 * 1024 + 1, false)]
    [InlineData(64 * 1024 * 1024, false)]
    public void Scratch_buffers_come_from_the_shared_pool_up_to_1_MiB_and_are_allocated_at_their_size_above(int bytes, bool pooled)
    {
        Assert.Equal(pooled, ScratchArray.IsPooled<byte>(bytes));
        var buffer = ScratchArray.Rent<byte>(bytes);
        Assert.True(buffer.Length >= bytes);
        if (!pooled) Assert.Equal(bytes, buffer.Length); // exact: the pool would round up to a power of two
        ScratchArray.Return(buffer);
        Assert.Equal(ScratchArray.IsPooled<char>(bytes / 2), bytes / 2 * sizeof(char) <= ScratchArray.PooledLimitBytes);
    }
}
