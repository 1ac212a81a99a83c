using Curation.Pipelines.Execution;
using Curation.Pipelines.IO;
using Curation.Pipelines.Semantic;
using Curation.Pipelines.Spec;

namespace Curation.Pipelines.Stages;

// The score phase: per cluster, members ranked; M and direct twins over the partition's spilled vectors.
public sealed partial class SemanticDedupStage
{
    private async Task<TaskStats> ScoreAsync(TaskContext task, CancellationToken cancellationToken)
    {
        var partition = task.Task;
        VectorSpill? spill = null;
        try
        {
            var members = await ReadMembersAsync(task, partition, (_, _, _, _) => true, d => spill = new VectorSpill(d), cancellationToken).ConfigureAwait(false);
            // A refresh: the corpus' members of the clusters this run's healthy documents fall in (other clusters have nothing to compare).
            List<Member> baseMembers = [];
            if (Refreshing(task) && members.Any(m => m.SpillRow >= 0))
            {
                var wanted = members.Where(m => m.SpillRow >= 0).Select(m => m.Cluster).ToHashSet();
                baseMembers = await ReadBaseMembersAsync(task, partition, wanted.Contains, _ => spill!, cancellationToken).ConfigureAwait(false);
            }
            var candidates = _cascade.Enabled ? new List<CandidatePair>() : null;
            var scores = Score(members, baseMembers, spill, Seed(task), candidates);
            var metrics = new Dictionary<string, double> { ["documents"] = members.Count, ["healthy"] = scores.Healthy, ["clusters"] = scores.Clusters };
            if (candidates is not null)
            {
                // The cascade: the verify phases decide the candidates and write the final scores and histogram.
                foreach (var (key, value) in await _cascade.WriteCandidatesAsync(task, partition, scores.Table.Batch, candidates, cancellationToken).ConfigureAwait(false))
                    metrics[key] = value;
            }
            else
            {
                await ShuffleTable.WriteAsync(task.Job.Data, Key(task, $"scores/{partition:D4}.parquet"), scores.Table, null, cancellationToken).ConfigureAwait(false);
                await StageObjects.WriteSparseHistogramAsync(task.Job.Data, Key(task, $"mhist/{partition:D4}.bin"), scores.Histogram, cancellationToken).ConfigureAwait(false);
            }

            if (Refreshing(task)) metrics["base_members_compared"] = baseMembers.Count;
            // M is computed once, so every eps of the curve costs nothing more.
            foreach (var eps in _spec.EpsCurve)
                metrics[EpsMetric(eps)] = scores.MaxSimilarity.Count(m => SemDeDup.IsDuplicate(m, eps));
            return new TaskStats { In = members.Count, Metrics = metrics };
        }
        finally
        {
            spill?.Dispose();
        }
    }

    private sealed record PartitionScores(ShuffleRows<ScoreRow> Table, long[] Histogram, List<float> MaxSimilarity, long Healthy, int Clusters);

    /// <summary>
    /// Ranks each cluster's healthy members and computes M and direct twins over the spilled vectors. A refresh's base
    /// members of the cluster rank first (in index order): every new member is compared with them, they get no M
    /// (rank ≥ 0, shard <see cref="BaseShard"/>), and they count nowhere in this run's histogram or totals.
    /// </summary>
    private unsafe PartitionScores Score(List<Member> members, List<Member> baseMembers, VectorSpill? spill, ulong seed, List<CandidatePair>? candidates)
    {
        var baseOf = baseMembers.GroupBy(m => m.Cluster).ToDictionary(g => g.Key, g => g.ToArray());
        var table = new ShuffleRows<ScoreRow>(members.Count);
        var histogram = new long[SimilarityBins];
        var allMax = new List<float>();
        spill?.Seal();
        var source = spill is null ? null : spill.Pointer;
        var clusters = members.Select((m, i) => (m, i)).GroupBy(x => x.m.Cluster).OrderBy(g => g.Key).ToList();
        long healthy = 0;
        foreach (var cluster in clusters)
        {
            var list = cluster.Where(x => x.m.SpillRow >= 0).Select(x => x.m).ToArray();
            var ranking = SemDeDup.Rank(list.Select(m => m.Distance).ToArray(), list.Select(m => m.Id).ToArray(), ToOrder(_spec.Order), seed);
            var corpus = baseOf.GetValueOrDefault(cluster.Key) ?? [];
            var rowOfRank = corpus.Select(m => m.SpillRow).Concat(ranking.Select(r => list[r].SpillRow)).ToArray();
            var (max, twinRank) = SemDeDup.ComputeRanked(source, spill?.Dimensions ?? 1, rowOfRank, _spec.TileSize, firstScored: corpus.Length);
            if (candidates is not null && spill is not null)
                CascadePhases.CollectCandidates(candidates, source, spill.Count, spill.Dimensions, rowOfRank, max, _cascade.CandidateRule, table.Count);
            for (var b = 0; b < corpus.Length; b++) AddScore(table, corpus[b], b, 0, -1);
            for (var r = corpus.Length; r < rowOfRank.Length; r++)
            {
                AddScore(table, list[ranking[r - corpus.Length]], r, max[r], twinRank[r]);
                histogram[SimilarityBin(max[r])]++;
                allMax.Add(max[r]);
            }
            healthy += list.Length;
            foreach (var (member, _) in cluster.Where(x => x.m.SpillRow < 0)) AddScore(table, member, -1, 0, -1);
        }
        return new PartitionScores(table, histogram, allMax, healthy, clusters.Count);

        static void AddScore(ShuffleRows<ScoreRow> table, Member m, int rank, float max, int twinRank) =>
            table.Add(new ScoreRow(m.Shard, m.Row, m.Id, m.Cluster, rank, max, twinRank, m.Health));
    }

    private static SemDeDupOrder ToOrder(SemanticOrder order) =>
        order switch { SemanticOrder.Easy => SemDeDupOrder.Easy, SemanticOrder.Random => SemDeDupOrder.Random, _ => SemDeDupOrder.Hard };
}
