using System.Globalization;
using Curation.Pipelines.Execution;
using Curation.Pipelines.IO;
using Curation.Pipelines.Model;

namespace Curation.Pipelines.Stages;

// The apply phase: the decided rows dropped from each shard, naming the kept twin (the shared ShardDecisions transform).
// When the output comes next, the drop happens inside the output's write of the shard (one read and one write of it less):
// this phase then records only its books, which are the same either way.
public sealed partial class NearDedupStage
{
    private async Task<TaskStats> ApplyAsync(TaskContext task, CancellationToken cancellationToken)
    {
        var decisions = await DecisionsOfAsync(task.Job, task.Task, cancellationToken).ConfigureAwait(false);
        if (task.Job.Refresh is not null) await WriteIndexInputsAsync(task, decisions.Keys.ToHashSet(), cancellationToken).ConfigureAwait(false);
        if (DefersApplyToOutput(task.Job))
            return ShardDecisions.StatsOf(await ShardDecisions.RowCountAsync(task.Job.Data, task.InputShardKey(task.Task), cancellationToken).ConfigureAwait(false),
                decisions);
        return await ShardTransformer.RunAsync(task, task.Task, new ApplyDecisionsTransform(decisions), cancellationToken).ConfigureAwait(false);
    }

    public override async Task<IDocumentTransform?> DeferredApplyAsync(JobContext job, int shard, CancellationToken cancellationToken) =>
        new ApplyDecisionsTransform(await DecisionsOfAsync(job, shard, cancellationToken).ConfigureAwait(false));

    public override Task<IReadOnlyList<ColumnSchema>> DeferredApplyColumnsAsync(JobContext job, int shard, CancellationToken cancellationToken) =>
        Task.FromResult<IReadOnlyList<ColumnSchema>>([]);

    /// <summary>Shard <paramref name="shard"/>'s decided rows: its segment of every partition's components decisions.</summary>
    private async Task<Dictionary<long, ShardDecision>> DecisionsOfAsync(JobContext job, int shard, CancellationToken cancellationToken)
    {
        var decisions = new Dictionary<long, ShardDecision>();
        for (var partition = 0; partition < spec.Partitions; partition++)
            await foreach (var batch in RoutedTable.ReadAsync(job.Data, DecisionsKey(job, partition), shard, cancellationToken).ConfigureAwait(false))
            {
                var (rows, twins, sizes) = (batch.GetColumn<long>(Row), batch.GetColumn<string>(DropsSchema.TwinId), batch.GetColumn<long>("component_size"));
                for (var i = 0; i < batch.RowCount; i++)
                    decisions[rows[i]] = new ShardDecision(DuplicateReason, $"component of {sizes[i].ToString(CultureInfo.InvariantCulture)}", twins[i]);
            }
        return decisions;
    }
}
