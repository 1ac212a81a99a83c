using Curation.Pipelines.Semantic;
using Curation.Pipelines.Storage;

namespace Curation.Pipelines.Stages;

// The k-means phases' objects: centroids per iteration and per-shard partial sums, as binary files.
internal sealed partial class KMeansPhases
{
    private async Task WriteCentroidsAsync(TaskContext task, int iteration, Centroids centroids, double shift, bool converged, CancellationToken cancellationToken) =>
        await task.Job.Data.CreateOnceAsync(CentroidsKey(task, iteration), async (stream, ct) =>
        {
            using var buffer = new MemoryStream();
            await using (var writer = new BinaryWriter(buffer, System.Text.Encoding.UTF8, leaveOpen: true))
            {
                writer.Write(centroids.Count);
                writer.Write(centroids.Dimensions);
                writer.Write(shift);
                writer.Write(converged);
                foreach (var value in centroids.Values) writer.Write(value);
            }
            buffer.Position = 0;
            await buffer.CopyToAsync(stream, ct).ConfigureAwait(false);
        }, cancellationToken).ConfigureAwait(false);

    private async Task<(Centroids Centroids, bool Converged)> ReadCentroidsAsync(TaskContext task, int iteration, CancellationToken cancellationToken)
    {
        using var reader = new BinaryReader(new MemoryStream(await task.Job.Data.ReadBytesAsync(CentroidsKey(task, iteration), cancellationToken).ConfigureAwait(false)));
        var (k, d) = (reader.ReadInt32(), reader.ReadInt32());
        reader.ReadDouble();
        var converged = reader.ReadBoolean();
        var values = new float[k * d];
        for (var i = 0; i < values.Length; i++) values[i] = reader.ReadSingle();
        return (new Centroids(values, d), converged);
    }

    private static async Task WritePartialAsync(Stream stream, PartialSums partial, CancellationToken cancellationToken)
    {
        using var buffer = new MemoryStream();
        await using (var writer = new BinaryWriter(buffer, System.Text.Encoding.UTF8, leaveOpen: true))
        {
            writer.Write(partial.Clusters);
            writer.Write(partial.Dimensions);
            writer.Write(partial.InertiaFixed);
            writer.Write(partial.VectorCount);
            foreach (var value in partial.Sums) writer.Write(value);
            foreach (var value in partial.Counts) writer.Write(value);
        }
        buffer.Position = 0;
        await buffer.CopyToAsync(stream, cancellationToken).ConfigureAwait(false);
    }

    private static async Task<PartialSums> ReadPartialAsync(Stream input, CancellationToken cancellationToken)
    {
        using var buffer = new MemoryStream();
        await input.CopyToAsync(buffer, cancellationToken).ConfigureAwait(false);
        buffer.Position = 0;
        using var reader = new BinaryReader(buffer);
        var (k, d, inertia, count) = (reader.ReadInt32(), reader.ReadInt32(), reader.ReadInt64(), reader.ReadInt64());
        var sums = new long[k * d];
        for (var i = 0; i < sums.Length; i++) sums[i] = reader.ReadInt64();
        var counts = new long[k];
        for (var i = 0; i < counts.Length; i++) counts[i] = reader.ReadInt64();
        return new PartialSums(k, d, sums, counts, inertia, count);
    }
}

/// <summary>Centroids and mean direction given instead of fitted, for the jobs it applies to (see <see cref="KMeansPhases"/>).</summary>
internal interface IFixedClustering
{
    bool Applies(TaskContext task);

    Task<(Centroids Centroids, MeanDirection Mean)> LoadAsync(TaskContext task, CancellationToken cancellationToken);
}
