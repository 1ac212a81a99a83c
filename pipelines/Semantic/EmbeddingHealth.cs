using System.Globalization;
using System.Numerics.Tensors;

namespace Curation.Pipelines.Semantic;

/// <summary>Why an embedding should not take part in semantic dedup.</summary>
[Flags]
public enum EmbeddingIssues
{
    None = 0,

    /// <summary>A component is NaN or infinite.</summary>
    NonFinite = 1,

    /// <summary>The norm (before normalisation, when known) is below the minimum: an all-zero or vanishing vector,
    /// typically from empty or degenerate text.</summary>
    ZeroNorm = 2,

    /// <summary>Its direction is within the threshold of the corpus mean direction: a "sticky" embedding (cf. "Sticking
    /// to the Mean: Detecting Sticky Tokens in Text Embedding Models") that would look like a duplicate of every other
    /// such document and collapse them into one.</summary>
    Sticky = 4,
}

/// <summary>Thresholds of <see cref="EmbeddingHealth.Check"/>.</summary>
public sealed record EmbeddingHealthOptions
{
    /// <summary>Norms below this are <see cref="EmbeddingIssues.ZeroNorm"/>.</summary>
    public float MinNorm { get; init; } = 1e-6f;

    /// <summary>Cosine to the corpus mean direction at or above which an embedding is <see cref="EmbeddingIssues.Sticky"/>.
    /// Sentence-embedding corpora are anisotropic (typical cosines to the mean of 0.3–0.7), so the default flags only
    /// embeddings that are nearly the mean itself; tune it per model.</summary>
    public double StickyCosine { get; init; } = 0.95;
}

/// <summary>A shard's contribution to the corpus mean direction: the exact fixed-point sum of its healthy vectors'
/// unit directions and their count. Partials combine exactly, in any grouping.</summary>
public sealed class MeanPartial(int dimensions, long[] sums, long count)
{
    public MeanPartial(int dimensions) : this(dimensions, new long[dimensions], 0) { }

    public int Dimensions { get; } = dimensions;

    /// <summary>Per component, the sum of round(component × 2³²) over the unit directions.</summary>
    public long[] Sums { get; } = sums.Length == dimensions ? sums : throw new ArgumentException("Sums do not match the dimensions.", nameof(sums));

    public long Count { get; private set; } = count;

    internal void Add(ReadOnlySpan<float> direction)
    {
        FixedPoint.AddScaled(direction, Sums);
        Count++;
    }

    public void AddFrom(MeanPartial other)
    {
        if (other.Dimensions != Dimensions) throw new ArgumentException("Partials differ in dimensions.", nameof(other));
        FixedPoint.AddInto(other.Sums, Sums);
        Count += other.Count;
    }
}

/// <summary>The corpus mean direction (unit vector) and the length of the mean of unit vectors (0 isotropic … 1 all equal).</summary>
public sealed record MeanDirection(float[] Direction, double ResultantLength, long Count);

/// <summary>Per-vector verdicts of <see cref="EmbeddingHealth.Check"/>.</summary>
/// <param name="Issues">Flags per vector; <see cref="EmbeddingIssues.None"/> for a healthy one.</param>
/// <param name="CosineToMean">Cosine of each vector to the mean direction (NaN where it has none).</param>
public sealed record EmbeddingHealthResult(EmbeddingIssues[] Issues, float[] CosineToMean, double StickyCosine)
{
    public int FlaggedCount => Issues.Count(i => i != EmbeddingIssues.None);
    public int Count(EmbeddingIssues issue) => Issues.Count(i => (i & issue) != 0);

    /// <summary>Human-readable reasons for vector <paramref name="index"/> (empty when healthy).</summary>
    public IReadOnlyList<string> Reasons(int index)
    {
        var issues = Issues[index];
        var reasons = new List<string>();
        if ((issues & EmbeddingIssues.NonFinite) != 0) reasons.Add("embedding has NaN or infinite components");
        if ((issues & EmbeddingIssues.ZeroNorm) != 0) reasons.Add("embedding norm is (nearly) zero");
        if ((issues & EmbeddingIssues.Sticky) != 0)
            reasons.Add(string.Create(CultureInfo.InvariantCulture, $"cosine {CosineToMean[index]:F4} to the corpus mean direction ≥ {StickyCosine}"));
        return reasons;
    }
}

/// <summary>
/// Flags degenerate embeddings before semantic dedup so they are quarantined (with a reason) instead of being
/// collapsed as false duplicates: (a) non-finite, (b) (near-)zero norm, (c) "sticky": within a threshold of the corpus
/// mean direction. The mean comes from per-shard partial sums (<see cref="Accumulate"/>) that a reducer totals
/// (<see cref="Reduce"/>) over the healthy vectors only. Cosines use <see cref="VectorKernels.PairDot(ReadOnlySpan{float}, ReadOnlySpan{float})"/>, the same bits
/// on every machine.
/// </summary>
public static class EmbeddingHealth
{
    /// <summary>A shard's partial sum of the unit directions of its finite, non-zero vectors.</summary>
    public static MeanPartial Accumulate(ReadOnlySpan<float> vectors, int dimensions, float minNorm = 1e-6f)
    {
        var count = SphericalKMeans.RowCount(vectors, dimensions);
        var partial = new MeanPartial(dimensions);
        var unit = new float[dimensions];
        for (var i = 0; i < count; i++)
        {
            var row = vectors.Slice(i * dimensions, dimensions);
            if (!TensorPrimitives.IsFiniteAll(row)) continue;
            var norm = VectorKernels.Norm(row);
            if (!(norm >= minNorm)) continue;
            TensorPrimitives.Divide(row, norm, unit);
            partial.Add(unit);
        }
        return partial;
    }

    /// <summary>Totals the shards' partials (exact: any order or grouping) into the mean direction.</summary>
    public static MeanDirection Reduce(IEnumerable<MeanPartial> inShardOrder)
    {
        ArgumentNullException.ThrowIfNull(inShardOrder);
        MeanPartial? total = null;
        foreach (var part in inShardOrder)
        {
            total ??= new MeanPartial(part.Dimensions);
            total.AddFrom(part);
        }
        if (total is null) throw new ArgumentException("No partials to reduce.", nameof(inShardOrder));
        var d = total.Dimensions;
        var direction = new float[d];
        if (total.Count == 0) return new MeanDirection(direction, 0, 0);
        var norm2 = 0.0;
        for (var p = 0; p < d; p++)
        {
            var v = total.Sums[p] / FixedPoint.VectorScale;
            norm2 += v * v;
        }
        var norm = Math.Sqrt(norm2);
        if (norm > 0)
            for (var p = 0; p < d; p++) direction[p] = (float)(total.Sums[p] / FixedPoint.VectorScale / norm);
        return new MeanDirection(direction, norm / total.Count, total.Count);
    }

    /// <summary>
    /// Checks each vector. <paramref name="preNormalizationNorms"/>, when given, are the norms the embedder saw before it
    /// normalised (one per vector); otherwise the vectors' own norms are used (a normalised embedding of degenerate text is
    /// left all zero by the embedder, so it still shows).
    /// </summary>
    public static EmbeddingHealthResult Check(ReadOnlySpan<float> vectors, int dimensions, MeanDirection mean, EmbeddingHealthOptions? options = null,
        ReadOnlySpan<float> preNormalizationNorms = default)
    {
        ArgumentNullException.ThrowIfNull(mean);
        options ??= new EmbeddingHealthOptions();
        var count = SphericalKMeans.RowCount(vectors, dimensions);
        if (mean.Direction.Length != dimensions) throw new ArgumentException($"The mean has {mean.Direction.Length} dimensions, vectors {dimensions}.", nameof(mean));
        if (!preNormalizationNorms.IsEmpty && preNormalizationNorms.Length != count)
            throw new ArgumentException($"{preNormalizationNorms.Length} norms for {count} vectors.", nameof(preNormalizationNorms));
        var hasMean = mean.Count > 0 && mean.ResultantLength > 0;
        var issues = new EmbeddingIssues[count];
        var cosines = new float[count];
        for (var i = 0; i < count; i++)
        {
            var row = vectors.Slice(i * dimensions, dimensions);
            cosines[i] = float.NaN;
            if (!TensorPrimitives.IsFiniteAll(row) || (!preNormalizationNorms.IsEmpty && !float.IsFinite(preNormalizationNorms[i])))
            {
                issues[i] = EmbeddingIssues.NonFinite;
                continue;
            }
            var norm = VectorKernels.Norm(row);
            if (!(norm >= options.MinNorm) || (!preNormalizationNorms.IsEmpty && !(preNormalizationNorms[i] >= options.MinNorm)))
            {
                issues[i] = EmbeddingIssues.ZeroNorm;
                if (!(norm >= options.MinNorm)) continue;
            }
            if (!hasMean) continue;
            cosines[i] = VectorKernels.PairDot(row, mean.Direction) / norm;
            if (cosines[i] >= options.StickyCosine) issues[i] |= EmbeddingIssues.Sticky;
        }
        return new EmbeddingHealthResult(issues, cosines, options.StickyCosine);
    }
}
