using System.Diagnostics;
using Curation.Pipelines.Execution;

namespace Curation.Bench;

/// <summary>
/// Runs a job with the coordinators' <see cref="JobRunner"/> in this process and records each phase: its wall time (from
/// the end of the phase before, so a converged round's check and the committed-task listing count), the process CPU
/// and allocations over it, and its tasks' stats in task order.
/// </summary>
public sealed class PhaseRecorder : IJobRunObserver
{
    private readonly Lock _lock = new();
    private readonly List<RecordedPhase> _phases = [];
    private TaskStats[] _stats = [];
    private Stopwatch _clock = Stopwatch.StartNew();
    private TimeSpan _cpu = Process.GetCurrentProcess().TotalProcessorTime;
    private long _allocated = GC.GetTotalAllocatedBytes(precise: true);

    public IReadOnlyList<RecordedPhase> Phases => _phases;

    /// <summary>Every phase of <paramref name="job"/>, <paramref name="threads"/> tasks at a time; the phases as recorded.</summary>
    public static async Task<IReadOnlyList<RecordedPhase>> RunAsync(JobContext job, StageServices services, int threads)
    {
        var recorder = new PhaseRecorder();
        await new JobRunner(job, new LocalTaskDispatcher(job, services), JobRunnerOptions.Local(threads), recorder).RunAsync();
        return recorder.Phases;
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
        var allocated = GC.GetTotalAllocatedBytes(precise: true);
        lock (_lock)
        {
            _phases.Add(new RecordedPhase(phase, skipped, _clock.Elapsed.TotalSeconds, (cpu - _cpu).TotalSeconds, allocated - _allocated,
                skipped ? [] : _stats));
            _stats = [];
        }
        _clock = Stopwatch.StartNew();
        _cpu = cpu;
        _allocated = allocated;
        return ValueTask.CompletedTask;
    }
}

/// <summary>One phase as a <see cref="PhaseRecorder"/> saw it; <paramref name="Stats"/> is empty for a skipped (converged) phase.</summary>
public sealed record RecordedPhase(JobPhase Phase, bool Skipped, double WallSeconds, double CpuSeconds, long Allocated, TaskStats[] Stats)
{
    public string Name => Phase.ToString();
    public int Tasks => Skipped ? 0 : Phase.Info.TaskCount;
    public double TaskSeconds => Stats.Sum(s => s.Seconds);
    public long DocumentsIn => Stats.Sum(s => s.In);
    public int Reused => Stats.Count(s => s.Reused);
}
