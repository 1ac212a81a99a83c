using Curation.Pipelines.NearDup;
using Xunit.Abstractions;

namespace Curation.Pipelines.Tests.NearDup;

public sealed class MinHashTests(ITestOutputHelper output)
{
    private static ulong[] RandomSet(Random random, int size) => Enumerable.Range(0, size).Select(_ => (ulong)random.NextInt64()).ToArray();

    [Theory]
    [InlineData(14, 8)]
    [InlineData(20, 13)]
    [InlineData(3, 5)]
    [InlineData(1, 1)]
    public void The_simd_signature_equals_the_scalar_definition_of_every_permutation(int bands, int rows)
    {
        var hasher = new MinHasher(bands, rows, seed: 42);
        var random = new Random(1);
        foreach (var size in new[] { 1, 7, 100, 2000 })
        {
            var set = RandomSet(random, size);
            var signature = new uint[hasher.Permutations];
            hasher.Signature(set, signature);
            for (var p = 0; p < hasher.Permutations; p++)
                Assert.Equal(set.Min(h => hasher.Permute(p, h)), signature[p]);
        }
    }

    [Fact]
    public void A_signature_depends_on_the_set_only_and_on_the_seed()
    {
        var hasher = new MinHasher(14, 8, seed: 42);
        var set = RandomSet(new Random(2), 50);
        var (a, b, c) = (new uint[112], new uint[112], new uint[112]);
        hasher.Signature(set, a);
        hasher.Signature(set.Reverse().Concat(set.Take(10)).ToArray(), b);
        new MinHasher(14, 8, seed: 43).Signature(set, c);
        Assert.Equal(a, b);
        Assert.NotEqual(a, c);
        var (keysA, keysB) = (new ulong[14], new ulong[14]);
        hasher.BandKeys(a, keysA);
        hasher.BandKeys(b, keysB);
        Assert.Equal(keysA, keysB);
        Assert.Equal(14, keysA.Distinct().Count());
    }

    [Fact]
    public void Estimated_jaccard_is_unbiased_and_within_its_standard_error()
    {
        var hasher = new MinHasher(14, 8, seed: 7);
        var random = new Random(3);
        foreach (var target in new[] { 0.3, 0.5, 0.7, 0.8, 0.9, 0.95 })
        {
            var errors = new List<double>();
            for (var trial = 0; trial < 200; trial++)
            {
                // |A| = |B| = 200, |A ∩ B| = c: J = c / (400 − c).
                var common = (int)Math.Round(400 * target / (1 + target));
                var shared = RandomSet(random, common);
                var a = shared.Concat(RandomSet(random, 200 - common)).ToArray();
                var b = shared.Concat(RandomSet(random, 200 - common)).ToArray();
                var exact = common / (400.0 - common);
                var (sa, sb) = (new uint[112], new uint[112]);
                hasher.Signature(a, sa);
                hasher.Signature(b, sb);
                errors.Add(MinHasher.Estimate(sa, sb) - exact);
            }
            var bias = errors.Average();
            var spread = Math.Sqrt(errors.Average(e => e * e));
            var expected = Math.Sqrt(target * (1 - target) / 112);
            output.WriteLine($"J {target:0.00}: bias {bias:+0.0000;-0.0000}, rms error {spread:0.0000} (binomial {expected:0.0000})");
            Assert.InRange(bias, -0.015, 0.015);
            Assert.InRange(spread, 0, expected * 1.3 + 0.002);
        }
    }

    [Fact]
    public void Threshold_and_candidate_probability_follow_the_lsh_formulas()
    {
        Assert.Equal(0.7190, MinHasher.Threshold(14, 8), 4);
        Assert.Equal(0.7942, MinHasher.Threshold(20, 13), 4);
        Assert.True(MinHasher.CandidateProbability(0.9, 14, 8) > 0.999);
        Assert.True(MinHasher.CandidateProbability(0.3, 14, 8) < 0.001);
    }

    [Fact]
    public void Exact_jaccard_of_sorted_sets()
    {
        Assert.Equal(0.5, MinHasher.Exact([1, 2, 3], [2, 3, 4]), 6);
        Assert.Equal(1.0, MinHasher.Exact([1, 5, 9], [1, 5, 9]));
        Assert.Equal(0.0, MinHasher.Exact([1], [2]));
    }

    [Fact]
    public void Lsh_candidates_follow_the_s_curve_and_find_pairs_above_0_9_with_recall_0_98()
    {
        // 300 pairs per level of random 64-bit shingle sets (|A| = |B| = 150) at exact Jaccard levels; a pair is found
        // when it shares a band key and its estimated similarity passes the default verification threshold (0.7).
        var hasher = new MinHasher(14, 8, seed: 42);
        var random = new Random(9);
        var (sa, sb, ka, kb) = (new uint[112], new uint[112], new ulong[14], new ulong[14]);
        output.WriteLine("exact J   candidates  found   1-(1-j^8)^14");
        var recallAbove = new List<bool>();
        foreach (var target in new[] { 0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.93, 0.96 })
        {
            int candidates = 0, found = 0;
            var common = (int)Math.Round(300 * target / (1 + target));
            var exact = common / (300.0 - common);
            for (var pair = 0; pair < 300; pair++)
            {
                var shared = RandomSet(random, common);
                hasher.Signature(shared.Concat(RandomSet(random, 150 - common)).ToArray(), sa);
                hasher.Signature(shared.Concat(RandomSet(random, 150 - common)).ToArray(), sb);
                hasher.BandKeys(sa, ka);
                hasher.BandKeys(sb, kb);
                if (!ka.Where((k, band) => kb[band] == k).Any()) continue;
                candidates++;
                var accepted = MinHasher.Estimate(sa, sb) >= 0.7;
                if (accepted) found++;
                if (exact >= 0.9) recallAbove.Add(accepted);
            }
            if (exact >= 0.9) recallAbove.AddRange(Enumerable.Repeat(false, 300 - candidates));
            output.WriteLine($"{exact,7:0.000}   {candidates / 300.0,10:0.000}  {found / 300.0,5:0.000}   {MinHasher.CandidateProbability(exact, 14, 8),12:0.000}");
            Assert.InRange(candidates / 300.0, MinHasher.CandidateProbability(exact, 14, 8) - 0.08, MinHasher.CandidateProbability(exact, 14, 8) + 0.08);
        }
        var recall = recallAbove.Count(f => f) / (double)recallAbove.Count;
        output.WriteLine($"recall at J ≥ 0.9: {recall:0.0000} of {recallAbove.Count} pairs");
        Assert.True(recall >= 0.98, $"recall {recall}");
    }
}
