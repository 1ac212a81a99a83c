using System.Diagnostics;
using Curation.Pipelines.Semantic;
using Xunit.Abstractions;

namespace Curation.Pipelines.Tests.Semantic;

public sealed class SemDeDupTests(ITestOutputHelper output)
{
    /// <summary>The definition, O(n²): M_j = max(0, max_{i&lt;j} cos), twin = earliest i giving it.</summary>
    private static (float[] Max, int[] Twin) BruteForce(float[] vectors, int d, int[] ranking)
    {
        var n = ranking.Length;
        var max = new float[n];
        var twin = new int[n];
        for (var j = 0; j < n; j++)
        {
            var member = ranking[j];
            twin[member] = -1;
            for (var i = 0; i < j; i++)
            {
                var s = VectorKernels.SequentialDot(SemanticCorpus.Row(vectors, d, ranking[i]), SemanticCorpus.Row(vectors, d, member));
                if (s > max[member]) { max[member] = s; twin[member] = ranking[i]; }
            }
        }
        return (max, twin);
    }

    private static float[] WithExactCopies(float[] vectors, int d, params (int From, int To)[] copies)
    {
        var result = (float[])vectors.Clone();
        foreach (var (from, to) in copies) SemanticCorpus.Row(vectors, d, from).CopyTo(result.AsSpan(to * d, d));
        return result;
    }

    [Theory]
    [InlineData(32)]
    [InlineData(64)]
    [InlineData(100)]
    [InlineData(1000)]
    public void Tiled_maxima_equal_brute_force_including_ties(int tile)
    {
        const int d = 40;
        var (planted, ids, _) = SemanticCorpus.Planted(groups: 30, singles: 150, d, seed: 21);
        var vectors = WithExactCopies(planted, d, (0, 5), (0, 77), (3, 200), (3, 201));
        var n = ids.Length;
        var random = new StableRandom(22);
        var distances = Enumerable.Range(0, n).Select(_ => (float)random.NextDouble()).ToArray();
        var ranking = SemDeDup.Rank(distances, ids, SemDeDupOrder.Hard);
        var (max, twin) = BruteForce(vectors, d, ranking);
        var tiled = SemDeDup.ComputeMaxSimilarity(vectors, d, ranking, tile);
        Assert.Equal(max, tiled.MaxSimilarity);
        Assert.Equal(twin, tiled.Twin);
        Assert.Contains(tiled.MaxSimilarity, m => m >= 0.999999f); // the exact copies
    }

    [Fact]
    public void Streamed_blocks_in_any_order_equal_the_in_memory_run()
    {
        const int d = 24;
        var (vectors, ids, _) = SemanticCorpus.Planted(groups: 15, singles: 60, d, seed: 23);
        var n = ids.Length;
        var ranking = SemDeDup.Rank(new float[n], ids, SemDeDupOrder.Random, seed: 4);
        var expected = SemDeDup.ComputeMaxSimilarity(vectors, d, ranking, tileSize: 32);
        var sorted = SemanticCorpus.Gather(vectors, d, ranking); // the cluster's vectors in rank order, as a spool would hold them
        var accumulator = new MaxSimilarityAccumulator(n, d, tileSize: 32);
        var blocks = new List<(int Start, int Count)>();
        for (var s = 0; s < n; s += 37) blocks.Add((s, Math.Min(37, n - s)));
        foreach (var col in Enumerable.Reverse(blocks))
            foreach (var row in blocks.Where(b => b.Start <= col.Start + col.Count - 1).Reverse())
                accumulator.Accumulate(row.Start, sorted.AsSpan(row.Start * d, row.Count * d), col.Start, sorted.AsSpan(col.Start * d, col.Count * d));
        var streamed = accumulator.ToResult(ranking);
        Assert.Equal(expected.MaxSimilarity, streamed.MaxSimilarity);
        Assert.Equal(expected.Twin, streamed.Twin);
    }

    [Fact]
    public void Orders_decide_which_member_of_a_duplicate_pair_survives()
    {
        const int d = 16;
        var random = new StableRandom(24);
        var a = SemanticCorpus.RandomUnit(ref random, d);
        var b = SemanticCorpus.Near(ref random, a, 0.01);
        var c = SemanticCorpus.RandomUnit(ref random, d);
        float[] vectors = [.. a, .. b, .. c];
        string[] ids = ["b-far", "a-near", "c-other"];
        float[] distances = [0.30f, 0.10f, 0.20f];

        var hard = SemDeDup.Run(vectors, d, distances, ids, SemDeDupOrder.Hard).Decide(0.01);
        Assert.Equal([false, true, false], hard.Removed);
        Assert.Equal(0, hard.KeptTwin[1]);

        var easy = SemDeDup.Run(vectors, d, distances, ids, SemDeDupOrder.Easy).Decide(0.01);
        Assert.Equal([true, false, false], easy.Removed);
        Assert.Equal(1, easy.KeptTwin[0]);

        // Equal distances: the ordinal id decides ("a-near" ranks first in both orders).
        float[] tied = [0.2f, 0.2f, 0.2f];
        Assert.Equal([1, 0, 2], SemDeDup.Rank(tied, ids, SemDeDupOrder.Hard));
        Assert.Equal([1, 0, 2], SemDeDup.Rank(tied, ids, SemDeDupOrder.Easy));
    }

    [Fact]
    public void Random_order_is_seeded_and_independent_of_input_order()
    {
        var ids = Enumerable.Range(0, 200).Select(i => $"id{i}").ToArray();
        var distances = new float[200];
        var first = SemDeDup.Rank(distances, ids, SemDeDupOrder.Random, seed: 7).Select(i => ids[i]).ToArray();
        var reversedIds = ids.Reverse().ToArray();
        var second = SemDeDup.Rank(distances, reversedIds, SemDeDupOrder.Random, seed: 7).Select(i => reversedIds[i]).ToArray();
        Assert.Equal(first, second);
        Assert.NotEqual(first, SemDeDup.Rank(distances, ids, SemDeDupOrder.Random, seed: 8).Select(i => ids[i]).ToArray());
        Assert.NotEqual(first, ids);
    }

    [Fact]
    public void Removed_members_of_a_chain_point_at_a_kept_member()
    {
        // x0 ~ x1 ~ x2 along a great circle: x2 is within eps of x1 only; x1 is removed, so x2 is removed too
        // (SemDeDup compares with all earlier members) and its kept twin is x0 through x1.
        const int d = 8;
        float[] Unit(double angle) { var v = new float[d]; v[0] = (float)Math.Cos(angle); v[1] = (float)Math.Sin(angle); return v; }
        float[] vectors = [.. Unit(0), .. Unit(0.12), .. Unit(0.24)];
        var result = SemDeDup.ComputeMaxSimilarity(vectors, d, [0, 1, 2]);
        var decision = result.Decide(eps: 0.01); // cos 0.12 = 0.9928 ≥ 0.99; cos 0.24 = 0.971 < 0.99
        Assert.Equal([false, true, true], decision.Removed);
        Assert.Equal([-1, 0, 1], result.Twin);
        Assert.Equal([-1, 0, 0], decision.KeptTwin);
        Assert.Equal(0f, result.MaxSimilarity[0]);
    }

    [Fact]
    public void Eps_curve_matches_direct_runs_is_monotonic_and_merges_exactly()
    {
        const int d = 32;
        var (vectors, ids, _) = SemanticCorpus.Planted(groups: 40, singles: 50, d, seed: 25, minNoise: 0.02, maxNoise: 0.4);
        var n = ids.Length;
        var distances = new float[n];
        var half = n / 2;
        var first = SemDeDup.Run(vectors.AsSpan(0, half * d), d, distances.AsSpan(0, half), ids[..half]);
        var second = SemDeDup.Run(vectors.AsSpan(half * d), d, distances.AsSpan(half), ids[half..]);
        double[] eps = [0.005, 0.01, 0.02, 0.05, 0.1, 0.2];
        var curve = EpsCurve.Merge([EpsCurve.Compute(first, eps), EpsCurve.Compute(second, eps)]);
        Assert.Equal(n, curve.Total);
        for (var e = 0; e < eps.Length; e++)
        {
            Assert.Equal(first.Decide(eps[e]).RemovedCount + second.Decide(eps[e]).RemovedCount, curve.Removed[e]);
            if (e > 0) Assert.True(curve.Removed[e] >= curve.Removed[e - 1]);
        }
        Assert.True(curve.Removed[^1] > curve.Removed[0]);

        var target = curve.KeptFraction(3) + 0.001;
        Assert.Equal(0.05, curve.PickEps(target));
        Assert.Equal(eps[0], curve.PickEps(1.0));
    }

    [Fact]
    public void Planted_near_duplicates_are_removed_after_kmeans_with_valid_twins()
    {
        const int d = 384;
        const double eps = 0.05;
        var (vectors, ids, _) = SemanticCorpus.Planted(groups: 120, singles: 600, d, seed: 26);
        var n = ids.Length;

        // Exact brute force over the whole corpus.
        var pairs = new List<(int A, int B)>();
        for (var a = 0; a < n; a++)
            for (var b = a + 1; b < n; b++)
                if (SemDeDup.IsDuplicate(VectorKernels.SequentialDot(SemanticCorpus.Row(vectors, d, a), SemanticCorpus.Row(vectors, d, b)), eps))
                    pairs.Add((a, b));
        Assert.True(pairs.Count > 300, $"only {pairs.Count} planted pairs");

        var fit = SphericalKMeans.Fit(vectors, d, new KMeansOptions { Clusters = 12, MaxIterations = 20, Seed = 1 }, shardCount: 3);
        var clusters = new int[n];
        var distances = new float[n];
        SphericalKMeans.Assign(vectors, d, fit.Centroids, clusters, distances);

        var removed = new bool[n];
        foreach (var members in Enumerable.Range(0, n).GroupBy(i => clusters[i]))
        {
            var index = members.ToArray();
            var result = SemDeDup.Run(SemanticCorpus.Gather(vectors, d, index), d, index.Select(i => distances[i]).ToArray(),
                index.Select(i => ids[i]).ToArray(), SemDeDupOrder.Hard, tileSize: 64);
            var decision = result.Decide(eps);
            for (var m = 0; m < index.Length; m++)
            {
                if (!decision.Removed[m]) continue;
                removed[index[m]] = true;
                var twin = result.Twin[m];
                Assert.True(SemDeDup.IsDuplicate(VectorKernels.SequentialDot(SemanticCorpus.Row(vectors, d, index[m]), SemanticCorpus.Row(vectors, d, index[twin])), eps));
                Assert.False(decision.Removed[decision.KeptTwin[m]]);
                Assert.True(Array.IndexOf(result.Ranking.ToArray(), twin) < Array.IndexOf(result.Ranking.ToArray(), m));
            }
        }
        var resolved = pairs.Count(p => removed[p.A] || removed[p.B]);
        output.WriteLine($"{n} documents, {pairs.Count} pairs with cos ≥ 1 − eps, {resolved} resolved, {removed.Count(r => r)} removed");
        Assert.True(resolved >= 0.98 * pairs.Count, $"{resolved} of {pairs.Count} pairs have at most one member left");
    }

    [Fact]
    public void A_large_cluster_runs_in_bounded_memory()
    {
        const int d = 384;
        const int n = 20_000;
        const int tile = 64;
        var vectors = SemanticCorpus.RandomUnitRows(n, d, 27);
        var ranking = Enumerable.Range(0, n).ToArray();
        SemDeDup.ComputeMaxSimilarity(vectors.AsSpan(0, 64 * d), d, Enumerable.Range(0, 64).ToArray(), tile); // warm up
        var before = GC.GetAllocatedBytesForCurrentThread();
        var watch = Stopwatch.StartNew();
        var result = SemDeDup.ComputeMaxSimilarity(vectors, d, ranking, tile);
        watch.Stop();
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        // O(n) results and bookkeeping plus one packed tile; the full matrix would be n² × 4 = 1.6 GB.
        long bound = 64L * n + 4L * tile * d + 256 * 1024;
        output.WriteLine($"{n} × {d}, tile {tile}: {watch.Elapsed.TotalSeconds:F2} s, {allocated:N0} bytes allocated (bound {bound:N0})");
        Assert.True(allocated < bound, $"allocated {allocated:N0} bytes, bound {bound:N0} ({watch.Elapsed.TotalSeconds:F1} s)");
        Assert.Equal(n, result.Count);
        Assert.All(result.MaxSimilarity, m => Assert.InRange(m, 0f, 0.5f)); // random unit vectors in 384 dims
    }

    [Fact]
    public unsafe void A_single_cluster_of_50k_by_384_is_scored_from_a_spill_in_bounded_memory()
    {
        // The stage's score phase: vectors stream into a memory-mapped spill file, M is computed in tiles through a
        // pointer into it. The vectors (50k × 384 × 4 = 77 MB) never enter the managed heap; the n × n matrix never exists.
        const int d = 384;
        const int n = 50_000;
        const int half = n / 2;
        const int tile = 256;
        var random = new StableRandom(50);
        using var spill = new VectorSpill(d);
        var originals = new float[half][];
        for (var i = 0; i < half; i++) spill.Append(originals[i] = SemanticCorpus.RandomUnit(ref random, d));
        // The second half: near copies of the first (cos ≈ 1 / (1 + 0.05²) ≈ 0.9975), ranked after their originals.
        for (var i = 0; i < half; i++) spill.Append(SemanticCorpus.Near(ref random, originals[i], 0.05));
        spill.Seal();
        var rowOfRank = Enumerable.Range(0, n).ToArray();
        SemDeDup.ComputeRanked(spill.Pointer, d, rowOfRank[..64], tile); // warm up

        var before = GC.GetAllocatedBytesForCurrentThread();
        var watch = Stopwatch.StartNew();
        var (max, twinRank) = SemDeDup.ComputeRanked(spill.Pointer, d, rowOfRank, tile);
        watch.Stop();
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        long bound = 64L * n + 4L * tile * d + 256 * 1024;
        output.WriteLine($"{n} × {d} in one cluster, tile {tile}: {watch.Elapsed.TotalSeconds:F1} s " +
            $"({(double)n * (n - 1) / 2 / watch.Elapsed.TotalSeconds / 1e6:F0} M pairs/s), {allocated:N0} bytes allocated (bound {bound:N0}; vectors {4L * n * d:N0})");
        Assert.True(allocated < bound, $"allocated {allocated:N0} bytes, bound {bound:N0}");
        for (var r = half; r < n; r++)
        {
            Assert.Equal(r - half, twinRank[r]);
            Assert.True(max[r] > 0.99f, $"rank {r}: M {max[r]}");
        }
        Assert.All(max.AsSpan(0, half).ToArray(), m => Assert.InRange(m, 0f, 0.5f));
    }
}
