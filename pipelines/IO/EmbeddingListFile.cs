using Parquet;
using Parquet.Schema;

namespace Curation.Pipelines.IO;

/// <summary>
/// The curated output's embeddings (<c>embeddings/part-N.parquet</c>): <c>id</c> (string) and <c>embedding</c>, a Parquet
/// LIST of FLOAT of fixed length (<see cref="EmbeddingFile.DimensionsKey"/> in the file's metadata), so DuckDB reads it as
/// <c>FLOAT[]</c> (cast to <c>FLOAT[384]</c> for <c>array_cosine_similarity</c>) and pyarrow / HF datasets as a list
/// column. The job's own scratch files keep the compact binary encoding of <see cref="EmbeddingFile"/>.
/// </summary>
public sealed class EmbeddingListFile : IAsyncDisposable
{
    private readonly ParquetWriter _writer;
    private readonly DataField _id;
    private readonly DataField _element;
    private readonly int _dimensions;

    private EmbeddingListFile(ParquetWriter writer, DataField id, DataField element, int dimensions)
    {
        _writer = writer;
        _id = id;
        _element = element;
        _dimensions = dimensions;
    }

    private static (ParquetSchema Schema, DataField Id, DataField Element) Schema()
    {
        var id = new DataField<string>(Model.Columns.Id);
        var element = new DataField<float>("element");
        var schema = new ParquetSchema(id, new ListField(EmbeddingFile.VectorColumn, element));
        return (schema, id, element);
    }

    public static async Task<EmbeddingListFile> CreateAsync(Stream output, int dimensions, IReadOnlyDictionary<string, string> metadata,
        CancellationToken cancellationToken = default)
    {
        var (schema, id, element) = Schema();
        var writer = await ParquetWriter.CreateAsync(schema, output, new ParquetOptions { CompressionMethod = CompressionMethod.Snappy },
            cancellationToken: cancellationToken).ConfigureAwait(false);
        writer.CustomMetadata = metadata.ToDictionary();
        return new EmbeddingListFile(writer, id, element, dimensions);
    }

    /// <summary>One row group: ids and their vectors (row-major, the file's dimensions per row).</summary>
    public async Task WriteAsync(IReadOnlyList<string> ids, float[] vectors, CancellationToken cancellationToken = default)
    {
        if (ids.Count == 0) return;
        if (vectors.Length != ids.Count * _dimensions)
            throw new ArgumentException($"{ids.Count} ids need {ids.Count * _dimensions} values, not {vectors.Length}.", nameof(vectors));
        var repetition = new int[vectors.Length];
        for (var i = 0; i < repetition.Length; i++) repetition[i] = i % _dimensions == 0 ? 0 : 1;
        using var rowGroup = _writer.CreateRowGroup();
        await rowGroup.WriteAsync(_id, ids.ToArray()).ConfigureAwait(false);
        // The element sits below the list's optional levels: Parquet.Net derives definition levels from the nullable overload.
        var values = new float?[vectors.Length];
        for (var i = 0; i < values.Length; i++) values[i] = vectors[i];
        await rowGroup.WriteAsync<float>(_element, values, repetition, cancellationToken: cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Whether a Parquet schema is this format's (the embedding column a list).</summary>
    public static bool IsListFile(ParquetSchema schema) => schema.Fields.Any(f => f.Name == EmbeddingFile.VectorColumn && f is ListField);

    /// <summary>Reads a whole file into ids and a row-major matrix.</summary>
    public static async Task<(List<string> Ids, float[] Vectors, int Dimensions)> ReadAllAsync(ParquetReader reader, CancellationToken cancellationToken = default)
    {
        var dimensions = int.Parse(reader.CustomMetadata[EmbeddingFile.DimensionsKey], System.Globalization.CultureInfo.InvariantCulture);
        var fields = reader.Schema.GetDataFields();
        var id = fields.Single(f => f.Name == Model.Columns.Id);
        var element = fields.Single(f => f.Path.ToString().StartsWith(EmbeddingFile.VectorColumn, StringComparison.Ordinal) && f != id);
        var ids = new List<string>();
        var vectors = new List<float>();
        for (var g = 0; g < reader.RowGroupCount; g++)
        {
            using var rowGroup = reader.OpenRowGroupReader(g);
            var rows = checked((int)rowGroup.RowCount);
            var groupIds = new string?[rows];
            await rowGroup.ReadAsync(id, groupIds.AsMemory(), cancellationToken: cancellationToken).ConfigureAwait(false);
            // Fixed-length, never-null lists: exactly rows × dimensions values, read raw with their levels.
            var values = new float[rows * dimensions];
            var definition = new int[values.Length];
            var repetition = new int[values.Length];
            await rowGroup.ReadRawAsync<float>(element, values.AsMemory(), definition.AsMemory(), repetition.AsMemory(), cancellationToken).ConfigureAwait(false);
            ids.AddRange(groupIds.Select(i => i ?? ""));
            vectors.AddRange(values);
        }
        return (ids, vectors.ToArray(), dimensions);
    }

    public async ValueTask DisposeAsync() => await _writer.DisposeAsync().ConfigureAwait(false);
}
