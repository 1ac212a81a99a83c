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

    /// <summary>Issue 13's goal for the median wall ratio pipeline/bare.</summary>
    private const double Goal = 0.70;

    public static Task<int> RunAsync(BenchOptions options) => Measure.InTempFolderAsync("exact", root => RunInAsync(root, options));

    private static async Task<int> RunInAsync(string root, BenchOptions options)
    {
        var threads = options.Threads;
        var repeat = options.Repeat ?? 1;
        var clock = Stopwatch.StartNew();
        var corpus = Corpus.Generate(Path.Combine(root, "corpus"), options.Docs, options.Seed);
        Console.WriteLine($"corpus:   {corpus.Documents:N0} docs in {corpus.Files.Count} JSONL files, {Measure.Size(corpus.Bytes)}, text avg {(double)corpus.TextChars / corpus.Documents:0} chars " +
                          $"(generated in {clock.Elapsed.TotalSeconds:0.0} s, not timed); planted: " +
                          string.Join(", ", corpus.Planted.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => $"{p.Key} {p.Value:N0}")));
        Console.WriteLine($"job:      read → normalize → quality_filter → exact_dedup ({Dedup.Partitions} partitions) → output; " +
                          $"shards of ≤ {options.ShardMiB} MiB; {threads} tasks in parallel; local folder store");
        Console.WriteLine($"bare:     one pass per file (STJ parse, TextNormalizer, TextMeasures, ContentHash, Dictionary smallest id), " +
                          $"files split over {threads} threads, then merged");
        Console.WriteLine($"order:    {(options.WarmUp == 1 ? "one untimed full-size round" : $"{options.WarmUp} untimed full-size rounds")} (bare, pipeline), then bare, then {repeat} × (pipeline, bare); each pipeline run " +
                          "is compared with the mean of the bare runs just before and after it, which cancels load that drifts during the run");

        // Warm-up: one untimed round of both sides at full size, as `line-dedup` does. Tiered JIT promotes hot methods
        // (ours and the framework's ReadyToRun code) only after repeated calls and a quiet delay, and loops on the side of
        // a large corpus reach their optimised code only at that size: three rounds on a 10,000-document corpus still left
        // the first timed rounds of both sides up to 2× slower than the later ones (bare 1.56 → 0.77 s, pipeline
        // 2.73 → 1.37 s over five runs), which made the ratio depend on --repeat. One round still leaves the pipeline
        // compiling in its timed runs (its per-task and per-phase methods are called a few times a run, so they reach tiered
        // PGO's call counts only runs later: 0.4-0.6 s of JIT in runs 2-3, 0.1-0.3 s after three rounds, the bare loop ~0):
        // the JIT column shows it, and --warm-up N adds rounds to measure nearer the steady state of a long-running silo.
        for (var round = 1; round <= options.WarmUp; round++)
        {
            var warmBare = RunBare(corpus, threads);
            var warmData = Path.Combine(root, "warm-data");
            Measure.Settle();
            var warmProbe = new ResourceProbe();
            var warmRun = await RunPipelineAsync(corpus, warmData, threads, options.ShardMiB);
            warmProbe.Stop();
            Directory.Delete(warmData, recursive: true);
            Console.WriteLine($"warm-up{(options.WarmUp == 1 ? ": " : $" {round}:")} full size, not in the ratios: bare {warmBare.Probe.Seconds:0.00} s (CPU {warmBare.Probe.CpuSeconds:0.00} s, JIT {warmBare.Probe.JitSeconds:0.00} s), " +
                              $"pipeline {warmProbe.Seconds:0.00} s (CPU {warmProbe.CpuSeconds:0.00} s, JIT {warmProbe.JitSeconds:0.00} s), kept {warmBare.Result.Kept:N0} / {warmRun.Kept:N0}; {Machine.Load()}");
        }

        var failures = new List<string>();
        var bares = new List<(BareExactDedup.Result Result, ResourceProbe Probe)> { RunBare(corpus, threads) };
        var bare = bares[0].Result;
        var pipelines = new List<(PipelineRun Run, ResourceProbe Probe)>();
        for (var i = 0; i < repeat; i++)
        {
            var dataDir = Path.Combine(root, $"data-{i}");
            Measure.Settle();
            var probe = new ResourceProbe();
            var run = await RunPipelineAsync(corpus, dataDir, threads, options.ShardMiB);
            pipelines.Add((run, probe.Stop()));
            bares.Add(RunBare(corpus, threads));

            // Correctness first: a fast wrong answer is no result. Checked after the clocks stopped.
            var label = repeat == 1 ? "" : $"pipeline #{i + 1}: ";
            var keptIds = await ReadKeptIdsAsync(run);
            if (run.Kept != bare.Kept) failures.Add($"{label}kept counts differ: pipeline {run.Kept:N0}, bare {bare.Kept:N0}");
            if (keptIds.Count != run.Kept) failures.Add($"{label}output shards hold {keptIds.Count:N0} ids, the manifest says {run.Kept:N0} kept");
            var onlyBare = bare.KeptIds.Where(id => !keptIds.Contains(id)).Take(3).ToList();
            if (onlyBare.Count > 0) failures.Add($"{label}kept by bare but not by the pipeline: {string.Join(", ", onlyBare)}…");
            if (run.Reused > 0) failures.Add($"{label}{run.Reused} tasks were reused from an earlier run: the timing is not of a fresh job");
            if (bares[^1].Result.Kept != bare.Kept) failures.Add($"bare runs kept {bare.Kept:N0} and {bares[^1].Result.Kept:N0}");
            if (i < repeat - 1) Directory.Delete(dataDir, recursive: true);
        }
        var peakProcess = Process.GetCurrentProcess().PeakWorkingSet64;

        Console.WriteLine();
        Console.WriteLine($"{"side",-12} {"seconds",8} {"docs/s",10} {"MiB/s",8} {"CPU s",7} {"kept",9} {"alloc",11} {"peak WS",10} {"JIT s",6} {"(methods)",9}  GCs");
        void Row(string label, ResourceProbe probe, long kept) =>
            Console.WriteLine($"{label,-12} {probe.Seconds,8:0.00} {Measure.Rate(corpus.Documents, probe.Seconds),10} {Measure.MiBps(corpus.Bytes, probe.Seconds),8} " +
                              $"{probe.CpuSeconds,7:0.0} {kept,9:N0} {Measure.Size(probe.Allocated),11} {Measure.Size(probe.PeakWorkingSet),10} {probe.JitSeconds,6:0.00} {$"({probe.JitMethods:N0})",9}  {probe.Collections}");
        for (var i = 0; i < bares.Count; i++)
        {
            Row($"bare #{i + 1}", bares[i].Probe, bares[i].Result.Kept);
            if (i < pipelines.Count) Row($"pipeline #{i + 1}", pipelines[i].Probe, pipelines[i].Run.Kept);
        }
        Console.WriteLine("(docs/s and MiB/s count the corpus's documents and JSONL bytes; peak WS: largest process working set sampled during that run; " +
                          "JIT s: time the JIT compiled during that run on any thread, tiered promotions included, and the methods it compiled)");
        Console.WriteLine($"process peak working set (PeakWorkingSet64, all runs + generation): {Measure.Size(peakProcess)}; " +
                          $"GC total allocated: {Measure.Size(GC.GetTotalAllocatedBytes())}");

        var wallRatios = new List<double>();
        var cpuRatios = new List<double>();
        for (var i = 0; i < pipelines.Count; i++)
        {
            wallRatios.Add((bares[i].Probe.Seconds + bares[i + 1].Probe.Seconds) / 2 / pipelines[i].Probe.Seconds);
            cpuRatios.Add((bares[i].Probe.CpuSeconds + bares[i + 1].Probe.CpuSeconds) / 2 / pipelines[i].Probe.CpuSeconds);
        }
        var median = Enumerable.Range(0, pipelines.Count).OrderBy(i => wallRatios[i]).ElementAt(pipelines.Count / 2);
        var shown = pipelines[median].Run;

        Console.WriteLine($"bare accounting:     {bare.Documents:N0} in = {bare.Kept:N0} kept + {bare.Empty:N0} empty + {bare.LowQuality:N0} low quality + " +
                          $"{bare.Duplicates:N0} duplicates + {bare.Malformed:N0} malformed");
        Console.WriteLine($"pipeline accounting: {string.Join("; ", shown.Accounting.Stages.Select(s => $"{s.Stage} {s.In:N0}→{s.Kept:N0}"))}");
        Console.WriteLine($"pipeline wrote {Measure.Size(shown.StoreBytes)} in {shown.StoreObjects:N0} objects to the data and output stores");

        Console.WriteLine();
        Console.WriteLine($"{(repeat == 1 ? "pipeline phase" : $"phase (pipeline #{median + 1})"),-30} {"tasks",5} {"wall s",8} {"share",6} {"task s",8} {"CPU s",7} {"docs in",10} {"alloc",11} {"GC s",6}  GCs 0/1/2");
        foreach (var phase in shown.Phases)
            Console.WriteLine($"{phase.Name,-30} {phase.Tasks,5} {phase.WallSeconds,8:0.00} {phase.WallSeconds / shown.Seconds,6:P0} " +
                              $"{phase.TaskSeconds,8:0.00} {phase.CpuSeconds,7:0.00} {phase.DocumentsIn,10:N0} {Measure.Size(phase.Allocated),11} " +
                              $"{phase.GcPauseSeconds,6:0.00}  {phase.Collections.Gen0}/{phase.Collections.Gen1}/{phase.Collections.Gen2}");
        Console.WriteLine($"{"total (incl. planning)",-30} {"",5} {shown.Seconds,8:0.00}");
        Console.WriteLine("(wall s: the phase's elapsed time; task s: the sum of its tasks' own clocks, which with N threads can reach N × wall; " +
                          "CPU s: the process's CPU time over the phase; alloc: bytes the process allocated over it; GC s: seconds the process was paused " +
                          "for garbage collections during the phase; GCs: collections of each generation, a gen 1 counted in gen 0 too)");

        var wall = Measure.Median(wallRatios);
        var cpu = Measure.Median(cpuRatios);
        Console.WriteLine();
        if (repeat > 1)
            Console.WriteLine($"ratios per pipeline run: wall {string.Join(" ", wallRatios.Select(r => r.ToString("0.000")))}; " +
                              $"CPU {string.Join(" ", cpuRatios.Select(r => r.ToString("0.000")))}");
        Console.WriteLine($"ratio pipeline/bare (throughput = bare time / pipeline time, higher is better{(repeat > 1 ? ", median of runs" : "")}):");
        Console.WriteLine($"  wall time: {wall:0.000}  (the pipeline takes {1 / wall:0.0}× the bare loop's time: the cost of durable, resumable, shardable stages)");
        Console.WriteLine($"  CPU time:  {cpu:0.000}  (process CPU seconds: less disturbed than wall time by other work on the machine, not immune to it)");
        if (wall < Goal) Console.WriteLine($"BELOW GOAL: pipeline/bare wall time {wall:0.000} < {Goal:0.00} (issue 13)");
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

    internal sealed record PhaseRun(string Name, int Tasks, double WallSeconds, double TaskSeconds, long DocumentsIn, double CpuSeconds = 0,
        long PeakRss = 0, long PeakManaged = 0, long Allocated = 0, double GcPauseSeconds = 0, (int Gen0, int Gen1, int Gen2) Collections = default);

    internal sealed record PipelineRun(JobContext Job, double Seconds, IReadOnlyList<PhaseRun> Phases, long Kept, Accounting Accounting,
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
    private static Task<PipelineRun> RunPipelineAsync(Corpus corpus, string dataDir, int threads, int shardMiB) =>
        RunJobAsync(SpecFor(corpus, shardMiB), dataDir, threads);

    /// <summary>
    /// Any job as the coordinator runs it (plan, then every phase in order, its tasks in parallel), timed per phase; with
    /// <paramref name="peaks"/> each phase's (and planning's) peak resident set and managed heap too; <paramref name="ended"/>
    /// sees each phase as it ends.
    /// </summary>
    internal static async Task<PipelineRun> RunJobAsync(JobSpec spec, string dataDir, int threads, bool peaks = false, Action<RecordedPhase>? ended = null)
    {
        if (peaks) MemoryPeaks.ResetKernelPeak();
        var total = Stopwatch.StartNew();
        var stores = CurationStoreServiceCollectionExtensions.CreateResolver(new CurationStoreOptions { RootPath = dataDir });
        var phases = new List<PhaseRun>();
        var job = await JobContext.CreateOrLoadAsync(spec, stores);
        using var services = StageServices.CreateDefault();
        phases.Add(new PhaseRun("plan", 1, total.Elapsed.TotalSeconds, 0, 0, PeakRss: peaks ? MemoryPeaks.KernelPeak() ?? 0 : 0));
        var recorded = await PhaseRecorder.RunAsync(job, services, threads, peaks, ended);
        var reused = recorded.Sum(p => p.Reused);
        phases.AddRange(recorded.Select(p => new PhaseRun(p.Name, p.Tasks, p.WallSeconds, p.TaskSeconds, p.DocumentsIn, p.CpuSeconds, p.PeakRss, p.PeakManaged, p.Allocated,
            p.GcPauseSeconds, p.Collections)));
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
