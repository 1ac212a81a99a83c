namespace Curation.Grains.Hosting;

/// <summary>
/// Gives memory back to the machine after a burst: a finished job or a refused oversized spec leaves large garbage
/// (spec texts, listings, request buffers) that the GC frees but keeps committed until its next full collection, which
/// an idle silo may never run. A trim is an aggressive full collection (it decommits what it can), on a pool thread,
/// at most once per <see cref="MinimumInterval"/>: a request within the interval of the last trim is folded into one
/// trim at the interval's end, so the last burst is always followed by a trim and a flood of requests costs one.
/// </summary>
public static class MemoryTrim
{
    public static readonly TimeSpan MinimumInterval = TimeSpan.FromSeconds(10);

    private static readonly Lock Gate = new();
    private static long _lastTicks = long.MinValue / 2;
    private static bool _pending;

    /// <summary>Asks for a trim: now, or at the end of the current interval if one ran within it.</summary>
    public static void Request()
    {
        TimeSpan wait;
        lock (Gate)
        {
            if (_pending) return;
            _pending = true;
            wait = TimeSpan.FromMilliseconds(Math.Max(0, _lastTicks + (long)MinimumInterval.TotalMilliseconds - Environment.TickCount64));
        }
        _ = Task.Run(async () =>
        {
            if (wait > TimeSpan.Zero) await Task.Delay(wait).ConfigureAwait(false);
            lock (Gate)
            {
                _pending = false;
                _lastTicks = Environment.TickCount64;
            }
            GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        });
    }
}
