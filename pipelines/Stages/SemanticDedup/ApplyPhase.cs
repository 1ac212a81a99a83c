using Curation.Pipelines.Execution;
using Curation.Pipelines.Model;

namespace Curation.Pipelines.Stages;

// The apply phase: the verdicts applied to each shard (the shared ShardDecisions transform; every row gets its cluster columns).
public sealed partial class SemanticDedupStage
{
    private async Task<TaskStats> ApplyAsync(TaskContext task, CancellationToken cancellationToken)
    {
        var verdicts = new Dictionary<long, Verdict>();
        var decisions = new Dictionary<long, ShardDecision>();
        await foreach (var info in task.Job.Data.ListAsync(Key(task, $"verdicts/{JobLayout.ShardName(task.Task)}/"), cancellationToken).ConfigureAwait(false))
        {
            var batch = await StageObjects.ReadParquetAsync(task.Job.Data, info.Key, cancellationToken).ConfigureAwait(false);
            var (rows, clusters, max, twins, twinSimilarity, twinKept, health) = (batch.GetColumn<long>("row"), batch.GetColumn<int>("cluster"),
                batch.GetColumn<float>("max_similarity"), batch.GetColumn<string>(DropsSchema.TwinId), batch.GetColumn<float>("twin_similarity"),
                batch.GetColumn<bool>("twin_kept"), batch.GetColumn<string>("health"));
            for (var i = 0; i < batch.RowCount; i++)
            {
                var verdict = verdicts[rows[i]] = new Verdict(clusters[i], max[i], twins[i], twinSimilarity[i], twinKept[i], health[i]);
                if (verdict.Twin.Length > 0) decisions[rows[i]] = new ShardDecision(DuplicateReason, DetailOf(verdict), verdict.Twin);
            }
        }
        var transform = new ApplyDecisionsTransform(decisions,
            [new(ClusterColumn, typeof(int)), new(MaxSimilarityColumn, typeof(float)), new(HealthColumn, typeof(string))],
            (batch, offset) => FillColumns(batch, offset, verdicts));
        return await ShardTransformer.RunAsync(task, task.Task, transform, cancellationToken).ConfigureAwait(false);
    }

    private sealed record Verdict(int Cluster, float Max, string Twin, float TwinSimilarity, bool TwinKept, string Health);

    private static string DetailOf(Verdict verdict) => verdict.TwinKept
        ? $"cosine {verdict.TwinSimilarity:0.0000} to kept document {verdict.Twin} of cluster {verdict.Cluster}"
        : $"cosine {verdict.TwinSimilarity:0.0000} to {verdict.Twin} of cluster {verdict.Cluster}, itself removed; no kept document is within eps";

    /// <summary>Every row's cluster, max similarity and health columns; a row without a verdict fails the shard.</summary>
    private static void FillColumns(RecordBatch batch, long offset, Dictionary<long, Verdict> verdicts)
    {
        var clusters = batch.ResetColumn<int>(ClusterColumn, batch.RowCount);
        var max = batch.ResetColumn<float>(MaxSimilarityColumn, batch.RowCount);
        var health = batch.ResetColumn<string>(HealthColumn, batch.RowCount);
        for (var i = 0; i < batch.RowCount; i++)
        {
            var verdict = verdicts.TryGetValue(offset + i, out var v)
                ? v
                : throw new InvalidOperationException($"Row {offset + i} ({batch.Ids[i]}) has no semantic dedup verdict.");
            clusters.Add(verdict.Cluster);
            max.Add(verdict.Max);
            health.Add(verdict.Health);
        }
    }
}
