using Curation.Pipelines.Execution;
using Curation.Pipelines.Model;

namespace Curation.Pipelines.Stages;

// The apply phase: the verdicts applied to each shard.
public sealed partial class SemanticDedupStage
{
    private async Task<TaskStats> ApplyAsync(TaskContext task, CancellationToken cancellationToken)
    {
        var verdicts = new Dictionary<long, Verdict>();
        await foreach (var info in task.Job.Data.ListAsync(Key(task, $"verdicts/{JobLayout.ShardName(task.Task)}/"), cancellationToken).ConfigureAwait(false))
        {
            var batch = await StageObjects.ReadParquetAsync(task.Job.Data, info.Key, cancellationToken).ConfigureAwait(false);
            var (rows, clusters, max, twins, twinSimilarity, twinKept, health) = (batch.GetColumn<long>("row"), batch.GetColumn<int>("cluster"),
                batch.GetColumn<float>("max_similarity"), batch.GetColumn<string>(DropsSchema.TwinId), batch.GetColumn<float>("twin_similarity"),
                batch.GetColumn<bool>("twin_kept"), batch.GetColumn<string>("health"));
            for (var i = 0; i < batch.RowCount; i++) verdicts[rows[i]] = new Verdict(clusters[i], max[i], twins[i], twinSimilarity[i], twinKept[i], health[i]);
        }
        return await ShardTransformer.RunAsync(task, task.Task, new ApplyVerdicts(verdicts), cancellationToken).ConfigureAwait(false);
    }

    private sealed record Verdict(int Cluster, float Max, string Twin, float TwinSimilarity, bool TwinKept, string Health);

    private sealed class ApplyVerdicts(Dictionary<long, Verdict> verdicts) : IDocumentTransform
    {
        private long _offset;

        public IReadOnlyList<ColumnSchema> AddedColumns { get; } =
            [new(ClusterColumn, typeof(int)), new(MaxSimilarityColumn, typeof(float)), new(HealthColumn, typeof(string))];

        public void Process(RecordBatch batch, DropCollector drops)
        {
            var clusters = batch.ResetColumn<int>(ClusterColumn, batch.RowCount);
            var max = batch.ResetColumn<float>(MaxSimilarityColumn, batch.RowCount);
            var health = batch.ResetColumn<string>(HealthColumn, batch.RowCount);
            for (var i = 0; i < batch.RowCount; i++)
            {
                var verdict = verdicts.TryGetValue(_offset + i, out var v)
                    ? v
                    : throw new InvalidOperationException($"Row {_offset + i} ({batch.Ids[i]}) has no semantic dedup verdict.");
                clusters.Add(verdict.Cluster);
                max.Add(verdict.Max);
                health.Add(verdict.Health);
                if (verdict.Twin.Length == 0) continue;
                drops.Drop(i, DuplicateReason, verdict.TwinKept
                    ? $"cosine {verdict.TwinSimilarity:0.0000} to kept document {verdict.Twin} of cluster {verdict.Cluster}"
                    : $"cosine {verdict.TwinSimilarity:0.0000} to {verdict.Twin} of cluster {verdict.Cluster}, itself removed; no kept document is within eps",
                    verdict.Twin);
            }
            _offset += batch.RowCount;
        }
    }
}
