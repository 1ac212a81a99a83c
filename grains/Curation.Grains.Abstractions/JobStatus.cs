using Curation.Pipelines.Execution;

namespace Curation.Grains;

public enum JobState { Pending, Running, Completed, Failed, Cancelled }

/// <summary>A job's state as clients see it; small (no documents), safe to poll.</summary>
[GenerateSerializer, Immutable]
public sealed record JobStatus
{
    [Id(0)] public required string JobId { get; init; }
    [Id(1)] public string Name { get; init; } = "";
    [Id(2)] public JobState State { get; init; }
    [Id(3)] public string? Error { get; init; }
    [Id(4)] public IReadOnlyList<PhaseProgress> Phases { get; init; } = [];
    [Id(5)] public DateTimeOffset? StartedAt { get; init; }
    [Id(6)] public DateTimeOffset? CompletedAt { get; init; }
    [Id(7)] public string? Output { get; init; }
    [Id(8)] public Accounting? Accounting { get; init; }
    [Id(9)] public IReadOnlyList<string> Warnings { get; init; } = [];
    [Id(10)] public int Shards { get; init; }

    /// <summary>
    /// Object store operations retried after transient failures in this run of the job (its tasks' and its
    /// coordinator's); the output does not depend on it. Counts tasks that finished, not the attempts that failed.
    /// </summary>
    [Id(11)] public long StoreRetries { get; init; }

    /// <summary>For a refresh of a versioned corpus (<c>output.snapshots</c>), once completed: the snapshot it published.</summary>
    [Id(12)] public PublishedSnapshot? Snapshot { get; init; }

    public bool IsFinal => State is JobState.Completed or JobState.Failed or JobState.Cancelled;
}

/// <summary>
/// The snapshot a refresh published: its corpus is the carried documents (earlier snapshots') plus the new ones this run
/// kept; the input objects it read (changed ones among them), skipped as unchanged, and no longer found.
/// </summary>
[GenerateSerializer, Immutable]
public sealed record PublishedSnapshot
{
    [Id(0)] public int Number { get; init; }
    [Id(1)] public int? Previous { get; init; }
    [Id(2)] public long CarriedDocuments { get; init; }
    [Id(3)] public long NewDocuments { get; init; }
    [Id(4)] public int ReadObjects { get; init; }
    [Id(5)] public int SkippedObjects { get; init; }
    [Id(6)] public int ChangedObjects { get; init; }
    [Id(7)] public int VanishedObjects { get; init; }
    /// <summary>The snapshot's folder, relative to the corpus root.</summary>
    [Id(8)] public string Folder { get; init; } = "";

    public long Documents => CarriedDocuments + NewDocuments;

    public static PublishedSnapshot Of(SnapshotSection s) => new()
    {
        Number = s.Number, Previous = s.Previous, CarriedDocuments = s.CarriedDocuments, NewDocuments = s.NewDocuments,
        ReadObjects = s.ReadObjects, SkippedObjects = s.SkippedObjects, ChangedObjects = s.ChangedObjects,
        VanishedObjects = s.VanishedObjects, Folder = s.Folder,
    };
}

/// <summary>Progress of one phase of one stage.</summary>
[GenerateSerializer, Immutable]
public sealed record PhaseProgress
{
    [Id(0)] public required string Stage { get; init; }
    [Id(1)] public required string Phase { get; init; }
    [Id(2)] public int Total { get; init; }
    [Id(3)] public int Done { get; init; }
    /// <summary>Tasks whose output was already in the store (resume): not recomputed.</summary>
    [Id(4)] public int Reused { get; init; }
    [Id(5)] public long DocumentsIn { get; init; }
    [Id(6)] public long BytesIn { get; init; }
    /// <summary>Sum of task run times (CPU-side work), and wall time of the phase.</summary>
    [Id(7)] public double TaskSeconds { get; init; }
    [Id(8)] public double WallSeconds { get; init; }
    /// <summary>Task attempts that failed and were retried.</summary>
    [Id(9)] public int Retries { get; init; }
    /// <summary>Object store operations the phase's finished tasks retried after transient failures.</summary>
    [Id(10)] public long StoreRetries { get; init; }

    /// <summary>Documents and bytes the phase's running tasks have done so far (live; 0 once the phase ended).</summary>
    [Id(11)] public long InFlightDocuments { get; init; }
    [Id(12)] public long InFlightBytes { get; init; }

    /// <summary>Tasks running now that reported progress.</summary>
    [Id(13)] public int Running { get; init; }

    /// <summary>
    /// How far the phase is, 0–1: finished tasks plus the running tasks' own fractions (documents or bytes done of
    /// what each expects), over all tasks.
    /// </summary>
    [Id(14)] public double Fraction { get; init; }

    /// <summary>Documents per second of wall time in this phase, running tasks' documents included.</summary>
    [Id(15)] public double DocumentsPerSecond { get; init; }

    /// <summary>Seconds left at the phase's pace so far; null before the phase has a pace or after it ended.</summary>
    [Id(16)] public double? EtaSeconds { get; init; }

    /// <summary>
    /// The phase's work was done inside an earlier phase's pass (a document stage fused into the read or the stage before
    /// it): its <see cref="TaskSeconds"/> are its transform's share of that pass, its own wall time only the stats' return.
    /// </summary>
    [Id(17)] public bool Fused { get; init; }
}

/// <summary>
/// One point of a job's throughput history: when, and how many documents its phases had processed in all by then
/// (finished tasks plus the running tasks' reports). Stored with the job's state, so the chart survives reloads.
/// </summary>
[GenerateSerializer, Immutable]
public sealed record ThroughputSample
{
    [Id(0)] public DateTimeOffset At { get; init; }
    [Id(1)] public long Documents { get; init; }
    /// <summary>The phase running then (its stage folder and phase name), or null between phases.</summary>
    [Id(2)] public string? Phase { get; init; }
}
