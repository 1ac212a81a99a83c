using Curation.Pipelines.Execution;
using Curation.Pipelines.IO;
using Curation.Pipelines.Model;
using Curation.Pipelines.NearDup;
using Curation.Pipelines.Spec;

namespace Curation.Pipelines.Stages;

// The verify phase: candidate pairs checked against the threshold become edges; edge files written and read as adjacency.
public sealed partial class NearDedupStage
{
    private async Task<TaskStats> VerifyAsync(TaskContext task, CancellationToken cancellationToken)
    {
        var shard = task.Task;
        // Candidate pairs of this shard's documents (the larger end), distinct over the bucket partitions, in the order of
        // their smaller end's shard, then (smaller, larger).
        var candidates = new HashSet<(Node U, Node V)>();
        for (var partition = 0; partition < spec.Partitions; partition++)
            await foreach (var batch in RoutedTable.ReadAsync(task.Job.Data, CandidatesKey(task, partition), shard, cancellationToken).ConfigureAwait(false))
            {
                var (uIds, uShards, uRows, vIds, vRows) = (batch.GetColumn<string>("u_id"), batch.GetColumn<int>("u_shard"), batch.GetColumn<long>("u_row"),
                    batch.GetColumn<string>("v_id"), batch.GetColumn<long>("v_row"));
                for (var i = 0; i < batch.RowCount; i++) candidates.Add((new Node(uIds[i], uShards[i], uRows[i]), new Node(vIds[i], shard, vRows[i])));
            }
        var pairs = new List<(Node U, Node V, byte[] UData)>(candidates.Count);
        foreach (var group in candidates.GroupBy(p => p.U.Shard).OrderBy(g => g.Key))
        {
            var uData = spec.Verify == NearDedupVerify.None
                ? []
                : await LoadVerificationDataAsync(task, group.Key, group.Select(p => p.U.Row).ToHashSet(), cancellationToken).ConfigureAwait(false);
            foreach (var (u, v) in group.OrderBy(p => p.U).ThenBy(p => p.V)) pairs.Add((u, v, uData.GetValueOrDefault(u.Row, [])));
        }
        if (task.Job.Refresh?.BaseSnapshot is not null)
            for (var partition = 0; partition < spec.Partitions; partition++)
                await foreach (var batch in RoutedTable.ReadAsync(task.Job.Data, BasePairsKey(task, partition), shard, cancellationToken).ConfigureAwait(false))
                {
                    var (uIds, vIds, vRows, uData) = (batch.GetColumn<string>("u_id"), batch.GetColumn<string>("v_id"), batch.GetColumn<long>("v_row"),
                        batch.GetColumn<byte[]>("u_data"));
                    for (var i = 0; i < batch.RowCount; i++) pairs.Add((Node.Base(uIds[i]), new Node(vIds[i], shard, vRows[i]), uData[i]));
                }

        var data = spec.Verify == NearDedupVerify.None
            ? []
            : await LoadVerificationDataAsync(task, shard, pairs.Select(p => p.V.Row).ToHashSet(), cancellationToken).ConfigureAwait(false);
        var edges = new List<(Node, Node)>();
        long rejected = 0;
        // Every candidate pair's similarity is kept (and its histogram counted): the what-if re-runs components on them at any threshold.
        var similarities = spec.Verify == NearDedupVerify.None ? null : RecordBatch.WithSchema(SimilaritySchema, pairs.Count);
        var histogram = new MeasureCounts(spec.Thresholds[0]);
        foreach (var (u, v, uData) in pairs)
        {
            if (similarities is not null)
            {
                var vData = data[v.Row];
                var similarity = spec.Verify == NearDedupVerify.Exact
                    ? MinHasher.Exact(MinHasher.HashesFromBytes(uData), MinHasher.HashesFromBytes(vData))
                    : MinHasher.Estimate(MinHasher.FromBytes(uData), MinHasher.FromBytes(vData));
                AddSimilarity(similarities, u, v, similarity);
                histogram.Add(similarity);
                if (similarity < spec.Threshold)
                {
                    rejected++;
                    continue;
                }
            }
            edges.Add((u, v));
        }
        await WriteEdgesAsync(task, EdgesKey(task, shard), edges, cancellationToken).ConfigureAwait(false);
        if (similarities is not null)
            await StageObjects.WriteParquetAsync(task.Job.Data, SimilaritiesKey(task.Job, shard), similarities, null, cancellationToken).ConfigureAwait(false);
        var stats = new TaskStats
        {
            Metrics = { ["candidate_pairs"] = candidates.Count, ["verified_edges"] = edges.Count, ["rejected_candidates"] = rejected },
        };
        histogram.AddTo(stats.Metrics);
        return stats;
    }

    /// <summary>Writes undirected edges as directed pairs both ways, each routed to the partition of its source, sorted and distinct.</summary>
    private async Task<long> WriteEdgesAsync(TaskContext task, string key, IEnumerable<(Node A, Node B)> edges, CancellationToken cancellationToken)
    {
        var byPartition = new Dictionary<int, SortedSet<(Node Src, Node Dst)>>();
        void Add(Node src, Node dst)
        {
            var partition = src.PartitionOf(spec.Partitions);
            if (!byPartition.TryGetValue(partition, out var set)) byPartition[partition] = set = new SortedSet<(Node, Node)>(EdgeOrder.Instance);
            set.Add((src, dst));
        }
        foreach (var (a, b) in edges)
        {
            if (a.Equals(b)) continue;
            Add(a, b);
            Add(b, a);
        }
        var batches = new Dictionary<int, RecordBatch>();
        long written = 0;
        foreach (var (partition, set) in byPartition)
        {
            var batch = RecordBatch.WithSchema(EdgeSchema, set.Count);
            foreach (var (src, dst) in set)
            {
                batch.GetColumn<string>("src_id").Add(src.Id);
                batch.GetColumn<int>("src_shard").Add(src.Shard);
                batch.GetColumn<long>("src_row").Add(src.Row);
                batch.GetColumn<string>("dst_id").Add(dst.Id);
                batch.GetColumn<int>("dst_shard").Add(dst.Shard);
                batch.GetColumn<long>("dst_row").Add(dst.Row);
            }
            written += set.Count;
            batches[partition] = batch;
        }
        await RoutedTable.WriteAsync(task.Job.Data, key, EdgeSchema, batches, cancellationToken).ConfigureAwait(false);
        return written;
    }

    private sealed class EdgeOrder : IComparer<(Node Src, Node Dst)>
    {
        public static readonly EdgeOrder Instance = new();

        public int Compare((Node Src, Node Dst) x, (Node Src, Node Dst) y)
        {
            var bySrc = x.Src.CompareTo(y.Src);
            return bySrc != 0 ? bySrc : x.Dst.CompareTo(y.Dst);
        }
    }

    /// <summary>The adjacency of this partition's nodes, read from the row groups addressed to it; nodes and neighbours sorted.</summary>
    private static async Task<List<KeyValuePair<Node, List<Node>>>> ReadAdjacencyAsync(TaskContext task, IEnumerable<string> sources, int partition,
        CancellationToken cancellationToken)
    {
        // Grouped by hashing, then ordered once (cheaper than a sorted tree of every node).
        var adjacency = new Dictionary<Node, List<Node>>();
        foreach (var key in sources)
            await foreach (var batch in RoutedTable.ReadAsync(task.Job.Data, key, partition, cancellationToken).ConfigureAwait(false))
            {
                var (srcIds, srcShards, srcRows) = (batch.GetColumn<string>("src_id"), batch.GetColumn<int>("src_shard"), batch.GetColumn<long>("src_row"));
                var (dstIds, dstShards, dstRows) = (batch.GetColumn<string>("dst_id"), batch.GetColumn<int>("dst_shard"), batch.GetColumn<long>("dst_row"));
                for (var i = 0; i < batch.RowCount; i++)
                {
                    var src = new Node(srcIds[i], srcShards[i], srcRows[i]);
                    if (!adjacency.TryGetValue(src, out var list)) adjacency[src] = list = [];
                    list.Add(new Node(dstIds[i], dstShards[i], dstRows[i]));
                }
            }
        return SortedAdjacency(adjacency);
    }

    /// <summary>Nodes in order, each with its neighbours sorted and distinct: how every phase sees a partition's edges.</summary>
    private static List<KeyValuePair<Node, List<Node>>> SortedAdjacency(Dictionary<Node, List<Node>> adjacency)
    {
        var sorted = adjacency.ToList();
        sorted.Sort((x, y) => x.Key.CompareTo(y.Key));
        foreach (var (_, list) in sorted)
        {
            list.Sort();
            var distinct = 1;
            for (var i = 1; i < list.Count; i++)
                if (!list[i].Equals(list[distinct - 1])) list[distinct++] = list[i];
            list.RemoveRange(distinct, list.Count - distinct);
        }
        return sorted;
    }
}
