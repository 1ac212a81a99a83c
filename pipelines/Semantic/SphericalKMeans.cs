namespace Curation.Pipelines.Semantic;

/// <summary>What a coordinator learns from one reduced Lloyd step.</summary>
/// <param name="Centroids">The new centroids: the normalised sum of each cluster's members; an empty cluster keeps its
/// previous centroid.</param>
/// <param name="MaxShift">Largest 1 − cos(previous, new) over the clusters: the tolerance check.</param>
/// <param name="Inertia">Sum of the members' cosine distances to the centroids they were assigned to (the previous ones).</param>
/// <param name="Counts">Members per cluster.</param>
/// <param name="EmptyClusters">Clusters that received no member and kept their previous centroid.</param>
public sealed record KMeansUpdate(Centroids Centroids, double MaxShift, double Inertia, long[] Counts, int EmptyClusters);

/// <summary>Options of the single-process driver <see cref="SphericalKMeans.Fit"/>.</summary>
public sealed record KMeansOptions
{
    public required int Clusters { get; init; }
    public int MaxIterations { get; init; } = 100;

    /// <summary>Stop when no centroid moves by more than this (1 − cos between successive centroids); 0: run all iterations.</summary>
    public double Tolerance { get; init; } = 1e-4;

    public ulong Seed { get; init; }

    /// <summary>Vectors the k-means++ initialisation samples; 0 picks min(n, 40 k).</summary>
    public int InitSampleSize { get; init; }

    /// <summary>Shards assigned in parallel; the result does not depend on it.</summary>
    public int MaxDegreeOfParallelism { get; init; } = 1;
}

/// <summary>The result of <see cref="SphericalKMeans.Fit"/>.</summary>
public sealed record KMeansFit(Centroids Centroids, int Iterations, bool Converged, IReadOnlyList<KMeansUpdate> Steps);

/// <summary>
/// Spherical k-means over L2-normalised float32 vectors (row-major spans of <c>dimensions</c> floats), split so that a
/// coordinator can run it across shards:
/// <list type="number">
/// <item><see cref="InitializePlusPlus(ReadOnlySpan{float}, int, IReadOnlyList{string}, int, ulong)"/> on a sample
/// (pick it with <see cref="InSample(string, ulong, double)"/>, which each shard decides locally from the document id);</item>
/// <item>per shard: <see cref="Assign(ReadOnlySpan{float}, int, Centroids, Span{int}, Span{float})"/> gives each vector
/// its nearest centroid (largest cosine; ties to the lowest cluster index) and cosine distance, and returns
/// <see cref="PartialSums"/>;</item>
/// <item>coordinator: <see cref="Reduce"/> turns the partials into the next centroids and the shift to test against a tolerance.</item>
/// </list>
/// Determinism: the kernel's dot products have the same bits on every instruction set (see <see cref="VectorKernels"/>)
/// and partial sums are exact integers, so the centroids after any number of steps are bit-identical whether the corpus
/// is one shard or many, on one silo or several, whatever order the partials arrive in.
/// Assignment is a blocked matrix product: 64 vectors at a time against panels of 32 packed centroids (a panel,
/// 32 × d floats, stays in L1/L2 while the 64 vectors stream past it 8 rows at a time).
/// </summary>
public static class SphericalKMeans
{
    private const int RowBlock = 64;

    /// <summary>Whether a document belongs to the initialisation sample: a seeded hash of its id below the fraction, so
    /// every shard decides alone and the sample never depends on how the corpus was split.</summary>
    public static bool InSample(string documentId, ulong seed, double fraction) =>
        StableRandom.Unit(StableRandom.KeyOf(documentId, seed)) < fraction;

    /// <summary>Same as <see cref="InSample(string, ulong, double)"/> for a stable record position.</summary>
    public static bool InSample(ulong stablePosition, ulong seed, double fraction) =>
        StableRandom.Unit(StableRandom.KeyOf(stablePosition, seed)) < fraction;

    /// <summary>
    /// k-means++ on a sample whose rows arrived in any order: rows are first put in ordinal order of their document ids,
    /// so the result depends only on the sample's content and the seed.
    /// </summary>
    public static unsafe Centroids InitializePlusPlus(ReadOnlySpan<float> sample, int dimensions, IReadOnlyList<string> sampleIds, int k, ulong seed)
    {
        var count = RowCount(sample, dimensions);
        if (sampleIds.Count != count) throw new ArgumentException($"{sampleIds.Count} ids for {count} sample rows.", nameof(sampleIds));
        var order = new int[count];
        for (var i = 0; i < count; i++) order[i] = i;
        Array.Sort(order, (a, b) =>
        {
            var byId = string.CompareOrdinal(sampleIds[a], sampleIds[b]);
            return byId != 0 ? byId : a.CompareTo(b);
        });
        fixed (float* source = sample)
        fixed (int* rows = order)
            return InitializePlusPlus(source, dimensions, rows, count, k, seed);
    }

    /// <summary>k-means++ on a sample given in a stable order (D² sampling with the cosine distance 1 − cos, which is
    /// half the squared Euclidean distance between unit vectors). Deterministic for a seed.</summary>
    public static unsafe Centroids InitializePlusPlus(ReadOnlySpan<float> sample, int dimensions, int k, ulong seed)
    {
        var count = RowCount(sample, dimensions);
        fixed (float* source = sample)
            return InitializePlusPlus(source, dimensions, null, count, k, seed);
    }

    /// <summary>
    /// k-means++ on a sample that is already packed as panels (<see cref="VectorKernels.Pack(float*, int, int*, int, int, float*)"/>:
    /// <paramref name="count"/> columns in their stable order, <see cref="VectorKernels.PackedLength"/> floats), the only
    /// copy of the sample: a caller that decodes its rows straight into panels never holds a row-major one beside it.
    /// Same centroids as the row-major forms given the same rows in the same order.
    /// </summary>
    public static unsafe Centroids InitializePlusPlusPacked(ReadOnlySpan<float> panels, int count, int dimensions, int k, ulong seed)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(dimensions);
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        if (panels.Length != VectorKernels.PackedLength(count, dimensions))
            throw new ArgumentException($"{panels.Length} floats are not {count} packed columns of {dimensions} dimensions.", nameof(panels));
        fixed (float* packed = panels)
            return InitializePlusPlus(packed, dimensions, count, k, seed);
    }

    private static unsafe Centroids InitializePlusPlus(float* source, int dimensions, int* order, int count, int k, ulong seed)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(k);
        if (count < k) throw new ArgumentException($"A sample of {count} vectors cannot seed {k} clusters.");
        // The sample as panels of 32 vectors: each new centre is one broadcast row against all of them.
        var packed = new float[VectorKernels.PackedLength(count, dimensions)];
        fixed (float* panels = packed)
        {
            VectorKernels.Pack(source, dimensions, order, 0, count, panels);
            return InitializePlusPlus(panels, dimensions, count, k, seed);
        }
    }

    /// <summary>D² sampling over packed panels; a centre's row is gathered from its panel column (the same floats).</summary>
    private static unsafe Centroids InitializePlusPlus(float* panels, int dimensions, int count, int k, ulong seed)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(k);
        if (count < k) throw new ArgumentException($"A sample of {count} vectors cannot seed {k} clusters.");
        var path = VectorKernels.BestPath;
        var minDistance = new float[count];
        Array.Fill(minDistance, float.PositiveInfinity);
        var chosen = new int[k];
        var taken = new bool[count];
        var random = new StableRandom(seed);
        var tile = stackalloc float[VectorKernels.PanelWidth];
        var row = new float[dimensions];
        fixed (float* centre = row)
        {
            for (var t = 0; t < k; t++)
            {
                int pick;
                if (t == 0) pick = random.NextInt(count);
                else
                {
                    var total = 0.0;
                    for (var i = 0; i < count; i++) total += minDistance[i];
                    pick = -1;
                    if (total > 0)
                    {
                        var target = random.NextDouble() * total;
                        var cumulative = 0.0;
                        for (var i = 0; i < count; i++)
                        {
                            if (minDistance[i] <= 0) continue;
                            cumulative += minDistance[i];
                            pick = i;
                            if (cumulative > target) break;
                        }
                    }
                    // Every remaining vector coincides with a centre: take the first one not yet taken.
                    if (pick < 0) pick = Array.IndexOf(taken, false);
                }
                chosen[t] = pick;
                taken[pick] = true;
                VectorKernels.Unpack(panels, dimensions, pick, row);
                var rows = centre;
                for (var q = 0; q * VectorKernels.PanelWidth < count; q++)
                {
                    VectorKernels.DotTile(&rows, 1, panels + (long)q * VectorKernels.PanelWidth * dimensions, dimensions, tile, path);
                    var first = q * VectorKernels.PanelWidth;
                    for (var l = 0; l < VectorKernels.PanelWidth && first + l < count; l++)
                    {
                        var distance = MathF.Max(0f, 1f - tile[l]);
                        if (distance < minDistance[first + l]) minDistance[first + l] = distance;
                    }
                }
                minDistance[pick] = 0f;
            }
        }
        var values = new float[(long)k * dimensions];
        for (var t = 0; t < k; t++) VectorKernels.Unpack(panels, dimensions, chosen[t], values.AsSpan(t * dimensions, dimensions));
        return new Centroids(values, dimensions);
    }

    /// <summary>One shard's part of a Lloyd step: the partial sums only.</summary>
    public static PartialSums Assign(ReadOnlySpan<float> vectors, int dimensions, Centroids centroids) =>
        Assign(vectors, dimensions, centroids, [], []);

    /// <summary>
    /// One shard's part of a Lloyd step and the assignment output: each vector's cluster (largest cosine, ties to the
    /// lowest index) and cosine distance 1 − cos to it, written to <paramref name="clusterIds"/> and
    /// <paramref name="distances"/> when they are not empty. Single-threaded; partial sums of batches or threads
    /// combine exactly (<see cref="PartialSums.Combine"/>).
    /// </summary>
    public static PartialSums Assign(ReadOnlySpan<float> vectors, int dimensions, Centroids centroids, Span<int> clusterIds, Span<float> distances)
    {
        ArgumentNullException.ThrowIfNull(centroids);
        var sums = new PartialSums(centroids.Count, dimensions);
        AssignInto(sums, vectors, dimensions, centroids, clusterIds, distances);
        return sums;
    }

    /// <summary>
    /// <see cref="Assign(ReadOnlySpan{float}, int, Centroids, Span{int}, Span{float})"/> adding into existing partial
    /// sums: a shard read in tiles of rows gives the same sums as the whole shard at once (the sums are exact).
    /// </summary>
    public static unsafe void AssignInto(PartialSums sums, ReadOnlySpan<float> vectors, int dimensions, Centroids centroids, Span<int> clusterIds = default,
        Span<float> distances = default)
    {
        ArgumentNullException.ThrowIfNull(sums);
        ArgumentNullException.ThrowIfNull(centroids);
        if (sums.Clusters != centroids.Count || sums.Dimensions != dimensions)
            throw new ArgumentException($"Partial sums are {sums.Clusters}×{sums.Dimensions}, centroids {centroids.Count}×{dimensions}.", nameof(sums));
        if (centroids.Dimensions != dimensions) throw new ArgumentException($"Centroids have {centroids.Dimensions} dimensions, vectors {dimensions}.");
        var count = RowCount(vectors, dimensions);
        if (!clusterIds.IsEmpty && clusterIds.Length != count) throw new ArgumentException($"{clusterIds.Length} cluster ids for {count} vectors.", nameof(clusterIds));
        if (!distances.IsEmpty && distances.Length != count) throw new ArgumentException($"{distances.Length} distances for {count} vectors.", nameof(distances));

        var k = centroids.Count;
        var path = VectorKernels.BestPath;
        var panelCount = VectorKernels.PaddedColumns(k) / VectorKernels.PanelWidth;
        var panelLength = (long)VectorKernels.PanelWidth * dimensions;
        var rows = stackalloc float*[RowBlock];
        var tile = stackalloc float[8 * VectorKernels.PanelWidth];
        var best = stackalloc float[RowBlock * 8];
        var bestIndex = stackalloc int[RowBlock * 8];
        fixed (float* source = vectors, panels = centroids.Packed)
        {
            for (var start = 0; start < count; start += RowBlock)
            {
                var blockRows = Math.Min(RowBlock, count - start);
                for (var r = 0; r < blockRows; r++) rows[r] = source + (long)(start + r) * dimensions;
                new Span<float>(best, blockRows * 8).Fill(float.NegativeInfinity);
                new Span<int>(bestIndex, blockRows * 8).Fill(-1);
                for (var q = 0; q < panelCount; q++)
                {
                    var panel = panels + q * panelLength;
                    var columnBase = q * VectorKernels.PanelWidth;
                    for (var r = 0; r < blockRows; r += 8)
                    {
                        var group = Math.Min(8, blockRows - r);
                        VectorKernels.DotTile(rows + r, group, panel, dimensions, tile, path);
                        VectorKernels.ArgMaxUpdate(tile, group, columnBase, k - columnBase, best + r * 8, bestIndex + r * 8);
                    }
                }
                for (var r = 0; r < blockRows; r++)
                {
                    var cluster = VectorKernels.FinishArgMax(best + r * 8, bestIndex + r * 8, out var similarity);
                    if (cluster < 0)
                        throw new ArgumentException($"Vector {start + r} is not finite; flag it with EmbeddingHealth before clustering.", nameof(vectors));
                    var distance = 1f - similarity;
                    sums.Add(cluster, vectors.Slice((start + r) * dimensions, dimensions), distance);
                    if (!clusterIds.IsEmpty) clusterIds[start + r] = cluster;
                    if (!distances.IsEmpty) distances[start + r] = distance;
                }
            }
        }
    }

    /// <summary>
    /// The coordinator's half of a Lloyd step: totals the partial sums (exact integer addition, so the shard order does
    /// not matter, though passing them in shard order costs nothing), then each centroid becomes its members' normalised
    /// sum, computed in double in a fixed order; a cluster without members (or whose members cancel out) keeps its
    /// previous centroid.
    /// </summary>
    public static KMeansUpdate Reduce(IEnumerable<PartialSums> inShardOrder, Centroids previous)
    {
        ArgumentNullException.ThrowIfNull(previous);
        var total = PartialSums.Combine(inShardOrder);
        if (total.Clusters != previous.Count || total.Dimensions != previous.Dimensions)
            throw new ArgumentException($"Partial sums are {total.Clusters}×{total.Dimensions}, centroids {previous.Count}×{previous.Dimensions}.");
        var d = previous.Dimensions;
        var values = new float[(long)previous.Count * d];
        var sum = new double[d];
        var maxShift = 0.0;
        var empty = 0;
        for (var c = 0; c < previous.Count; c++)
        {
            var old = previous[c];
            var target = values.AsSpan(c * d, d);
            var norm2 = 0.0;
            for (var p = 0; p < d; p++)
            {
                sum[p] = total.Sums[(long)c * d + p] / FixedPoint.VectorScale;
                norm2 += sum[p] * sum[p];
            }
            if (total.Counts[c] == 0 || norm2 <= 0)
            {
                if (total.Counts[c] == 0) empty++;
                old.CopyTo(target);
                continue;
            }
            var norm = Math.Sqrt(norm2);
            var cos = 0.0;
            for (var p = 0; p < d; p++)
            {
                target[p] = (float)(sum[p] / norm);
                cos += (double)target[p] * old[p];
            }
            maxShift = Math.Max(maxShift, 1 - cos);
        }
        return new KMeansUpdate(new Centroids(values, d), maxShift, total.Inertia, total.Counts, empty);
    }

    /// <summary>
    /// The whole algorithm in one process, composed from the distributed pieces exactly as a coordinator runs them:
    /// a seeded sample (positions by seeded hash), k-means++, then Lloyd steps over <paramref name="shardCount"/>
    /// contiguous shards until the shift is within tolerance. For tests and benchmarks; the result does not depend on
    /// <paramref name="shardCount"/> or the parallelism.
    /// </summary>
    public static KMeansFit Fit(ReadOnlyMemory<float> vectors, int dimensions, KMeansOptions options, int shardCount = 1)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(shardCount);
        var count = RowCount(vectors.Span, dimensions);
        var k = options.Clusters;
        var sampleSize = options.InitSampleSize > 0 ? Math.Min(options.InitSampleSize, count) : Math.Min(count, 40 * k);

        var keys = new ulong[count];
        var positions = new int[count];
        for (var i = 0; i < count; i++) { keys[i] = StableRandom.KeyOf((ulong)i, options.Seed); positions[i] = i; }
        Array.Sort(keys, positions);
        var picked = positions.AsSpan(0, sampleSize);
        picked.Sort();
        var sample = new float[(long)sampleSize * dimensions];
        for (var i = 0; i < sampleSize; i++)
            vectors.Span.Slice(picked[i] * dimensions, dimensions).CopyTo(sample.AsSpan(i * dimensions, dimensions));
        var centroids = InitializePlusPlus(sample, dimensions, k, options.Seed);

        var bounds = new int[shardCount + 1];
        for (var s = 0; s <= shardCount; s++) bounds[s] = (int)((long)count * s / shardCount);
        var steps = new List<KMeansUpdate>();
        var converged = false;
        for (var iteration = 0; iteration < options.MaxIterations; iteration++)
        {
            var current = centroids;
            var partials = new PartialSums[shardCount];
            Parallel.For(0, shardCount, new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, options.MaxDegreeOfParallelism) },
                s => partials[s] = Assign(vectors.Span[(bounds[s] * dimensions)..(bounds[s + 1] * dimensions)], dimensions, current));
            var update = Reduce(partials, current);
            steps.Add(update);
            centroids = update.Centroids;
            if (update.MaxShift <= options.Tolerance) { converged = true; break; }
        }
        return new KMeansFit(centroids, steps.Count, converged, steps);
    }

    internal static int RowCount(ReadOnlySpan<float> vectors, int dimensions)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(dimensions);
        if (vectors.Length % dimensions != 0)
            throw new ArgumentException($"{vectors.Length} floats are not a whole number of {dimensions}-dimensional vectors.", nameof(vectors));
        return vectors.Length / dimensions;
    }
}
