using System.Diagnostics;
using System.Text.Json;
using Curation.Pipelines.Spec;
using Curation.Pipelines.Stages;

namespace Curation.Bench;

/// <summary>
/// <c>decontaminate</c>: an evaluation set of ≥ 1,000,000 13-grams (generated prose items) and a corpus with passages of
/// some items planted; read → decontaminate → output run in-process against a bare in-memory loop (the same
/// <see cref="EvaluationNgrams"/>, one Dictionary of n-gram → items, every document looked up). Prints the index size,
/// MiB/s per core, the ratio, and the process's peak working set next to the corpus size: the index is held, the corpus
/// is streamed.
/// </summary>
public static class DecontaminateBenchmark
{
    public const long IndexNgrams = 1_000_000;

    public static Task<int> RunAsync(BenchOptions options) => Measure.InTempFolderAsync("decon", root => RunInAsync(root, options));

    private static async Task<int> RunInAsync(string root, BenchOptions options)
    {
        var threads = options.Threads;
        var gen = new TextGen(options.Seed);
        Directory.CreateDirectory(root);
        var evalPath = Path.Combine(root, "eval.jsonl");
        var (items, ngrams) = WriteEvaluationSet(evalPath, gen);
        var planted = Math.Max(1, options.Docs / 100);
        var (files, bytes) = Generate(Path.Combine(root, "corpus"), options.Docs, planted, items, gen);
        Console.WriteLine($"evaluation set: {items.Count:N0} items, ≈ {ngrams:N0} 13-grams ({Measure.Size(new FileInfo(evalPath).Length)})");
        Console.WriteLine($"corpus:   {options.Docs:N0} docs in {files.Count} JSONL files, {Measure.Size(bytes)}; {planted:N0} with a planted item (every 100th)");
        var spec = new DecontaminateStageSpec { Benchmarks = [new EvaluationSetSpec { Name = "generated", Path = evalPath }] };
        Console.WriteLine($"job:      read → decontaminate ({spec.Partitions} partitions, drop) → output; shards of ≤ {options.ShardMiB} MiB; {threads} tasks in parallel");

        Measure.Settle();
        var bare = Bare(evalPath, files, threads, spec.Ngram);
        Measure.Settle();
        var probe = new ResourceProbe();
        var run = await ExactBenchmark.RunJobAsync(new JobSpec
        {
            Name = "bench-decontaminate",
            Inputs = [new InputSpec { Path = Path.Combine(root, "corpus") + "/*.jsonl", Format = InputFormat.Jsonl, IdField = "id" }],
            Sharding = new ShardingSpec { TargetShardBytes = options.ShardMiB * 1024L * 1024 },
            Stages = [spec],
            Output = new OutputSpec { Path = "curated/bench-decontaminate" },
        }, Path.Combine(root, "data"), threads);
        probe.Stop();

        var report = run.Manifest.Reports.Single(r => r.Key.EndsWith(DecontaminateStageSpec.TypeName, StringComparison.Ordinal)).Value;
        var contaminated = report.GetProperty("contaminated").GetInt64();
        var entries = report.GetProperty("indexEntries").GetInt64();
        var index = run.Phases.Where(p => p.Name.EndsWith("/" + DecontaminateStage.IndexPhase, StringComparison.Ordinal)).Sum(p => p.WallSeconds);
        var match = run.Phases.Where(p => p.Name.EndsWith("/" + DecontaminateStage.MatchPhase, StringComparison.Ordinal)).Sum(p => p.WallSeconds);
        Console.WriteLine();
        foreach (var phase in run.Phases) Console.WriteLine($"{phase.Name,-30} {phase.Tasks,5} tasks {phase.WallSeconds,8:0.00} s");
        Console.WriteLine($"{"total (incl. planning)",-30} {"",11} {run.Seconds,8:0.00} s   CPU {probe.CpuSeconds:0.0} s, peak WS {Measure.Size(probe.PeakWorkingSet)} " +
                          $"(corpus {Measure.Size(bytes)}, never held: shards stream)");
        Console.WriteLine($"index: {entries:N0} (n-gram, item) entries in {spec.Partitions} partitions, built in {index:0.00} s");
        Console.WriteLine($"bare:  index {bare.Index:0.00} s, parse {bare.Parse:0.00} s, match {bare.Match:0.00} s");
        Console.WriteLine($"match phase: {bytes / Measure.MiB / match / threads:0.0} MiB/s per core (the process loads the index once, its tasks stream their shards); " +
                          $"bare match {bytes / Measure.MiB / bare.Match / threads:0.0} MiB/s per core");
        Console.WriteLine($"ratio (bare time / pipeline time, higher is better): whole job {bare.Total / run.Seconds:0.000}; " +
                          $"index + match phases vs bare index + match {(bare.Index + bare.Match) / (index + match):0.000}");
        Console.WriteLine($"contaminated: pipeline {contaminated:N0}, bare {bare.Contaminated:N0}, planted {planted:N0}");
        if (entries < IndexNgrams * 95 / 100 || contaminated != planted || bare.Contaminated != planted)
        {
            Console.WriteLine("FAILED: the index is smaller than planned or a side missed planted items");
            return 1;
        }
        Console.WriteLine("check: every planted passage found by both, nothing else: OK");
        return 0;
    }

    /// <summary>
    /// An evaluation set of generated prose items (JSONL, <c>id</c> and <c>text</c>) holding at least
    /// <see cref="IndexNgrams"/> 13-grams; its items (planted into a corpus by the caller) and its 13-gram count.
    /// </summary>
    internal static (List<string> Items, long Ngrams) WriteEvaluationSet(string path, TextGen gen)
    {
        var items = new List<string>();
        long ngrams = 0;
        using var writer = new StreamWriter(path);
        while (ngrams < IndexNgrams)
        {
            var text = gen.Prose(gen.For(-1 - items.Count), 700);
            ngrams += Math.Max(0, text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries).Length - 12);
            writer.WriteLine(JsonSerializer.Serialize(new { id = $"q{items.Count}", text }));
            items.Add(text);
        }
        return (items, ngrams);
    }

    private static (List<string> Files, long Bytes) Generate(string folder, int documents, int planted, List<string> items, TextGen gen)
    {
        Directory.CreateDirectory(folder);
        var files = new List<string>();
        long bytes = 0;
        for (var start = 0; start < documents; start += Corpus.DocumentsPerFile)
        {
            var path = Path.Combine(folder, $"part-{start / Corpus.DocumentsPerFile:D5}.jsonl");
            using (var writer = new StreamWriter(path))
                for (var d = start; d < Math.Min(documents, start + Corpus.DocumentsPerFile); d++)
                {
                    var random = gen.For(d);
                    var text = gen.Prose(random, 400 + random.Next(1200));
                    if (d % 100 == 0 && d / 100 < planted) text += "\n" + items[(d / 100 * 7919) % items.Count].ToUpperInvariant() + "\n" + gen.Prose(random, 200);
                    writer.WriteLine(JsonSerializer.Serialize(new { id = $"d{d:D8}", text }));
                }
            files.Add(path);
            bytes += new FileInfo(path).Length;
        }
        return (files, bytes);
    }

    private sealed record BareResult(double Index, double Parse, double Match, long Contaminated)
    {
        public double Total => Index + Parse + Match;
    }

    /// <summary>The reference: the index as one Dictionary in memory, the corpus parsed into memory, every document looked up.</summary>
    private static BareResult Bare(string evalPath, List<string> files, int threads, int n)
    {
        var clock = Stopwatch.StartNew();
        var index = new Dictionary<ulong, List<int>>();
        var ngrams = new EvaluationNgrams(n);
        var tokens = new List<NgramToken>();
        var hashes = new List<ulong>();
        var item = 0;
        foreach (var line in File.ReadLines(evalPath))
        {
            using var json = JsonDocument.Parse(line);
            ngrams.Tokenize(json.RootElement.GetProperty("text").GetString()!, tokens);
            ngrams.Ngrams(tokens, hashes);
            foreach (var hash in hashes.Distinct())
                if (index.TryGetValue(hash, out var list)) list.Add(item);
                else index[hash] = [item];
            item++;
        }
        var indexSeconds = clock.Elapsed.TotalSeconds;
        clock.Restart();
        var docs = new List<string>[files.Count];
        Parallel.For(0, files.Count, new ParallelOptions { MaxDegreeOfParallelism = threads }, f =>
        {
            var list = new List<string>();
            foreach (var line in File.ReadLines(files[f]))
            {
                using var json = JsonDocument.Parse(line);
                list.Add(json.RootElement.GetProperty("text").GetString()!);
            }
            docs[f] = list;
        });
        var parse = clock.Elapsed.TotalSeconds;
        clock.Restart();
        long contaminated = 0;
        Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, t =>
        {
            var local = new EvaluationNgrams(n);
            var myTokens = new List<NgramToken>();
            var myHashes = new List<ulong>();
            long found = 0;
            for (var f = t; f < docs.Length; f += threads)
                foreach (var text in docs[f])
                {
                    local.Tokenize(text, myTokens);
                    local.Ngrams(myTokens, myHashes);
                    if (myHashes.Any(index.ContainsKey)) found++;
                }
            Interlocked.Add(ref contaminated, found);
        });
        return new BareResult(indexSeconds, parse, clock.Elapsed.TotalSeconds, contaminated);
    }
}
