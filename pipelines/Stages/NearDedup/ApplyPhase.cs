using System.Globalization;
using Curation.Pipelines.Execution;
using Curation.Pipelines.IO;
using Curation.Pipelines.Model;

namespace Curation.Pipelines.Stages;

// The apply phase: the decided rows dropped from each shard, naming the kept twin.
public sealed partial class NearDedupStage
{
    private async Task<TaskStats> ApplyAsync(TaskContext task, CancellationToken cancellationToken)
    {
        var decisions = new Dictionary<long, (string Twin, long Size)>();
        for (var partition = 0; partition < spec.Partitions; partition++)
            await foreach (var batch in RoutedTable.ReadAsync(task.Job.Data, DecisionsKey(task, partition), task.Task, cancellationToken).ConfigureAwait(false))
            {
                var (rows, twins, sizes) = (batch.GetColumn<long>(Row), batch.GetColumn<string>(DropsSchema.TwinId), batch.GetColumn<long>("component_size"));
                for (var i = 0; i < batch.RowCount; i++) decisions[rows[i]] = (twins[i], sizes[i]);
            }
        if (task.Job.Refresh is not null) await WriteIndexInputsAsync(task, decisions.Keys.ToHashSet(), cancellationToken).ConfigureAwait(false);
        return await ShardTransformer.RunAsync(task, task.Task, new ApplyDecisions(decisions), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The apply phase's transform: drops decided rows (by running row number), naming the component's kept document.</summary>
    private sealed class ApplyDecisions(Dictionary<long, (string Twin, long Size)> decisions) : IDocumentTransform
    {
        private long _offset;

        public IReadOnlyList<ColumnSchema> AddedColumns { get; } = [];

        public void Process(RecordBatch batch, DropCollector drops)
        {
            for (var i = 0; i < batch.RowCount; i++)
                if (decisions.TryGetValue(_offset + i, out var decision))
                    drops.Drop(i, DuplicateReason, $"component of {decision.Size.ToString(CultureInfo.InvariantCulture)}", decision.Twin);
            _offset += batch.RowCount;
        }
    }
}
