using Curation.Pipelines.Execution;
using Curation.Pipelines.Model;

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

    /// <summary>
    /// The stage's phases in order, each a value: what the executor plans (name, scope, task count, whether it produces
    /// the shard output) and the function that runs one of its tasks. Dynamic phase lists (k-means iterations,
    /// connected-components rounds) are declared the same way, one value per iteration, so no phase name is ever parsed
    /// back. The executor times each task (a stage leaves <see cref="TaskStats.Seconds"/> at 0), writes its stats and
    /// skips committed tasks. Every stage declares its phases here, a per-document stage too (<see cref="DocumentStage"/>).
    /// </summary>
    protected abstract IReadOnlyList<StagePhase> DeclarePhases(JobPlan plan);

    /// <summary>What the executor plans: the declared phases without their functions.</summary>
    public IReadOnlyList<PhaseInfo> Phases(JobPlan plan) => [.. DeclarePhases(plan).Select(p => p.Info)];

    /// <summary>
    /// True when <paramref name="phase"/> has nothing left to do and its tasks are not dispatched: the remaining phases of a
    /// converged iterative group (connected-components rounds). Asked only after every earlier phase of the job finished, and
    /// decided from stored outputs alone, so it is deterministic and resume-safe. A skipped phase leaves no task stats.
    /// </summary>
    public Task<bool> SkipsPhaseAsync(JobContext job, PhaseInfo phase, CancellationToken cancellationToken)
    {
        foreach (var declared in DeclarePhases(job.Plan))
            if (declared.Info.Name == phase.Name) return declared.SkipWhen?.Invoke(job, cancellationToken) ?? Task.FromResult(false);
        return Task.FromResult(false);
    }

    /// <summary>Runs one task and writes its outputs; the executor commits the returned stats afterwards.</summary>
    public Task<TaskStats> RunAsync(TaskContext task, CancellationToken cancellationToken)
    {
        foreach (var phase in DeclarePhases(task.Job.Plan))
            if (phase.Info.Name == task.Phase) return phase.Run(task, cancellationToken);
        throw new ArgumentException($"{this} has no phase '{task.Phase}'.");
    }

    /// <summary>
    /// A tap on shard <paramref name="shard"/> of the previous stage's output while a document pass writes it (see
    /// <see cref="IShardTap"/>), or null (the default) when this stage reads its input itself.
    /// </summary>
    public virtual IShardTap? TapInput(JobContext job, int shard) => null;

    /// <summary>
    /// For a stage whose shard-output phase only applies decisions (<see cref="ShardDecisions"/>) and left that to the next
    /// stage's pass (it wrote no shard of its own): the transform that applies them to shard <paramref name="shard"/> of
    /// this stage's input, run by the next stage as the first step of its own read of that input, with this stage's name
    /// on the drops. Null (the default) for a stage that always writes its shard.
    /// </summary>
    public virtual Task<IDocumentTransform?> DeferredApplyAsync(JobContext job, int shard, CancellationToken cancellationToken) =>
        Task.FromResult<IDocumentTransform?>(null);

    /// <summary>
    /// For a stage that implements <see cref="DeferredApplyAsync"/>: true when its decisions are applied inside the output's
    /// write of the shard (the output comes next and fusing is on where this task runs). Its apply phase then writes no
    /// shard, only its books (<see cref="ShardDecisions.StatsOf"/>); the output finds no shard of this stage and asks
    /// <see cref="DeferredApplyAsync"/>. Whichever path ran, the books, drops and bytes are the same.
    /// </summary>
    protected bool DefersApplyToOutput(JobContext job) =>
        FusedDocumentPass.Enabled && Index + 1 < job.Stages.Count && job.Stages[Index + 1] is OutputStage;

    /// <summary>
    /// The columns the deferred apply of <see cref="DeferredApplyAsync"/> adds to shard <paramref name="shard"/> (none without
    /// one): what the output's schema needs without building the transform. The default builds it; a stage whose columns do
    /// not depend on its decisions answers cheaply.
    /// </summary>
    public virtual async Task<IReadOnlyList<ColumnSchema>> DeferredApplyColumnsAsync(JobContext job, int shard, CancellationToken cancellationToken) =>
        (await DeferredApplyAsync(job, shard, cancellationToken).ConfigureAwait(false))?.AddedColumns ?? [];

    public override string ToString() => Folder;
}

/// <summary>One task being run: the job, the stage, which phase and which task (shard or partition number).</summary>
public sealed record TaskContext(JobContext Job, PipelineStage Stage, string Phase, int Task, StageServices Services)
{
    /// <summary>The stage whose shard output this stage reads.</summary>
    public PipelineStage Previous => Job.Stages[Stage.Index - 1];

    public string InputShardKey(int shard) => Job.Layout.ShardData(Previous.Index, Previous.Name, shard);

    /// <summary>The shard the previous stage read: where its deferred decisions are applied (<see cref="PipelineStage.DeferredApplyAsync"/>).</summary>
    public string PreviousInputShardKey(int shard)
    {
        var before = Job.Stages[Previous.Index - 1];
        return Job.Layout.ShardData(before.Index, before.Name, shard);
    }
    public string OutputShardKey(int shard) => Job.Layout.ShardData(Stage.Index, Stage.Name, shard);
    public string DropsKey(int shard) => Job.Layout.ShardDrops(Stage.Index, Stage.Name, shard);
}

/// <summary>A phase as a value: its plan (<see cref="PhaseInfo"/>) and the function that runs one of its tasks.</summary>
/// <param name="SkipWhen">
/// For a phase of a converging iterative group: true when it has nothing left to do, asked once every earlier phase
/// finished (see <see cref="PipelineStage.SkipsPhaseAsync"/>); null: always runs.
/// </param>
public sealed record StagePhase(PhaseInfo Info, Func<TaskContext, CancellationToken, Task<TaskStats>> Run,
    Func<JobContext, CancellationToken, Task<bool>>? SkipWhen = null)
{
    public StagePhase(string name, TaskScope scope, int taskCount, Func<TaskContext, CancellationToken, Task<TaskStats>> run,
        bool producesShardOutput = false, string? requiredRole = null, Func<JobContext, CancellationToken, Task<bool>>? skipWhen = null)
        : this(new PhaseInfo(name, scope, taskCount, producesShardOutput, requiredRole), run, skipWhen)
    {
    }
}
