using System.Diagnostics;
using System.Globalization;
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
/// After small warm-ups and one untimed full-size round, <c>--repeat</c> rounds (default 3) of: the plain job
/// (read → output, the same job without the stage), the line_dedup job, a bare run; each job is compared with the bare
/// runs just before and after it, and the median of the rounds' ratios is the figure (bench/README.md, <c>line-dedup</c>).
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

        Console.WriteLine($"plain:    read → output on the same corpus (the job without line_dedup), run next to each job: what the job costs without the stage");

        // Warm-up (tiered JIT) on a small corpus.
        var (warmFiles, _, _) = Generate(Path.Combine(root, "warm"), Math.Min(options.Docs, 5_000), options.Seed + 1);
        for (var i = 0; i < 2; i++)
        {
            Bare(warmFiles, threads);
            await ExactBenchmark.RunJobAsync(Spec(Path.Combine(root, "warm"), options.ShardMiB, plain: true), Path.Combine(root, $"warm-plain-{i}"), threads);
            await ExactBenchmark.RunJobAsync(Spec(Path.Combine(root, "warm"), options.ShardMiB), Path.Combine(root, $"warm-data-{i}"), threads);
        }

        // One untimed round at full size: after the small warm-ups alone, the first full-size round still ran partly
        // unpromoted code (tiered JIT; its CPU seconds were up to 2.5× the later rounds', and 1× with
        // DOTNET_TieredCompilation=0), which made a single-round ratio swing between 0.5 and 1.0.
        var bares = new List<BareResult> { Bare(files, threads) };
        var warm = await RoundAsync(root, "warm", options.ShardMiB, threads, files, bares);
        Console.WriteLine();
        Console.WriteLine($"warm-up round at full size (not in the ratios): line_dedup phases {warm.StageCpu:0.00} CPU s, job − plain job {warm.AddedCpu:0.00} s, " +
                          $"bare dedup {warm.BareDedupCpu:0.00} s");

        // Then (plain job, line_dedup job, bare) × repeat: each job is compared with the bare runs just before and after it.
        var repeat = options.Repeat ?? 3;
        var rounds = new List<Round>();
        for (var r = 0; r < repeat; r++)
        {
            var round = await RoundAsync(root, $"{r}", options.ShardMiB, threads, files, bares);
            rounds.Add(round);
            Console.WriteLine();
            Console.WriteLine($"round {r + 1} of {repeat}: {Machine.Load()}");
            round.Print(bytes, threads);
        }

        var bare = bares[0];
        var last = rounds[^1];
        var report = last.Run.Manifest.Reports.Single(r => r.Key.EndsWith(LineDedupStageSpec.TypeName, StringComparison.Ordinal)).Value;
        var removed = report.GetProperty("unitsRemoved").GetInt64();
        string Figures(Func<Round, double> ratio) => $"{Measure.Median(rounds.Select(ratio)):0.000}   ({string.Join(" ", rounds.Select(r => ratio(r).ToString("0.000", CultureInfo.InvariantCulture)))})";
        Console.WriteLine();
        Console.WriteLine($"ratios, median of {repeat} rounds (bare / pipeline, higher is better), each round's figure in brackets:");
        Console.WriteLine($"  by CPU seconds (robust when the machine is busy):");
        Console.WriteLine($"    line_dedup phases vs bare dedup (goal ≥ 0.7):        {Figures(r => r.BareDedupCpu / r.StageCpu)}");
        Console.WriteLine($"    line_dedup's work (job − plain job) vs bare dedup:   {Figures(r => r.BareDedupCpu / r.AddedCpu)}");
        Console.WriteLine($"    whole job vs plain job + bare dedup:                 {Figures(r => (r.PlainCpu + r.BareDedupCpu) / r.JobCpu)}");
        Console.WriteLine($"    whole job vs bare parse + dedup:                     {Figures(r => r.BareTotalCpu / r.JobCpu)}");
        Console.WriteLine($"  by wall seconds:");
        Console.WriteLine($"    line_dedup phases vs bare dedup:                     {Figures(r => r.BareDedup / r.StageSeconds)}");
        Console.WriteLine($"    whole job vs bare parse + dedup:                     {Figures(r => r.BareTotal / r.Run.Seconds)}");
        if (Measure.Median(rounds.Select(r => r.BareDedupCpu / r.StageCpu)) < 0.7) Console.WriteLine("BELOW GOAL: line_dedup phases vs bare dedup by CPU < 0.7");
        Console.WriteLine($"removed lines: pipeline {removed:N0}, bare {bare.Removed:N0}; kept documents: pipeline {last.Run.Kept:N0}, bare {bare.Kept:N0}");
        if (rounds.Any(r => r.Run.Kept != bare.Kept) || removed != bare.Removed || bares.Any(b => b.Removed != bare.Removed || b.Kept != bare.Kept))
        {
            Console.WriteLine("FAILED: the pipeline and the bare loop disagree");
            return 1;
        }
        Console.WriteLine("check: same lines removed and same documents kept: OK");
        await LineDedupProfile.PrintAsync(last.Run);
        return 0;
    }

    /// <summary>The plain job, the line_dedup job and a bare run (appended to <paramref name="bares"/>: the round's "after").</summary>
    private static async Task<Round> RoundAsync(string root, string name, int shardMiB, int threads, List<string> files, List<BareResult> bares)
    {
        Measure.Settle();
        var plain = await ExactBenchmark.RunJobAsync(Spec(Path.Combine(root, "corpus"), shardMiB, plain: true), Path.Combine(root, $"plain-{name}"), threads);
        Directory.Delete(Path.Combine(root, $"plain-{name}"), recursive: true); // only its figures are needed
        Measure.Settle();
        var probe = new ResourceProbe();
        var run = await ExactBenchmark.RunJobAsync(Spec(Path.Combine(root, "corpus"), shardMiB), Path.Combine(root, $"data-{name}"), threads);
        probe.Stop();
        Measure.Settle();
        bares.Add(Bare(files, threads));
        return new Round(run, plain, probe, bares[^2], bares[^1]);
    }

    /// <summary>One round: the line_dedup job, the plain job (read → output) run just before it, and the bare runs around it.</summary>
    private sealed record Round(ExactBenchmark.PipelineRun Run, ExactBenchmark.PipelineRun Plain, ResourceProbe Probe, BareResult Before, BareResult After)
    {
        private List<ExactBenchmark.PhaseRun> StagePhases => Run.Phases.Where(p => p.Name.Contains(LineDedupStageSpec.TypeName, StringComparison.Ordinal)).ToList();
        public double StageSeconds => StagePhases.Sum(p => p.WallSeconds);
        public double StageCpu => StagePhases.Sum(p => p.CpuSeconds);
        public double JobCpu => Run.Phases.Sum(p => p.CpuSeconds);
        public double PlainCpu => Plain.Phases.Sum(p => p.CpuSeconds);

        /// <summary>Everything the job spends because line_dedup is in it, wherever it runs: its phases, and what the read and output do differently.</summary>
        public double AddedCpu => JobCpu - PlainCpu;
        public double BareTotal => (Before.Total + After.Total) / 2;
        public double BareDedup => (Before.Dedup + After.Dedup) / 2;
        public double BareTotalCpu => (Before.TotalCpu + After.TotalCpu) / 2;
        public double BareDedupCpu => (Before.DedupCpu + After.DedupCpu) / 2;

        public void Print(long bytes, int threads)
        {
            foreach (var phase in Run.Phases)
                Console.WriteLine($"{phase.Name,-30} {phase.Tasks,5} tasks {phase.WallSeconds,8:0.00} s   CPU {phase.CpuSeconds,7:0.00} s   " +
                                  $"allocated {(phase.Allocated >= 0 ? Measure.Size(phase.Allocated) : "n/a"),10}, GC paused {phase.GcPauseSeconds:0.00} s (gen 0/1/2: {phase.Collections.Gen0}/{phase.Collections.Gen1}/{phase.Collections.Gen2})");
            Console.WriteLine($"{"total (incl. planning)",-30} {"",11} {Run.Seconds,8:0.00} s   CPU {Probe.CpuSeconds:0.0} s, peak WS {Measure.Size(Probe.PeakWorkingSet)}");
            Console.WriteLine($"plain job (read → output):     {"",11} {Plain.Seconds,8:0.00} s   CPU {PlainCpu:0.00} s   " +
                              $"({string.Join(" + ", Plain.Phases.Where(p => p.Name != "plan").Select(p => $"{p.Name} {p.CpuSeconds:0.00}"))})");
            Console.WriteLine($"bare: parse {Before.Parse:0.00} s + dedup {Before.Dedup:0.00} s (after the pipeline: {After.Parse:0.00} + {After.Dedup:0.00} s); " +
                              $"CPU parse {Before.ParseCpu:0.00} s + dedup {Before.DedupCpu:0.00} s (after: {After.ParseCpu:0.00} + {After.DedupCpu:0.00} s)");
            Console.WriteLine($"whole job:        {Measure.MiBps(bytes, Run.Seconds)} MiB/s = {bytes / Measure.MiB / Run.Seconds / threads:0.0} MiB/s per core; " +
                              $"bare {bytes / Measure.MiB / BareTotal / threads:0.0} MiB/s per core");
            Console.WriteLine($"line_dedup phases: {bytes / Measure.MiB / StageSeconds / threads:0.0} MiB/s per core (hash + resolve + apply + report); " +
                              $"bare dedup {bytes / Measure.MiB / BareDedup / threads:0.0} MiB/s per core");
            Console.WriteLine($"line_dedup's work by CPU: job − plain job = {JobCpu:0.00} − {PlainCpu:0.00} = {AddedCpu:0.00} s " +
                              $"({bytes / Measure.MiB / AddedCpu:0.0} MiB per CPU-second); phases {string.Join(" + ", StagePhases.Select(p => $"{p.Name[(p.Name.LastIndexOf('/') + 1)..]} {p.CpuSeconds:0.00}"))} " +
                              $"= {StageCpu:0.00} s; bare dedup {BareDedupCpu:0.00} s ({bytes / Measure.MiB / BareDedupCpu:0.0} MiB per CPU-second)");
            Console.WriteLine($"ratios by CPU: line_dedup's work {BareDedupCpu / AddedCpu:0.000}, phases {BareDedupCpu / StageCpu:0.000}, " +
                              $"whole job vs plain + bare dedup {(PlainCpu + BareDedupCpu) / JobCpu:0.000}, whole job vs bare parse + dedup {BareTotalCpu / JobCpu:0.000}");
        }
    }

    /// <param name="plain">The job without line_dedup (read → output): the reference for what the stage adds to a job.</param>
    private static JobSpec Spec(string folder, int shardMiB, bool plain = false) => new()
    {
        Name = plain ? "bench-plain" : "bench-lines",
        Inputs = [new InputSpec { Path = folder + "/*.jsonl", Format = InputFormat.Jsonl, IdField = "id" }],
        Sharding = new ShardingSpec { TargetShardBytes = shardMiB * 1024L * 1024 },
        Stages = plain ? [] : [Stage],
        Output = new OutputSpec { Path = plain ? "curated/bench-plain" : "curated/bench-lines" },
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
