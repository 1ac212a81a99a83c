using System.Buffers.Binary;
using System.Numerics.Tensors;
using System.Security.Cryptography;

namespace Curation.Pipelines.Embedding.Static;

/// <summary>Which static table a <see cref="StaticModel"/> holds.</summary>
public enum StaticRecipe
{
    /// <summary>
    /// Distilled from the transformer (the Model2Vec recipe): every vocabulary token alone through the model as
    /// [CLS] token [SEP], mean-pooled and normalised; PCA to the requested dimensions; each row scaled by its SIF weight
    /// a / (a + p) with p the Zipf-estimated frequency of its vocabulary rank (a = 1e-4); then (recipe v3) fitted to the
    /// transformer's document vectors of the training text by a ridge map folded into the rows (<see cref="StaticFit"/>).
    /// </summary>
    Distilled,

    /// <summary>The model's input (word-piece) embedding rows unchanged: a document is their plain mean (the seed paper's baseline).</summary>
    InputMean,
}

/// <summary>How a document's repeated word pieces count in <see cref="StaticModel.Embed"/>.</summary>
public enum StaticPooling
{
    /// <summary>Every occurrence counts once: the plain mean of the rows.</summary>
    Mean,

    /// <summary>A piece occurring tf times counts √tf times (damps runs such as "=====" or repeated names).</summary>
    SqrtTf,

    /// <summary>Every distinct piece counts once.</summary>
    Distinct,
}

/// <summary>
/// A static embedding model: one vector per vocabulary entry. A document's vector is the mean of its word pieces'
/// rows (weights are already folded into the rows; a repeated piece counts √tf times with the distilled recipe), L2-normalised: O(tokens), no windows, no inference session.
/// Thread-safe (read-only after construction).
/// </summary>
public sealed class StaticModel
{
    private static readonly byte[] Magic = "CURSTAT1"u8.ToArray();

    public StaticModel(StaticRecipe recipe, int vocabularySize, int dimensions, float[] table)
    {
        if (table.Length != (long)vocabularySize * dimensions)
            throw new ArgumentException($"A table of {vocabularySize} × {dimensions} needs {(long)vocabularySize * dimensions} floats, not {table.Length}.", nameof(table));
        Recipe = recipe;
        Pooling = recipe == StaticRecipe.Distilled ? StaticPooling.SqrtTf : StaticPooling.Mean;
        VocabularySize = vocabularySize;
        Dimensions = dimensions;
        Table = table;
    }

    public StaticRecipe Recipe { get; }

    /// <summary>
    /// How repeated pieces of a document count: <see cref="StaticPooling.SqrtTf"/> for <see cref="StaticRecipe.Distilled"/>
    /// (measured by <c>bench static-recipes</c>: it keeps runs such as "=====" or a repeated name from dominating the mean),
    /// the plain mean for <see cref="StaticRecipe.InputMean"/> (the seed paper's baseline).
    /// </summary>
    public StaticPooling Pooling { get; init; }

    /// <summary>Per thread: occurrences of each piece in the document being embedded (zero between documents).</summary>
    [ThreadStatic] private static int[]? _termCounts;
    public int VocabularySize { get; }
    public int Dimensions { get; }

    /// <summary>Row-major [VocabularySize × Dimensions].</summary>
    public float[] Table { get; }

    /// <summary>SHA-256 of <see cref="Write"/>'s bytes, lowercase hex (set when loaded or written).</summary>
    public string? Sha256 { get; private set; }

    /// <summary>
    /// Writes the normalised mean of the rows of <paramref name="tokens"/> (repeats counted per <see cref="Pooling"/>) to <paramref name="destination"/>; returns
    /// false (and zeros) for a document without tokens. Ids outside the vocabulary are rejected.
    /// </summary>
    public bool Embed(ReadOnlySpan<int> tokens, Span<float> destination)
    {
        var row = destination[..Dimensions];
        row.Clear();
        if (tokens.IsEmpty) return false;
        var table = Table.AsSpan();
        foreach (var token in tokens)
            if ((uint)token >= (uint)VocabularySize)
                throw new ArgumentOutOfRangeException(nameof(tokens), token, $"token id outside the vocabulary of {VocabularySize}");
        if (Pooling == StaticPooling.Mean)
            foreach (var token in tokens) TensorPrimitives.Add(row, table.Slice(token * Dimensions, Dimensions), row);
        else
        {
            var counts = _termCounts is { } existing && existing.Length >= VocabularySize ? existing : _termCounts = new int[VocabularySize];
            foreach (var token in tokens) counts[token]++;
            // Distinct pieces in first-occurrence order (the count is zeroed when taken), so the sum is the same on every run.
            foreach (var token in tokens)
            {
                var tf = counts[token];
                if (tf == 0) continue;
                counts[token] = 0;
                var weight = Pooling == StaticPooling.Distinct || tf == 1 ? 1f : MathF.Sqrt(tf);
                var source = table.Slice(token * Dimensions, Dimensions);
                if (weight == 1f) TensorPrimitives.Add(row, source, row);
                else TensorPrimitives.MultiplyAdd(source, weight, row, row);
            }
        }
        var norm = TensorPrimitives.Norm(row);
        if (norm > 0) TensorPrimitives.Divide(row, norm, row);
        return true;
    }

    /// <summary>Embeds many documents (row i of <paramref name="destination"/> per document i) on up to <paramref name="threads"/> threads.</summary>
    public void EmbedMany(IReadOnlyList<ReadOnlyMemory<int>> documents, Span<float> destination, bool[] empty, int threads = 1)
    {
        var dims = Dimensions;
        if (destination.Length < documents.Count * dims) throw new ArgumentException("destination too small", nameof(destination));
        if (threads <= 1 || documents.Count < 256)
        {
            for (var d = 0; d < documents.Count; d++) empty[d] = !Embed(documents[d].Span, destination.Slice(d * dims, dims));
            return;
        }
        unsafe
        {
            fixed (float* pointer = destination)
            {
                var address = (nint)pointer;
                var length = destination.Length;
                Parallel.For(0, documents.Count, new ParallelOptions { MaxDegreeOfParallelism = threads }, d =>
                {
                    var span = new Span<float>((float*)address, length);
                    empty[d] = !Embed(documents[d].Span, span.Slice(d * dims, dims));
                });
            }
        }
    }

    /// <summary>The file format: "CURSTAT1", recipe, vocabulary size, dimensions (int32 LE each), then the table as float32 LE.</summary>
    public void Write(Stream stream)
    {
        var header = new byte[Magic.Length + 12];
        Magic.CopyTo(header, 0);
        BinaryPrimitives.WriteInt32LittleEndian(header.AsSpan(8), (int)Recipe);
        BinaryPrimitives.WriteInt32LittleEndian(header.AsSpan(12), VocabularySize);
        BinaryPrimitives.WriteInt32LittleEndian(header.AsSpan(16), Dimensions);
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        stream.Write(header);
        hash.AppendData(header);
        var buffer = new byte[Dimensions * 4];
        for (var r = 0; r < VocabularySize; r++)
        {
            for (var d = 0; d < Dimensions; d++) BinaryPrimitives.WriteSingleLittleEndian(buffer.AsSpan(d * 4), Table[r * Dimensions + d]);
            stream.Write(buffer);
            hash.AppendData(buffer);
        }
        Sha256 = Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    public static StaticModel Read(string path)
    {
        var bytes = File.ReadAllBytes(path);
        if (bytes.Length < 20 || !bytes.AsSpan(0, 8).SequenceEqual(Magic))
            throw new InvalidDataException($"{path} is not a static embedding table (no CURSTAT1 header).");
        var recipe = (StaticRecipe)BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(8));
        var vocabulary = BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(12));
        var dims = BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(16));
        if (vocabulary <= 0 || dims <= 0 || bytes.Length != 20 + (long)vocabulary * dims * 4)
            throw new InvalidDataException($"{path}: {bytes.Length} bytes do not hold a table of {vocabulary} × {dims}.");
        var table = new float[vocabulary * dims];
        for (var i = 0; i < table.Length; i++) table[i] = BinaryPrimitives.ReadSingleLittleEndian(bytes.AsSpan(20 + i * 4));
        return new StaticModel(recipe, vocabulary, dims, table) { Sha256 = Convert.ToHexStringLower(SHA256.HashData(bytes)) };
    }
}
