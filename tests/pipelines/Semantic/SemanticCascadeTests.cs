using System.Numerics.Tensors;
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

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void The_set_rule_decides_every_pair_among_a_clusters_candidates_as_a_brute_force_does(int seed)
    {
        // Two clusters (table rows 0..79 and 80..149, each in rank order). Static vectors: noisy copies of a few prototypes,
        // so the static tier proposes some pairs; transformer vectors: other noisy copies of the same prototypes, so some
        // pairs it confirms were never proposed (the set rule's point) and some proposed ones fail.
        var random = new Random(seed);
        const int dims = 12, n = 150;
        var clusterOf = Enumerable.Range(0, n).Select(r => r < 80 ? 0 : 1).ToArray();
        var prototypes = Enumerable.Range(0, 10).Select(_ => Unit(Enumerable.Range(0, dims).Select(_ => (float)random.NextDouble() * 2 - 1).ToArray())).ToArray();
        float[] Noisy(float[] prototype, double noise) => Unit(prototype.Select(v => v + (float)((random.NextDouble() - 0.5) * noise)).ToArray());
        var ofRow = Enumerable.Range(0, n).Select(r => random.Next(prototypes.Length)).ToArray();
        double[] levels = [0.02, 0.08, 0.2];
        var stat = Enumerable.Range(0, n).SelectMany(r => Noisy(prototypes[ofRow[r]], levels[random.Next(levels.Length)])).ToArray();
        var truth = Enumerable.Range(0, n).SelectMany(r => Noisy(prototypes[ofRow[r]], levels[random.Next(levels.Length)])).ToArray();
        const double eps = 0.02;
        var candidates = new List<CandidatePair>();
        foreach (var rows in new[] { Enumerable.Range(0, 80).ToArray(), Enumerable.Range(80, 70).ToArray() })
            candidates.AddRange(SemanticCascade.FindCandidates(stat, dims, rows, candidateEps: 0.03));
        Assert.NotEmpty(candidates);

        int[]? asked = null;
        var result = SemanticCascade.VerifySet(n, candidates, clusterOf, rows =>
        {
            asked = rows;
            return rows.SelectMany(r => truth.AsSpan(r * dims, dims).ToArray()).ToArray();
        }, dims, eps);

        // Brute force over the same candidates: the documents of the candidate pairs, every earlier one in the same cluster.
        var set = candidates.SelectMany(p => new[] { p.Member, p.Earlier }).Distinct().Order().ToArray();
        Assert.Equal(set, asked!);
        Assert.Equal(set, result.Embedded);
        var expectedVerified = new List<(int, int)>();
        var expectedDecided = new List<int>();
        var (max, twin) = (new float[n], Enumerable.Repeat(-1, n).ToArray());
        foreach (var j in set)
        {
            var earlier = set.Where(i => i < j && clusterOf[i] == clusterOf[j]).ToArray();
            if (earlier.Length == 0) continue;
            expectedDecided.Add(j);
            foreach (var i in earlier)
            {
                var cosine = TensorPrimitives.Dot(truth.AsSpan(j * dims, dims), truth.AsSpan(i * dims, dims));
                if (cosine > max[j]) (max[j], twin[j]) = (cosine, i);
                if (SemDeDup.IsDuplicate(cosine, eps)) expectedVerified.Add((j, i));
            }
        }
        Assert.Equal(expectedDecided, result.Decided);
        Assert.Equal(expectedVerified, result.Verified.Select(v => (v.Member, v.Earlier)));
        foreach (var j in expectedDecided)
        {
            Assert.Equal(max[j], result.MaxSimilarity[j]);
            Assert.Equal(twin[j], result.Twin[j]);
        }
        // The set rule finds what the pair rule cannot: confirmed pairs the static tier never proposed; and it decides
        // every pair the pair rule decides.
        var proposed = candidates.Select(p => (p.Member, p.Earlier)).ToHashSet();
        Assert.Contains(expectedVerified, p => !proposed.Contains(p));
        var pairs = SemanticCascade.Verify(n, candidates, rows => rows.SelectMany(r => truth.AsSpan(r * dims, dims).ToArray()).ToArray(), dims, eps);
        Assert.Subset(result.Verified.Select(v => (v.Member, v.Earlier)).ToHashSet(), pairs.Verified.Select(v => (v.Member, v.Earlier)).ToHashSet());
        // Deterministic: the same inputs give the same decisions.
        var again = SemanticCascade.VerifySet(n, candidates, clusterOf, rows => rows.SelectMany(r => truth.AsSpan(r * dims, dims).ToArray()).ToArray(), dims, eps);
        Assert.Equal(result.Verified, again.Verified);
    }

    [Fact]
    public void The_set_rule_refuses_a_pair_across_clusters()
    {
        Assert.Throws<ArgumentException>(() =>
            SemanticCascade.VerifySet(2, [new CandidatePair(1, 0, 1)], [0, 1], rows => new float[rows.Length * 2], 2, 0.01));
    }
}
