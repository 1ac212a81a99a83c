using Curation.Pipelines.Semantic;

namespace Curation.Pipelines.Tests.Semantic;

public sealed class SemanticCascadeTests
{
    private static float[] Unit(params float[] v)
    {
        var norm = MathF.Sqrt(v.Sum(x => x * x));
        return v.Select(x => x / norm).ToArray();
    }

    [Fact]
    public void Only_candidate_members_are_embedded_and_the_transformer_decides_each_pair()
    {
        // Static tier: 1 ~ 0 and 3 ~ 2 look alike, 4 is alone. Transformer: 1 ~ 0 is a duplicate, 3 vs 2 is not.
        float[] stat = [.. Unit(1, 0, 0), .. Unit(0.999f, 0.03f, 0), .. Unit(0, 1, 0), .. Unit(0, 0.998f, 0.05f), .. Unit(0, 0, 1)];
        float[] truth = [.. Unit(1, 0, 0), .. Unit(1, 0.01f, 0), .. Unit(0, 1, 0), .. Unit(0, 0.7f, 0.7f), .. Unit(0.5f, 0.5f, 0.7f)];
        var ranking = new[] { 0, 1, 2, 3, 4 };
        var candidates = SemanticCascade.FindCandidates(stat, 3, ranking, candidateEps: 0.01);
        Assert.Equal([(1, 0), (3, 2)], candidates.Select(c => (c.Member, c.Earlier)));

        int[]? asked = null;
        var result = SemanticCascade.Verify(5, candidates, rows =>
        {
            asked = rows;
            return rows.SelectMany(r => truth.AsSpan(r * 3, 3).ToArray()).ToArray();
        }, 3, eps: 0.01);
        Assert.Equal([0, 1, 2, 3], asked!); // member 4 never reaches the transformer
        Assert.Equal([0, 1, 2, 3], result.Embedded);
        Assert.Equal([(1, 0)], result.Verified.Select(v => (v.Member, v.Earlier)));
        Assert.True(SemDeDup.IsDuplicate(result.MaxSimilarity[1], 0.01));
        Assert.False(SemDeDup.IsDuplicate(result.MaxSimilarity[3], 0.01));
        Assert.Equal(0, result.Twin[1]);
        Assert.Equal(-1, result.Twin[4]);
    }
}
