using Curation.Pipelines.Stages;

namespace Curation.Pipelines.Execution;

/// <summary>One phase of a job as a runner dispatches it: its position in the job, its stage and what it declares.</summary>
public sealed record JobPhase(int Index, PipelineStage Stage, PhaseInfo Info)
{
    /// <summary>The reference of one of this phase's tasks.</summary>
    public TaskRef Task(string jobId, int task) => new(jobId, Stage.Index, Info.Name, task);

    public override string ToString() => $"{Stage.Folder}/{Info.Name}";
}

/// <summary>
/// The counters of one phase of a run: tasks done (and reused), documents and bytes in, task and wall seconds, retries.
/// What a coordinator persists as the phase's progress; a converged phase that was not dispatched has a total of 0.
/// </summary>
public sealed record PhaseTally
{
    /// <summary>The stage's folder name (<c>NN-type</c>).</summary>
    public required string Stage { get; init; }
    public required string Phase { get; init; }
    public int Total { get; init; }
    public int Done { get; init; }

    /// <summary>Tasks whose output was already in the store (resume): not recomputed.</summary>
    public int Reused { get; init; }
    public long DocumentsIn { get; init; }
    public long BytesIn { get; init; }

    /// <summary>Sum of task run times (CPU-side work).</summary>
    public double TaskSeconds { get; init; }

    /// <summary>Wall time of the phase so far (until it ended).</summary>
    public double WallSeconds { get; init; }

    /// <summary>Task attempts that failed and were retried.</summary>
    public int Retries { get; init; }

    /// <summary>Object store operations the phase's finished tasks retried after transient failures.</summary>
    public long StoreRetries { get; init; }

    /// <summary>The phase's work was done inside an earlier phase's pass (<see cref="TaskStats.Fused"/>).</summary>
    public bool Fused { get; init; }

    /// <summary>These counters with one more finished task.</summary>
    public PhaseTally With(TaskStats stats, double wallSeconds) => this with
    {
        Done = Done + 1,
        Reused = Reused + (stats.Reused ? 1 : 0),
        DocumentsIn = DocumentsIn + stats.In,
        BytesIn = BytesIn + stats.BytesIn,
        TaskSeconds = TaskSeconds + stats.Seconds,
        WallSeconds = wallSeconds,
        StoreRetries = StoreRetries + stats.StoreRetries,
        Fused = Fused || stats.Fused,
    };
}

/// <summary>
/// A phase's pace: for a finished (or not yet started) phase from its counters, for the running one with what its running
/// tasks reported last (documents and bytes done, fraction of what each expects).
/// </summary>
public sealed record PhasePace(double WallSeconds, long InFlightDocuments, long InFlightBytes, int Running, double Fraction,
    double DocumentsPerSecond, double? EtaSeconds)
{
    /// <summary>The pace of a phase that is not running: its stored counters only.</summary>
    public static PhasePace Of(PhaseTally tally) => new(tally.WallSeconds, 0, 0, 0,
        tally.Total > 0 ? (double)tally.Done / tally.Total : 0, tally.WallSeconds > 0 ? tally.DocumentsIn / tally.WallSeconds : 0, null);

    /// <summary>The pace of the running phase, <paramref name="wallSeconds"/> into it, with its running tasks' last reports.</summary>
    public static PhasePace Of(PhaseTally tally, double wallSeconds, IReadOnlyCollection<TaskProgressSample> running)
    {
        var inFlight = running.Sum(r => r.Documents);
        var documents = tally.DocumentsIn + inFlight;
        var done = tally.Total > 0 ? Math.Min(1, (tally.Done + running.Sum(r => r.Fraction ?? 0)) / tally.Total) : 0;
        return new PhasePace(wallSeconds, inFlight, running.Sum(r => r.Bytes), running.Count, done,
            wallSeconds > 0 ? documents / wallSeconds : 0,
            done is > 0 and < 1 && wallSeconds >= 1 ? wallSeconds * (1 - done) / done : null);
    }
}
