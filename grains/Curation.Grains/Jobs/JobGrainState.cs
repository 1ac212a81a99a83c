using Curation.Pipelines.Execution;

namespace Curation.Grains.Jobs;

/// <summary>What a job coordinator persists (JSON in the object store): enough to resume after any failure.</summary>
public sealed class JobGrainState
{
    public string? SpecJson { get; set; }
    public string Name { get; set; } = "";
    public JobState State { get; set; } = JobState.Pending;
    public string? Error { get; set; }
    public DateTimeOffset? StartedAt { get; set; }
    public DateTimeOffset? CompletedAt { get; set; }
    public int Shards { get; set; }
    public string? Output { get; set; }
    public List<PhaseProgress> Phases { get; set; } = [];
    public Accounting? Accounting { get; set; }
    public List<string> Warnings { get; set; } = [];
    /// <summary>The snapshot a completed refresh published (output.snapshots); null otherwise.</summary>
    public PublishedSnapshot? Snapshot { get; set; }
    /// <summary>Store retries of this run's coordinator (its own reads and writes); its tasks' are in <see cref="Phases"/>.</summary>
    public long CoordinatorStoreRetries { get; set; }
    /// <summary>Throughput samples of every run of the job (a resumed run appends), at most <see cref="JobGrain.HistoryLimit"/>.</summary>
    public List<ThroughputSample> History { get; set; } = [];
}
