namespace Curation.Pipelines.Embedding.Static;

/// <summary>
/// Text in, normalised static vector out: the ids from the word cache (<see cref="WordPieceCache"/>, the same ids as
/// <see cref="WordPieceTokenizer.Tokenize"/>) go straight into <see cref="StaticModel.Embed"/> from a per-thread
/// buffer (no array per document, no attention mask, no windows). The vectors are bit-identical to tokenizing with
/// the tokenizer and embedding its ids (tested). Thread-safe.
/// </summary>
public sealed class StaticTextEmbedder(WordPieceCache words, StaticModel table)
{
    public WordPieceCache Words => words;

    public StaticModel Table => table;

    public int Dimensions => table.Dimensions;

    /// <summary>
    /// Embeds <paramref name="text"/> into <paramref name="destination"/> (zeros for a text without word pieces) and
    /// returns its word-piece count; <paramref name="buffer"/> holds the ids meanwhile and is grown when too small.
    /// </summary>
    public int Embed(string text, Span<float> destination, ref int[] buffer)
    {
        var count = words.Tokenize(text, ref buffer);
        table.Embed(buffer.AsSpan(0, count), destination);
        return count;
    }

    /// <summary>
    /// Embeds text i into row i of <paramref name="vectors"/> (texts × <see cref="Dimensions"/>, row-major) on up to
    /// <paramref name="threads"/> threads, and writes its word-piece count to <paramref name="tokenCounts"/>[i] (0: no
    /// pieces, a zero vector).
    /// </summary>
    public void EmbedMany(IReadOnlyList<string> texts, float[] vectors, int[] tokenCounts, int threads)
    {
        ArgumentNullException.ThrowIfNull(texts);
        var dims = Dimensions;
        if (vectors.Length < (long)texts.Count * dims) throw new ArgumentException("vectors too small", nameof(vectors));
        if (tokenCounts.Length < texts.Count) throw new ArgumentException("tokenCounts too small", nameof(tokenCounts));
        Parallel.For(0, texts.Count, new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, threads) },
            () => new int[256],
            (row, _, buffer) =>
            {
                tokenCounts[row] = Embed(texts[row], vectors.AsSpan(row * dims, dims), ref buffer);
                return buffer;
            },
            _ => { });
    }
}
