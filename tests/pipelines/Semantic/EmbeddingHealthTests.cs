using Curation.Pipelines.Semantic;

namespace Curation.Pipelines.Tests.Semantic;

public sealed class EmbeddingHealthTests
{
    private const int D = 96;

    /// <summary>An anisotropic corpus like real sentence embeddings (cosine to the mean ≈ 0.5), a planted sticky cluster
    /// hugging the mean direction, one NaN vector and one zero vector.</summary>
    private static (float[] Vectors, HashSet<int> Sticky, int Nan, int Zero) Corpus()
    {
        var random = new StableRandom(41);
        var common = SemanticCorpus.RandomUnit(ref random, D);
        var rows = new List<float[]>();
        var sticky = new HashSet<int>();
        for (var i = 0; i < 400; i++)
        {
            if (i % 40 == 7) { sticky.Add(rows.Count); rows.Add(SemanticCorpus.Near(ref random, common, 0.08)); continue; }
            var g = SemanticCorpus.RandomUnit(ref random, D);
            var v = new float[D];
            for (var p = 0; p < D; p++) v[p] = 0.6f * common[p] + 1.0f * g[p];
            SemanticCorpus.Normalize(v);
            rows.Add(v);
        }
        var nan = rows.Count;
        var bad = new float[D];
        bad[5] = float.NaN;
        rows.Add(bad);
        var zero = rows.Count;
        rows.Add(new float[D]);
        return (rows.SelectMany(r => r).ToArray(), sticky, nan, zero);
    }

    [Fact]
    public void Flags_sticky_nan_and_zero_embeddings_with_reasons()
    {
        var (vectors, sticky, nan, zero) = Corpus();
        var n = vectors.Length / D;
        var mean = EmbeddingHealth.Reduce([EmbeddingHealth.Accumulate(vectors, D)]);
        Assert.Equal(n - 2, mean.Count);
        Assert.InRange(mean.ResultantLength, 0.3, 0.8);

        var result = EmbeddingHealth.Check(vectors, D, mean);
        for (var i = 0; i < n; i++)
        {
            var expected = i == nan ? EmbeddingIssues.NonFinite
                : i == zero ? EmbeddingIssues.ZeroNorm
                : sticky.Contains(i) ? EmbeddingIssues.Sticky
                : EmbeddingIssues.None;
            Assert.True(expected == result.Issues[i], $"vector {i}: {result.Issues[i]}, cosine {result.CosineToMean[i]}");
        }
        Assert.Equal(sticky.Count + 2, result.FlaggedCount);
        Assert.Equal(sticky.Count, result.Count(EmbeddingIssues.Sticky));
        Assert.Contains("corpus mean direction", result.Reasons(sticky.First())[0]);
        Assert.Equal(["embedding has NaN or infinite components"], result.Reasons(nan));
        Assert.Empty(result.Reasons(Enumerable.Range(0, n).First(i => result.Issues[i] == EmbeddingIssues.None)));
    }

    [Fact]
    public void Mean_is_bit_identical_from_any_shard_split_and_pre_normalisation_norms_count()
    {
        var (vectors, _, _, _) = Corpus();
        var n = vectors.Length / D;
        var whole = EmbeddingHealth.Reduce([EmbeddingHealth.Accumulate(vectors, D)]);
        var split = EmbeddingHealth.Reduce([
            EmbeddingHealth.Accumulate(vectors.AsSpan(200 * D), D),
            EmbeddingHealth.Accumulate(vectors.AsSpan(0, 77 * D), D),
            EmbeddingHealth.Accumulate(vectors.AsSpan(77 * D, 123 * D), D)]);
        Assert.Equal(whole.Direction, split.Direction);
        Assert.Equal(whole.ResultantLength, split.ResultantLength);

        var norms = Enumerable.Repeat(3.5f, n).ToArray();
        norms[10] = 1e-9f;
        var result = EmbeddingHealth.Check(vectors, D, whole, new EmbeddingHealthOptions(), norms);
        Assert.True((result.Issues[10] & EmbeddingIssues.ZeroNorm) != 0);
    }
}
