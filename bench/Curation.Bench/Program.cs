using System.Globalization;
using Curation.Bench;

// Speed is measured here, never by timed tests: every figure is a ratio against a reference measured in the same run.
CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;

var benchmarks = new Dictionary<string, Func<BenchOptions, Task<int>>>(StringComparer.OrdinalIgnoreCase)
{
    ["parquet"] = ParquetBenchmark.RunAsync,
    ["exact"] = ExactBenchmark.RunAsync,
    ["pii"] = PiiBenchmark.RunAsync, // precision/recall per type on planted PII with look-alikes, MB/s per core vs a bare loop
    ["embed"] = EmbedBenchmark.RunAsync,
    ["near"] = NearBenchmark.RunAsync,
    ["plan"] = PlanBenchmark.RunAsync,
    ["read"] = ReadBenchmark.RunAsync, // one big JSONL object split across tasks vs read whole
    ["extract"] = ExtractBenchmark.RunAsync, // HTML main text vs Mozilla Readability (node) on 200 Debian pages in chrome: ≈ 4 min, by name only
    ["lookup"] = LookupBenchmark.RunAsync, // the drop explorer: one id in a --docs output through the id index vs a scan
    ["record"] = RecordBenchmark.RunAsync,
    ["line-dedup"] = LineDedupBenchmark.RunAsync, // read → line_dedup → output vs a bare in-memory loop; MiB/s per core; by name only
    ["decontaminate"] = DecontaminateBenchmark.RunAsync, // a 1,000,000-13-gram evaluation index against a streamed corpus; by name only
    ["train-tokenize"] = TrainTokenizeBenchmark.RunAsync,
    ["language"] = LanguageBenchmark.RunAsync, // Lingua vs franc (node) on ≥ 20 languages × 200 man-page paragraphs (apt-get download once)
    ["gopher-repetition"] = GopherRepetitionBenchmark.RunAsync, // the gopher_repetition check vs its pre-issue-20 reference on the sizing corpus and real text in many scripts: docs/s per core
    ["language-speed"] = LanguageSpeedBenchmark.RunAsync, // the language stage vs a bare Lingua loop on generated prose and real text in many scripts: docs/s per core
    ["kmeans"] = KMeansBenchmark.RunAsync, // several minutes at its default size: run by name only, not part of `all`
    ["static-recipes"] = StaticRecipesBenchmark.RunAsync, // recipe and candidate-rule variants on the cascade corpora: minutes, by name only
    ["static-fit"] = StaticFitBenchmark.RunAsync, // the static tier fitted to the transformer on disjoint corpora (Tokenlearn): minutes, by name only
    ["cascade"] = CascadeBenchmark.RunAsync, // transformer truth over ~8,000 documents: minutes on 2 cores, by name only
    ["cascade-rounds"] = CascadeRoundsBenchmark.RunAsync, // the cascade budget spent in rounds that learn static → transformer on the corpus: cascade's cached truth, by name only
    ["semantic"] = SemanticBenchmark.RunAsync, // the semantic_dedup stage as a job on planted embeddings: minutes, by name only
    ["sizing"] = SizingBenchmark.RunAsync, // peak memory per phase of read → --stage → output at --docs N: the deploy sizing guide; by name only
};

if (args.Length == 0 || args[0] is "-h" or "--help" or "help")
{
    Console.WriteLine(BenchOptions.Usage(benchmarks.Keys));
    return args.Length == 0 ? 2 : 0;
}

BenchOptions options;
try
{
    options = BenchOptions.Parse(args[1..]);
}
catch (ArgumentException e)
{
    Console.Error.WriteLine($"error: {e.Message}");
    Console.Error.WriteLine(BenchOptions.Usage(benchmarks.Keys));
    return 2;
}

var selected = args[0].Equals("all", StringComparison.OrdinalIgnoreCase)
    ? benchmarks.Keys.Where(name => name is not ("kmeans" or "cascade" or "cascade-rounds" or "static-recipes" or "static-fit" or "semantic" or "extract" or "line-dedup" or "decontaminate" or "sizing")).ToList()
    : benchmarks.ContainsKey(args[0]) ? [args[0]] : null;
if (selected is null)
{
    Console.Error.WriteLine($"error: unknown benchmark '{args[0]}'");
    Console.Error.WriteLine(BenchOptions.Usage(benchmarks.Keys));
    return 2;
}

Machine.PrintHeader(options);
if (!Machine.IsOptimizedBuild(out var why))
{
    Console.WriteLine($"WARNING: refusing to run: {why}. Numbers from unoptimised code mean nothing; use -c Release.");
    return 3;
}

var failures = 0;
foreach (var name in selected)
{
    Console.WriteLine();
    Console.WriteLine($"=== {name} ===");
    try
    {
        if (await benchmarks[name](options) != 0) failures++;
        Console.WriteLine($"after {name}: {Machine.Load()}");
    }
    catch (Exception e)
    {
        Console.WriteLine($"FAILED: {name}: {e}");
        failures++;
    }
}
Console.WriteLine();
Console.WriteLine(failures == 0 ? "all benchmarks completed" : $"FAILED: {failures} benchmark(s)");
return failures == 0 ? 0 : 1;
