using System.Diagnostics;
using System.Text.Json;
using Curation.Pipelines.Spec;
using Curation.Pipelines.Stages;
using Curation.Pipelines.Text;

namespace Curation.Bench;

/// <summary>
/// <c>line-dedup</c>: read → line_dedup → output run in-process as the coordinator runs it, against a bare in-memory
/// loop doing the same work with the same threads (STJ parse, <see cref="LineUnits"/> + <see cref="ContentHash"/> once per
/// line, one Dictionary of counts and smallest ids, then every other copy removed), and a per-phase CPU profile
/// (<see cref="LineDedupProfile"/>). The corpus: prose lines with 30
/// planted boilerplate lines, each copied into 2 … 10,000 documents (geometric steps).
/// </summary>
public static class LineDedupBenchmark
{
    private static readonly LineDedupStageSpec Stage = new();

    public static Task<int> RunAsync(BenchOptions options) => Measure.InTempFolderAsync("lines", root => RunInAsync(root, options));

    private static async Task<int> RunInAsync(string root, BenchOptions options)
    {
        var threads = options.Threads;
        var (files, bytes, planted) = Generate(Path.Combine(root, "corpus"), options.Docs, options.Seed);
        Console.WriteLine($"corpus:   {options.Docs:N0} docs in {files.Count} JSONL files, {Measure.Size(bytes)}; {planted.Count} boilerplate lines planted in " +
                          $"{planted.Min():N0} … {planted.Max():N0} documents each");
        Console.WriteLine($"job:      read → line_dedup ({Stage.Partitions} partitions) → output; shards of ≤ {options.ShardMiB} MiB; {threads} tasks in parallel");
        Console.WriteLine($"bare:     parse (STJ) into memory, then per line LineUnits + ContentHash (once per line, kept in memory) into per-thread " +
                          $"Dictionaries (merged: count, smallest id), then every other copy removed; {threads} threads");

        // Warm-up (tiered JIT) on a small corpus.
        var (warmFiles, _, _) = Generate(Path.Combine(root, "warm"), Math.Min(options.Docs, 5_000), options.Seed + 1);
        for (var i = 0; i < 2; i++)
        {
            Bare(warmFiles, threads);
            await ExactBenchmark.RunJobAsync(Spec(Path.Combine(root, "warm"), options.ShardMiB), Path.Combine(root, $"warm-data-{i}"), threads);
        }

        Measure.Settle();
        var bare = Bare(files, threads);
        Measure.Settle();
        var probe = new ResourceProbe();
        var run = await ExactBenchmark.RunJobAsync(Spec(Path.Combine(root, "corpus"), options.ShardMiB), Path.Combine(root, "data"), threads);
        probe.Stop();
        Measure.Settle();
        var bareAfter = Bare(files, threads);

        var report = run.Manifest.Reports.Single(r => r.Key.EndsWith(LineDedupStageSpec.TypeName, StringComparison.Ordinal)).Value;
        var removed = report.GetProperty("unitsRemoved").GetInt64();
        var stageSeconds = run.Phases.Where(p => p.Name.Contains(LineDedupStageSpec.TypeName, StringComparison.Ordinal)).Sum(p => p.WallSeconds);
        var bareTotal = (bare.Total + bareAfter.Total) / 2;
        var bareDedup = (bare.Dedup + bareAfter.Dedup) / 2;
        // CPU seconds: what the work costs, whatever else the machine runs (wall times stretch under load, CPU does not).
        var stagePhases = run.Phases.Where(p => p.Name.Contains(LineDedupStageSpec.TypeName, StringComparison.Ordinal)).ToList();
        var stageCpu = stagePhases.Sum(p => p.CpuSeconds);
        var jobCpu = run.Phases.Sum(p => p.CpuSeconds);
        var bareTotalCpu = (bare.TotalCpu + bareAfter.TotalCpu) / 2;
        var bareDedupCpu = (bare.DedupCpu + bareAfter.DedupCpu) / 2;

        Console.WriteLine();
        foreach (var phase in run.Phases)
            Console.WriteLine($"{phase.Name,-30} {phase.Tasks,5} tasks {phase.WallSeconds,8:0.00} s   CPU {phase.CpuSeconds,7:0.00} s");
        Console.WriteLine($"{"total (incl. planning)",-30} {"",11} {run.Seconds,8:0.00} s   CPU {probe.CpuSeconds:0.0} s, peak WS {Measure.Size(probe.PeakWorkingSet)}");
        Console.WriteLine($"bare: parse {bare.Parse:0.00} s + dedup {bare.Dedup:0.00} s (after the pipeline: {bareAfter.Parse:0.00} + {bareAfter.Dedup:0.00} s); " +
                          $"CPU parse {bare.ParseCpu:0.00} s + dedup {bare.DedupCpu:0.00} s (after: {bareAfter.ParseCpu:0.00} + {bareAfter.DedupCpu:0.00} s)");
        Console.WriteLine();
        Console.WriteLine($"whole job:        {Measure.MiBps(bytes, run.Seconds)} MiB/s = {bytes / Measure.MiB / run.Seconds / threads:0.0} MiB/s per core; " +
                          $"bare {bytes / Measure.MiB / bareTotal / threads:0.0} MiB/s per core");
        Console.WriteLine($"line_dedup phases: {bytes / Measure.MiB / stageSeconds / threads:0.0} MiB/s per core (hash + resolve + apply + report); " +
                          $"bare dedup {bytes / Measure.MiB / bareDedup / threads:0.0} MiB/s per core");
        Console.WriteLine($"ratio (bare time / pipeline time, higher is better; goal ≥ 0.7):");
        Console.WriteLine($"  whole job vs bare parse + dedup:  {bareTotal / run.Seconds:0.000}");
        Console.WriteLine($"  line_dedup phases vs bare dedup:  {bareDedup / stageSeconds:0.000}");
        Console.WriteLine($"ratio by CPU seconds (bare CPU / pipeline CPU; robust when the machine is busy):");
        Console.WriteLine($"  whole job vs bare parse + dedup:  {bareTotalCpu / jobCpu:0.000}   ({jobCpu:0.00} s vs {bareTotalCpu:0.00} s; " +
                          $"{bytes / Measure.MiB / jobCpu:0.0} vs {bytes / Measure.MiB / bareTotalCpu:0.0} MiB/s per CPU-second)");
        Console.WriteLine($"  line_dedup phases vs bare dedup:  {bareDedupCpu / stageCpu:0.000}   ({string.Join(" + ", stagePhases.Select(p => $"{p.Name[(p.Name.LastIndexOf('/') + 1)..]} {p.CpuSeconds:0.00}"))} " +
                          $"= {stageCpu:0.00} s vs {bareDedupCpu:0.00} s)");
        Console.WriteLine($"removed lines: pipeline {removed:N0}, bare {bare.Removed:N0}; kept documents: pipeline {run.Kept:N0}, bare {bare.Kept:N0}");
        if (removed != bare.Removed || run.Kept != bare.Kept)
        {
            Console.WriteLine("FAILED: the pipeline and the bare loop disagree");
            return 1;
        }
        Console.WriteLine("check: same lines removed and same documents kept: OK");
        await LineDedupProfile.PrintAsync(run);
        return 0;
    }

    private static JobSpec Spec(string folder, int shardMiB) => new()
    {
        Name = "bench-lines",
        Inputs = [new InputSpec { Path = folder + "/*.jsonl", Format = InputFormat.Jsonl, IdField = "id" }],
        Sharding = new ShardingSpec { TargetShardBytes = shardMiB * 1024L * 1024 },
        Stages = [Stage],
        Output = new OutputSpec { Path = "curated/bench-lines" },
    };

    private static (List<string> Files, long Bytes, List<int> Planted) Generate(string folder, int documents, int seed)
    {
        Directory.CreateDirectory(folder);
        var gen = new TextGen(seed);
        var random = new Random(seed);
        const int boilerplate = 30;
        var counts = Enumerable.Range(0, boilerplate).Select(j => Math.Min(documents, (int)Math.Round(2 * Math.Pow(5_000, j / (double)(boilerplate - 1))))).ToList();
        var lines = Enumerable.Range(0, boilerplate).Select(j => $"Notice {j}: " + gen.Prose(gen.For(-1 - j), 60 + 10 * j).Replace('\n', ' ')).ToArray();
        var holders = new List<int>[documents];
        for (var j = 0; j < boilerplate; j++)
            foreach (var d in Enumerable.Range(0, documents).OrderBy(_ => random.Next()).Take(counts[j])) (holders[d] ??= []).Add(j);
        var files = new List<string>();
        long bytes = 0;
        for (var start = 0; start < documents; start += Corpus.DocumentsPerFile)
        {
            var path = Path.Combine(folder, $"part-{start / Corpus.DocumentsPerFile:D5}.jsonl");
            using (var writer = new StreamWriter(path))
                for (var d = start; d < Math.Min(documents, start + Corpus.DocumentsPerFile); d++)
                {
                    var doc = gen.For(d);
                    var text = new List<string>();
                    for (var l = 3 + doc.Next(6); l > 0; l--) text.Add(gen.Prose(doc, 60 + doc.Next(200)).Replace("\n\n", "\n"));
                    foreach (var j in holders[d] ?? []) text.Insert(doc.Next(text.Count + 1), lines[j]);
                    writer.WriteLine(JsonSerializer.Serialize(new { id = $"d{(d * 7919L) % documents:D8}", text = string.Join('\n', text) }));
                }
            files.Add(path);
            bytes += new FileInfo(path).Length;
        }
        return (files, bytes, counts);
    }

    private sealed record BareResult(double Parse, double Dedup, long Removed, long Kept, double ParseCpu, double DedupCpu)
    {
        public double Total => Parse + Dedup;
        public double TotalCpu => ParseCpu + DedupCpu;
    }

    /// <summary>The reference: the same rule in memory, one process, no intermediate files.</summary>
    private static BareResult Bare(List<string> files, int threads)
    {
        var clock = Stopwatch.StartNew();
        var cpu = Process.GetCurrentProcess().TotalProcessorTime;
        var docs = new List<(string Id, string Text)>[files.Count];
        Parallel.For(0, files.Count, new ParallelOptions { MaxDegreeOfParallelism = threads }, f =>
        {
            var list = new List<(string, string)>();
            foreach (var line in File.ReadLines(files[f]))
            {
                using var json = JsonDocument.Parse(line);
                list.Add((json.RootElement.GetProperty("id").GetString()!, json.RootElement.GetProperty("text").GetString()!));
            }
            docs[f] = list;
        });
        var parse = clock.Elapsed.TotalSeconds;
        var parsed = Process.GetCurrentProcess().TotalProcessorTime;
        clock.Restart();

        // Each line is hashed once: the removal pass reads the hashes back (in memory) instead of hashing again.
        var partials = new Dictionary<ContentHash, (long Count, string First)>[threads];
        var hashes = new List<ContentHash>[docs.Length];
        Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, t =>
        {
            var counts = new Dictionary<ContentHash, (long Count, string First)>();
            var units = new List<LineUnit>();
            var distinct = new HashSet<ContentHash>();
            for (var f = t; f < docs.Length; f += threads)
                foreach (var (id, text) in docs[f])
                {
                    LineUnits.Split(text, Stage.Unit, units);
                    distinct.Clear();
                    var fileHashes = hashes[f] ??= [];
                    foreach (var unit in units)
                    {
                        var hash = LineUnits.Hash(text, unit);
                        fileHashes.Add(hash);
                        if (!distinct.Add(hash)) continue;
                        counts[hash] = counts.TryGetValue(hash, out var c)
                            ? (c.Count + 1, string.CompareOrdinal(id, c.First) < 0 ? id : c.First)
                            : (1, id);
                    }
                }
            partials[t] = counts;
        });
        var merged = partials.MaxBy(p => p.Count)!;
        foreach (var partial in partials.Where(p => !ReferenceEquals(p, merged)))
            foreach (var (hash, c) in partial)
                merged[hash] = merged.TryGetValue(hash, out var m) ? (m.Count + c.Count, string.CompareOrdinal(c.First, m.First) < 0 ? c.First : m.First) : c;

        long removed = 0, kept = 0;
        Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, t =>
        {
            var units = new List<LineUnit>();
            long myRemoved = 0, myKept = 0;
            for (var f = t; f < docs.Length; f += threads)
            {
                var next = 0;
                foreach (var (id, text) in docs[f])
                {
                    LineUnits.Split(text, Stage.Unit, units);
                    var remove = new bool[units.Count];
                    var any = 0;
                    for (var u = 0; u < units.Count; u++)
                    {
                        var entry = merged[hashes[f]![next++]];
                        if (entry.Count > 1 && entry.First != id) { remove[u] = true; any++; }
                    }
                    myRemoved += any;
                    if (any == 0 || LineUnits.Without(text, units, remove).AsSpan().Trim().Length >= Stage.MinChars) myKept++;
                }
            }
            Interlocked.Add(ref removed, myRemoved);
            Interlocked.Add(ref kept, myKept);
        });
        var dedup = clock.Elapsed.TotalSeconds;
        var done = Process.GetCurrentProcess().TotalProcessorTime;
        return new BareResult(parse, dedup, removed, kept, (parsed - cpu).TotalSeconds, (done - parsed).TotalSeconds);
    }
}
