using Curation.Pipelines.Semantic;

namespace Curation.Pipelines.Stages;

// init's sample: the rows the cut (KMeansInitSample) keeps of the sample phase's ids, their vectors read from the
// shards' matrices, as k-means++'s panels or row-major for a clusterDims projection.
internal sealed partial class KMeansPhases
{
    /// <summary>
    /// The rows the cut keeps, decoded straight into k-means++'s panels (<see cref="SphericalKMeans.InitializePlusPlusPacked"/>)
    /// in its stable order — document id (ordinal), ties by shard and row, the order the row-major form sorts by — so
    /// init holds one copy of the sample (100,000 × 384 floats: 147 MiB), not a row-major one and its packed copy.
    /// Needs the cut's candidates offered with their ids.
    /// </summary>
    private async Task<(float[] Panels, int Count, int Dimensions)> ReadSamplePackedAsync(TaskContext task, KMeansInitSample.Cut cut,
        CancellationToken cancellationToken)
    {
        var kept = cut.KeptCandidates().ToArray();
        Array.Sort(kept, (a, b) =>
        {
            var byId = string.CompareOrdinal(a.Id, b.Id);
            if (byId != 0) return byId;
            var byShard = a.Shard.CompareTo(b.Shard);
            return byShard != 0 ? byShard : a.Row.CompareTo(b.Row);
        });
        float[] panels = [];
        var dimensions = await ForEachSampledVectorAsync(task, kept, (column, vector) =>
        {
            if (panels.Length == 0) panels = new float[VectorKernels.PackedLength(kept.Length, vector.Length)];
            VectorKernels.PackColumn(vector, panels, column);
        }, cancellationToken).ConfigureAwait(false);
        return (panels, kept.Length, dimensions);
    }

    /// <summary>The rows the cut keeps as a row-major matrix in shard and row order, with their ids (for a clusterDims projection).</summary>
    private async Task<(List<string> Ids, float[] Sample, int Dimensions)> ReadSampleRowsAsync(TaskContext task, KMeansInitSample.Cut cut,
        CancellationToken cancellationToken)
    {
        var kept = cut.KeptCandidates().ToArray();
        Array.Sort(kept, (a, b) => a.Shard != b.Shard ? a.Shard.CompareTo(b.Shard) : a.Row.CompareTo(b.Row));
        var ids = kept.Select(c => c.Id!).ToList();
        float[] sample = [];
        var dimensions = await ForEachSampledVectorAsync(task, kept, (at, vector) =>
        {
            if (sample.Length == 0) sample = new float[(long)kept.Length * vector.Length];
            vector.CopyTo(sample.AsSpan(at * vector.Length, vector.Length));
        }, cancellationToken).ConfigureAwait(false);
        return (ids, sample, dimensions);
    }

    /// <summary>Receives one sampled row's vector (valid during the call) and the row's index in the caller's array.</summary>
    private delegate void SampledVector(int index, ReadOnlySpan<float> vector);

    /// <summary>
    /// The vectors of the sampled rows <paramref name="kept"/> (index i for kept[i]), read where they lie: shard by shard from
    /// the shard's matrix (<c>vectors/</c>), in row order, tiles without a sampled row skipped. Returns the dimensions.
    /// </summary>
    private async Task<int> ForEachSampledVectorAsync(TaskContext task, (string? Id, int Shard, int Row)[] kept, SampledVector visit,
        CancellationToken cancellationToken)
    {
        var order = new int[kept.Length];
        for (var i = 0; i < order.Length; i++) order[i] = i;
        if (!InShardRowOrder(kept))   // the row-major sample comes sorted already
            Array.Sort(order, (a, b) => ShardRowOrder(kept[a], kept[b]));
        var dimensions = 0;
        for (var start = 0; start < order.Length;)
        {
            var shard = kept[order[start]].Shard;
            var end = start;
            while (end < order.Length && kept[order[end]].Shard == shard) end++;
            var rows = new int[end - start];
            for (var i = start; i < end; i++) rows[i - start] = kept[order[i]].Row;
            var first = start;
            dimensions = await ReadShardRowsAsync(task, shard, rows, (index, vector) => visit(order[first + index], vector), cancellationToken)
                .ConfigureAwait(false);
            start = end;
        }
        return dimensions;
    }

    private static int ShardRowOrder((string? Id, int Shard, int Row) a, (string? Id, int Shard, int Row) b) => (a.Shard, a.Row).CompareTo((b.Shard, b.Row));

    private static bool InShardRowOrder((string? Id, int Shard, int Row)[] kept)
    {
        for (var i = 1; i < kept.Length; i++)
            if (ShardRowOrder(kept[i - 1], kept[i]) > 0) return false;
        return true;
    }
}
