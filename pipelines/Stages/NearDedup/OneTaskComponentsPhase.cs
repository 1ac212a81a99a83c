using Curation.Pipelines.Execution;
using Curation.Pipelines.NearDup;

namespace Curation.Pipelines.Stages;

// Connected components in one task when the graph is small: the rounds and the components decision in memory.
public sealed partial class NearDedupStage
{
    /// <summary>
    /// When the verified edges fit <see cref="Curation.Pipelines.Spec.NearDedupStageSpec.OneTaskComponentsEdges"/>, this single task runs the
    /// star-contraction rounds and the components decision in memory, exactly as the distributed rounds would (the same
    /// rounds, routing, summaries, decisions and metrics), and the cc-NNN and components phases are not dispatched; a
    /// larger graph leaves it to them.
    /// </summary>
    public const string OneTaskComponentsPhase = "components-one-task";

    /// <summary>Verified edges up to which connected components run in one task by default (about 2 × this many adjacency entries in memory).</summary>
    public const long DefaultOneTaskComponentsEdges = 1_000_000;

    /// <summary>Written last by a one-task components run that decided: the later phases look for it.</summary>
    private sealed record OneTaskComponents(int Rounds, long Edges);

    private string OneTaskMarkerKey(JobContext job) => job.Layout.StageRoot(Index, Name) + $"{OneTaskComponentsPhase}/decided.json";

    /// <summary>True when connected components were decided in one task (asked once the phase finished; from the store alone).</summary>
    private async Task<bool> DecidedInOneTaskAsync(JobContext job, CancellationToken cancellationToken) =>
        await job.Data.GetInfoAsync(OneTaskMarkerKey(job), cancellationToken).ConfigureAwait(false) is not null;

    /// <summary>The stats of the tasks that decided the components: the one task's, or every partition's.</summary>
    private async Task<IReadOnlyList<TaskStats>> ComponentStatsAsync(JobContext job, CancellationToken cancellationToken) =>
        await DecidedInOneTaskAsync(job, cancellationToken).ConfigureAwait(false)
            ? await job.PhaseStatsAsync(this, OneTaskComponentsPhase, 1, cancellationToken).ConfigureAwait(false)
            : await job.PhaseStatsAsync(this, ComponentsPhase, spec.Partitions, cancellationToken).ConfigureAwait(false);

    private async Task<TaskStats> OneTaskComponentsAsync(TaskContext task, CancellationToken cancellationToken)
    {
        var job = task.Job;
        var edges = (await job.PhaseStatsAsync(this, VerifyPhase, job.Plan.ShardCount, cancellationToken).ConfigureAwait(false))
            .Sum(s => (long)s.Metrics.GetValueOrDefault("verified_edges"));
        var bound = spec.OneTaskComponentsEdges ?? DefaultOneTaskComponentsEdges;
        if (bound == 0 || edges > bound) return new TaskStats(); // 0: always the distributed rounds

        var partitions = spec.Partitions;
        var adjacency = new List<KeyValuePair<Node, List<Node>>>[partitions];
        for (var partition = 0; partition < partitions; partition++)
            adjacency[partition] = await ReadAdjacencyAsync(task, RoundInputs(task, 0), partition, cancellationToken).ConfigureAwait(false);

        // Round r runs when round r − 1 left a node out of star form (ConvergedBeforeAsync), up to maxRounds.
        var metrics = new Dictionary<string, double>();
        var last = 0;
        for (var round = 0; round < spec.MaxRounds; round++)
        {
            var next = new Dictionary<Node, List<Node>>[partitions];
            for (var partition = 0; partition < partitions; partition++) next[partition] = [];
            long violations = 0;
            for (var partition = 0; partition < partitions; partition++)
            {
                var emitted = new List<(Node, Node)>();
                var summary = Round(round, adjacency[partition], emitted);
                AddRoundMetrics(metrics, partition, summary);
                violations += summary.Violations;
                // As WriteEdgesAsync routes them: both directions, each to the partition of its source.
                foreach (var (a, b) in emitted)
                {
                    if (a.Equals(b)) continue;
                    Link(next, a, b);
                    Link(next, b, a);
                }
            }
            adjacency = [.. next.Select(SortedAdjacency)];
            last = round;
            if (violations == 0) break;
        }

        for (var partition = 0; partition < partitions; partition++)
        {
            var (byShard, sizes, removed) = Decide(partition, adjacency[partition]);
            await WriteComponentsAsync(task, partition, last, byShard, sizes, cancellationToken).ConfigureAwait(false);
            AddComponentMetrics(metrics, sizes, removed);
        }
        await StageObjects.WriteJsonOnceAsync(job.Data, OneTaskMarkerKey(job), new OneTaskComponents(last + 1, edges), cancellationToken).ConfigureAwait(false);
        return new TaskStats { Metrics = metrics };

        void Link(Dictionary<Node, List<Node>>[] into, Node src, Node dst)
        {
            var target = into[src.PartitionOf(partitions)];
            if (!target.TryGetValue(src, out var list)) target[src] = list = [];
            list.Add(dst);
        }
    }
}
