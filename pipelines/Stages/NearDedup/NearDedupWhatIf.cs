using Curation.Pipelines.Execution;
using Curation.Pipelines.IO;
using Curation.Pipelines.Model;
using Curation.Pipelines.NearDup;
using Curation.Pipelines.Spec;

namespace Curation.Pipelines.Stages;

// The what-if: every candidate pair's similarity, stored by verify, gives the documents removed at any threshold exactly.
public sealed partial class NearDedupStage : IExactWhatIf
{
    private static readonly IReadOnlyList<ColumnSchema> SimilaritySchema =
        [new("u_id", typeof(string)), new("u_base", typeof(bool)), new("v_id", typeof(string)), new("similarity", typeof(double))];

    private string SimilaritiesKey(JobContext job, int shard) => job.Layout.StageRoot(Index, Name) + $"{VerifyPhase}/{JobLayout.ShardName(shard)}.similarity.parquet";

    private static void AddSimilarity(RecordBatch batch, Node u, Node v, double similarity)
    {
        batch.GetColumn<string>("u_id").Add(u.Id);
        batch.GetColumn<bool>("u_base").Add(u.IsBase);
        batch.GetColumn<string>("v_id").Add(v.Id);
        batch.GetColumn<double>("similarity").Add(similarity);
    }

    public async Task<ExactWhatIf> WhatIfAsync(JobContext job, CancellationToken cancellationToken)
    {
        var threshold = spec.Thresholds[0];
        if (spec.Verify == NearDedupVerify.None)
            throw new InvalidOperationException($"{this} ran without verify: candidate pairs have no similarity to move a threshold over (run it with verify estimated or exact).");
        var verify = await job.PhaseStatsAsync(this, VerifyPhase, job.Plan.ShardCount, cancellationToken).ConfigureAwait(false);
        var signature = await job.PhaseStatsAsync(this, SignaturePhase, job.Plan.ShardCount, cancellationToken).ConfigureAwait(false);
        var components = await ComponentStatsAsync(job, cancellationToken).ConfigureAwait(false);
        return new ExactWhatIf(threshold, signature.Sum(s => s.In), (long)components.Sum(s => s.Metrics.GetValueOrDefault("removed")),
            MeasureHistogram.Collect(threshold, verify), WhatIf.Grid(0.3, 1, 56), (values, ct) => RemovedAtAsync(job, values, ct));
    }

    /// <summary>
    /// Documents removed at each threshold, as a re-run would remove them: the components of the candidate pairs at or above
    /// the threshold (what verify keeps as edges), each keeping its smallest member (or, in a refresh, every base member and
    /// none of the new ones). One pass, highest similarity first, adding edges to a union-find as the threshold falls.
    /// Memory: the candidate pairs and the documents in them, never the corpus.
    /// </summary>
    private async Task<long[]> RemovedAtAsync(JobContext job, IReadOnlyList<double> thresholds, CancellationToken cancellationToken)
    {
        var nodes = new Dictionary<(string, bool), int>();
        var isBase = new List<bool>();
        int NodeOf(string id, bool onBase)
        {
            if (nodes.TryGetValue((id, onBase), out var n)) return n;
            nodes[(id, onBase)] = n = nodes.Count;
            isBase.Add(onBase);
            return n;
        }
        var edges = new List<(double Similarity, int U, int V)>();
        for (var shard = 0; shard < job.Plan.ShardCount; shard++)
        {
            var key = SimilaritiesKey(job, shard);
            await using var input = await job.Data.OpenReadAsync(key, cancellationToken).ConfigureAwait(false);
            await using var reader = await ParquetTableReader.OpenAsync(input, cancellationToken).ConfigureAwait(false);
            await foreach (var batch in reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
            {
                var (uIds, uBase, vIds, similarity) = (batch.GetColumn<string>("u_id"), batch.GetColumn<bool>("u_base"), batch.GetColumn<string>("v_id"),
                    batch.GetColumn<double>("similarity"));
                for (var i = 0; i < batch.RowCount; i++) edges.Add((similarity[i], NodeOf(uIds[i], uBase[i]), NodeOf(vIds[i], false)));
            }
        }
        edges.Sort((a, b) => b.Similarity.CompareTo(a.Similarity));

        var parent = Enumerable.Range(0, nodes.Count).ToArray();
        var newMembers = isBase.Select(b => b ? 0L : 1L).ToArray();
        var hasBase = isBase.ToArray();
        int Find(int x)
        {
            while (parent[x] != x) x = parent[x] = parent[parent[x]];
            return x;
        }
        // A component removes its new members less one, or all of them when it holds a base document; a singleton removes none.
        static long Removes(long members, bool withBase) => withBase ? members : members - 1;

        var order = Enumerable.Range(0, thresholds.Count).OrderByDescending(i => thresholds[i]).ToArray();
        var result = new long[thresholds.Count];
        long removed = 0;
        var next = 0;
        foreach (var t in order)
        {
            for (; next < edges.Count && edges[next].Similarity >= thresholds[t]; next++)
            {
                var (a, b) = (Find(edges[next].U), Find(edges[next].V));
                if (a == b) continue;
                removed -= Removes(newMembers[a], hasBase[a]) + Removes(newMembers[b], hasBase[b]);
                parent[b] = a;
                newMembers[a] += newMembers[b];
                hasBase[a] |= hasBase[b];
                removed += Removes(newMembers[a], hasBase[a]);
            }
            result[t] = removed;
        }
        return result;
    }
}
