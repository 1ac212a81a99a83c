using System.Text.Json;
using System.Text.Json.Nodes;
using Curation.Pipelines.Execution;
using Curation.Pipelines.Spec;
using Curation.Pipelines.Stages;
using Curation.Pipelines.Stages.QualityScore;

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
        var form = FormFor(stages);
        var corpus = Corpus.Generate(Path.Combine(root, "corpus"), options.Docs, options.Seed, form);
        Console.WriteLine($"corpus:   {corpus.Documents:N0} docs in {corpus.Files.Count} {(form == CorpusForm.Warc ? "WARC.gz" : "JSONL")} files, {Measure.Size(corpus.Bytes)} " +
                          $"({corpus.Bytes:N0} bytes), text avg {(double)corpus.TextChars / corpus.Documents:0} chars, " +
                          (form == CorpusForm.Warc ? "each an HTML page in site chrome (response records with url, a gzip member each)" : "fields id/url/text/crawl") +
                          (form == CorpusForm.Jsonl ? "" : $", urls over {WebUrls.Hosts:N0} domains") +
                          $" (generated in {clock.Elapsed.TotalSeconds:0.0} s, not measured)");
        var blocked = stages.Any(s => s is UrlFilterStageSpec) ? WebUrls.Blocked(options.Docs) : default((long Domain, long Substring)?);
        if (blocked is { } b)
            Console.WriteLine($"planted:  {b.Domain:N0} urls on a listed domain, {b.Substring:N0} more with a listed substring " +
                              $"({(double)(b.Domain + b.Substring) / Math.Max(1, corpus.Documents):P1} of the documents)");
        Console.WriteLine($"job:      read → {string.Join(" → ", stages.Select(Describe))} → output; shards of ≤ {options.ShardMiB} MiB; " +
                          $"{threads} tasks in parallel (task slots); local folder store");
        var spec = new JobSpec
        {
            Name = "bench-sizing",
            Inputs = [form == CorpusForm.Warc
                ? new InputSpec { Path = corpus.Folder + "/*.warc.gz", Format = InputFormat.WarcGz }
                : new InputSpec { Path = corpus.Folder + "/*.jsonl", Format = InputFormat.Jsonl, IdField = "id" }],
            Sharding = new ShardingSpec { TargetShardBytes = options.ShardMiB * 1024L * 1024 },
            Stages = stages,
            // train_tokenize exists for the token files: the output writes them (both formats), as a training job does.
            Output = new OutputSpec { Path = "curated/bench-sizing", Tokens = stages.Any(s => s is TrainTokenizeStageSpec) ? new TokensOutputSpec() : null },
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
        var imbalances = run.Accounting.Imbalances().ToList();
        if (blocked is { } planted) imbalances.AddRange(UrlFilterProblems(run.Accounting.Stages, corpus.Documents, planted));
        foreach (var problem in imbalances) Console.WriteLine($"FAILED: {problem}");
        if (run.Accounting.InputRecords != corpus.Documents)
        {
            Console.WriteLine($"FAILED: the job read {run.Accounting.InputRecords:N0} documents of {corpus.Documents:N0}");
            return 1;
        }
        return imbalances.Count == 0 ? 0 : 1;
    }

    /// <summary>
    /// The corpus' form: HTML pages in WARC for extract, web urls over many hosts for url_filter, else the JSONL every
    /// earlier sizing row used (its bytes unchanged, so those rows stay comparable).
    /// </summary>
    internal static CorpusForm FormFor(IReadOnlyList<StageSpec> stages) =>
        stages.Any(s => s is ExtractStageSpec) ? CorpusForm.Warc
        : stages.Any(s => s is UrlFilterStageSpec) ? CorpusForm.JsonlWebUrls
        : CorpusForm.Jsonl;

    /// <summary>A url_filter that sees every document must drop exactly the planted ones, for the reason planted.</summary>
    private static IEnumerable<string> UrlFilterProblems(IReadOnlyList<StageAccount> stages, long documents, (long Domain, long Substring) planted)
    {
        foreach (var stage in stages.Where(s => s.Stage.EndsWith("-" + UrlFilterStageSpec.TypeName, StringComparison.Ordinal) && s.In == documents))
        {
            var domain = stage.Dropped.GetValueOrDefault(UrlFilterTransform.BlockedDomain);
            var substring = stage.Dropped.GetValueOrDefault(UrlFilterTransform.BlockedSubstring);
            if (domain != planted.Domain || substring != planted.Substring)
                yield return $"{stage.Stage} dropped {domain:N0} by domain and {substring:N0} by substring; planted {planted.Domain:N0} and {planted.Substring:N0}";
        }
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
    /// an embed stage before them (the input-row-mean static model, so the figure is the stage's, not the transformer's),
    /// quality_score that embed stage, <see cref="QualityTrainingSet"/> and keepFraction 0.5, url_filter
    /// <see cref="WebUrls"/>' block lists (1,000,000 domains, 500 substrings). extract reads the corpus as HTML pages in
    /// WARC and train_tokenize writes the output's token files (<see cref="FormFor"/>, <see cref="RunInAsync"/>).
    /// </summary>
    internal static IReadOnlyList<StageSpec> StagesFor(BenchOptions options, string root)
    {
        JsonArray stages;
        if (options.SpecFile is { } file)
        {
            // The file says everything: an option that would be silently ignored is an error.
            if (options.Partitions is not null || options.EmbedPrecision is not null)
                throw new ArgumentException("--partitions and --embed-precision apply to --stage; with --spec set them in the file's stages");
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
                    case UrlFilterStageSpec.TypeName:
                        var (domains, substrings) = WebUrls.WriteLists(root);
                        Console.WriteLine($"block lists: {WebUrls.DomainListSize:N0} domains ({Measure.Size(new FileInfo(domains).Length)}; every " +
                                          $"{WebUrls.BlockedHostEvery}th of the corpus' {WebUrls.Hosts:N0}, the rest never seen), {WebUrls.SubstringListSize} url substrings " +
                                          $"('{WebUrls.BlockedSubstring}' in every {WebUrls.BlockedPathEvery}th url, the rest never seen)");
                        stage["domainsPath"] = domains;
                        stage["substringsPath"] = substrings;
                        break;
                    case QualityScoreStageSpec.TypeName:
                        Directory.CreateDirectory(root);
                        var trainingPath = Path.Combine(root, "quality-training.jsonl");
                        var (positive, negative) = QualityTrainingSet.Write(trainingPath, new TextGen(options.Seed + 11));
                        Console.WriteLine($"training: {positive:N0} positive and {negative:N0} negative labelled examples ({Measure.Size(new FileInfo(trainingPath).Length)}); keepFraction 0.5");
                        stage["training"] = trainingPath;
                        stage["keepFraction"] = 0.5;
                        AddEmbedBefore(stages, options.EmbedPrecision ?? "float32");
                        break;
                    case D4StageSpec.TypeName or SemanticDedupStageSpec.TypeName:
                        if (type == D4StageSpec.TypeName) stage["keepFraction"] = 0.5;
                        AddEmbedBefore(stages, options.EmbedPrecision ?? "float32");
                        break;
                }
                stages.Add(stage);
            }
        }
        return stages.Deserialize<StageSpec[]>(JobSpec.SpecJson)!;
    }

    /// <summary>An embed stage (the input-row-mean static model) unless one comes earlier: the figure is the stage's, not the transformer's.</summary>
    private static void AddEmbedBefore(JsonArray stages, string precision)
    {
        if (!stages.Any(s => (string?)s!["type"] == EmbedStageSpec.TypeName))
            stages.Add(new JsonObject { ["type"] = EmbedStageSpec.TypeName, ["model"] = new JsonObject { ["kind"] = "input_mean" }, ["precision"] = precision });
    }
}
