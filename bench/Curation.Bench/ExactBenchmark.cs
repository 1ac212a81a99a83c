using System.Diagnostics;
using Curation.Pipelines.Execution;
using Curation.Pipelines.IO;
using Curation.Pipelines.Spec;
using Curation.Pipelines.Stages;
using Curation.Pipelines.Storage;

namespace Curation.Bench;

/// <summary>
/// <c>exact</c>: the foundation job (read → normalize → quality_filter → exact_dedup → output) run in-process without
/// Orleans, phase after phase as the coordinator runs it, against a bare single-pass in-memory loop doing the same
/// work with the same parallelism. The ratio is what the durable, resumable, shardable design costs.
/// </summary>
public static class ExactBenchmark
{
    private static readonly NormalizeStageSpec Normalize = new();
    private static readonly QualityFilterStageSpec Quality = new();
    private static readonly ExactDedupStageSpec Dedup = new();

    public static async Task<int> RunAsync(BenchOptions options)
    {
        var root = Path.Combine(Path.GetTempPath(), $"curation-bench-exact-{Guid.NewGuid():N}");
        try
        {
            return await RunInAsync(root, options);
        }
        finally
        {
            try { Directory.Delete(root, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }

    private static async Task<int> RunInAsync(string root, BenchOptions options)
    {
        var threads = options.Threads;
        var clock = Stopwatch.StartNew();
        var corpus = Corpus.Generate(Path.Combine(root, "corpus"), options.Docs, options.Seed);
        Console.WriteLine($"corpus:   {corpus.Documents:N0} docs in {corpus.Files.Count} JSONL files, {Measure.Size(corpus.Bytes)}, text avg {(double)corpus.TextChars / corpus.Documents:0} chars " +
                          $"(generated in {clock.Elapsed.TotalSeconds:0.0} s, not timed); planted: " +
                          string.Join(", ", corpus.Planted.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => $"{p.Key} {p.Value:N0}")));
        Console.WriteLine($"job:      read → normalize → quality_filter → exact_dedup ({Dedup.Partitions} partitions) → output; " +
                          $"shards of ≤ {options.ShardMiB} MiB; {threads} tasks in parallel; local folder store");
        Console.WriteLine($"bare:     one pass per file (STJ parse, TextNormalizer, TextMeasures, ContentHash, Dictionary smallest id), " +
                          $"files split over {threads} threads, then merged");

        // Warm-up on a small corpus: JIT tiers and pools for both sides, so neither pays for the other's start.
        var warm = Corpus.Generate(Path.Combine(root, "warm-corpus"), Math.Min(options.Docs, 10_000), options.Seed + 1);
        BareExactDedup.Run(warm.Files, threads, Normalize, Quality, Dedup);
        await RunPipelineAsync(warm, Path.Combine(root, "warm-data"), threads, options.ShardMiB);

        // bare, pipeline, bare: the reference is the mean of the two bare runs around the pipeline, which cancels a
        // load that drifts during the run (other work on the machine). All find the corpus in the page cache.
        var (bare, b1) = RunBare(corpus, threads);
        Measure.Settle();
        var p = new ResourceProbe();
        var pipeline = await RunPipelineAsync(corpus, Path.Combine(root, "data"), threads, options.ShardMiB);
        p.Stop();
        var (bareAgain, b2) = RunBare(corpus, threads);
        var b = new Reference(b1, b2);
        var peakProcess = Process.GetCurrentProcess().PeakWorkingSet64;

        // Correctness first: a fast wrong answer is no result.
        var keptIds = await ReadKeptIdsAsync(pipeline);
        var failures = new List<string>();
        if (pipeline.Kept != bare.Kept) failures.Add($"kept counts differ: pipeline {pipeline.Kept:N0}, bare {bare.Kept:N0}");
        if (bareAgain.Kept != bare.Kept) failures.Add($"the two bare runs kept {bare.Kept:N0} and {bareAgain.Kept:N0}");
        if (keptIds.Count != pipeline.Kept) failures.Add($"output shards hold {keptIds.Count:N0} ids, the manifest says {pipeline.Kept:N0} kept");
        var onlyBare = bare.KeptIds.Where(id => !keptIds.Contains(id)).Take(3).ToList();
        if (onlyBare.Count > 0) failures.Add($"kept by bare but not by the pipeline: {string.Join(", ", onlyBare)}…");
        if (pipeline.Reused > 0) failures.Add($"{pipeline.Reused} tasks were reused from an earlier run: the timing is not of a fresh job");

        Console.WriteLine();
        Console.WriteLine($"{"side",-10} {"seconds",8} {"docs/s",10} {"MiB/s",8} {"CPU s",7} {"kept",9} {"alloc",11} {"peak WS",10}  GCs");
        foreach (var (label, run) in new[] { ("bare #1", b1), ("bare #2", b2) })
            Console.WriteLine($"{label,-10} {run.Seconds,8:0.00} {Measure.Rate(bare.Documents, run.Seconds),10} {Measure.MiBps(corpus.Bytes, run.Seconds),8} " +
                              $"{run.CpuSeconds,7:0.0} {bare.Kept,9:N0} {Measure.Size(run.Allocated),11} {Measure.Size(run.PeakWorkingSet),10}  {run.Collections}");
        Console.WriteLine($"{"bare mean",-10} {b.Seconds,8:0.00} {Measure.Rate(bare.Documents, b.Seconds),10} {Measure.MiBps(corpus.Bytes, b.Seconds),8} " +
                          $"{b.CpuSeconds,7:0.0} {bare.Kept,9:N0} {"",11} {"",10}");
        Console.WriteLine($"{"pipeline",-10} {p.Seconds,8:0.00} {Measure.Rate(corpus.Documents, p.Seconds),10} {Measure.MiBps(corpus.Bytes, p.Seconds),8} " +
                          $"{p.CpuSeconds,7:0.0} {pipeline.Kept,9:N0} {Measure.Size(p.Allocated),11} {Measure.Size(p.PeakWorkingSet),10}  {p.Collections}");
        Console.WriteLine($"process peak working set (PeakWorkingSet64, both sides + generation): {Measure.Size(peakProcess)}; " +
                          $"GC total allocated: {Measure.Size(GC.GetTotalAllocatedBytes())}");
        Console.WriteLine($"bare accounting:     {bare.Documents:N0} in = {bare.Kept:N0} kept + {bare.Empty:N0} empty + {bare.LowQuality:N0} low quality + " +
                          $"{bare.Duplicates:N0} duplicates + {bare.Malformed:N0} malformed");
        Console.WriteLine($"pipeline accounting: {string.Join("; ", pipeline.Accounting.Stages.Select(s => $"{s.Stage} {s.In:N0}→{s.Kept:N0}"))}");
        Console.WriteLine($"pipeline wrote {Measure.Size(pipeline.StoreBytes)} in {pipeline.StoreObjects:N0} objects to the data and output stores");

        Console.WriteLine();
        Console.WriteLine($"{"pipeline phase",-30} {"tasks",5} {"wall s",8} {"share",6} {"task s",8} {"docs in",10}");
        foreach (var phase in pipeline.Phases)
            Console.WriteLine($"{phase.Name,-30} {phase.Tasks,5} {phase.WallSeconds,8:0.00} {phase.WallSeconds / pipeline.Seconds,6:P0} " +
                              $"{phase.TaskSeconds,8:0.00} {phase.DocumentsIn,10:N0}");
        Console.WriteLine($"{"total (incl. planning)",-30} {"",5} {pipeline.Seconds,8:0.00}");

        Console.WriteLine();
        Console.WriteLine($"ratio pipeline/bare (throughput = bare time / pipeline time, higher is better):");
        Console.WriteLine($"  wall time: {b.Seconds / p.Seconds:0.000}  (the pipeline takes {p.Seconds / b.Seconds:0.0}× the bare loop's time: " +
                          "the cost of durable, resumable, shardable stages)");
        Console.WriteLine($"  CPU time:  {b.CpuSeconds / p.CpuSeconds:0.000}  (process CPU seconds: less disturbed than wall time by other work on the machine, not immune to it)");
        if (failures.Count == 0)
        {
            Console.WriteLine($"check: kept counts equal ({bare.Kept:N0}) and the same documents kept: OK");
            return 0;
        }
        foreach (var failure in failures) Console.WriteLine($"FAILED: {failure}");
        return 1;
    }

    private static (BareExactDedup.Result Result, ResourceProbe Probe) RunBare(Corpus corpus, int threads)
    {
        Measure.Settle();
        var probe = new ResourceProbe();
        var result = BareExactDedup.Run(corpus.Files, threads, Normalize, Quality, Dedup);
        return (result, probe.Stop());
    }

    /// <summary>The reference time: the mean of the bare runs before and after the pipeline.</summary>
    private sealed record Reference(ResourceProbe First, ResourceProbe Second)
    {
        public double Seconds => (First.Seconds + Second.Seconds) / 2;
        public double CpuSeconds => (First.CpuSeconds + Second.CpuSeconds) / 2;
    }

    private sealed record PhaseRun(string Name, int Tasks, double WallSeconds, double TaskSeconds, long DocumentsIn);

    private sealed record PipelineRun(JobContext Job, double Seconds, IReadOnlyList<PhaseRun> Phases, long Kept, Accounting Accounting,
        Manifest Manifest, int Reused, long StoreBytes, int StoreObjects);

    private static JobSpec SpecFor(Corpus corpus, int shardMiB) => new()
    {
        Name = "bench-exact",
        Inputs = [new InputSpec { Path = corpus.Folder + "/*.jsonl", Format = InputFormat.Jsonl, IdField = "id" }],
        Sharding = new ShardingSpec { TargetShardBytes = shardMiB * 1024L * 1024 },
        Stages = [Normalize, Quality, Dedup],
        Output = new OutputSpec { Path = "curated/bench-exact" },
    };

    /// <summary>The job as the coordinator runs it: plan, then every phase in order, its tasks in parallel.</summary>
    private static async Task<PipelineRun> RunPipelineAsync(Corpus corpus, string dataDir, int threads, int shardMiB)
    {
        var total = Stopwatch.StartNew();
        var stores = CurationStoreServiceCollectionExtensions.CreateResolver(new CurationStoreOptions { RootPath = dataDir });
        var phases = new List<PhaseRun>();
        var job = await JobContext.CreateOrLoadAsync(SpecFor(corpus, shardMiB), stores);
        phases.Add(new PhaseRun("plan", 1, total.Elapsed.TotalSeconds, 0, 0));
        var reused = 0;
        foreach (var (stage, phase) in job.Phases())
        {
            var clock = Stopwatch.StartNew();
            var stats = new TaskStats[phase.TaskCount];
            await Parallel.ForEachAsync(Enumerable.Range(0, phase.TaskCount), new ParallelOptions { MaxDegreeOfParallelism = threads },
                async (task, ct) => stats[task] = await JobExecutor.RunTaskAsync(job, stage.Index, phase.Name, task, ct));
            reused += stats.Count(s => s.Reused);
            phases.Add(new PhaseRun($"{stage.Folder}/{phase.Name}", phase.TaskCount, clock.Elapsed.TotalSeconds,
                stats.Sum(s => s.Seconds), stats.Sum(s => s.In)));
        }
        var seconds = total.Elapsed.TotalSeconds;

        var (manifest, _) = await job.Output.TryReadJsonAsync<Manifest>(job.OutputLocation.KeyOf(Manifest.FileName));
        if (manifest is null) throw new InvalidOperationException("the job finished without a manifest");
        var files = new DirectoryInfo(dataDir).EnumerateFiles("*", SearchOption.AllDirectories).ToList();
        return new PipelineRun(job, seconds, phases, manifest.Accounting.Kept, manifest.Accounting, manifest, reused,
            files.Sum(f => f.Length), files.Count);
    }

    /// <summary>The ids in the curated output shards (read after the clock stopped).</summary>
    private static async Task<HashSet<string>> ReadKeptIdsAsync(PipelineRun run)
    {
        var ids = new HashSet<string>(StringComparer.Ordinal);
        foreach (var shard in run.Manifest.Shards)
        {
            await using var stream = await run.Job.Output.OpenReadAsync(run.Job.OutputLocation.KeyOf(shard.Key));
            await using var reader = await ParquetTableReader.OpenAsync(stream);
            await foreach (var batch in reader.ReadAllAsync())
                foreach (var id in batch.Ids.List) ids.Add(id);
        }
        return ids;
    }
}
