namespace Curation.Pipelines.Execution;

/// <summary>
/// Gives a big record's garbage back right after the task that handled it. A task copies a record several times
/// (its string, its UTF-8, Parquet pages, a stage's own buffers): each copy of a record of 85 KB or more lives on the
/// large object heap, which only a full collection frees, and the background GC runs those late, so the copies of one
/// task are still committed while the next task makes its own and memory piles up across tasks (a 16 MiB record
/// peaked at 0.81 GiB, a 60 MiB one at 2.5 GiB). The shard readers and writers report each text they read or write
/// (<see cref="Saw"/>); when a task's largest was at least <see cref="Threshold"/>, the executor runs one blocking,
/// compacting, aggressive full collection after the task's outputs are committed. The trigger is the task's own data,
/// never timing or the silo's count, and a collection changes no output; tasks of ordinary documents never trigger it.
/// From <see cref="CollectWithinTaskFrom"/> a task also collects while it runs, when a reader or writer reports such a
/// record and the task has allocated at least <see cref="PiledUpFactor"/> × the record since its last collection: the
/// copies it made before (Parquet pages, the string a stage replaced, a stage's scratch buffers) are garbage by then,
/// and collecting before the next copy keeps the task's peak near its live copies instead of all it allocated.
/// </summary>
public static class LargeRecordRelease
{
    /// <summary>The record size (UTF-8 bytes, or characters for a text read back) from which a task ends with a collection.</summary>
    public const long Threshold = 4L * 1024 * 1024;

    /// <summary>The record size from which a task also collects while it runs (see the class summary).</summary>
    public const long CollectWithinTaskFrom = 16L * 1024 * 1024;

    /// <summary>How many times the record a task must have allocated since its last collection before it collects again.</summary>
    public const int PiledUpFactor = 2;

    private static readonly AsyncLocal<Tracker?> Current = new();

    /// <summary>Starts tracking the largest record of the task running in this async flow (and the flows it starts).</summary>
    public static Tracker Begin()
    {
        var tracker = new Tracker();
        Current.Value = tracker;
        return tracker;
    }

    /// <summary>
    /// A record of <paramref name="bytes"/> passed through the current task (no-op outside a task); from
    /// <see cref="CollectWithinTaskFrom"/>, collects first when the task's garbage has piled up.
    /// </summary>
    public static void Saw(long bytes)
    {
        if (bytes < Threshold) return;
        if (Current.Value is not { } tracker) return;
        tracker.Note(bytes);
        if (bytes >= CollectWithinTaskFrom) tracker.CollectWhenPiledUp(bytes);
    }

    /// <summary>One blocking, compacting, aggressive full collection (large object heap included).</summary>
    private static void Collect() => GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);

    /// <summary>The largest record a task saw; disposing it collects when that was at least <see cref="Threshold"/>.</summary>
    public sealed class Tracker : IDisposable
    {
        private long _largest;
        private long _allocatedAtCollection = GC.GetTotalAllocatedBytes(precise: true);

        /// <summary>Collections this task ran while it ran (not counting the one at its end).</summary>
        public int CollectionsWithin { get; private set; }

        /// <summary>The largest record seen so far, counted only from <see cref="Threshold"/> up (0 below).</summary>
        public long Largest => Interlocked.Read(ref _largest);

        internal void Note(long bytes)
        {
            var seen = Interlocked.Read(ref _largest);
            while (bytes > seen)
            {
                var previous = Interlocked.CompareExchange(ref _largest, bytes, seen);
                if (previous == seen) return;
                seen = previous;
            }
        }

        internal void CollectWhenPiledUp(long bytes)
        {
            // The process-wide counter: other tasks' garbage counts too, which only makes a collection come sooner.
            if (GC.GetTotalAllocatedBytes(precise: true) - Interlocked.Read(ref _allocatedAtCollection) < PiledUpFactor * bytes) return;
            Collect();
            CollectionsWithin++;
            Interlocked.Exchange(ref _allocatedAtCollection, GC.GetTotalAllocatedBytes(precise: true));
        }

        public void Dispose()
        {
            if (Largest >= Threshold) Collect();
        }
    }
}
