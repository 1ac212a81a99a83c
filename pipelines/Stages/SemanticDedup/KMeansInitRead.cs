using Curation.Pipelines.IO;
using Curation.Pipelines.Semantic;

namespace Curation.Pipelines.Stages;

// init's sample, read back from the sample phase's files through the cut (KMeansInitSample): as k-means++'s panels, or
// row-major for a clusterDims projection.
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
        var columnOf = new Dictionary<(int Shard, int Row), int>(kept.Length);
        for (var i = 0; i < kept.Length; i++) columnOf[(kept[i].Shard, kept[i].Row)] = i;
        float[] panels = [], row = [];
        var dimensions = 0;
        var decoded = 0;
        await ForEachSampleRowAsync(task, (shard, sampled) =>
        {
            if (!columnOf.TryGetValue((shard, sampled.Row), out var column)) return;
            if (panels.Length == 0)
            {
                dimensions = sampled.Dimensions;
                panels = new float[VectorKernels.PackedLength(kept.Length, dimensions)];
                row = new float[dimensions];
            }
            sampled.DecodeInto(row);
            VectorKernels.PackColumn(row, panels, column);
            decoded++;
        }, cancellationToken).ConfigureAwait(false);
        if (decoded != kept.Length)
            throw new InvalidOperationException($"{stage}: the sample files hold {decoded:N0} of the {kept.Length:N0} rows init chose; they changed under it.");
        return (panels, kept.Length, dimensions);
    }

    /// <summary>The rows the cut keeps as a row-major matrix in shard and row order, with their ids (for a clusterDims projection).</summary>
    private async Task<(List<string> Ids, float[] Sample, int Dimensions)> ReadSampleRowsAsync(TaskContext task, KMeansInitSample.Cut cut,
        CancellationToken cancellationToken)
    {
        var ids = new List<string>(cut.Kept);
        float[] sample = [];
        var dimensions = 0;
        var at = 0;
        await ForEachSampleRowAsync(task, (shard, row) =>
        {
            if (!cut.Keeps(KMeansInitSample.KeyOf(row.Id, Seed(task)), shard, row.Row)) return;
            if (sample.Length == 0)
            {
                dimensions = row.Dimensions;
                sample = new float[(long)cut.Kept * dimensions];
            }
            ids.Add(row.Id);
            row.DecodeInto(sample.AsSpan(at, dimensions));
            at += dimensions;
        }, cancellationToken).ConfigureAwait(false);
        return (ids, sample, dimensions);
    }

    /// <summary>Every row of every shard's sample file, shard by shard in row order, a row group at a time.</summary>
    private async Task ForEachSampleRowAsync(TaskContext task, Action<int, EmbeddingRow> visit, CancellationToken cancellationToken)
    {
        for (var shard = 0; shard < task.Job.Plan.ShardCount; shard++)
        {
            await using var input = await task.Job.Data.OpenReadAsync(SampleKey(task, shard), cancellationToken).ConfigureAwait(false);
            var current = shard;
            await EmbeddingFile.ForEachRowAsync(input, row => visit(current, row), cancellationToken).ConfigureAwait(false);
        }
    }
}
