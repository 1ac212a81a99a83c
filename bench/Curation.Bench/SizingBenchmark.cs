using System.Text.Json;
using System.Text.Json.Nodes;
using Curation.Pipelines.Spec;
using Curation.Pipelines.Stages;

namespace Curation.Bench;

/// <summary>
/// <c>sizing</c>: the memory a silo needs for one stage (or a chain) at a corpus size: read → stage(s) → output over a
/// generated corpus of <c>--docs</c> documents (<see cref="Corpus"/>: prose with url, planted duplicates and junk,
/// written to disk file by file and never held), run in this process as the coordinator runs it (one silo, the
/// in-process runner, <c>--threads</c> task slots). Prints each phase's peak resident set and peak managed heap, the
/// whole run's, seconds and documents/s, next to the corpus bytes. Memory is the figure: no reference loop.
/// </summary>
public static class SizingBenchmark
{
    public static Task<int> RunAsync(BenchOptions options) => Measure.InTempFolderAsync("sizing", root => RunInAsync(root, options));

    private static async Task<int> RunInAsync(string root, BenchOptions options)
    {
        var threads = options.Threads;
        var stages = StagesFor(options, root);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var corpus = Corpus.Generate(Path.Combine(root, "corpus"), options.Docs, options.Seed);
        Console.WriteLine($"corpus:   {corpus.Documents:N0} docs in {corpus.Files.Count} JSONL files, {Measure.Size(corpus.Bytes)} " +
                          $"({corpus.Bytes:N0} bytes), text avg {(double)corpus.TextChars / corpus.Documents:0} chars, fields id/url/text/crawl " +
                          $"(generated in {clock.Elapsed.TotalSeconds:0.0} s, not measured)");
        Console.WriteLine($"job:      read → {string.Join(" → ", stages.Select(Describe))} → output; shards of ≤ {options.ShardMiB} MiB; " +
                          $"{threads} tasks in parallel (task slots); local folder store");
        var spec = new JobSpec
        {
            Name = "bench-sizing",
            Inputs = [new InputSpec { Path = corpus.Folder + "/*.jsonl", Format = InputFormat.Jsonl, IdField = "id" }],
            Sharding = new ShardingSpec { TargetShardBytes = options.ShardMiB * 1024L * 1024 },
            Stages = stages,
            Output = new OutputSpec { Path = "curated/bench-sizing" },
        };

        Measure.Settle();
        var idle = MemoryPeaks.Resident() ?? Environment.WorkingSet;
        Console.WriteLine($"idle:     {Measure.Size(idle)} resident before the job (runtime, corpus generator's leftovers)");
        var run = await ExactBenchmark.RunJobAsync(spec, Path.Combine(root, "data"), threads, peaks: true, ended: phase =>
            Console.WriteLine($"  {phase.Name,-32} {phase.WallSeconds,8:0.00} s, peak RSS {Measure.Size(phase.PeakRss)}, heap {Measure.Size(phase.PeakManaged)}, " +
                              $"allocated {Measure.Size(phase.Allocated)} (gen 0/1/2 collections {phase.Collections.Gen0}/{phase.Collections.Gen1}/{phase.Collections.Gen2}); {HeapAfterLastCollection()}"));
        var kernel = MemoryPeaks.KernelPeak() is not null;

        Console.WriteLine();
        Console.WriteLine($"{"phase",-34} {"tasks",5} {"wall s",8} {"docs in",11} {"peak RSS",10} {"peak heap",10}");
        foreach (var phase in run.Phases)
            Console.WriteLine($"{phase.Name,-34} {phase.Tasks,5} {phase.WallSeconds,8:0.00} {phase.DocumentsIn,11:N0} " +
                              $"{Measure.Size(phase.PeakRss),10} {(phase.PeakManaged == 0 ? "-" : Measure.Size(phase.PeakManaged)),10}");
        var peak = run.Phases.Max(p => p.PeakRss);
        var heap = run.Phases.Max(p => p.PeakManaged);
        Console.WriteLine($"(peak RSS: {(kernel ? "the kernel's high-water mark (VmHWM) over the phase, reset at its start" : "the largest resident set sampled every 20 ms")}; " +
                          "peak heap: the managed heap sampled every 20 ms; plan: validation, listing and planning)");
        Console.WriteLine();
        Console.WriteLine($"whole run: peak RSS {Measure.Size(peak)}, peak managed heap {Measure.Size(heap)}, {run.Seconds:0.0} s, " +
                          $"{Measure.Rate(corpus.Documents, run.Seconds)} docs/s, {Measure.MiBps(corpus.Bytes, run.Seconds)} MiB/s");
        Console.WriteLine($"corpus {Measure.Size(corpus.Bytes)}: peak/corpus {(double)peak / corpus.Bytes:0.00}; peak above idle {Measure.Size(peak - idle)}");
        Console.WriteLine($"accounting: {string.Join("; ", run.Accounting.Stages.Select(s => $"{s.Stage} {s.In:N0}→{s.Kept:N0}"))}");
        Console.WriteLine($"load at end: {Machine.Load()}");
        var imbalances = run.Accounting.Imbalances();
        foreach (var problem in imbalances) Console.WriteLine($"FAILED: {problem}");
        if (run.Accounting.InputRecords != corpus.Documents)
        {
            Console.WriteLine($"FAILED: the job read {run.Accounting.InputRecords:N0} documents of {corpus.Documents:N0}");
            return 1;
        }
        return imbalances.Count == 0 ? 0 : 1;
    }

    /// <summary>
    /// The managed heap as the last collection left it (what was live then, not the peak): its size, the large and pinned
    /// object heaps within it, the free space between objects, and the memory the runtime had committed — so a run that
    /// runs out of memory under a heap limit shows, phase by phase, whether live data or fragmentation grew.
    /// </summary>
    private static string HeapAfterLastCollection()
    {
        var info = GC.GetGCMemoryInfo(GCKind.Any);
        var generations = info.GenerationInfo;
        return $"after the last GC (#{info.Index}, gen{info.Generation}): heap {Measure.Size(info.HeapSizeBytes)} " +
               $"(large objects {Measure.Size(generations[3].SizeAfterBytes)}, pinned {Measure.Size(generations[4].SizeAfterBytes)}, " +
               $"free {Measure.Size(info.FragmentedBytes)}), committed {Measure.Size(info.TotalCommittedBytes)}";
    }

    private static string Describe(StageSpec stage) =>
        StageRegistry.Of(stage.GetType()).Type + (stage.GetType().GetProperty("Partitions")?.GetValue(stage) is int p ? $" ({p} partitions)" : "");

    /// <summary>
    /// The measured stages: <c>--spec FILE</c> (a JSON array of stages, or an object with <c>stages</c>, as in a job
    /// file), or <c>--stage a,b</c> with each stage's defaults, <c>--partitions</c> on those that have partitions, and
    /// what a stage cannot run without: decontaminate an evaluation set of 1,000,000 13-grams, d4 and semantic_dedup
    /// an embed stage before them (the input-row-mean static model, so the figure is the stage's, not the transformer's).
    /// </summary>
    internal static IReadOnlyList<StageSpec> StagesFor(BenchOptions options, string root)
    {
        JsonArray stages;
        if (options.SpecFile is { } file)
        {
            var node = JsonNode.Parse(File.ReadAllText(file));
            stages = node as JsonArray ?? node?["stages"] as JsonArray
                     ?? throw new ArgumentException($"{file} holds neither a JSON array of stages nor an object with \"stages\"");
        }
        else
        {
            stages = [];
            foreach (var type in (options.Stage ?? "exact_dedup").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                var descriptor = StageRegistry.Find(type)
                    ?? throw new ArgumentException($"unknown stage '{type}'; stages: {string.Join(", ", StageRegistry.All.Select(d => d.Type))}");
                var stage = new JsonObject { ["type"] = type };
                if (options.Partitions is { } partitions && descriptor.SpecType.GetProperty("Partitions") is not null) stage["partitions"] = partitions;
                switch (type)
                {
                    case DecontaminateStageSpec.TypeName:
                        Directory.CreateDirectory(root);
                        var evalPath = Path.Combine(root, "eval.jsonl");
                        var (items, ngrams) = DecontaminateBenchmark.WriteEvaluationSet(evalPath, new TextGen(options.Seed + 7));
                        Console.WriteLine($"evaluation set: {items.Count:N0} items, ≈ {ngrams:N0} 13-grams ({Measure.Size(new FileInfo(evalPath).Length)})");
                        stage["benchmarks"] = new JsonArray(new JsonObject { ["name"] = "generated", ["path"] = evalPath });
                        break;
                    case D4StageSpec.TypeName or SemanticDedupStageSpec.TypeName:
                        if (type == D4StageSpec.TypeName) stage["keepFraction"] = 0.5;
                        if (!stages.Any(s => (string?)s!["type"] == EmbedStageSpec.TypeName))
                            stages.Add(new JsonObject { ["type"] = EmbedStageSpec.TypeName, ["model"] = new JsonObject { ["kind"] = "input_mean" } });
                        break;
                }
                stages.Add(stage);
            }
        }
        return stages.Deserialize<StageSpec[]>(JobSpec.SpecJson)!;
    }
}
