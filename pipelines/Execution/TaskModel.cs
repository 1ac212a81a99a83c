namespace Curation.Pipelines.Execution;

/// <summary>What one task of a phase covers.</summary>
public enum TaskScope
{
    /// <summary>One task per shard.</summary>
    Shard,
    /// <summary>One task per hash partition of the stage.</summary>
    Partition,
    /// <summary>One task for the whole job.</summary>
    Single,
}

/// <summary>A phase of a stage: its tasks run in parallel; phases and stages run one after another.</summary>
/// <param name="RequiredRole">A silo role the phase's tasks need (e.g. <c>embed</c>); null runs anywhere.</param>
public sealed record PhaseInfo(string Name, TaskScope Scope, int TaskCount, bool ProducesShardOutput, string? RequiredRole = null);

/// <summary>The reference a worker receives: which job, stage, phase and task. Never data.</summary>
public sealed record TaskRef(string JobId, int Stage, string Phase, int Task)
{
    public override string ToString() => $"{JobId}/stage {Stage}/{Phase}/{Task}";
}

/// <summary>
/// What a task did: counts (the accounting of its shard when the phase produces shard output), the objects it wrote
/// and how long it took. Small by construction: grain calls return it.
/// </summary>
public sealed record TaskStats
{
    public long In { get; init; }
    public long Kept { get; init; }
    public Dictionary<string, long> Dropped { get; init; } = [];
    public Dictionary<string, long> Quarantined { get; init; } = [];

    /// <summary>Bytes of input read (text bytes for document stages, object bytes for reads).</summary>
    public long BytesIn { get; init; }

    public double Seconds { get; init; }

    /// <summary>Stage-specific small aggregates (e.g. duplicate groups); free-form numbers for reports.</summary>
    public Dictionary<string, double> Metrics { get; init; } = [];

    /// <summary>Objects written that the manifest lists (output shards).</summary>
    public List<OutputObject> Outputs { get; init; } = [];

    /// <summary>Token files the output wrote for its shard (output.tokens only).</summary>
    public List<TokenFile>? TokenFiles { get; init; }

    /// <summary>Durable dedup index partitions this task wrote or carried (versioned corpora only).</summary>
    public List<SnapshotIndex>? Indexes { get; init; }

    /// <summary>Errors that did not stop the task (e.g. a corrupt object), each naming its object.</summary>
    public List<string> Errors { get; init; } = [];

    /// <summary>Who ran the task (silo address); recorded with the result.</summary>
    public string? Worker { get; init; }

    /// <summary>True when this result was found in the store instead of computed (a resumed or re-delivered task).</summary>
    public bool Reused { get; init; }

    /// <summary>
    /// True when an earlier phase's pass did this task's work (a document stage fused into the read or into the stage
    /// before it) and the task only returned the stats that pass recorded: <see cref="Seconds"/> is its transform's
    /// time inside that pass, not time of its own.
    /// </summary>
    public bool Fused { get; init; }

    /// <summary>
    /// Object store operations this task retried after transient failures (503s, timeouts, broken connections).
    /// Kept apart from <see cref="Metrics"/>: the manifest sums those, and a run that met faults must write the
    /// same manifest as a clean one. For a reused result, the retries of this call (finding it), not the original's.
    /// </summary>
    public long StoreRetries { get; init; }

    public long DroppedTotal => Dropped.Values.Sum();
    public long QuarantinedTotal => Quarantined.Values.Sum();

    /// <summary>in = kept + dropped + quarantined.</summary>
    public bool Balances => In == Kept + DroppedTotal + QuarantinedTotal;
}

/// <summary>One object of the curated output, as the manifest lists it.</summary>
public sealed record OutputObject(string Kind, string Key, long Rows, long Bytes, string Sha256);
