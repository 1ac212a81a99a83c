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

    [Theory]
    [InlineData(0.2)]
    [InlineData(0.05)]
    [InlineData(1.0)]
    public void A_budget_caps_the_documents_in_candidate_pairs_per_cluster(double budget)
    {
        // 200 random unit vectors, 60 of them with a near copy (noise 0.05): 120 members in candidate pairs at eps 0.05.
        var random = new Random(5);
        const int dims = 16, n = 260;
        var vectors = new float[n * dims];
        for (var i = 0; i < 200; i++)
            Unit(Enumerable.Range(0, dims).Select(_ => (float)random.NextDouble() * 2 - 1).ToArray()).CopyTo(vectors, i * dims);
        for (var c = 0; c < 60; c++)
            Unit(vectors.AsSpan(c * 3 * dims, dims).ToArray().Select(v => v + (float)(random.NextDouble() - 0.5) * 0.05f).ToArray()).CopyTo(vectors, (200 + c) * dims);
        var ranking = Enumerable.Range(0, n).Reverse().ToArray();
        var byRow = SemDeDup.ComputeMaxSimilarity(vectors, dims, ranking).MaxSimilarity;
        var max = ranking.Select(row => byRow[row]).ToArray(); // by rank
        static int Documents(List<CandidatePair> pairs) => pairs.SelectMany(p => new[] { p.Member, p.Earlier }).Distinct().Count();

        var unbounded = Documents(SemanticCascade.FindCandidates(vectors, dims, ranking, 0.05, max));
        Assert.InRange(unbounded, 120, 200);
        var eps = SemanticCascade.BudgetEps(vectors, dims, ranking, max, 0.05, budget);
        Console.WriteLine(FormattableString.Invariant($"budget {budget}: candidate eps {eps:0.00000}, {unbounded} documents at 0.05"));
        if (budget * n >= unbounded)
        {
            Assert.Equal(0.05, eps); // the budget does not bind: candidateEps as given
            return;
        }
        Assert.InRange(eps, 0, 0.05);
        var capped = Documents(SemanticCascade.FindCandidates(vectors, dims, ranking, eps, max));
        Assert.InRange(capped, 1, (int)Math.Floor(budget * n));
        // The loosest such threshold: a slightly looser one holds more documents than the budget allows.
        Assert.True(Documents(SemanticCascade.FindCandidates(vectors, dims, ranking, eps + 1e-4)) > budget * n);
        // Same inputs, same threshold (it depends on the cluster's vectors alone).
        Assert.Equal(eps, SemanticCascade.BudgetEps(vectors, dims, ranking, max, 0.05, budget));
    }
}
