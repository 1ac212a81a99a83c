using System.Diagnostics;
using System.Text.Json;
using Curation.Pipelines.Execution;
using Curation.Pipelines.Semantic;
using Curation.Pipelines.Spec;
using Curation.Pipelines.Stages;
using Curation.Pipelines.Storage;
using Curation.Pipelines.Tests.Semantic;
using Curation.Testing;

namespace Curation.Bench;

/// <summary>
/// <c>semantic</c>: the semantic_dedup stage as a job on one process (read → embed → semantic_dedup → output, phase
/// after phase with <c>--threads</c> tasks at a time, local folder store; one shard per input file, 16 or more of at most
/// ~20,000 documents), on <c>--docs</c> documents whose 384-dim
/// embeddings are planted the way the tests plant them (<see cref="PlantedEmbeddings"/>: the embed stage's outputs are
/// written instead of computed; 30 % of the documents in groups of three near copies, noise 0.1, cos ≈ 0.99; the rest
/// random unit vectors). Each vector is a function of the document number, so the process never holds the corpus' matrix.
/// Prints the stage's wall time, documents/s and the peak working set while it runs, against the bare in-memory loop
/// over the same vectors (<see cref="SphericalKMeans.Fit"/> with the same k and iterations, then per cluster the hard
/// ranking and <see cref="SemDeDup.ComputeMaxSimilarity"/>, clusters in parallel on the same threads).
/// </summary>
public static class SemanticBenchmark
{
    private const int Dimensions = 384;
    private const double Eps = 0.05;
    private const ulong Seed = 0x5E3D;

    /// <summary>Document i's planted vector: a near copy in a group of three (i mod 10 &lt; 3), else a random unit vector.</summary>
    private static float[] VectorOf(long i)
    {
        if (i % 10 < 3)
        {
            var centreRandom = new StableRandom(StableRandom.Mix(Seed ^ (ulong)(i / 10)));
            var centre = SemanticCorpus.RandomUnit(ref centreRandom, Dimensions);
            var random = new StableRandom(StableRandom.Mix(Seed + 1 + (ulong)i));
            return SemanticCorpus.Near(ref random, centre, 0.1);
        }
        var single = new StableRandom(StableRandom.Mix(Seed + 1 + (ulong)i));
        return SemanticCorpus.RandomUnit(ref single, Dimensions);
    }

    /// <summary>A planted document's text: its label, then seeded words up to <paramref name="chars"/> characters.</summary>
    private static string TextOf(int i, int chars)
    {
        var text = new System.Text.StringBuilder($"document {i}");
        var random = new Random(i);
        while (text.Length < chars) text.Append(' ').Append(Words[random.Next(Words.Length)]);
        return text.ToString();
    }

    private static readonly string[] Words = [.. Enumerable.Range(0, 4096).Select(w => $"w{w:x}")];

    private static long Number(string id) => long.Parse(id.AsSpan(4), System.Globalization.CultureInfo.InvariantCulture);

    public static async Task<int> RunAsync(BenchOptions options)
    {
        var n = options.Docs;
        var threads = options.Threads;
        var root = Directory.CreateTempSubdirectory("curation-bench-semantic-").FullName;
        try
        {
            var corpus = Path.Combine(root, "corpus");
            Directory.CreateDirectory(corpus);
            // One shard per input file: at least 16 (tasks side by side), at most ~20,000 documents each (a task's memory), or --shards.
            var files = options.Shards > 0 ? options.Shards : Math.Max(16, (n + 19_999) / 20_000);
            var perFile = Math.Max(1_000, (n + files - 1) / files);
            for (var f = 0; f * perFile < n; f++)
                await File.WriteAllLinesAsync(Path.Combine(corpus, $"part-{f:D4}.jsonl"), Enumerable.Range(f * perFile, Math.Min(perFile, n - f * perFile))
                    .Select(i => JsonSerializer.Serialize(new { id = $"doc-{i:D9}", text = TextOf(i, options.TextChars) })));
            // k-means++ sees a seeded sample of ~40 documents per cluster, as SphericalKMeans.Fit (the bare loop) samples: with the
            // default initSampleFraction 1 the init task would hold every vector of the corpus (and run k-means++ over all).
            var sampleFraction = Math.Min(1.0, 40.0 * options.Clusters / n);
            var stage = new SemanticDedupStageSpec
            {
                Clusters = options.Clusters, MaxIterations = options.Iterations, Eps = Eps, Partitions = 8, InitSampleFraction = sampleFraction,
            };
            var spec = new JobSpec
            {
                Name = "bench-semantic",
                Inputs = [new InputSpec { Path = corpus + "/*.jsonl", IdField = "id" }],
                Sharding = new ShardingSpec { TargetShardBytes = Math.Max(1024, perFile * (options.TextChars > 0 ? 48L + options.TextChars : 40L)) }, // one shard per input file
                Stages = [new EmbedStageSpec(), stage],
                Output = new OutputSpec { Path = "curated/bench-semantic" },
            };
            Console.WriteLine($"corpus:   {n:N0} documents{(options.TextChars > 0 ? $" of ~{options.TextChars:N0} characters" : "")}, planted 384-dim embeddings (30 % in groups of 3 near copies, cos ≈ 0.99; the rest random), " +
                              $"semantic_dedup clusters {stage.Clusters:N0}, maxIterations {stage.MaxIterations}, initSampleFraction {sampleFraction:0.###}, eps {Eps}, " +
                              $"partitions {stage.Partitions}; " +
                              $"{threads} tasks at a time; local folder store under {root}");

            var stores = CurationStoreServiceCollectionExtensions.CreateResolver(new CurationStoreOptions { RootPath = Path.Combine(root, "data") });
            using var services = StageServices.CreateDefault();
            var job = await JobContext.CreateOrLoadAsync(spec, stores);
            var all = job.Phases().ToList();
            var semanticIndex = job.Stages.OfType<SemanticDedupStage>().Single().Index;
            var beforeSemantic = all.TakeWhile(p => p.Stage.Index < semanticIndex).Count();
            var clock = Stopwatch.StartNew();
            await PlantedEmbeddings.RunAsync(spec, stores, services, id => VectorOf(Number(id)), threads, maxPhases: beforeSemantic);
            Console.WriteLine($"planted:  read stage + planted embed outputs for {job.Plan.ShardCount} shards in {clock.Elapsed.TotalSeconds:0.0} s (not timed); {Machine.Load()}");

            Measure.Settle();
            var before = Environment.WorkingSet;
            var probe = new ResourceProbe();
            var phaseTimes = new List<(string Phase, double Wall, long Peak, long Heap)>();
            foreach (var (s, phase) in all.Skip(beforeSemantic).Where(p => p.Stage.Index == semanticIndex))
            {
                var phaseClock = Stopwatch.StartNew();
                using var phaseProbe = new ResourceProbe();
                await Parallel.ForEachAsync(Enumerable.Range(0, phase.TaskCount), new ParallelOptions { MaxDegreeOfParallelism = threads },
                    async (task, ct) => await JobExecutor.RunTaskAsync(job, s.Index, phase.Name, task, services, ct));
                phaseProbe.Stop();
                phaseTimes.Add((phase.Name, phaseClock.Elapsed.TotalSeconds, phaseProbe.PeakWorkingSet, GC.GetGCMemoryInfo().HeapSizeBytes));
            }
            probe.Stop();
            var stageSeconds = probe.Seconds;
            var stagePeak = probe.PeakWorkingSet;
            var outputClock = Stopwatch.StartNew();
            await InProcessJob.RunAsync(spec, stores, services, threads); // the output stage (and the manifest)
            var outputSeconds = outputClock.Elapsed.TotalSeconds;
            var (manifest, _) = await job.Output.TryReadJsonAsync<Manifest>(job.OutputLocation.KeyOf(Manifest.FileName));
            var report = manifest!.Reports.Single(r => r.Key.EndsWith(SemanticDedupStageSpec.TypeName, StringComparison.Ordinal)).Value
                .Deserialize<SemanticDedupReport>(Curation.Pipelines.CurationJson.Options)!;
            Console.WriteLine("phases:   " + string.Join(", ", phaseTimes.GroupBy(p => p.Phase.Split('-')[0])
                .Select(g => $"{g.Key} {g.Sum(p => p.Wall):0.0} s (peak RSS {Measure.Size(g.Max(p => p.Peak))}, GC heap after {Measure.Size(g.Max(p => p.Heap))})")));
            // semantic_dedup is the last stage: its decisions are applied inside the output's write of each shard, so the
            // stage's time leaves that pass out and the output's holds it; their sum is the one to compare across versions.
            Console.WriteLine($"output:   {outputSeconds:0.0} s (write, applying semantic_dedup's decisions, and manifest); stage + output {stageSeconds + outputSeconds:0.0} s");
            Console.WriteLine($"stage:    {stageSeconds:0.0} s = {n / stageSeconds:N0} docs/s (CPU {probe.CpuSeconds:0.0} s); peak working set during the stage " +
                              $"{Measure.Size(stagePeak)} (goal ≤ 2 GB at 1M; {Measure.Size(before)} before it starts, {Measure.Size(stagePeak - before)} added); removed {report.Removed:N0} of {report.Documents:N0}; {Machine.Load()}");

            // The bare reference: everything in memory, no objects, no shuffle.
            Measure.Settle();
            var bare = new ResourceProbe();
            var vectors = new float[(long)n * Dimensions];
            var ids = new string[n];
            Parallel.For(0, n, new ParallelOptions { MaxDegreeOfParallelism = threads }, i =>
            {
                VectorOf(i).CopyTo(vectors.AsSpan(i * Dimensions));
                ids[i] = $"doc-{i:D9}";
            });
            var generated = bare.Seconds;
            var fitClock = Stopwatch.StartNew();
            var fit = SphericalKMeans.Fit(vectors, Dimensions, new KMeansOptions
            {
                Clusters = stage.Clusters, MaxIterations = stage.MaxIterations, Tolerance = stage.Tolerance, Seed = Seed, MaxDegreeOfParallelism = threads,
            });
            var clusterIds = new int[n];
            var distances = new float[n];
            SphericalKMeans.Assign(vectors, Dimensions, fit.Centroids, clusterIds, distances);
            var members = Enumerable.Range(0, n).GroupBy(i => clusterIds[i]).Select(g => g.ToArray()).ToArray();
            long removed = 0;
            Parallel.ForEach(members, new ParallelOptions { MaxDegreeOfParallelism = threads }, rows =>
            {
                var block = new float[rows.Length * Dimensions];
                for (var r = 0; r < rows.Length; r++) vectors.AsSpan(rows[r] * Dimensions, Dimensions).CopyTo(block.AsSpan(r * Dimensions));
                var ranking = SemDeDup.Rank(rows.Select(r => distances[r]).ToArray(), rows.Select(r => ids[r]).ToArray(), SemDeDupOrder.Hard);
                Interlocked.Add(ref removed, SemDeDup.ComputeMaxSimilarity(block, Dimensions, ranking).CountRemoved(Eps));
            });
            var bareSeconds = fitClock.Elapsed.TotalSeconds;
            bare.Stop();
            Console.WriteLine($"bare:     in-memory SphericalKMeans.Fit + assignment + per-cluster SemDeDup on {threads} threads: {bareSeconds:0.0} s = {n / bareSeconds:N0} docs/s " +
                              $"(vectors generated in {generated:0.0} s, not counted); peak working set {Measure.Size(bare.PeakWorkingSet)} (the {n:N0} × {Dimensions} matrix alone is " +
                              $"{Measure.Size((long)n * Dimensions * sizeof(float))}); removed {removed:N0}");
            Console.WriteLine($"ratio:    stage throughput / bare loop = {bareSeconds / stageSeconds:0.000}; peak memory stage / bare = {(double)stagePeak / bare.PeakWorkingSet:0.00}");
            return stagePeak <= 2L * 1024 * 1024 * 1024 ? 0 : 1;
        }
        finally
        {
            try { Directory.Delete(root, recursive: true); }
            catch (IOException e) { Console.WriteLine($"(could not delete {root}: {e.Message})"); }
        }
    }
}
