using Curation.Pipelines.Execution;
using Curation.Pipelines.IO;
using Curation.Pipelines.Semantic;

namespace Curation.Pipelines.Stages;

// The decide phase: per partition, which members are removed and which kept document each removed one names.
public sealed partial class SemanticDedupStage
{
    private async Task<TaskStats> DecideAsync(TaskContext task, CancellationToken cancellationToken)
    {
        var partition = task.Task;
        var eps = (await ReadChoiceAsync(task, cancellationToken).ConfigureAwait(false)).Eps;
        var scores = await ShuffleTable.ReadAllAsync<ScoreRow>(task.Job.Data, Key(task, $"scores/{partition:D4}.parquet"), cancellationToken).ConfigureAwait(false);
        var n = scores.Count;

        // Rows of one cluster are contiguous, healthy ones in rank order first: row of rank r = start + r. A refresh's
        // base members (shard BaseShard) rank first; they are already curated, get no verdict and are never removed.
        var removed = new bool[n];
        var twinRow = new int[n];
        var twinSimilarity = new float[n];
        var twinKept = new bool[n];
        var chains = new List<int>();
        var clusterStart = new Dictionary<int, int>();
        for (var i = 0; i < n; i++)
        {
            twinRow[i] = -1;
            var score = scores[i];
            clusterStart.TryAdd(score.Cluster, i);
            if (score.Rank < 0 || score.Shard == BaseShard || !SemDeDup.IsDuplicate(score.MaxSimilarity, eps)) continue;
            removed[i] = true;
            var twin = clusterStart[score.Cluster] + score.TwinRank;
            // The direct twin gave M, the maximum over every earlier member, so when it is kept it is also the most
            // similar kept one. When it is removed itself (a chain), the kept members are searched below.
            (twinRow[i], twinSimilarity[i], twinKept[i]) = (twin, score.MaxSimilarity, !removed[twin]);
            if (removed[twin]) chains.Add(i);
        }

        long chainResolved = 0;
        if (chains.Count > 0)
            chainResolved = _cascade.Enabled
                ? await _cascade.ResolveChainsAsync(task, partition, chains, removed, twinRow, twinSimilarity, twinKept, cancellationToken).ConfigureAwait(false)
                : await ResolveChainsAsync(task, partition, scores, chains, removed, clusterStart, eps, twinRow, twinSimilarity, twinKept, cancellationToken)
                    .ConfigureAwait(false);

        var verdicts = new SortedDictionary<int, ShuffleRows<VerdictRow>>();
        var clusterTable = new ShuffleRows<ClusterRow>();
        for (var i = 0; i < n; i++)
        {
            var score = scores[i];
            if (i == clusterStart[score.Cluster])
            {
                var end = i;
                while (end < n && scores[end].Cluster == score.Cluster) end++;
                var own = Enumerable.Range(i, end - i).Where(r => scores[r].Shard != BaseShard).ToArray();
                clusterTable.Add(new ClusterRow(score.Cluster, own.Length, own.Count(r => scores[r].Rank >= 0), own.Count(r => removed[r])));
            }
            if (score.Shard == BaseShard) continue;
            var batch = verdicts.TryGetValue(score.Shard, out var b) ? b : verdicts[score.Shard] = new ShuffleRows<VerdictRow>();
            batch.Add(new VerdictRow(score.Row, score.Cluster, score.MaxSimilarity, removed[i] ? scores[twinRow[i]].Id : "",
                twinSimilarity[i], twinKept[i], score.Health));
        }
        foreach (var (shard, batch) in verdicts)
            await ShuffleTable.WriteAsync(task.Job.Data, Key(task, $"verdicts/{JobLayout.ShardName(shard)}/{partition:D4}.parquet"), batch, null, cancellationToken)
                .ConfigureAwait(false);
        await ShuffleTable.WriteAsync(task.Job.Data, Key(task, $"clusters/{partition:D4}.parquet"), clusterTable, null, cancellationToken).ConfigureAwait(false);

        var removedCount = removed.Count(r => r);
        var stats = new TaskStats
        {
            In = scores.Count(s => s.Shard != BaseShard),
            Metrics =
            {
                ["removed"] = removedCount, ["twins_kept"] = Enumerable.Range(0, n).Count(i => removed[i] && twinKept[i]),
                ["chain_twins_kept"] = chainResolved, ["chain_twins_removed"] = chains.Count - chainResolved,
            },
            Indexes = task.Job.Refresh is null ? null
                : [await WriteMembersIndexAsync(task, partition, scores, removed, cancellationToken).ConfigureAwait(false)],
        };
        if (Refreshing(task))
            stats.Metrics["duplicates_of_corpus"] = Enumerable.Range(0, n).Count(i => removed[i] && scores[twinRow[i]].Shard == BaseShard);
        return stats;
    }

    /// <summary>
    /// For removed members whose direct twin was removed too: the most similar kept earlier member of the cluster
    /// (earliest rank on ties), when it lies within eps. Otherwise the direct twin stays — a removed document within
    /// eps whose own drop names the next link — because no kept document is within eps (a chain a ~ b ~ c).
    /// Loads only the vectors of the clusters concerned. Returns how many found a kept twin.
    /// </summary>
    private async Task<long> ResolveChainsAsync(TaskContext task, int partition, List<ScoreRow> scores, List<int> chains, bool[] removed,
        Dictionary<int, int> clusterStart, double eps, int[] twinRow, float[] twinSimilarity, bool[] twinKept, CancellationToken cancellationToken)
    {
        var wantedClusters = chains.Select(i => scores[i].Cluster).ToHashSet();
        var rowOf = new Dictionary<(int Shard, long Row), int>();
        for (var i = 0; i < scores.Count; i++)
            if (scores[i].Rank >= 0 && wantedClusters.Contains(scores[i].Cluster)) rowOf[(scores[i].Shard, scores[i].Row)] = i;

        VectorSpill? spill = null;
        try
        {
            var spillRowOf = new Dictionary<int, int>();
            var members = await ReadMembersAsync(task, partition, (shard, row, cluster, _) => wantedClusters.Contains(cluster),
                d => spill = new VectorSpill(d), cancellationToken).ConfigureAwait(false);
            // A refresh: the corpus' members rank first and are kept, so they are candidates too.
            if (Refreshing(task))
                members.AddRange(await ReadBaseMembersAsync(task, partition, wantedClusters.Contains, _ => spill!, cancellationToken).ConfigureAwait(false));
            foreach (var m in members)
                if (m.SpillRow >= 0) spillRowOf[rowOf[(m.Shard, m.Row)]] = m.SpillRow;
            spill!.Seal();

            long resolved = 0;
            foreach (var j in chains)
            {
                var start = clusterStart[scores[j].Cluster];
                var (best, bestRow) = (float.NegativeInfinity, -1);
                for (var i = start; i < j; i++)
                {
                    if (removed[i]) continue;
                    var similarity = VectorKernels.SequentialDot(spill.Row(spillRowOf[i]), spill.Row(spillRowOf[j]));
                    if (similarity > best) (best, bestRow) = (similarity, i);
                }
                if (bestRow < 0 || !SemDeDup.IsDuplicate(best, eps)) continue;
                (twinRow[j], twinSimilarity[j], twinKept[j]) = (bestRow, best, true);
                resolved++;
            }
            return resolved;
        }
        finally
        {
            spill?.Dispose();
        }
    }
}
