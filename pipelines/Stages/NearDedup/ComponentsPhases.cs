using Curation.Pipelines.Execution;
using Curation.Pipelines.IO;
using Curation.Pipelines.Model;
using Curation.Pipelines.NearDup;
using Curation.Pipelines.Spec;
using Curation.Pipelines.Storage;

namespace Curation.Pipelines.Stages;

// The connected-components phases: star-contraction rounds (cc-NNN), then the components decision per partition.
public sealed partial class NearDedupStage
{
    /// <summary>What one round task found: nodes of its input not yet in star form, and whether it ran at all.</summary>
    private sealed record RoundSummary(long Violations, long Edges, bool Skipped);

    private async Task<RoundSummary?> ReadRoundSummaryAsync(JobContext job, int round, int partition, CancellationToken cancellationToken)
    {
        var (summary, _) = await job.Data.TryReadJsonAsync<RoundSummary>(RoundSummaryKey(job, round, partition), cancellationToken: cancellationToken)
            .ConfigureAwait(false);
        return summary;
    }

    private Task<RoundSummary?> ReadRoundSummaryAsync(TaskContext task, int round, int partition, CancellationToken cancellationToken) =>
        ReadRoundSummaryAsync(task.Job, round, partition, cancellationToken);

    /// <summary>
    /// True when round <paramref name="round"/> has nothing to do: the round before left every node in star form, or it did not run
    /// itself (passed over by the executor: no summaries; or run as a no-op: skipped summaries). Depends only on stored summaries.
    /// </summary>
    private async Task<bool> ConvergedBeforeAsync(JobContext job, int round, CancellationToken cancellationToken)
    {
        if (round == 0) return false;
        long violations = 0;
        for (var partition = 0; partition < spec.Partitions; partition++)
        {
            var summary = await ReadRoundSummaryAsync(job, round - 1, partition, cancellationToken).ConfigureAwait(false);
            if (summary is null && partition == 0) return true; // the round before was not dispatched: converged earlier
            if (summary is null) throw new InvalidOperationException($"{this}: round {round - 1} of partition {partition} left no summary.");
            if (summary.Skipped) return true;
            violations += summary.Violations;
        }
        return violations == 0;
    }

    private IEnumerable<string> RoundInputs(TaskContext task, int round) => round == 0
        ? Enumerable.Range(0, task.Job.Plan.ShardCount).Select(shard => EdgesKey(task, shard))
        : Enumerable.Range(0, spec.Partitions).Select(partition => RoundKey(task, round - 1, partition));

    private async Task<TaskStats> RoundAsync(TaskContext task, int round, CancellationToken cancellationToken)
    {
        var partition = task.Task;
        if (await ConvergedBeforeAsync(task.Job, round, cancellationToken).ConfigureAwait(false))
        {
            await StageObjects.WriteJsonOnceAsync(task.Job.Data, RoundSummaryKey(task, round, partition), new RoundSummary(0, 0, true), cancellationToken).ConfigureAwait(false);
            return new TaskStats { Metrics = { ["cc_skipped_converged"] = partition == 0 ? 1 : 0 } };
        }

        var adjacency = await ReadAdjacencyAsync(task, RoundInputs(task, round), partition, cancellationToken).ConfigureAwait(false);
        var emitted = new List<(Node, Node)>();
        var summary = Round(round, adjacency, emitted);
        await WriteEdgesAsync(task, RoundKey(task, round, partition), emitted, cancellationToken).ConfigureAwait(false);
        await StageObjects.WriteJsonOnceAsync(task.Job.Data, RoundSummaryKey(task, round, partition), summary, cancellationToken).ConfigureAwait(false);
        var stats = new TaskStats();
        AddRoundMetrics(stats.Metrics, partition, summary);
        return stats;
    }

    /// <summary>One star-contraction round over one partition's adjacency: the edges it emits, and what it found.</summary>
    private static RoundSummary Round(int round, List<KeyValuePair<Node, List<Node>>> adjacency, List<(Node, Node)> emitted)
    {
        long violations = 0, edgesIn = 0;
        foreach (var (node, neighbours) in adjacency)
        {
            edgesIn += neighbours.Count;
            if (!StarContraction.IsStarNode(node, neighbours)) violations++;
            StarContraction.Apply(round, node, neighbours, emitted);
        }
        return new RoundSummary(violations, edgesIn, false);
    }

    private static void AddRoundMetrics(Dictionary<string, double> metrics, int partition, RoundSummary summary)
    {
        metrics["cc_rounds"] = metrics.GetValueOrDefault("cc_rounds") + (partition == 0 ? 1 : 0);
        metrics["cc_edges_in"] = metrics.GetValueOrDefault("cc_edges_in") + summary.Edges;
        metrics["cc_unsettled_nodes"] = metrics.GetValueOrDefault("cc_unsettled_nodes") + summary.Violations;
    }

    /// <summary>What one components task decided: how many components of each size it holds the centres of.</summary>
    private sealed record ComponentSummary(int Round, Dictionary<long, long> Sizes);

    private async Task<TaskStats> ComponentsAsync(TaskContext task, CancellationToken cancellationToken)
    {
        var partition = task.Task;
        var last = 0;
        while (last + 1 < spec.MaxRounds && (await ReadRoundSummaryAsync(task, last + 1, partition, cancellationToken).ConfigureAwait(false))?.Skipped == false)
            last++;

        var adjacency = await ReadAdjacencyAsync(task, Enumerable.Range(0, spec.Partitions).Select(p => RoundKey(task, last, p)), partition, cancellationToken)
            .ConfigureAwait(false);
        var (byShard, sizes, removed) = Decide(partition, adjacency);
        await WriteComponentsAsync(task, partition, last, byShard, sizes, cancellationToken).ConfigureAwait(false);
        var stats = new TaskStats();
        AddComponentMetrics(stats.Metrics, sizes, removed);
        return stats;
    }

    /// <summary>
    /// The components of one partition's converged adjacency (a graph not yet in star form fails the job): every leaf is
    /// dropped naming its star's centre; the component sizes of the centres it holds.
    /// </summary>
    private (Dictionary<int, RecordBatch> ByShard, Dictionary<long, long> Sizes, long Removed) Decide(int partition,
        List<KeyValuePair<Node, List<Node>>> adjacency)
    {
        var unsettled = adjacency.Count(a => !StarContraction.IsStarNode(a.Key, a.Value));
        if (unsettled > 0)
            throw new InvalidOperationException(
                $"{this}: connected components did not converge in {spec.MaxRounds} rounds ({unsettled} document(s) of partition {partition} not yet " +
                $"in a star around their component's smallest id); raise the stage's maxRounds.");

        var sizes = new Dictionary<long, long>();
        var byShard = new Dictionary<int, RecordBatch>();
        long removed = 0;
        foreach (var (centre, leaves) in adjacency)
        {
            if (leaves[0] < centre) continue; // a leaf: its centre decides
            var size = leaves.Count + 1L;
            sizes[size] = sizes.GetValueOrDefault(size) + 1;
            foreach (var leaf in spec.Keep == DedupKeep.None ? leaves.Prepend(centre) : leaves)
            {
                if (leaf.IsBase) continue; // a curated document is never removed (its component is centred on a base document)
                if (!byShard.TryGetValue(leaf.Shard, out var batch)) byShard[leaf.Shard] = batch = RecordBatch.WithSchema(DecisionSchema);
                batch.GetColumn<long>(Row).Add(leaf.Row);
                batch.GetColumn<string>(DropsSchema.TwinId).Add(centre.Id);
                batch.GetColumn<long>("component_size").Add(size);
                removed++;
            }
        }
        return (byShard, sizes, removed);
    }

    private async Task WriteComponentsAsync(TaskContext task, int partition, int lastRound, Dictionary<int, RecordBatch> byShard, Dictionary<long, long> sizes,
        CancellationToken cancellationToken)
    {
        await RoutedTable.WriteAsync(task.Job.Data, DecisionsKey(task, partition), DecisionSchema, byShard, cancellationToken).ConfigureAwait(false);
        await StageObjects.WriteJsonOnceAsync(task.Job.Data, ComponentSummaryKey(task, partition), new ComponentSummary(lastRound, sizes), cancellationToken)
            .ConfigureAwait(false);
    }

    /// <summary>A components task's metrics, added to <paramref name="metrics"/> (summed as the manifest sums the tasks').</summary>
    private static void AddComponentMetrics(Dictionary<string, double> metrics, Dictionary<long, long> sizes, long removed)
    {
        metrics["components"] = metrics.GetValueOrDefault("components") + sizes.Values.Sum();
        metrics["component_documents"] = metrics.GetValueOrDefault("component_documents") + sizes.Sum(s => s.Key * s.Value);
        metrics["removed"] = metrics.GetValueOrDefault("removed") + removed;
        foreach (var (size, count) in sizes)
        {
            var bin = SizeBin(size);
            metrics[bin] = metrics.GetValueOrDefault(bin) + count;
        }
    }

    /// <summary>Histogram bin of a component size in the metrics: exact up to 4, then powers of two (<c>component_size_5_8</c>, …).</summary>
    public static string SizeBin(long size)
    {
        if (size <= 4) return $"component_size_{size}";
        long upper = 8;
        while (upper < size) upper *= 2;
        return $"component_size_{upper / 2 + 1}_{upper}";
    }
}
