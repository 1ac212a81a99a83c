using System.Numerics.Tensors;
using Curation.Pipelines.Embedding.Static;

namespace Curation.Bench;

/// <summary>
/// <c>static-recipes</c>' candidate static features beyond a bag of word pieces, all O(tokens) and deterministic, on
/// top of a distilled table (<see cref="StaticModel"/>, √tf pooling as the shipped recipe):
/// <list type="bullet">
/// <item><see cref="CollapseRuns"/>: a run of one piece (the "=" pieces of "=====", "-" of a rule) counts once;</item>
/// <item><see cref="PositionScale"/>: an occurrence at position p weighs 1/√(1 + p/scale) (a piece's weight is √ of
/// the sum of its occurrences' weights, so with no damping it is √tf as shipped);</item>
/// <item><see cref="BigramDims"/>: a second, disjoint block of the vector from adjacent-piece pairs: either signed
/// feature hashing of the pair (FNV-1a of the two ids picks the dimension and the sign: a fixed sparse random
/// projection) or, with <see cref="BigramProducts"/>, the element-wise product of the pair's first
/// <see cref="BigramDims"/> table dimensions; pairs weigh √count. The two blocks are normalised separately and joined
/// as √(1 − share)·unigrams ⊕ √share·bigrams, so a cosine is (1 − share)·unigram cosine + share·bigram cosine.</item>
/// </list>
/// </summary>
public sealed class StaticFeatures(StaticModel table)
{
    public bool CollapseRuns { get; init; }
    public double PositionScale { get; init; }
    public int BigramDims { get; init; }
    public double BigramShare { get; init; }
    public bool BigramProducts { get; init; }

    public int Dimensions => table.Dimensions + BigramDims;

    public float[] EmbedMany(ReadOnlyMemory<int>[] documents, int threads)
    {
        var vectors = new float[documents.Length * Dimensions];
        Parallel.For(0, documents.Length, new ParallelOptions { MaxDegreeOfParallelism = threads },
            () => (Weights: new float[table.VocabularySize], Pairs: new Dictionary<long, int>()),
            (d, _, scratch) =>
            {
                Embed(documents[d].Span, vectors.AsSpan(d * Dimensions, Dimensions), scratch.Weights, scratch.Pairs);
                return scratch;
            }, _ => { });
        return vectors;
    }

    private void Embed(ReadOnlySpan<int> input, Span<float> destination, float[] weights, Dictionary<long, int> pairs)
    {
        destination.Clear();
        var tokens = new List<int>(input.Length);
        foreach (var token in input)
            if (!CollapseRuns || tokens.Count == 0 || tokens[^1] != token) tokens.Add(token);
        if (tokens.Count == 0) return;
        var dims = table.Dimensions;
        var unigrams = destination[..dims];
        for (var p = 0; p < tokens.Count; p++)
            weights[tokens[p]] += PositionScale > 0 ? (float)(1 / Math.Sqrt(1 + p / PositionScale)) : 1f;
        foreach (var token in tokens)
        {
            var weight = weights[token];
            if (weight == 0) continue;
            weights[token] = 0;
            TensorPrimitives.MultiplyAdd(table.Table.AsSpan(token * dims, dims), MathF.Sqrt(weight), unigrams, unigrams);
        }
        var norm = TensorPrimitives.Norm(unigrams);
        if (norm > 0) TensorPrimitives.Divide(unigrams, norm, unigrams);
        if (BigramDims == 0) return;
        var bigrams = destination[dims..];
        pairs.Clear();
        var order = new List<long>();
        for (var p = 1; p < tokens.Count; p++)
        {
            var key = ((long)tokens[p - 1] << 32) | (uint)tokens[p];
            if (pairs.TryGetValue(key, out var count)) pairs[key] = count + 1;
            else { pairs[key] = 1; order.Add(key); }
        }
        foreach (var key in order)
        {
            var weight = MathF.Sqrt(pairs[key]);
            var (a, b) = ((int)(key >> 32), (int)key);
            if (BigramProducts)
            {
                var product = new float[BigramDims];
                TensorPrimitives.Multiply(table.Table.AsSpan(a * dims, BigramDims), table.Table.AsSpan(b * dims, BigramDims), product);
                TensorPrimitives.MultiplyAdd(product, weight, bigrams, bigrams);
            }
            else
            {
                var hash = Fnv(a, b);
                bigrams[(int)(hash % (uint)BigramDims)] += (hash >> 31 & 1) == 0 ? weight : -weight;
            }
        }
        var bigramNorm = TensorPrimitives.Norm(bigrams);
        if (bigramNorm == 0) return; // one piece: the unigram block alone (already unit length)
        TensorPrimitives.Multiply(unigrams, (float)Math.Sqrt(1 - BigramShare), unigrams);
        TensorPrimitives.Multiply(bigrams, (float)(Math.Sqrt(BigramShare) / bigramNorm), bigrams);
    }

    private static uint Fnv(int a, int b)
    {
        var hash = 2166136261u;
        foreach (var value in new[] { a, b })
            for (var shift = 0; shift < 32; shift += 8)
                hash = (hash ^ (uint)(value >> shift & 0xFF)) * 16777619u;
        // FNV's low bits mix poorly: fold the high half in before the modulo.
        return hash ^ (hash >> 15);
    }
}
