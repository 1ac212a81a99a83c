using System.Buffers;
using System.Buffers.Binary;
using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using Curation.Pipelines.Execution;
using Curation.Pipelines.IO;
using Curation.Pipelines.Semantic;
using Curation.Pipelines.Spec;
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

    /// <summary>
    /// A shard's matrix: <c>.f32</c> (little-endian float32) or, when the embed stage stored float16, <c>.f16</c>
    /// (IEEE half): the vectors at the precision they were embedded at, so a float16 job's matrix costs half the disk
    /// and the same values (a half read back as float and stored again as half is the same half).
    /// </summary>
    private static string VectorsName(int shard, bool float16) => $"vectors/{JobLayout.ShardName(shard)}.{(float16 ? "f16" : "f32")}";

    private string VectorsKey(TaskContext task, int shard) => Key(task, VectorsName(shard, MatrixFloat16(task)));

    /// <summary>
    /// The precision this stage keeps its own vector copies at (the shard matrices, the cluster partitions' members):
    /// the precision of the embed stage it reads.
    /// </summary>
    internal static EmbeddingPrecision VectorPrecision(TaskContext task) => EmbedStageOf(task).Spec.Precision;

    private static bool MatrixFloat16(TaskContext task) => VectorPrecision(task) == EmbeddingPrecision.Float16;

    private static int ElementBytes(bool float16) => float16 ? sizeof(ushort) : sizeof(float);

    /// <summary>Rows of a tile the assign-i phases read at once: a multiple of the assignment's row block.</summary>
    private const int TileRows = 2048;

    /// <summary>Receives one tile of a shard's vectors (row-major, <paramref name="dimensions"/> each), valid during the call.</summary>
    internal delegate void TileAction(ReadOnlySpan<float> tile, int dimensions);

    /// <summary>
    /// sample: the shard's vectors in row order as a raw little-endian matrix (float32, or float16 for a float16 embed
    /// stage: <see cref="VectorsName"/>) after an 8-byte header (rows, dimensions), so the Lloyd
    /// phases read tiles of it instead of decoding the embeddings and matching ids each time.
    /// </summary>
    private async Task WriteShardVectorsAsync(TaskContext task, float[] vectors, int dimensions, CancellationToken cancellationToken)
    {
        var float16 = MatrixFloat16(task);
        await task.Job.Data.CreateOnceAsync(VectorsKey(task, task.Task), async (stream, ct) =>
        {
            var chunk = ArrayPool<byte>.Shared.Rent(1 << 20);
            try
            {
                BinaryPrimitives.WriteInt32LittleEndian(chunk, vectors.Length / Math.Max(1, dimensions));
                BinaryPrimitives.WriteInt32LittleEndian(chunk.AsSpan(4), dimensions);
                await stream.WriteAsync(chunk.AsMemory(0, 8), ct).ConfigureAwait(false);
                var valuesPerChunk = chunk.Length / ElementBytes(float16);
                for (var start = 0; start < vectors.Length; start += valuesPerChunk)
                {
                    var count = Math.Min(valuesPerChunk, vectors.Length - start);
                    if (float16) TensorPrimitives.ConvertToHalf(vectors.AsSpan(start, count), MemoryMarshal.Cast<byte, Half>(chunk.AsSpan(0, count * sizeof(ushort))));
                    else MemoryMarshal.AsBytes(vectors.AsSpan(start, count)).CopyTo(chunk);
                    await stream.WriteAsync(chunk.AsMemory(0, count * ElementBytes(float16)), ct).ConfigureAwait(false);
                }
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(chunk);
            }
        }, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// assign-i: the shard's vectors as sample wrote them, <see cref="TileRows"/> rows at a time into one pooled buffer,
    /// each tile handed to <paramref name="consume"/>. Returns the shard's row count.
    /// </summary>
    private async Task<int> ReadShardVectorsAsync(TaskContext task, int shard, TileAction consume, CancellationToken cancellationToken)
    {
        var float16 = MatrixFloat16(task);
        await using var input = await task.Job.Data.OpenReadAsync(VectorsKey(task, shard), cancellationToken).ConfigureAwait(false);
        var header = new byte[8];
        await input.ReadExactlyAsync(header, cancellationToken).ConfigureAwait(false);
        var (rows, dimensions) = (BinaryPrimitives.ReadInt32LittleEndian(header), BinaryPrimitives.ReadInt32LittleEndian(header.AsSpan(4)));
        var buffer = ArrayPool<byte>.Shared.Rent(TileRows * dimensions * ElementBytes(float16));
        var widened = float16 ? ArrayPool<float>.Shared.Rent(TileRows * dimensions) : null;
        try
        {
            for (var start = 0; start < rows; start += TileRows)
            {
                var values = Math.Min(TileRows, rows - start) * dimensions;
                await input.ReadExactlyAsync(buffer.AsMemory(0, values * ElementBytes(float16)), cancellationToken).ConfigureAwait(false);
                consume(Widen(buffer.AsSpan(0, values * ElementBytes(float16)), widened, values), dimensions);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
            if (widened is not null) ArrayPool<float>.Shared.Return(widened);
        }
        return rows;
    }

    /// <summary>Receives row <c>rows[index]</c> of a shard's matrix, valid during the call.</summary>
    internal delegate void RowAction(int index, ReadOnlySpan<float> vector);

    /// <summary>
    /// init: the given rows (ascending) of a shard's matrix, read front to back through one pooled buffer
    /// (<see cref="ForwardReader"/>: long gaps between wanted rows are sought past). A row the matrix does not hold, or a
    /// matrix shorter than its header says, is an error naming the object. Returns the dimensions.
    /// </summary>
    private async Task<int> ReadShardRowsAsync(TaskContext task, int shard, int[] rows, RowAction visit, CancellationToken cancellationToken)
    {
        var key = VectorsKey(task, shard);
        await using var input = await task.Job.Data.OpenReadAsync(key, cancellationToken).ConfigureAwait(false);
        using var reader = new ForwardReader(input, 1 << 20);
        var header = new byte[8];
        try
        {
            await reader.ReadAsync(0, header, cancellationToken).ConfigureAwait(false);
            var (count, dimensions) = (BinaryPrimitives.ReadInt32LittleEndian(header), BinaryPrimitives.ReadInt32LittleEndian(header.AsSpan(4)));
            if (rows.Length > 0 && (rows[0] < 0 || rows[^1] >= count))
                throw new InvalidDataException($"{key}: the sample names row {(rows[0] < 0 ? rows[0] : rows[^1])}, the matrix holds {count:N0} rows.");
            var float16 = MatrixFloat16(task);
            var row = new byte[dimensions * ElementBytes(float16)];
            var widened = float16 ? new float[dimensions] : null;
            for (var i = 0; i < rows.Length; i++)
            {
                await reader.ReadAsync(header.Length + (long)rows[i] * row.Length, row, cancellationToken).ConfigureAwait(false);
                visit(i, Widen(row, widened, dimensions));
            }
            return dimensions;
        }
        catch (EndOfStreamException e)
        {
            throw new InvalidDataException($"{key}: shorter than its header says ({e.Message}).", e);
        }
    }

    /// <summary>
    /// <paramref name="values"/> matrix values as floats: the bytes themselves for float32 (<paramref name="widened"/>
    /// null), else the halves converted into <paramref name="widened"/> (exactly: every half is a float).
    /// </summary>
    private static ReadOnlySpan<float> Widen(ReadOnlySpan<byte> bytes, float[]? widened, int values)
    {
        if (widened is null) return MemoryMarshal.Cast<byte, float>(bytes)[..values];
        TensorPrimitives.ConvertToSingle(MemoryMarshal.Cast<byte, Half>(bytes)[..values], widened);
        return widened.AsSpan(0, values);
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
