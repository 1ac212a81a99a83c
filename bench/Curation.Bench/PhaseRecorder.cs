using System.Diagnostics;
using Curation.Pipelines.Execution;

namespace Curation.Bench;

/// <summary>
/// Runs a job with the coordinators' <see cref="JobRunner"/> in this process and records each phase: its wall time (from
/// the end of the phase before, so a converged round's check and the committed-task listing count), the process CPU
/// and allocations over it, and its tasks' stats in task order. With <c>peaks</c> it also records each phase's peak
/// resident set (the kernel's own high-water mark, VmHWM, reset at the phase's start through
/// <c>/proc/self/clear_refs</c>; where that cannot be written, the largest working set sampled every 20 ms) and its
/// peak managed heap (sampled every 20 ms).
/// </summary>
public sealed class PhaseRecorder : IJobRunObserver, IDisposable
{
    private readonly Lock _lock = new();
    private readonly List<RecordedPhase> _phases = [];
    private TaskStats[] _stats = [];
    private Stopwatch _clock = Stopwatch.StartNew();
    private TimeSpan _cpu = Process.GetCurrentProcess().TotalProcessorTime;
    private long _allocated = GC.GetTotalAllocatedBytes(precise: true);
    private TimeSpan _gcPause = GC.GetTotalPauseDuration();
    private (int Gen0, int Gen1, int Gen2) _collections = Collections();
    private readonly Timer? _sampler;
    private long _sampledRss, _sampledManaged;
    private readonly Action<RecordedPhase>? _ended;

    private PhaseRecorder(bool peaks, Action<RecordedPhase>? ended)
    {
        _ended = ended;
        if (!peaks) return;
        MemoryPeaks.ResetKernelPeak();
        _sampler = new Timer(_ => Sample(), null, 0, 20);
    }

    public IReadOnlyList<RecordedPhase> Phases => _phases;

    /// <summary>
    /// Every phase of <paramref name="job"/>, <paramref name="threads"/> tasks at a time; the phases as recorded, with
    /// their memory peaks when <paramref name="peaks"/>; <paramref name="ended"/> sees each phase as it ends (a run that
    /// fails, out of memory for one, still shows the phases before).
    /// </summary>
    public static async Task<IReadOnlyList<RecordedPhase>> RunAsync(JobContext job, StageServices services, int threads, bool peaks = false,
        Action<RecordedPhase>? ended = null)
    {
        using var recorder = new PhaseRecorder(peaks, ended);
        await new JobRunner(job, new LocalTaskDispatcher(job, services), JobRunnerOptions.Local(threads), recorder).RunAsync();
        return recorder.Phases;
    }

    public void Dispose() => _sampler?.Dispose();

    private void Sample()
    {
        MemoryPeaks.Raise(ref _sampledRss, Environment.WorkingSet);
        MemoryPeaks.Raise(ref _sampledManaged, GC.GetTotalMemory(forceFullCollection: false));
    }

    void IJobRunObserver.PhaseStarted(JobPhase phase)
    {
        lock (_lock) _stats = new TaskStats[phase.Info.TaskCount];
    }

    void IJobRunObserver.TaskCompleted(JobPhase phase, int task, TaskStats stats)
    {
        lock (_lock) _stats[task] = stats;
    }

    ValueTask IJobRunObserver.PhaseEndedAsync(JobPhase phase, bool skipped, CancellationToken cancellationToken)
    {
        var cpu = Process.GetCurrentProcess().TotalProcessorTime;
        // Under the server GC's DATAS (dynamic heap count, on by default) this total is not monotonic in .NET 10: it sums
        // the active heaps only, so it drops while heaps are decommissioned and jumps back when they return
        // (dotnet/runtime#131069; seen as −75 GiB then +76 GiB in consecutive k-means phases at 10M). Held at its high
        // watermark, a phase's figure is never negative; such a phase reports too little and the next too much.
        var allocated = Math.Max(GC.GetTotalAllocatedBytes(precise: true), _allocated);
        var (gcPause, collections) = (GC.GetTotalPauseDuration(), Collections());
        long rss = 0, managed = 0;
        if (_sampler is not null)
        {
            Sample();
            var sampled = Interlocked.Exchange(ref _sampledRss, 0);
            rss = MemoryPeaks.KernelPeak() ?? sampled;
            managed = Interlocked.Exchange(ref _sampledManaged, 0);
            MemoryPeaks.ResetKernelPeak();
        }
        RecordedPhase recorded;
        lock (_lock)
        {
            recorded = new RecordedPhase(phase, skipped, _clock.Elapsed.TotalSeconds, (cpu - _cpu).TotalSeconds, allocated - _allocated,
                skipped ? [] : _stats)
            {
                PeakRss = rss, PeakManaged = managed, GcPauseSeconds = (gcPause - _gcPause).TotalSeconds,
                Collections = (collections.Gen0 - _collections.Gen0, collections.Gen1 - _collections.Gen1, collections.Gen2 - _collections.Gen2),
            };
            _phases.Add(recorded);
            _stats = [];
        }
        _ended?.Invoke(recorded);
        _clock = Stopwatch.StartNew();
        _cpu = cpu;
        _allocated = allocated;
        (_gcPause, _collections) = (gcPause, collections);
        return ValueTask.CompletedTask;
    }

    private static (int Gen0, int Gen1, int Gen2) Collections() => (GC.CollectionCount(0), GC.CollectionCount(1), GC.CollectionCount(2));
}

/// <summary>One phase as a <see cref="PhaseRecorder"/> saw it; <paramref name="Stats"/> is empty for a skipped (converged) phase.</summary>
public sealed record RecordedPhase(JobPhase Phase, bool Skipped, double WallSeconds, double CpuSeconds, long Allocated, TaskStats[] Stats)
{
    public string Name => Phase.ToString();
    public int Tasks => Skipped ? 0 : Phase.Info.TaskCount;
    public double TaskSeconds => Stats.Sum(s => s.Seconds);
    public long DocumentsIn => Stats.Sum(s => s.In);
    public int Reused => Stats.Count(s => s.Reused);

    /// <summary>The phase's peak resident set in bytes (0: not recorded).</summary>
    public long PeakRss { get; init; }

    /// <summary>The phase's peak managed heap in bytes, sampled (0: not recorded).</summary>
    public long PeakManaged { get; init; }

    /// <summary>Seconds the process was paused for garbage collections during the phase (any thread's allocations).</summary>
    public double GcPauseSeconds { get; init; }

    /// <summary>Garbage collections of each generation during the phase (a gen 1 collection counts in gen 0 too, and so on).</summary>
    public (int Gen0, int Gen1, int Gen2) Collections { get; init; }
}
