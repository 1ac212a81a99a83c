using Curation.Pipelines.Semantic;

namespace Curation.Pipelines.Tests.Semantic;

public sealed class SphericalKMeansTests
{
    private const int D = 64;

    private static float[] Clustered(int clusters, int perCluster, ulong seed, double noise = 0.6)
    {
        var random = new StableRandom(seed);
        var rows = new float[clusters * perCluster * D];
        for (var c = 0; c < clusters; c++)
        {
            var centre = SemanticCorpus.RandomUnit(ref random, D);
            for (var m = 0; m < perCluster; m++)
                SemanticCorpus.Near(ref random, centre, noise).CopyTo(rows.AsSpan((c * perCluster + m) * D));
        }
        return rows;
    }

    [Fact]
    public void Centroids_are_bit_identical_for_1_3_and_7_shards_and_any_parallelism()
    {
        var vectors = Clustered(12, 60, 11);
        var options = new KMeansOptions { Clusters = 12, MaxIterations = 8, Tolerance = 0, Seed = 5 };
        var one = SphericalKMeans.Fit(vectors, D, options, shardCount: 1);
        foreach (var (shards, parallel) in new[] { (3, 1), (7, 1), (7, 3) })
        {
            var other = SphericalKMeans.Fit(vectors, D, options with { MaxDegreeOfParallelism = parallel }, shards);
            Assert.True(one.Centroids.BitwiseEquals(other.Centroids), $"{shards} shards, parallelism {parallel}");
            Assert.Equal(one.Steps.Select(s => s.Inertia), other.Steps.Select(s => s.Inertia));
            Assert.Equal(one.Steps.Select(s => s.MaxShift), other.Steps.Select(s => s.MaxShift));
        }
        Assert.Equal(8, one.Iterations);
    }

    [Fact]
    public void Reduce_gives_the_same_bits_in_any_grouping_and_order_of_partials()
    {
        var vectors = Clustered(6, 50, 12);
        var centroids = SphericalKMeans.InitializePlusPlus(vectors, D, 6, seed: 3);
        var whole = SphericalKMeans.Reduce([SphericalKMeans.Assign(vectors, D, centroids)], centroids);
        var bounds = new[] { 0, 17, 18, 140, 299, 300 };
        var partials = Enumerable.Range(0, bounds.Length - 1)
            .Select(s => SphericalKMeans.Assign(vectors.AsSpan(bounds[s] * D, (bounds[s + 1] - bounds[s]) * D), D, centroids))
            .ToList();
        partials.Reverse();
        var shuffled = SphericalKMeans.Reduce(partials, centroids);
        var nested = SphericalKMeans.Reduce([PartialSums.Combine(partials.Take(2)), PartialSums.Combine(partials.Skip(2))], centroids);
        Assert.True(whole.Centroids.BitwiseEquals(shuffled.Centroids));
        Assert.True(whole.Centroids.BitwiseEquals(nested.Centroids));
        Assert.Equal(whole.Inertia, shuffled.Inertia);
        Assert.Equal(whole.Counts, nested.Counts);
        Assert.Equal(300, whole.Counts.Sum());
    }

    [Fact]
    public void AssignInto_over_tiles_of_a_shard_gives_the_sums_of_the_whole_shard()
    {
        // The Lloyd phases read a shard's vectors in tiles into one running PartialSums: same bits as the whole shard.
        var vectors = Clustered(7, 41, 13);
        var centroids = SphericalKMeans.InitializePlusPlus(vectors, D, 7, seed: 4);
        var whole = SphericalKMeans.Assign(vectors, D, centroids);
        foreach (var tile in new[] { 1, 64, 100, 287 })
        {
            var tiled = new PartialSums(7, D);
            for (var start = 0; start < 287; start += tile)
                SphericalKMeans.AssignInto(tiled, vectors.AsSpan(start * D, Math.Min(tile, 287 - start) * D), D, centroids);
            Assert.Equal(whole.Sums, tiled.Sums);
            Assert.Equal(whole.Counts, tiled.Counts);
            Assert.Equal(whole.InertiaFixed, tiled.InertiaFixed);
            Assert.Equal(287, tiled.VectorCount);
        }
        Assert.Throws<ArgumentException>(() => SphericalKMeans.AssignInto(new PartialSums(6, D), vectors, D, centroids));
    }

    [Fact]
    public void Assign_finds_the_most_similar_centroid_and_its_cosine_distance()
    {
        var vectors = SemanticCorpus.RandomUnitRows(200, D, 13);
        var centroids = new Centroids(SemanticCorpus.RandomUnitRows(45, D, 14), D); // 45: a partial second panel
        var clusters = new int[200];
        var distances = new float[200];
        var sums = SphericalKMeans.Assign(vectors, D, centroids, clusters, distances);
        for (var i = 0; i < 200; i++)
        {
            var x = SemanticCorpus.Row(vectors, D, i).ToArray();
            var best = Enumerable.Range(0, 45).MaxBy(c => VectorKernels.SequentialDot(x, centroids[c]));
            Assert.Equal(best, clusters[i]);
            Assert.Equal(1f - VectorKernels.SequentialDot(x, centroids[best]), distances[i]);
        }
        Assert.Equal(200, sums.VectorCount);
        Assert.Equal(distances.Sum(d => (double)d), sums.Inertia, 4);
    }

    [Fact]
    public void Assign_breaks_ties_to_the_lowest_cluster_and_refuses_nan()
    {
        var centre = SemanticCorpus.RandomUnitRows(1, D, 15);
        var centroids = new Centroids([.. SemanticCorpus.RandomUnitRows(40, D, 16), .. centre, .. centre], D);
        var clusters = new int[1];
        SphericalKMeans.Assign(centre, D, centroids, clusters, new float[1]);
        Assert.Equal(40, clusters[0]);
        var nan = new float[D];
        nan[3] = float.NaN;
        Assert.Throws<ArgumentException>(() => SphericalKMeans.Assign(nan, D, centroids));
    }

    [Fact]
    public void An_empty_cluster_keeps_its_previous_centroid()
    {
        var vectors = Clustered(2, 20, 17);
        var far = new float[D];
        for (var p = 0; p < D; p++) far[p] = -(vectors[p] + vectors[20 * D + p]);
        SemanticCorpus.Normalize(far);
        var start = new Centroids([.. vectors.AsSpan(0, D), .. vectors.AsSpan(20 * D, D), .. far], D);
        var update = SphericalKMeans.Reduce([SphericalKMeans.Assign(vectors, D, start)], start);
        Assert.Equal(1, update.EmptyClusters);
        Assert.Equal(0, update.Counts[2]);
        Assert.True(update.Centroids[2].SequenceEqual(far));
        for (var c = 0; c < 2; c++) Assert.Equal(1.0, VectorKernels.Norm(update.Centroids[c]), 5);
    }

    [Fact]
    public void KMeansPlusPlus_on_packed_panels_gives_the_row_major_centroids_without_a_second_copy_of_the_sample()
    {
        const int count = 3000, k = 12;
        var vectors = Clustered(k, count / k, 23, noise: 0.3);
        // Ids out of row order, so the stable order (ids, ordinal) differs from the rows'.
        var random = new StableRandom(8);
        var names = Enumerable.Range(0, count).ToList();
        SemanticCorpus.Shuffle(names, ref random);
        var ids = names.Select(i => $"doc-{i:D5}").ToArray();
        var expected = SphericalKMeans.InitializePlusPlus(vectors, D, ids, k, seed: 6);

        var order = Enumerable.Range(0, count).OrderBy(i => ids[i], StringComparer.Ordinal).ToArray();
        var panels = new float[VectorKernels.PackedLength(count, D)];
        for (var column = 0; column < count; column++) VectorKernels.PackColumn(vectors.AsSpan(order[column] * D, D), panels, column);
        Assert.Equal(VectorKernels.Pack(SemanticCorpus.Gather(vectors, D, order), D), panels);

        var before = GC.GetAllocatedBytesForCurrentThread();
        var packed = SphericalKMeans.InitializePlusPlusPacked(panels, count, D, k, seed: 6);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.True(packed.BitwiseEquals(expected));
        // The row-major form packs a copy (panels.Length floats); the packed form allocates its distances and centroids only.
        before = GC.GetAllocatedBytesForCurrentThread();
        SphericalKMeans.InitializePlusPlus(vectors, D, ids, k, seed: 6);
        var rowMajor = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.True(rowMajor >= panels.Length * sizeof(float), $"the row-major form allocated {rowMajor} bytes");
        Assert.True(allocated < panels.Length * sizeof(float) / 4, $"the packed form allocated {allocated} bytes for a {panels.Length * sizeof(float)}-byte sample");
        Assert.Throws<ArgumentException>(() => SphericalKMeans.InitializePlusPlusPacked(panels.AsSpan(1), count, D, k, seed: 6));
    }

    [Fact]
    public void KMeansPlusPlus_is_seeded_and_independent_of_the_order_the_sample_arrives_in()
    {
        var vectors = Clustered(10, 30, 19, noise: 0.15);
        var ids = Enumerable.Range(0, 300).Select(i => $"s{i:D4}").ToArray();
        var a = SphericalKMeans.InitializePlusPlus(vectors, D, ids, 10, seed: 1);
        var b = SphericalKMeans.InitializePlusPlus(vectors, D, ids, 10, seed: 1);
        Assert.True(a.BitwiseEquals(b));

        var random = new StableRandom(2);
        var order = Enumerable.Range(0, 300).ToList();
        SemanticCorpus.Shuffle(order, ref random);
        var shuffled = SphericalKMeans.InitializePlusPlus(SemanticCorpus.Gather(vectors, D, order), D, order.Select(i => ids[i]).ToArray(), 10, seed: 1);
        Assert.True(a.BitwiseEquals(shuffled));
        Assert.False(a.BitwiseEquals(SphericalKMeans.InitializePlusPlus(vectors, D, ids, 10, seed: 2)));

        // D² sampling spreads the seeds: tight, well-separated groups nearly all get a centre of their own.
        var clusters = new int[10];
        SphericalKMeans.Assign(SemanticCorpus.Gather(vectors, D, Enumerable.Range(0, 10).Select(c => c * 30).ToArray()), D, a, clusters, new float[10]);
        Assert.True(clusters.Distinct().Count() >= 8, string.Join(",", clusters));
    }

    [Fact]
    public void Sample_membership_is_a_seeded_function_of_the_id()
    {
        var ids = Enumerable.Range(0, 4000).Select(i => $"doc/{i}").ToArray();
        var picked = ids.Count(id => SphericalKMeans.InSample(id, 9, 0.25));
        Assert.InRange(picked, 850, 1150);
        Assert.Equal(ids.Select(id => SphericalKMeans.InSample(id, 9, 0.25)), ids.Select(id => SphericalKMeans.InSample(id, 9, 0.25)));
        Assert.NotEqual(ids.Select(id => SphericalKMeans.InSample(id, 9, 0.25)), ids.Select(id => SphericalKMeans.InSample(id, 10, 0.25)));
    }

    [Fact]
    public void Fit_converges_on_well_separated_clusters()
    {
        var vectors = Clustered(8, 40, 20, noise: 0.3);
        var fit = SphericalKMeans.Fit(vectors, D, new KMeansOptions { Clusters = 8, MaxIterations = 50, Tolerance = 1e-6, Seed = 4 });
        Assert.True(fit.Converged);
        var clusters = new int[320];
        SphericalKMeans.Assign(vectors, D, fit.Centroids, clusters, new float[320]);
        // k-means++ may seed one group twice (and merge two others); most groups come out whole and alone.
        var pure = Enumerable.Range(0, 8).Count(g =>
            clusters.Skip(g * 40).Take(40).Distinct().Count() == 1 && clusters.Count(c => c == clusters[g * 40]) == 40);
        Assert.True(pure >= 6, $"{pure} of 8 groups are whole clusters");
        for (var s = 1; s < fit.Steps.Count; s++) Assert.True(fit.Steps[s].Inertia <= fit.Steps[s - 1].Inertia + 1e-9);
    }
}
