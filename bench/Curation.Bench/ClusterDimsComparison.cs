using System.Diagnostics;
using System.Numerics.Tensors;
using Curation.Pipelines.Semantic;

namespace Curation.Bench;

/// <summary>
/// <c>kmeans</c>, clusterDims part: spherical k-means in a PCA projection of <c>--cluster-dims</c> dimensions (what
/// <c>semantic_dedup.clusterDims</c> runs: <see cref="ClusterProjection"/>, fitted on 20,000 rows) against the full
/// space, on the same data from the same initial centroids (projected for the reduced side), the same Lloyd loop and
/// threads. The data gets planted near-duplicates first (the last 5 % of rows become copies of earlier rows at cosine
/// 0.95–0.999), because SemDeDup only compares members of one cluster: its pair recall is the fraction of those pairs
/// (cos ≥ 1 − eps, eps 0.05) whose two members land in the same cluster. Printed: assignment time per iteration (the
/// ratio), projection cost, the k-means objective in the full space (mean cosine of every vector to the normalised mean of
/// its cluster's full vectors, for both clusterings), cluster agreement (adjusted Rand index) and the pair recalls.
/// </summary>
internal static class ClusterDimsComparison
{
    private const double Eps = 0.05;

    public static int Run(float[] data, int dimensions, Centroids init, BenchOptions options)
    {
        var n = data.Length / dimensions;
        var (k, iterations, threads, reducedDims) = (init.Count, options.Iterations, options.Threads, options.ClusterDims);
        var shards = 4 * threads;
        if (reducedDims >= dimensions) { Console.WriteLine($"clusterDims {reducedDims} is not below {dimensions}: skipped"); return 1; }
        Console.WriteLine();
        Console.WriteLine($"--- clusterDims {reducedDims} vs full {dimensions}: {n:N0} vectors, k = {k:N0}, {iterations} Lloyd iterations, {threads} threads ---");

        // Planted near-duplicate pairs: row r = n − copies + c is a copy of an earlier row at cosine in [0.95, 0.999].
        var copies = n / 20;
        var random = new Random(options.Seed + 17);
        var pairs = new List<(int Original, int Copy)>(copies);
        var noise = new float[dimensions];
        for (var c = 0; c < copies; c++)
        {
            var (original, row) = (random.Next(n - copies), n - copies + c);
            var cosine = 0.95 + 0.049 * random.NextDouble();
            var t = (float)Math.Sqrt(1 / (cosine * cosine) - 1);
            for (var d = 0; d < dimensions; d++) noise[d] = (float)(Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble()));
            var norm = TensorPrimitives.Norm(noise);
            var target = data.AsSpan(row * dimensions, dimensions);
            for (var d = 0; d < dimensions; d++) target[d] = data[original * dimensions + d] + t * noise[d] / norm;
            var targetNorm = TensorPrimitives.Norm(target);
            for (var d = 0; d < dimensions; d++) target[d] /= targetNorm;
            pairs.Add((original, row));
        }
        var truth = pairs.Where(p => SemDeDup.IsDuplicate(TensorPrimitives.Dot(Row(data, dimensions, p.Original), Row(data, dimensions, p.Copy)), Eps)).ToList();
        Console.WriteLine($"planted:  {copies:N0} near-duplicate copies (cos 0.95–0.999 to an earlier row), {truth.Count:N0} pairs at cos ≥ 1 − {Eps}");

        var clock = Stopwatch.StartNew();
        var projection = ClusterProjection.Fit(data.AsSpan(0, Math.Min(n, ClusterProjection.FitRows) * dimensions), dimensions, reducedDims);
        var fitSeconds = clock.Elapsed.TotalSeconds;
        clock.Restart();
        var projected = new float[(long)n * reducedDims];
        var bounds = Enumerable.Range(0, shards + 1).Select(s => (int)((long)n * s / shards)).ToArray();
        Parallel.For(0, shards, new ParallelOptions { MaxDegreeOfParallelism = threads }, s =>
            projection.Project(data.AsSpan(bounds[s] * dimensions, (bounds[s + 1] - bounds[s]) * dimensions)).CopyTo(projected.AsSpan(bounds[s] * reducedDims)));
        var projectSeconds = clock.Elapsed.TotalSeconds;
        var reducedInit = new Centroids(projection.Project(init.ToArray()), reducedDims);
        Console.WriteLine($"project:  PCA fit on {Math.Min(n, ClusterProjection.FitRows):N0} rows {fitSeconds:0.00} s (explains {projection.ExplainedFraction:P1} of the variance), " +
                          $"projecting all {n:N0} vectors {projectSeconds:0.00} s on {threads} threads (once per k-means: sample, then each assign phase per shard)");

        var full = KMeansBenchmark.RunOurs(data, init, iterations, threads, shards);
        var reduced = KMeansBenchmark.RunOurs(projected, reducedInit, iterations, threads, shards, reducedDims);
        var fullLabels = Labels(data, dimensions, full.Final, threads, bounds);
        var reducedLabels = Labels(projected, reducedDims, reduced.Final, threads, bounds);
        var fullObjective = FullSpaceObjective(data, dimensions, fullLabels, k);
        var reducedObjective = FullSpaceObjective(data, dimensions, reducedLabels, k);
        var ari = AdjustedRand(fullLabels, reducedLabels, k);
        double Recall(int[] labels) => truth.Count == 0 ? 1 : (double)truth.Count(p => labels[p.Original] == labels[p.Copy]) / truth.Count;
        var (fullRecall, reducedRecall) = (Recall(fullLabels), Recall(reducedLabels));

        Console.WriteLine("side          total s   s/iter   CPU s   objective (full-space mean cos)   SemDeDup pair recall (same cluster)");
        Console.WriteLine($"full {dimensions,-7} {full.Seconds,8:0.00} {full.Seconds / iterations,8:0.000} {full.CpuSeconds,7:0.0}   {fullObjective,10:0.000000}                        {fullRecall:0.0000}");
        Console.WriteLine($"clusterDims {reducedDims,-3} {reduced.Seconds,6:0.00} {reduced.Seconds / iterations,8:0.000} {reduced.CpuSeconds,7:0.0}   {reducedObjective,10:0.000000}                        {reducedRecall:0.0000}");
        Console.WriteLine($"ratio:    assignment time full/clusterDims {full.Seconds / reduced.Seconds:0.00}× (Lloyd iterations); with the projection " +
                          $"{full.Seconds / (reduced.Seconds + projectSeconds + fitSeconds):0.00}×");
        Console.WriteLine($"quality:  objective {reducedObjective - fullObjective:+0.000000;-0.000000} ({(reducedObjective - fullObjective) / fullObjective:+0.00%;-0.00%}), " +
                          $"cluster agreement (adjusted Rand index) {ari:0.0000}, pair recall {reducedRecall - fullRecall:+0.0000;-0.0000}");
        Console.WriteLine($"load:     {Machine.Load()}");
        return 0;
    }

    private static ReadOnlySpan<float> Row(float[] data, int dimensions, int row) => data.AsSpan(row * dimensions, dimensions);

    private static int[] Labels(float[] data, int dimensions, Centroids centroids, int threads, int[] bounds)
    {
        var labels = new int[bounds[^1]];
        Parallel.For(0, bounds.Length - 1, new ParallelOptions { MaxDegreeOfParallelism = threads }, s =>
            SphericalKMeans.Assign(data.AsSpan(bounds[s] * dimensions, (bounds[s + 1] - bounds[s]) * dimensions), dimensions, centroids,
                labels.AsSpan(bounds[s], bounds[s + 1] - bounds[s]), Span<float>.Empty));
        return labels;
    }

    /// <summary>Mean cosine of every vector to the normalised mean of its cluster's (full) vectors.</summary>
    private static double FullSpaceObjective(float[] data, int dimensions, int[] labels, int k)
    {
        var sums = new double[k * dimensions];
        for (var i = 0; i < labels.Length; i++)
            for (var d = 0; d < dimensions; d++) sums[labels[i] * dimensions + d] += data[i * dimensions + d];
        var centroids = new float[k * dimensions];
        for (var c = 0; c < k; c++)
        {
            var norm = Math.Sqrt(Enumerable.Range(0, dimensions).Sum(d => sums[c * dimensions + d] * sums[c * dimensions + d]));
            if (norm > 0) for (var d = 0; d < dimensions; d++) centroids[c * dimensions + d] = (float)(sums[c * dimensions + d] / norm);
        }
        double total = 0;
        for (var i = 0; i < labels.Length; i++) total += TensorPrimitives.Dot(Row(data, dimensions, i), centroids.AsSpan(labels[i] * dimensions, dimensions));
        return total / labels.Length;
    }

    /// <summary>Adjusted Rand index of two labelings (1: identical partitions, ~0: chance).</summary>
    private static double AdjustedRand(int[] a, int[] b, int k)
    {
        static double Pairs(long x) => x * (x - 1) / 2.0;
        var joint = new Dictionary<long, long>();
        var rows = new long[k];
        var columns = new long[k];
        for (var i = 0; i < a.Length; i++)
        {
            var key = (long)a[i] * k + b[i];
            joint[key] = joint.GetValueOrDefault(key) + 1;
            rows[a[i]]++;
            columns[b[i]]++;
        }
        var index = joint.Values.Sum(Pairs);
        var (sumRows, sumColumns, total) = (rows.Sum(Pairs), columns.Sum(Pairs), Pairs(a.Length));
        var expected = sumRows * sumColumns / total;
        var max = (sumRows + sumColumns) / 2;
        return max == expected ? 1 : (index - expected) / (max - expected);
    }
}
