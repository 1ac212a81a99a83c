using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json;
using Curation.Pipelines.Semantic;

namespace Curation.Bench;

/// <summary>
/// <c>kmeans</c>: our spherical k-means against FAISS on the same machine, same threads, same data file and the same
/// initial centroids, plus the in-cluster pairwise stage of SemDeDup against a tiled numpy/OpenBLAS loop.
/// <list type="bullet">
/// <item>Data: <c>--vectors</c> × 384 clustered unit vectors (<see cref="ClusteredVectors"/>), written to a raw float32
/// file that both sides use (ours from memory, FAISS through <c>np.fromfile</c>).</item>
/// <item>Init, once, not in the ratio: <see cref="SphericalKMeans.Fit"/> with <c>MaxIterations = 0</c> (the seeded sample
/// and k-means++ of the real Fit); its centroids go to FAISS as <c>init_centroids</c>, so both sides run the same
/// <c>--iterations</c> Lloyd steps from the same start and their objectives must agree.</item>
/// <item>Ours, timed: the Lloyd loop of <see cref="SphericalKMeans.Fit"/> (Tolerance 0: no early stop):
/// <see cref="SphericalKMeans.Assign(ReadOnlySpan{float}, int, Centroids)"/> over 4 × threads contiguous shards
/// (Parallel.For, <c>--threads</c> at a time) and <see cref="SphericalKMeans.Reduce"/>, per iteration.</item>
/// <item>FAISS, timed: <c>faiss.Kmeans(d, k, niter, spherical=True).train(x, init_centroids)</c> with
/// <c>max_points_per_centroid = ceil(n / k)</c> (the default 256 would subsample to 256 k vectors), with the OpenBLAS
/// kernel and the split of <c>--threads</c> between its OpenMP and OpenBLAS pools that <see cref="FaissPeer"/> measured
/// fastest on this machine.</item>
/// </list>
/// </summary>
public static class KMeansBenchmark
{
    private const int Dimensions = 384;
    private const int PairwisePairs = 3;
    private const int NumpyTile = 1024; // NeMo Curator's pairwise batch size

    public static async Task<int> RunAsync(BenchOptions options)
    {
        var n = options.Vectors;
        var k = options.Clusters;
        var iterations = options.Iterations;
        var threads = options.Threads;
        var repeat = options.Repeat ?? 1;
        var shards = 4 * threads;
        if ((long)n * Dimensions > Array.MaxLength) throw new ArgumentException($"--vectors {n:N0} × {Dimensions} floats do not fit one array");
        if (n < k) throw new ArgumentException($"--vectors {n:N0} cannot seed --clusters {k:N0}");
        var folder = Directory.CreateTempSubdirectory("curation-bench-kmeans-").FullName;
        try
        {
            var failures = 0;
            var peer = await FaissPeer.SetUpAsync(folder, threads);
            if (peer is null)
            {
                Console.WriteLine("WARNING: no reference peer: only our absolute figures follow, and no ratio. The benchmark counts as failed.");
                failures++;
            }
            else
            {
                foreach (var line in peer.Report) Console.WriteLine(line);
                if (!peer.BlasOk) failures++;
            }

            // ---- data ----
            var clock = Stopwatch.StartNew();
            var data = ClusteredVectors.Generate(n, Dimensions, k, options.Seed, threads);
            var generated = clock.Elapsed.TotalSeconds;
            var dataPath = Path.Combine(folder, "vectors.f32");
            clock.Restart();
            WriteFloats(dataPath, data);
            var written = clock.Elapsed.TotalSeconds;
            var dataBytes = (long)data.Length * sizeof(float);
            Console.WriteLine($"data:     {n:N0} × {Dimensions} float32 unit vectors around {k:N0} planted centres (σ 0.035–0.065 per component), " +
                              $"seed {options.Seed}: {Measure.Size(dataBytes)} raw float32 in {dataPath} (generated in {generated:0.0} s, written in {written:0.0} s, not timed)");
            Console.WriteLine($"task:     spherical k-means, k = {k:N0}, {iterations} Lloyd iterations (tolerance 0: no early stop), {threads} threads, " +
                              "both sides from the same initial centroids");
            Console.WriteLine($"ours:     SphericalKMeans.Assign over {shards} contiguous shards (Parallel.For, {threads} at a time) + SphericalKMeans.Reduce " +
                              "per iteration: the Lloyd loop of SphericalKMeans.Fit");
            if (peer is not null)
                Console.WriteLine($"faiss:    faiss.Kmeans(d={Dimensions}, k={k}, niter={iterations}, spherical=True, max_points_per_centroid={(n + k - 1) / k}: no subsampling)" +
                                  $".train(x, init_centroids=ours); omp_set_num_threads({peer.OmpThreads}), OMP_NUM_THREADS={peer.OmpThreads}, OPENBLAS_NUM_THREADS={peer.BlasThreads}, " +
                                  $"OMP_WAIT_POLICY={Environment.GetEnvironmentVariable("OMP_WAIT_POLICY") ?? "PASSIVE"}" +
                                  (peer.CoreType is null ? "" : $", OPENBLAS_CORETYPE={peer.CoreType}"));

            // ---- init (not timed in the ratio) ----
            Measure.Settle();
            clock.Restart();
            var sample = Math.Min(n, 40 * k);
            var init = SphericalKMeans.Fit(data, Dimensions, new KMeansOptions
            {
                Clusters = k, MaxIterations = 0, Tolerance = 0, Seed = (ulong)options.Seed, MaxDegreeOfParallelism = threads,
            }).Centroids;
            var initSeconds = clock.Elapsed.TotalSeconds;
            var initPath = Path.Combine(folder, "init.f32");
            WriteFloats(initPath, init.ToArray());
            Console.WriteLine($"init:     SphericalKMeans.Fit with MaxIterations 0 (seeded sample of {sample:N0}, k-means++, single-threaded): {initSeconds:0.0} s; " +
                              "not in the ratio (FAISS gets these centroids)");
            // Warm-up: enough calls on a small slice for tiered JIT to promote Assign and Reduce (cf. bench/README.md, exact).
            var warm = data.AsMemory(0, Math.Min(n, 512) * Dimensions);
            for (var w = 0; w < 40; w++) SphericalKMeans.Reduce([SphericalKMeans.Assign(warm.Span, Dimensions, init)], init);
            Console.WriteLine($"order:    {repeat} pair(s), alternating which side goes first; a full GC before each of our runs, after a warm-up " +
                              "of 40 Assign + Reduce calls on 512 vectors (tiered JIT)");
            Console.WriteLine($"load:     before the runs: {Machine.Load()}");
            Console.WriteLine();

            // ---- paired runs ----
            var ours = new List<OursRun>();
            var faiss = new List<FaissRun>();
            for (var pair = 0; pair < repeat; pair++)
            {
                var oursFirst = pair % 2 == 0;
                for (var side = 0; side < 2; side++)
                {
                    if ((side == 0) == oursFirst) ours.Add(RunOurs(data, init, iterations, threads, shards));
                    else if (peer is not null) faiss.Add(await RunFaissAsync(peer, folder, dataPath, initPath, n, k, iterations, options.Seed, pair));
                }
            }

            var flops = 2.0 * n * k * Dimensions * iterations;
            Console.WriteLine("side        run   total s   s/iter    CPU s   GFLOP/s  GFLOP/CPU-s   mean cos (it 1 → last)   peak memory");
            for (var r = 0; r < ours.Count; r++)
            {
                var run = ours[r];
                Console.WriteLine($"{"ours",-10} #{r + 1,-3} {run.Seconds,8:0.00} {run.Seconds / iterations,8:0.000} {run.CpuSeconds,8:0.0} {flops / run.Seconds / 1e9,9:0.0} {flops / run.CpuSeconds / 1e9,12:0.0}   " +
                                  $"{run.Objective[0] / n:0.000000} → {run.Objective[^1] / n:0.000000}   {Measure.Size(run.PeakWorkingSet)} (working set sampled)");
            }
            for (var r = 0; r < faiss.Count; r++)
            {
                var run = faiss[r];
                Console.WriteLine($"{"faiss",-10} #{r + 1,-3} {run.Seconds,8:0.00} {run.Seconds / iterations,8:0.000} {run.CpuSeconds,8:0.0} {flops / run.Seconds / 1e9,9:0.0} {flops / run.CpuSeconds / 1e9,12:0.0}   " +
                                  $"{run.Objective[0] / n:0.000000} → {run.Objective[^1] / n:0.000000}   {Measure.Size(run.MaxRssBytes)} (ru_maxrss)");
            }
            Console.WriteLine($"(total s: the {iterations} iterations; CPU s: process CPU time over them (ours: GC threads included); GFLOP/s counts the " +
                              $"assignment product only, 2·n·k·d per iteration, per wall second and per CPU second (the latter hardly moves with other " +
                              "load on the machine, but counts spinning threads as work); mean cos: objective / n)");
            Console.WriteLine();
            Console.WriteLine($"per-iteration s, ours #1:  {string.Join(" ", ours[0].PerIteration.Select(s => s.ToString("0.00", CultureInfo.InvariantCulture)))}" +
                              $"  (of which Reduce: {ours[0].ReduceSeconds:0.00} s in all)");
            if (faiss.Count > 0)
                Console.WriteLine($"per-iteration s, faiss #1: {string.Join(" ", faiss[0].PerIteration.Select(s => s.ToString("0.00", CultureInfo.InvariantCulture)))}" +
                                  $"  (of which search: {faiss[0].SearchSeconds:0.00} s in all; from its iteration_stats; loading the file {faiss[0].LoadSeconds:0.0} s, not timed)");
            Console.WriteLine($"objective (mean cosine to the assigned centroid) per iteration, ours:  {string.Join(" ", ours[0].Objective.Select(o => (o / n).ToString("0.00000", CultureInfo.InvariantCulture)))}");
            if (faiss.Count > 0)
                Console.WriteLine($"objective (mean cosine to the assigned centroid) per iteration, faiss: {string.Join(" ", faiss[0].Objective.Select(o => (o / n).ToString("0.00000", CultureInfo.InvariantCulture)))}");
            Console.WriteLine($"empty clusters: ours {ours[0].EmptyClusters} (kept their centroid); faiss {(faiss.Count > 0 ? faiss[0].Splits.ToString(CultureInfo.InvariantCulture) : "-")} splits");

            if (faiss.Count > 0)
            {
                // Same data, same start: the first iteration's objective can differ only by near-tie assignments and rounding,
                // and FAISS sums its objective in float (Clustering.cpp: `float obj; obj += dis[j]`), which over 1M terms of
                // ~0.4 drifts by ~1e-5 of the mean. Our inertia is an exact fixed-point sum.
                var first = Math.Abs(ours[0].Objective[0] - faiss[0].Objective[0]) / n;
                var worst = ours[0].Objective.Zip(faiss[0].Objective).Max(p => Math.Abs(p.First - p.Second)) / n;
                var agreement = CentroidAgreement(ours[0].Final, faiss[0].Centroids);
                Console.WriteLine($"centroids after {iterations} iterations, cos(ours_c, faiss_c) over the {k:N0} clusters: mean {agreement.Mean:0.000000}, " +
                                  $"min {agreement.Min:0.000000}, {agreement.Below:N0} below 0.999");
                var ok = first <= 1e-4;
                Console.WriteLine($"check: mean-cosine objective, iteration 1 |ours − faiss| = {first:0.0e0} (≤ 1e-4: same data and start; FAISS sums it in float), " +
                                  $"largest over the iterations {worst:0.0e0}: {(ok ? "OK" : "FAILED")}");
                if (!ok) failures++;
                if (worst > 1e-3) Console.WriteLine("WARNING: the objectives drift apart over the iterations by more than 1e-3 (empty-cluster handling or near ties)");

                var wall = ours.Zip(faiss, (o, f) => o.Seconds / f.Seconds).ToList();
                var cpu = ours.Zip(faiss, (o, f) => o.CpuSeconds / f.CpuSeconds).ToList();
                Console.WriteLine();
                if (wall.Count > 1)
                    Console.WriteLine($"paired ratios ours/faiss per run: wall {string.Join(" ", wall.Select(x => x.ToString("0.00", CultureInfo.InvariantCulture)))}; " +
                                      $"CPU {string.Join(" ", cpu.Select(x => x.ToString("0.00", CultureInfo.InvariantCulture)))}");
                var wallRatio = Measure.Median(wall);
                Console.WriteLine($"ratio ours/faiss (time of the {iterations} iterations, lower is better; goal ≤ 1.5{(wall.Count > 1 ? "; median of the pairs" : "")}):");
                Console.WriteLine($"  wall time: {wallRatio:0.00}{(wallRatio > 1.5 ? "   BELOW GOAL" : "")}");
                Console.WriteLine($"  CPU time:  {Measure.Median(cpu):0.00}   (less disturbed than wall time by other work on the machine)");
            }
            Console.WriteLine($"memory:   ours peak working set during the iterations {Measure.Size(ours.Max(r => r.PeakWorkingSet))}, process PeakWorkingSet64 " +
                              $"{Measure.Size(Process.GetCurrentProcess().PeakWorkingSet64)} (generation and init included); " +
                              (faiss.Count > 0 ? $"faiss ru_maxrss {Measure.Size(faiss.Max(r => r.MaxRssBytes))}; " : "") +
                              $"the data alone is {Measure.Size(dataBytes)}");
            Console.WriteLine($"load:     after the runs: {Machine.Load()}");

            if (options.ClusterDims > 0) failures += ClusterDimsComparison.Run(data, Dimensions, init, options);
            data = null;
            Measure.Settle();
            failures += await PairwiseAsync(options, peer, folder);
            return failures == 0 ? 0 : 1;
        }
        finally
        {
            try { Directory.Delete(folder, recursive: true); }
            catch (IOException e) { Console.WriteLine($"(could not delete {folder}: {e.Message})"); }
        }
    }

    // ---- ours ----

    internal sealed record OursRun(double Seconds, double CpuSeconds, long PeakWorkingSet, double[] PerIteration, double ReduceSeconds,
        double[] Objective, int EmptyClusters, Centroids Final);

    internal static OursRun RunOurs(float[] data, Centroids init, int iterations, int threads, int shards, int dimensions = Dimensions)
    {
        var n = data.Length / dimensions;
        var bounds = new int[shards + 1];
        for (var s = 0; s <= shards; s++) bounds[s] = (int)((long)n * s / shards);
        var memory = new ReadOnlyMemory<float>(data);
        var perIteration = new double[iterations];
        var objective = new double[iterations];
        var reduceSeconds = 0.0;
        var empty = 0;
        var centroids = init;
        Measure.Settle();
        using var probe = new ResourceProbe();
        for (var iteration = 0; iteration < iterations; iteration++)
        {
            var clock = Stopwatch.StartNew();
            var current = centroids;
            var partials = new PartialSums[shards];
            Parallel.For(0, shards, new ParallelOptions { MaxDegreeOfParallelism = threads },
                s => partials[s] = SphericalKMeans.Assign(memory.Span[(bounds[s] * dimensions)..(bounds[s + 1] * dimensions)], dimensions, current));
            var reduceStart = clock.Elapsed.TotalSeconds;
            var update = SphericalKMeans.Reduce(partials, current);
            reduceSeconds += clock.Elapsed.TotalSeconds - reduceStart;
            perIteration[iteration] = clock.Elapsed.TotalSeconds;
            objective[iteration] = n - update.Inertia; // Σ cos = n − Σ (1 − cos)
            empty += update.EmptyClusters;
            centroids = update.Centroids;
        }
        probe.Stop();
        return new OursRun(probe.Seconds, probe.CpuSeconds, probe.PeakWorkingSet, perIteration, reduceSeconds, objective, empty, centroids);
    }

    // ---- FAISS ----

    private sealed record FaissRun(double Seconds, double CpuSeconds, long MaxRssBytes, double LoadSeconds, double[] PerIteration, double SearchSeconds,
        double[] Objective, int Splits, float[] Centroids);

    private static async Task<FaissRun> RunFaissAsync(FaissPeer peer, string folder, string dataPath, string initPath, int n, int k, int iterations,
        int seed, int pair)
    {
        var outPath = Path.Combine(folder, $"faiss-centroids-{pair}.f32");
        var result = await peer.RunModeAsync("kmeans",
            [dataPath, Str(n), Str(Dimensions), Str(k), Str(iterations), Str(seed), Str(peer.OmpThreads), initPath, outPath], peer.OmpThreads, peer.BlasThreads,
            TimeSpan.FromHours(1));
        var stats = result.GetProperty("iterations").EnumerateArray().ToList();
        var cumulative = stats.Select(s => s.GetProperty("time").GetDouble()).ToArray();
        var perIteration = cumulative.Select((t, i) => i == 0 ? t : t - cumulative[i - 1]).ToArray();
        var centroids = ReadFloats(outPath, k * Dimensions);
        File.Delete(outPath);
        return new FaissRun(
            result.GetProperty("seconds").GetDouble(),
            result.GetProperty("cpu_seconds").GetDouble(),
            result.GetProperty("maxrss_kib").GetInt64() * 1024,
            result.GetProperty("load_seconds").GetDouble(),
            perIteration,
            stats.Count == 0 ? 0 : stats[^1].GetProperty("time_search").GetDouble(),
            stats.Select(s => s.GetProperty("obj").GetDouble()).ToArray(),
            stats.Sum(s => s.GetProperty("nsplit").GetInt32()),
            centroids);
    }

    private static (double Mean, double Min, int Below) CentroidAgreement(Centroids ours, float[] theirs)
    {
        double sum = 0, min = double.MaxValue;
        var below = 0;
        for (var c = 0; c < ours.Count; c++)
        {
            var a = ours[c];
            var b = theirs.AsSpan(c * Dimensions, Dimensions);
            double dot = 0, na = 0, nb = 0;
            for (var p = 0; p < Dimensions; p++) { dot += (double)a[p] * b[p]; na += (double)a[p] * a[p]; nb += (double)b[p] * b[p]; }
            var cos = dot / Math.Sqrt(na * nb);
            sum += cos;
            min = Math.Min(min, cos);
            if (cos < 0.999) below++;
        }
        return (sum / ours.Count, min, below);
    }

    // ---- the in-cluster pairwise stage ----

    private static async Task<int> PairwiseAsync(BenchOptions options, FaissPeer? peer, string folder)
    {
        var size = options.ClusterSize;
        Console.WriteLine();
        Console.WriteLine("--- in-cluster pairwise stage (SemDeDup's M) ---");
        var members = ClusteredVectors.OneCluster(size, Dimensions, options.Seed);
        var centroid = new float[Dimensions];
        for (var i = 0; i < size; i++)
            System.Numerics.Tensors.TensorPrimitives.Add(centroid, members.AsSpan(i * Dimensions, Dimensions), centroid);
        var norm = MathF.Sqrt(System.Numerics.Tensors.TensorPrimitives.Dot<float>(centroid, centroid));
        System.Numerics.Tensors.TensorPrimitives.Divide(centroid, norm, centroid);
        var distances = new float[size];
        for (var i = 0; i < size; i++) distances[i] = 1f - System.Numerics.Tensors.TensorPrimitives.Dot<float>(members.AsSpan(i * Dimensions, Dimensions), centroid);
        var ids = Enumerable.Range(0, size).Select(i => $"m{i:D8}").ToArray();
        var ranking = SemDeDup.Rank(distances, ids, SemDeDupOrder.Hard);
        var ranked = new float[members.Length];
        for (var r = 0; r < size; r++) members.AsSpan(ranking[r] * Dimensions, Dimensions).CopyTo(ranked.AsSpan(r * Dimensions, Dimensions));
        var rankedPath = Path.Combine(folder, "cluster.f32");
        WriteFloats(rankedPath, ranked);
        var pairs = (double)size * (size - 1) / 2;
        Console.WriteLine($"cluster:  {size:N0} members × {Dimensions} around one centre (every 10th a near copy of an earlier member), ranked hard " +
                          $"(farthest from the centroid first): {pairs:N0} pairs; 1 thread each side (the pipeline runs clusters in parallel, one per task)");
        Console.WriteLine($"ours:     SemDeDup.ComputeMaxSimilarity (tile {SemDeDup.DefaultTileSize}, members in their own order + the ranking)");
        if (peer is not null)
            Console.WriteLine($"numpy:    column blocks of {NumpyTile} (NeMo's pairwise batch): s = x[:c1] @ x[c0:c1].T (OpenBLAS sgemm), lower triangle of the " +
                              "diagonal block → −inf, argmax over rows; rows in rank order; OPENBLAS_NUM_THREADS=1");

        // Warm-up (tiered JIT), then pairs alternating which side goes first.
        SemDeDup.ComputeMaxSimilarity(members.AsSpan(0, Math.Min(size, 2048) * Dimensions), Dimensions,
            SemDeDup.Rank(distances.AsSpan(0, Math.Min(size, 2048)), ids[..Math.Min(size, 2048)], SemDeDupOrder.Hard));
        var oursSeconds = new List<double>();
        var oursCpu = new List<double>();
        var numpySeconds = new List<double>();
        var numpyCpu = new List<double>();
        ClusterDuplicates? result = null;
        JsonElement numpy = default;
        var mPath = Path.Combine(folder, "numpy-m.f32");
        var twinPath = Path.Combine(folder, "numpy-twin.i32");
        for (var pair = 0; pair < PairwisePairs; pair++)
        {
            for (var side = 0; side < 2; side++)
            {
                if ((side == 0) == (pair % 2 == 0))
                {
                    Measure.Settle();
                    var cpu = Process.GetCurrentProcess().TotalProcessorTime;
                    var clock = Stopwatch.StartNew();
                    result = SemDeDup.ComputeMaxSimilarity(members, Dimensions, ranking);
                    oursSeconds.Add(clock.Elapsed.TotalSeconds);
                    oursCpu.Add((Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalSeconds);
                }
                else if (peer is not null)
                {
                    numpy = await peer.RunModeAsync("pairwise", [rankedPath, Str(size), Str(Dimensions), Str(NumpyTile), mPath, twinPath], 1, 1, TimeSpan.FromMinutes(30));
                    numpySeconds.Add(numpy.GetProperty("seconds").GetDouble());
                    numpyCpu.Add(numpy.GetProperty("cpu_seconds").GetDouble());
                }
            }
        }
        var flopsPerPair = 2.0 * Dimensions;
        var ours = Measure.Median(oursSeconds);
        Console.WriteLine($"ours:     {string.Join(" ", oursSeconds.Select(s => s.ToString("0.00", CultureInfo.InvariantCulture)))} s → median {ours:0.00} s: " +
                          $"{pairs / ours / 1e6:N1} M pairs/s ({pairs * flopsPerPair / ours / 1e9:0.0} GFLOP/s); CPU {Measure.Median(oursCpu):0.00} s: " +
                          $"{pairs / Measure.Median(oursCpu) / 1e6:N1} M pairs per CPU-s");
        if (peer is null) return 0;
        var reference = Measure.Median(numpySeconds);
        Console.WriteLine($"numpy:    {string.Join(" ", numpySeconds.Select(s => s.ToString("0.00", CultureInfo.InvariantCulture)))} s → median {reference:0.00} s: " +
                          $"{pairs / reference / 1e6:N1} M pairs/s ({pairs * flopsPerPair / reference / 1e9:0.0} GFLOP/s); CPU {Measure.Median(numpyCpu):0.00} s: " +
                          $"{pairs / Measure.Median(numpyCpu) / 1e6:N1} M pairs per CPU-s; OpenBLAS kernel {FaissPeer.CoreNameOf(numpy)}");

        // Same M (up to the rounding of a different summation order) and mostly the same twins.
        var m = ReadFloats(mPath, size);
        var twin = MemoryMarshal.Cast<float, int>(ReadFloats(twinPath, size)).ToArray();
        double worst = 0;
        var sameTwin = 0;
        for (var r = 0; r < size; r++)
        {
            var member = ranking[r];
            worst = Math.Max(worst, Math.Abs(result!.MaxSimilarity[member] - m[r]));
            var theirs = twin[r] < 0 ? -1 : ranking[twin[r]];
            if (theirs == result.Twin[member]) sameTwin++;
        }
        var ok = worst <= 1e-4;
        Console.WriteLine($"check: M max |ours − numpy| = {worst:0.0e0} (≤ 1e-4), the same twin for {sameTwin:N0} of {size:N0} members " +
                          $"(the others are near ties): {(ok ? "OK" : "FAILED")}");
        Console.WriteLine($"ratio ours/numpy (time, lower is better, medians): wall {ours / reference:0.00}; CPU {Measure.Median(oursCpu) / Measure.Median(numpyCpu):0.00}");
        return ok ? 0 : 1;
    }

    // ---- files ----

    private static string Str(int value) => value.ToString(CultureInfo.InvariantCulture);

    private static void WriteFloats(string path, float[] values)
    {
        using var file = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20);
        const int chunk = 1 << 24;
        for (long offset = 0; offset < values.LongLength; offset += chunk)
            file.Write(MemoryMarshal.AsBytes(values.AsSpan((int)offset, (int)Math.Min(chunk, values.LongLength - offset))));
    }

    private static float[] ReadFloats(string path, int count)
    {
        var values = new float[count];
        using var file = File.OpenRead(path);
        file.ReadExactly(MemoryMarshal.AsBytes(values.AsSpan()));
        return values;
    }
}
