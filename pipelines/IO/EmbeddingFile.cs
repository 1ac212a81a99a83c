using System.Runtime.InteropServices;
using Curation.Pipelines.Model;
using Curation.Pipelines.Spec;

namespace Curation.Pipelines.IO;

/// <summary>
/// Embeddings of one shard as Parquet: <c>id</c> (string) and <c>embedding</c> (binary: the vector as little-endian
/// float32 or IEEE float16, <see cref="DimensionsKey"/> values). Binary columns read back with one copy per row — no
/// list decoding, no serializer — and numpy reads them with <c>np.frombuffer(b, dtype)</c>.
/// </summary>
public static class EmbeddingFile
{
    public const string VectorColumn = "embedding";
    public const string DimensionsKey = "curation.embedding.dimensions";
    public const string DtypeKey = "curation.embedding.dtype";
    public const string ModelKey = "curation.embedding.model";

    public static readonly IReadOnlyList<ColumnSchema> Schema = [new(Columns.Id, typeof(string)), new(VectorColumn, typeof(byte[]))];

    public static Dictionary<string, string> Metadata(int dimensions, EmbeddingPrecision precision, string model) => new()
    {
        [DimensionsKey] = dimensions.ToString(System.Globalization.CultureInfo.InvariantCulture),
        [DtypeKey] = precision == EmbeddingPrecision.Float16 ? "float16" : "float32",
        [ModelKey] = model,
    };

    /// <summary>Whether a file's key-value metadata (<see cref="Metadata"/>) says its vectors are float16.</summary>
    public static bool IsFloat16(IReadOnlyDictionary<string, string> metadata) =>
        metadata.GetValueOrDefault(DtypeKey) == "float16";

    /// <summary>A batch of rows: ids and their vectors (row-major, <paramref name="dimensions"/> per row).</summary>
    public static RecordBatch ToBatch(IReadOnlyList<string> ids, ReadOnlySpan<float> vectors, int dimensions, EmbeddingPrecision precision)
    {
        var batch = RecordBatch.WithSchema(Schema, ids.Count);
        var column = batch.GetColumn<byte[]>(VectorColumn);
        for (var row = 0; row < ids.Count; row++)
        {
            batch.Ids.Add(ids[row]);
            column.Add(Encode(vectors.Slice(row * dimensions, dimensions), precision));
        }
        return batch;
    }

    public static byte[] Encode(ReadOnlySpan<float> vector, EmbeddingPrecision precision)
    {
        if (precision == EmbeddingPrecision.Float32) return MemoryMarshal.AsBytes(vector).ToArray();
        var bytes = new byte[vector.Length * 2];
        var halves = MemoryMarshal.Cast<byte, Half>(bytes.AsSpan());
        for (var i = 0; i < vector.Length; i++) halves[i] = (Half)vector[i];
        return bytes;
    }

    /// <summary>A float16 vector's bytes as the float32 bytes of the same values (every half is exactly a float).</summary>
    public static byte[] ToFloat32(ReadOnlySpan<byte> float16)
    {
        var bytes = new byte[float16.Length / 2 * sizeof(float)];
        Decode(float16, MemoryMarshal.Cast<byte, float>(bytes.AsSpan()), float16: true);
        return bytes;
    }

    public static void Decode(ReadOnlySpan<byte> bytes, Span<float> destination, bool float16)
    {
        if (!float16) { MemoryMarshal.Cast<byte, float>(bytes).CopyTo(destination); return; }
        var halves = MemoryMarshal.Cast<byte, Half>(bytes);
        for (var i = 0; i < halves.Length; i++) destination[i] = (float)halves[i];
    }

    /// <summary>
    /// Each row of an embeddings file (not the output's list format) in row order, one row group in memory at a time:
    /// a reader that keeps a few rows of a large file holds those, not the file.
    /// </summary>
    public static async Task ForEachRowAsync(Stream input, Action<EmbeddingRow> visit, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(visit);
        await using var reader = await ParquetTableReader.OpenAsync(input, cancellationToken).ConfigureAwait(false);
        var dimensions = int.Parse(reader.Metadata[DimensionsKey], System.Globalization.CultureInfo.InvariantCulture);
        var float16 = IsFloat16(reader.Metadata);
        var row = 0;
        await foreach (var batch in reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
        {
            var column = batch.GetColumn<byte[]>(VectorColumn);
            for (var i = 0; i < batch.RowCount; i++) visit(new EmbeddingRow(row++, batch.Ids[i], column[i], dimensions, float16));
        }
    }

    /// <summary>
    /// Ids and vectors as row groups of at most <paramref name="rowGroupBytes"/> of vectors (at least one row each), for
    /// <see cref="ParquetTableWriter"/>: a file written so is read back a small row group at a time, and neither side
    /// needs a page the size of the whole matrix (Parquet.Net rents page buffers from pools that keep them). With
    /// <paramref name="rows"/>, only those rows, in that order, read where they lie (no copy of the matrix).
    /// </summary>
    public static IEnumerable<RecordBatch> ToBatches(IReadOnlyList<string> ids, float[] vectors, int dimensions, EmbeddingPrecision precision, int rowGroupBytes,
        IReadOnlyList<int>? rows = null)
    {
        ArgumentNullException.ThrowIfNull(ids);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(rowGroupBytes);
        var bytesPerRow = Math.Max(1, dimensions * (precision == EmbeddingPrecision.Float16 ? 2 : 4));
        var perGroup = Math.Max(1, rowGroupBytes / bytesPerRow);
        var total = rows?.Count ?? ids.Count;
        for (var start = 0; start < total; start += perGroup)
        {
            var count = Math.Min(perGroup, total - start);
            var batch = RecordBatch.WithSchema(Schema, count);
            var column = batch.GetColumn<byte[]>(VectorColumn);
            for (var i = start; i < start + count; i++)
            {
                var row = rows?[i] ?? i;
                batch.Ids.Add(ids[row]);
                column.Add(Encode(vectors.AsSpan(row * dimensions, dimensions), precision));
            }
            yield return batch;
        }
    }

    /// <summary>Reads a whole embeddings file into ids and a row-major matrix.</summary>
    /// <remarks>Reads the output's list format (<see cref="EmbeddingListFile"/>) as well.</remarks>
    public static async Task<(List<string> Ids, float[] Vectors, int Dimensions)> ReadAllAsync(Stream input, CancellationToken cancellationToken = default)
    {
        if (input.CanSeek)
        {
            var start = input.Position;
            var schema = await Parquet.ParquetReader.ReadSchemaAsync(input).ConfigureAwait(false);
            input.Position = start;
            if (EmbeddingListFile.IsListFile(schema))
            {
                await using var lists = await Parquet.ParquetReader.CreateAsync(input, leaveStreamOpen: true, cancellationToken: cancellationToken).ConfigureAwait(false);
                return await EmbeddingListFile.ReadAllAsync(lists, cancellationToken).ConfigureAwait(false);
            }
        }
        await using var reader = await ParquetTableReader.OpenAsync(input, cancellationToken).ConfigureAwait(false);
        var dimensions = int.Parse(reader.Metadata[DimensionsKey], System.Globalization.CultureInfo.InvariantCulture);
        var float16 = IsFloat16(reader.Metadata);
        var ids = new List<string>();
        var vectors = new float[checked((int)(reader.RowCount * dimensions))];
        await foreach (var batch in reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
        {
            var column = batch.GetColumn<byte[]>(VectorColumn);
            for (var row = 0; row < batch.RowCount; row++)
            {
                Decode(column[row], vectors.AsSpan(ids.Count * dimensions, dimensions), float16);
                ids.Add(batch.Ids[row]);
            }
        }
        return (ids, vectors, dimensions);
    }
}

/// <summary>One row of an embeddings file as <see cref="EmbeddingFile.ForEachRowAsync"/> visits it: its position, id and encoded vector.</summary>
public readonly record struct EmbeddingRow(int Row, string Id, byte[] Encoded, int Dimensions, bool Float16)
{
    /// <summary>The vector, decoded into <paramref name="destination"/> (<see cref="Dimensions"/> floats).</summary>
    public void DecodeInto(Span<float> destination) => EmbeddingFile.Decode(Encoded, destination, Float16);
}
