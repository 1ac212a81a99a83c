using System.Globalization;
using Curation.Pipelines.Execution;
using Curation.Pipelines.IO;

namespace Curation.Pipelines.Stages;

// The apply phase: the decided rows dropped from each shard, naming the kept twin (the shared ShardDecisions transform).
public sealed partial class NearDedupStage
{
    private async Task<TaskStats> ApplyAsync(TaskContext task, CancellationToken cancellationToken)
    {
        var decisions = new Dictionary<long, ShardDecision>();
        for (var partition = 0; partition < spec.Partitions; partition++)
            await foreach (var batch in RoutedTable.ReadAsync(task.Job.Data, DecisionsKey(task, partition), task.Task, cancellationToken).ConfigureAwait(false))
            {
                var (rows, twins, sizes) = (batch.GetColumn<long>(Row), batch.GetColumn<string>(DropsSchema.TwinId), batch.GetColumn<long>("component_size"));
                for (var i = 0; i < batch.RowCount; i++)
                    decisions[rows[i]] = new ShardDecision(DuplicateReason, $"component of {sizes[i].ToString(CultureInfo.InvariantCulture)}", twins[i]);
            }
        if (task.Job.Refresh is not null) await WriteIndexInputsAsync(task, decisions.Keys.ToHashSet(), cancellationToken).ConfigureAwait(false);
        return await ShardTransformer.RunAsync(task, task.Task, new ApplyDecisionsTransform(decisions), cancellationToken).ConfigureAwait(false);
    }
}
