using System.Collections.Concurrent;
using Curation.Pipelines.Execution;
using Curation.Pipelines.Storage;

namespace Curation.Grains.Workers;

/// <summary>Per-silo cache of job contexts (spec + plan), loaded from the store once per job instead of once per task.</summary>
public sealed class JobContextCache(IStoreResolver stores)
{
    private readonly ConcurrentDictionary<string, Lazy<Task<JobContext>>> _jobs = new();

    public Task<JobContext> GetAsync(string jobId, CancellationToken cancellationToken = default)
    {
        var entry = _jobs.GetOrAdd(jobId, id => new Lazy<Task<JobContext>>(() => JobContext.LoadAsync(id, stores, CancellationToken.None)));
        if (entry.Value.IsFaulted) _jobs.TryRemove(new KeyValuePair<string, Lazy<Task<JobContext>>>(jobId, entry));
        return entry.Value.WaitAsync(cancellationToken);
    }
}

/// <summary>
/// Bounds how many tasks run at once on this silo (default: one per core), whatever the number of task grains
/// placed here: CPU-bound work beyond the cores only adds memory.
/// </summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001", Justification = "A silo-lifetime singleton: its semaphore lives as long as the process.")]
public sealed class TaskSlots(int slots)
{
    private readonly SemaphoreSlim _semaphore = new(slots, slots);

    public int Capacity => slots;

    public int InUse => slots - _semaphore.CurrentCount;

    public async Task<IDisposable> AcquireAsync(CancellationToken cancellationToken)
    {
        await _semaphore.WaitAsync(cancellationToken).ConfigureAwait(false);
        return new Release(_semaphore);
    }

    private sealed class Release(SemaphoreSlim semaphore) : IDisposable
    {
        private int _released;
        public void Dispose() { if (Interlocked.Exchange(ref _released, 1) == 0) semaphore.Release(); }
    }
}
