using Curation.Pipelines.Execution;

namespace Curation.Pipelines.Stages;

/// <summary>
/// One step of a job as the executor sees it: named phases of parallel tasks. A stage reads the previous stage's
/// per-shard output and writes its own, create-once. Stages hold no Orleans types; grains only schedule them.
/// </summary>
public abstract class PipelineStage(int index)
{
    /// <summary>Position in the job (0 = read); part of every object name the stage writes.</summary>
    public int Index { get; } = index;

    /// <summary>Stage name as in the spec's <c>type</c> (read, normalize, exact_dedup, …).</summary>
    public abstract string Name { get; }

    public string Folder => Execution.JobLayout.StageFolderName(Index, Name);

    public abstract IReadOnlyList<PhaseInfo> Phases(JobPlan plan);

    /// <summary>
    /// True when <paramref name="phase"/> has nothing left to do and its tasks are not dispatched: the remaining phases of a
    /// converged iterative group (connected-components rounds). Asked only after every earlier phase of the job finished, and
    /// decided from stored outputs alone, so it is deterministic and resume-safe. A skipped phase leaves no task stats.
    /// </summary>
    public virtual Task<bool> SkipsPhaseAsync(JobContext job, PhaseInfo phase, CancellationToken cancellationToken) => Task.FromResult(false);

    /// <summary>Runs one task and writes its outputs; the executor commits the returned stats afterwards.</summary>
    public abstract Task<TaskStats> RunAsync(TaskContext task, CancellationToken cancellationToken);

    /// <summary>
    /// A tap on shard <paramref name="shard"/> of the previous stage's output while a document pass writes it (see
    /// <see cref="IShardTap"/>), or null (the default) when this stage reads its input itself.
    /// </summary>
    public virtual IShardTap? TapInput(JobContext job, int shard) => null;

    public override string ToString() => Folder;
}

/// <summary>One task being run: the job, the stage, which phase and which task (shard or partition number).</summary>
public sealed record TaskContext(JobContext Job, PipelineStage Stage, string Phase, int Task, StageServices Services)
{
    /// <summary>The stage whose shard output this stage reads.</summary>
    public PipelineStage Previous => Job.Stages[Stage.Index - 1];

    public string InputShardKey(int shard) => Job.Layout.ShardData(Previous.Index, Previous.Name, shard);
    public string OutputShardKey(int shard) => Job.Layout.ShardData(Stage.Index, Stage.Name, shard);
    public string DropsKey(int shard) => Job.Layout.ShardDrops(Stage.Index, Stage.Name, shard);
}
