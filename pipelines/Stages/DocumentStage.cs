using System.Diagnostics;
using Curation.Pipelines.Execution;
using Curation.Pipelines.IO;
using Curation.Pipelines.Model;

namespace Curation.Pipelines.Stages;

/// <summary>
/// A pure per-document step (datatrove habit): transforms a batch in place and drops rows with reasons.
/// It may add columns (declared in <see cref="AddedColumns"/>) and must fill them for every row.
/// </summary>
public interface IDocumentTransform
{
    IReadOnlyList<ColumnSchema> AddedColumns { get; }

    void Process(RecordBatch batch, DropCollector drops);
}

/// <summary>
/// A document transform that needs a silo's services to run (a tokenizer or model each silo loads once): every task binds
/// it first (<see cref="DocumentStage.BindAsync"/>) and runs the bound transform. Its <see cref="IDocumentTransform.AddedColumns"/>
/// are known unbound (the job's field schema reads them); unbound, it does not process.
/// </summary>
public interface IServiceTransform : IDocumentTransform
{
    Task<IDocumentTransform> BindAsync(StageServices services, CancellationToken cancellationToken);
}

/// <summary>A stage made of one transform applied to every shard: one phase, one task per shard.</summary>
public sealed class DocumentStage(int index, string name, IDocumentTransform transform) : PipelineStage(index)
{
    public const string ApplyPhase = "apply";

    public override string Name => name;

    public IDocumentTransform Transform => transform;

    protected override IReadOnlyList<StagePhase> DeclarePhases(JobPlan plan) =>
        [new(ApplyPhase, TaskScope.Shard, plan.ShardCount, ApplyAsync, producesShardOutput: true)];

    private async Task<TaskStats> ApplyAsync(TaskContext task, CancellationToken cancellationToken)
    {
        // Only the run's first member decides whether to fuse (its silo's setting); a later member always looks for the
        // stats a fused head recorded first, so silos with different settings still agree on one shard's path.
        // A run right after the read (stage 0) may have been run by the read task itself (FusedDocumentPass.AfterRead).
        var members = FusedDocumentPass.Members(task.Job, this);
        if ((members[0] != this || Index == 1) && await FusedDocumentPass.RecordedAsync(task, cancellationToken).ConfigureAwait(false) is { } recorded)
            return recorded;
        if (members[0] == this && FusedDocumentPass.Enabled && members.Count > 1)
            return await FusedDocumentPass.RunAsync(task, members, cancellationToken).ConfigureAwait(false);
        // Alone, its own pass; that pass still hands the rows to the next stage's tap (ShardTransformer.RunAsync).
        var bound = await BindAsync([this], task.Services, cancellationToken).ConfigureAwait(false);
        return await ShardTransformer.RunAsync(task, task.Task, bound[0].Transform, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>A pass's members with their transforms for one task: bound to its services where they need them (<see cref="IServiceTransform"/>).</summary>
    public static async Task<ShardTransformer.Member[]> BindAsync(IReadOnlyList<DocumentStage> members, StageServices services,
        CancellationToken cancellationToken)
    {
        var bound = new ShardTransformer.Member[members.Count];
        for (var m = 0; m < members.Count; m++)
            bound[m] = new(members[m], members[m].Transform is IServiceTransform needsServices
                ? await needsServices.BindAsync(services, cancellationToken).ConfigureAwait(false)
                : members[m].Transform);
        return bound;
    }
}

/// <summary>
/// Streams one shard through one or more transforms in order (a fused run of document stages is several; every other
/// caller has one): previous output → each transform → kept rows and each member's drops, spooled locally and committed
/// create-once (every member's drops first, data last). One row group in memory at a time; a batch left empty goes no
/// further, exactly as the writer skips an empty row group in an unfused chain, so the bytes do not depend on fusing.
/// </summary>
public static class ShardTransformer
{
    /// <summary>The schema a pass writes: the input's columns, then each transform's added columns not already there.</summary>
    public static List<ColumnSchema> OutputSchema(IEnumerable<ColumnSchema> input, IEnumerable<IDocumentTransform> transforms)
    {
        var schema = input.ToList();
        foreach (var transform in transforms) schema = OutputSchema(schema, transform.AddedColumns);
        return schema;
    }

    /// <summary>The schema a transform that adds <paramref name="added"/> writes over <paramref name="input"/> (its new columns last).</summary>
    public static List<ColumnSchema> OutputSchema(IEnumerable<ColumnSchema> input, IReadOnlyList<ColumnSchema> added)
    {
        var schema = input.ToList();
        schema.AddRange(added.Where(c => schema.All(s => s.Name != c.Name)).ToArray());
        return schema;
    }

    /// <summary>One stage's transform in a pass: its drops are written under its own name and drops key.</summary>
    public readonly record struct Member(PipelineStage Stage, IDocumentTransform Transform);

    public static async Task<TaskStats> RunAsync(TaskContext task, int shard, IDocumentTransform transform, CancellationToken cancellationToken)
    {
        var (stats, seconds) = await RunAsync(task, shard, [new Member(task.Stage, transform)], task.OutputShardKey(shard), null, cancellationToken)
            .ConfigureAwait(false);
        return stats[0] with { Seconds = seconds };
    }

    /// <summary>
    /// Runs <paramref name="members"/> over the shard and writes the surviving rows to <paramref name="outputKey"/>;
    /// <paramref name="beforeData"/> runs after the drops are committed and before the data is (a fused head records
    /// its later members' stats there). Returns each member's stats (its own transform time) and the pass's wall time.
    /// </summary>
    public static Task<(TaskStats[] Members, double Seconds)> RunAsync(TaskContext task, int shard, IReadOnlyList<Member> members,
        string outputKey, Func<TaskStats[], CancellationToken, Task>? beforeData, CancellationToken cancellationToken) =>
        RunAsync(task, shard, members, outputKey, beforeData, FusedDocumentPass.TapOfNextWhenFused(task.Job, task.Stage, shard), cancellationToken);

    /// <summary>
    /// As above, and <paramref name="tap"/> (the next stage's, see <see cref="IShardTap"/>) sees every written batch and is
    /// committed just before the data.
    /// </summary>
    public static async Task<(TaskStats[] Members, double Seconds)> RunAsync(TaskContext task, int shard, IReadOnlyList<Member> members,
        string outputKey, Func<TaskStats[], CancellationToken, Task>? beforeData, IShardTap? tap, CancellationToken cancellationToken)
    {
        await using var dataSpool = SpoolFile.Create();
        var result = await RunIntoAsync(task, task.InputShardKey(shard), shard, members, dataSpool, beforeData, tap, cancellationToken).ConfigureAwait(false);
        await dataSpool.CommitOnceAsync(task.Job.Data, outputKey, cancellationToken).ConfigureAwait(false);
        return result;
    }

    /// <summary>
    /// The pass itself: reads <paramref name="inputKey"/>, writes the surviving rows into <paramref name="dataSpool"/> (the
    /// caller commits or publishes it), commits every member's drops, then runs <paramref name="beforeData"/> and commits
    /// <paramref name="tap"/>. A stage that applies the previous stage's deferred decisions in its own pass (the output)
    /// calls it with the previous stage's input shard.
    /// </summary>
    public static async Task<(TaskStats[] Members, double Seconds)> RunIntoAsync(TaskContext task, string inputKey, int shard, IReadOnlyList<Member> members,
        SpoolFile dataSpool, Func<TaskStats[], CancellationToken, Task>? beforeData, IShardTap? tap, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        await using (var input = await task.Job.Data.OpenReadAsync(inputKey, cancellationToken).ConfigureAwait(false))
        await using (var reader = await ParquetTableReader.OpenAsync(input, cancellationToken).ConfigureAwait(false))
        {
            TaskProgress.Expect(reader.RowCount);
            await using var pass = await DocumentPassWriter.CreateAsync(task.Job, members, reader.Schema, dataSpool.Stream, tap, cancellationToken).ConfigureAwait(false);
            await foreach (var batch in reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
            {
                var rows = batch.RowCount;
                TaskProgress.Add(rows, await pass.AddAsync(batch, cancellationToken).ConfigureAwait(false));
            }
            var stats = await pass.CommitAsync(task.Job.Data, task.Job.Layout, shard, beforeData, cancellationToken).ConfigureAwait(false);
            return (stats, clock.Elapsed.TotalSeconds);
        }
    }
}
