using System.Diagnostics;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using Curation.Pipelines.Execution;
using Curation.Pipelines.NearDup;
using Curation.Pipelines.Spec;
using Curation.Pipelines.Stages;
using Curation.Pipelines.Storage;

namespace Curation.Bench;

/// <summary>
/// <c>near</c>: MinHash LSH near-duplicate dedup.
/// <list type="number">
/// <item>Signature throughput on one core (MB/s of UTF-8 text): ours (normalise, word 5-gram XxHash64, 14 × 8 = 112
/// SIMD permutations, band keys) against two references run on the same texts in the same process: the shingling alone
/// (normalise + one XxHash64 per shingle: the floor, so the ratio is the price of the permutations) and the textbook
/// per-permutation scalar hash of datasketch/datatrove ((a·h + b) mod (2^61 − 1), 112 times per shingle).</item>
/// <item>The near_dedup stage end to end (read → near_dedup → output, in-process, phase after phase as the
/// coordinator runs them) on short generated documents with planted near duplicates, against a single-process
/// in-memory loop doing the same work with a union-find (what a single-machine tool does): the ratio is the price of
/// distributing it; the share of the connected-components phases is printed, and both sides must keep the same documents.</item>
/// </list>
/// </summary>
public static class NearBenchmark
{
    private static readonly NearDedupStageSpec Stage = new();

    public static async Task<int> RunAsync(BenchOptions options)
    {
        var failures = 0;
        Console.WriteLine($"signature: {Stage.Bands} bands × {Stage.Rows} rows = {Stage.Bands * Stage.Rows} permutations, word {Stage.Ngram}-grams, one thread " +
                          $"(SIMD: {(System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated ? "512-bit" : System.Runtime.Intrinsics.Vector256.IsHardwareAccelerated ? "256-bit" : "none")})");
        var demo = ReadDemoTexts();
        var generated = GeneratedTexts(options.NearSignatureDocs, options.Seed);
        Signatures("demo corpus (samples/corpus)", demo, options.Repeat ?? 3);
        Signatures($"generated prose, {generated.Count:N0} docs", generated, options.Repeat ?? 3);

        var root = Path.Combine(Path.GetTempPath(), $"curation-bench-near-{Guid.NewGuid():N}");
        try
        {
            failures += await EndToEndAsync(root, options);
        }
        finally
        {
            try { Directory.Delete(root, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
        return failures == 0 ? 0 : 1;
    }

    // ---- signature throughput --------------------------------------------------------------------------------------

    private static List<string> ReadDemoTexts()
    {
        var texts = new List<string>();
        foreach (var file in Directory.GetFiles(EmbedWorkload.FindDemoCorpus(), "*.jsonl").Order(StringComparer.Ordinal))
            foreach (var line in File.ReadLines(file))
                texts.Add(JsonDocument.Parse(line).RootElement.GetProperty("text").GetString()!);
        return texts;
    }

    private static List<string> GeneratedTexts(int documents, int seed)
    {
        var gen = new TextGen(seed);
        return Enumerable.Range(0, documents).Select(i => { var r = gen.For(i); return gen.Prose(r, 300 + r.Next(2000)); }).ToList();
    }

    private static void Signatures(string label, List<string> texts, int repeat)
    {
        var bytes = texts.Sum(t => (long)Encoding.UTF8.GetByteCount(t));
        Console.WriteLine();
        Console.WriteLine($"{label}: {texts.Count:N0} documents, {Measure.Size(bytes)}, avg {bytes / Math.Max(1, texts.Count):N0} bytes");
        var shingler = new Shingler(Stage);
        var hasher = new MinHasher(Stage.Bands, Stage.Rows, 42);
        var naive = new NaiveMinHash(Stage.Bands * Stage.Rows, 42);
        var hashes = new List<ulong>();
        var signature = new uint[hasher.Permutations];
        var keys = new ulong[Stage.Bands];
        ulong sink = 0;

        // Wall time and this thread's CPU time: on a shared machine the CPU time is the per-core figure (the wall clock
        // also counts the time other processes held the core).
        (double Wall, double Cpu) Time(Action<string> work)
        {
            Measure.Settle();
            var cpu = ThreadCpuSeconds();
            var clock = Stopwatch.StartNew();
            foreach (var text in texts) work(text);
            return (clock.Elapsed.TotalSeconds, ThreadCpuSeconds() - cpu);
        }
        void Floor(string t) { shingler.Shingle(t, hashes); sink += (ulong)hashes.Count; }
        void Ours(string t)
        {
            if (shingler.Shingle(t, hashes) == ShingleOutcome.Empty) return;
            hasher.Signature(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(hashes), signature);
            hasher.BandKeys(signature, keys);
            sink += keys[0];
        }
        void Textbook(string t)
        {
            if (shingler.Shingle(t, hashes) == ShingleOutcome.Empty) return;
            naive.Signature(hashes, signature);
            hasher.BandKeys(signature, keys);
            sink += keys[0];
        }

        for (var warm = 0; warm < 2; warm++) { Time(Floor); Time(Ours); Time(Textbook); }
        var (floor, ours, textbook) = (new List<(double Wall, double Cpu)>(), new List<(double Wall, double Cpu)>(), new List<(double Wall, double Cpu)>());
        for (var i = 0; i < repeat; i++)
        {
            floor.Add(Time(Floor));
            ours.Add(Time(Ours));
            textbook.Add(Time(Textbook));
        }
        double MBps(double seconds) => bytes / 1e6 / seconds;
        Console.WriteLine($"  {"side",-52} {"wall s",8} {"CPU s",8} {"MB/CPU-s",9} {"MB/s wall",10} {"docs/CPU-s",11}");
        void Row(string name, List<(double Wall, double Cpu)> runs)
        {
            var (wall, cpu) = (Measure.Median(runs.Select(r => r.Wall)), Measure.Median(runs.Select(r => r.Cpu)));
            Console.WriteLine($"  {name,-52} {wall,8:0.000} {cpu,8:0.000} {MBps(cpu),9:N1} {MBps(wall),10:N1} {Measure.Rate(texts.Count, cpu),11}");
        }
        Row("ours: shingle + 112 SIMD permutations + band keys", ours);
        Row("floor: shingle + one XxHash64 per shingle", floor);
        Row("textbook: (a·h + b) mod (2^61 − 1) × 112, scalar", textbook);
        var (o, f, t) = (Measure.Median(ours.Select(r => r.Cpu)), Measure.Median(floor.Select(r => r.Cpu)), Measure.Median(textbook.Select(r => r.Cpu)));
        Console.WriteLine($"  ratio ours/floor (throughput, CPU time): {f / o:0.000}   ratio ours/textbook: {t / o:0.00}   " +
                          $"(median of {repeat}; MB = 10^6 bytes of UTF-8 text; one thread, so CPU s = core-seconds){(sink == 42 ? " " : "")}");
        Console.WriteLine($"  goal ≥ 20 MB/s per core with 112 permutations: {(MBps(o) >= 20 ? "met" : "NOT met")} ({MBps(o):N1} MB per CPU-second)");
    }

    /// <summary>datasketch's permutation, as datatrove uses it: ((a·h + b) mod (2^61 − 1)) keeping 32 bits, one scalar per permutation.</summary>
    private sealed class NaiveMinHash
    {
        private const ulong Prime = (1UL << 61) - 1;
        private readonly ulong[] _a, _b;

        public NaiveMinHash(int permutations, int seed)
        {
            var random = new Random(seed);
            _a = Enumerable.Range(0, permutations).Select(_ => 1 + (ulong)random.NextInt64(1, (long)Prime - 1)).ToArray();
            _b = Enumerable.Range(0, permutations).Select(_ => (ulong)random.NextInt64(0, (long)Prime - 1)).ToArray();
        }

        public void Signature(List<ulong> shingles, uint[] signature)
        {
            Array.Fill(signature, uint.MaxValue);
            foreach (var shingle in shingles)
            {
                var h = shingle & 0xFFFF_FFFF;
                for (var p = 0; p < _a.Length; p++)
                {
                    var product = (UInt128)_a[p] * h + _b[p];
                    var mod = (ulong)(product & Prime) + (ulong)(product >> 61);
                    mod = (mod & Prime) + (mod >> 61);
                    if (mod >= Prime) mod -= Prime;
                    var value = (uint)mod;
                    if (value < signature[p]) signature[p] = value;
                }
            }
        }
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "clock_gettime")]
    private static extern int ClockGetTime(int clock, out TimeSpec time);

    private struct TimeSpec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    /// <summary>CPU time of the calling thread (CLOCK_THREAD_CPUTIME_ID); on other systems the wall clock.</summary>
    private static double ThreadCpuSeconds()
    {
        if (OperatingSystem.IsLinux() && ClockGetTime(3, out var time) == 0) return time.Seconds + time.Nanoseconds / 1e9;
        return Stopwatch.GetTimestamp() / (double)Stopwatch.Frequency;
    }

    // ---- end to end ------------------------------------------------------------------------------------------------

    private static (string Folder, long Bytes) WriteShortCorpus(string folder, int documents, int seed)
    {
        Directory.CreateDirectory(folder);
        var gen = new TextGen(seed);
        var plan = new Random(seed);
        long bytes = 0;
        var originals = new List<int>();
        var options = new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
        StreamWriter? file = null;
        try
        {
            for (var doc = 0; doc < documents; doc++)
            {
                if (doc % 50_000 == 0)
                {
                    file?.Dispose();
                    file = new StreamWriter(Path.Combine(folder, $"part-{doc / 50_000:D5}.jsonl"), append: false, new UTF8Encoding(false), 1 << 16);
                }
                string text;
                if (originals.Count > 0 && plan.Next(10) == 0)
                {
                    // A near duplicate of an earlier document: 1-2 words replaced.
                    var original = gen.Prose(gen.For(originals[plan.Next(originals.Count)]), 200).Split(' ');
                    for (var e = 1 + plan.Next(2); e > 0; e--) original[plan.Next(original.Length)] = "edit" + plan.Next(1000);
                    text = string.Join(' ', original);
                }
                else
                {
                    text = gen.Prose(gen.For(doc), 200);
                    originals.Add(doc);
                }
                var line = JsonSerializer.Serialize(new { id = $"doc-{doc:D9}", text }, new JsonSerializerOptions { Encoder = options.Encoder });
                file!.WriteLine(line);
                bytes += Encoding.UTF8.GetByteCount(text);
            }
        }
        finally
        {
            file?.Dispose();
        }
        return (folder, bytes);
    }

    private static async Task<int> EndToEndAsync(string root, BenchOptions options)
    {
        var documents = options.NearDocs;
        var threads = options.Threads;
        Console.WriteLine();
        var clock = Stopwatch.StartNew();
        var (folder, textBytes) = WriteShortCorpus(Path.Combine(root, "corpus"), documents, options.Seed);
        Console.WriteLine($"end to end: {documents:N0} short documents (~200 characters, 10% near duplicates with 1-2 words replaced), " +
                          $"{Measure.Size(textBytes)} of text (generated in {clock.Elapsed.TotalSeconds:0.0} s, not timed); {threads} tasks in parallel; " +
                          $"near_dedup with {Stage.Partitions} partitions, " +
                          $"oneTaskComponentsEdges {options.NearOneTaskEdges?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "default"}, " +
                          "defaults otherwise; local folder store");

        var spec = new JobSpec
        {
            Name = "bench-near",
            Inputs = [new InputSpec { Path = folder + "/*.jsonl", Format = InputFormat.Jsonl, IdField = "id" }],
            Sharding = new ShardingSpec { TargetShardBytes = options.ShardMiB * 1024L * 1024 },
            Stages = [Stage with { OneTaskComponentsEdges = options.NearOneTaskEdges }],
            Output = new OutputSpec { Path = "curated/bench-near" },
        };

        Measure.Settle();
        var probe = new ResourceProbe();
        var stores = CurationStoreServiceCollectionExtensions.CreateResolver(new CurationStoreOptions { RootPath = Path.Combine(root, "data") });
        var job = await JobContext.CreateOrLoadAsync(spec, stores);
        using var services = StageServices.CreateDefault();
        // A converged round is not dispatched (skipped), or its tasks found nothing to do.
        var phases = (await PhaseRecorder.RunAsync(job, services, threads)).Select(p => (Stage: p.Phase.Stage.Name, Phase: p.Phase.Info.Name, p.Tasks,
            Wall: p.WallSeconds, p.TaskSeconds, Cpu: p.CpuSeconds, p.Allocated, Skipped: p.Skipped || p.Stats.Any(s => s.Metrics.ContainsKey("cc_skipped_converged")))).ToList();
        probe.Stop();
        var (manifest, _) = await job.Output.TryReadJsonAsync<Manifest>(job.OutputLocation.KeyOf(Manifest.FileName));
        if (manifest is null) throw new InvalidOperationException("the job finished without a manifest");

        Console.WriteLine($"{"phase",-36} {"tasks",5} {"wall s",8} {"task s",8} {"CPU s",8} {"alloc",10}");
        foreach (var group in phases.GroupBy(p => p.Phase.StartsWith(NearDedupStage.RoundPhasePrefix, StringComparison.Ordinal)
                     ? $"{p.Stage}/cc-* ({phases.Count(q => q.Phase.StartsWith(NearDedupStage.RoundPhasePrefix, StringComparison.Ordinal) && !q.Skipped)} ran, " +
                       $"{phases.Count(q => q.Skipped)} skipped)"
                     : $"{p.Stage}/{p.Phase}"))
            Console.WriteLine($"{group.Key,-36} {group.Sum(p => p.Tasks),5} {group.Sum(p => p.Wall),8:0.00} {group.Sum(p => p.TaskSeconds),8:0.00} " +
                              $"{group.Sum(p => p.Cpu),8:0.00} {Measure.Size(group.Sum(p => p.Allocated)),10}");
        var nearWall = phases.Where(p => p.Stage == NearDedupStageSpec.TypeName).Sum(p => p.Wall);
        var componentsWall = phases.Where(p => p.Stage == NearDedupStageSpec.TypeName &&
            (p.Phase.StartsWith(NearDedupStage.RoundPhasePrefix, StringComparison.Ordinal)
             || p.Phase is NearDedupStage.ComponentsPhase or NearDedupStage.OneTaskComponentsPhase))
            .Sum(p => p.Wall);
        var metrics = manifest.Metrics.Single(m => m.Key.EndsWith(NearDedupStageSpec.TypeName, StringComparison.Ordinal)).Value;
        Console.WriteLine($"job total {probe.Seconds:0.00} s (CPU {probe.CpuSeconds:0.0} s, peak WS {Measure.Size(probe.PeakWorkingSet)}); " +
                          $"near_dedup stage {nearWall:0.00} s = {documents / nearWall:N0} docs/s; connected components (components-one-task + cc-* + components) " +
                          $"{componentsWall:0.00} s = {componentsWall / nearWall:P1} of the stage");
        Console.WriteLine($"near_dedup: candidate pairs {metrics["candidate_pairs"]:N0}, verified edges {metrics["verified_edges"]:N0}, rejected {metrics["rejected_candidates"]:N0}, " +
                          $"components {metrics["components"]:N0}, removed {metrics["removed"]:N0}, rounds {metrics["cc_rounds"]:N0}");

        // The single-machine reference: same texts, same shingles/signatures/buckets/anchors/verification, union-find.
        Measure.Settle();
        var bare = new ResourceProbe();
        var removed = BareNearDedup(folder, threads);
        bare.Stop();
        Console.WriteLine($"bare single-process loop (parallel signatures on {threads} threads, in-memory buckets, union-find): {bare.Seconds:0.00} s " +
                          $"(CPU {bare.CpuSeconds:0.0} s, peak WS {Measure.Size(bare.PeakWorkingSet)}), removed {removed:N0}");
        Console.WriteLine($"ratio near_dedup stage / bare loop (throughput = bare time / stage time): {bare.Seconds / nearWall:0.000}");
        var nearCpu = phases.Where(p => p.Stage == NearDedupStageSpec.TypeName).Sum(p => p.Cpu);
        Console.WriteLine($"CPU: near_dedup stage {nearCpu:0.0} s, bare loop {bare.CpuSeconds:0.0} s (ratio bare/stage {bare.CpuSeconds / nearCpu:0.000})");
        if (removed != (long)metrics["removed"])
        {
            Console.WriteLine($"FAILED: the bare loop removed {removed:N0}, the stage {metrics["removed"]:N0}");
            return 1;
        }
        Console.WriteLine("check: the stage and the bare loop removed the same number of documents: OK");
        return 0;
    }

    private static long BareNearDedup(string folder, int threads)
    {
        var docs = new List<(string Id, string Text)>();
        foreach (var file in Directory.GetFiles(folder, "*.jsonl").Order(StringComparer.Ordinal))
            foreach (var line in File.ReadLines(file))
            {
                using var json = JsonDocument.Parse(line);
                docs.Add((json.RootElement.GetProperty("id").GetString()!, json.RootElement.GetProperty("text").GetString()!));
            }
        var permutations = Stage.Bands * Stage.Rows;
        var signatures = new uint[docs.Count][];
        var keys = new ulong[docs.Count * Stage.Bands];
        Parallel.ForEach(System.Collections.Concurrent.Partitioner.Create(0, docs.Count, 4096), new ParallelOptions { MaxDegreeOfParallelism = threads }, range =>
        {
            var shingler = new Shingler(Stage);
            var hasher = new MinHasher(Stage.Bands, Stage.Rows, 42);
            var hashes = new List<ulong>();
            for (var i = range.Item1; i < range.Item2; i++)
            {
                if (shingler.Shingle(docs[i].Text, hashes) == ShingleOutcome.Empty) continue;
                signatures[i] = new uint[permutations];
                hasher.Signature(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(hashes), signatures[i]);
                hasher.BandKeys(signatures[i], keys.AsSpan(i * Stage.Bands, Stage.Bands));
            }
        });
        var order = Enumerable.Range(0, docs.Count).OrderBy(i => docs[i].Id, StringComparer.Ordinal).ToArray();
        var parent = Enumerable.Range(0, docs.Count).ToArray();
        int Find(int x) { while (parent[x] != x) x = parent[x] = parent[parent[x]]; return x; }
        var rank = new int[docs.Count];
        for (var i = 0; i < order.Length; i++) rank[order[i]] = i;
        for (var band = 0; band < Stage.Bands; band++)
        {
            var buckets = new Dictionary<ulong, List<int>>();
            foreach (var i in order)
            {
                if (signatures[i] is null) continue;
                var key = keys[i * Stage.Bands + band];
                (buckets.TryGetValue(key, out var list) ? list : buckets[key] = []).Add(i);
            }
            foreach (var members in buckets.Values)
                for (var m = 1; m < members.Count; m++)
                    for (var a = 0; a < Math.Min(m, Stage.Anchors); a++)
                    {
                        if (MinHasher.Estimate(signatures[members[a]], signatures[members[m]]) < Stage.Threshold) continue;
                        var (ra, rb) = (Find(members[a]), Find(members[m]));
                        if (ra == rb) continue;
                        if (rank[ra] < rank[rb]) parent[rb] = ra; else parent[ra] = rb;
                    }
        }
        return Enumerable.Range(0, docs.Count).Count(i => Find(i) != i);
    }
}
