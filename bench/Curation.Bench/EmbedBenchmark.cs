using System.Diagnostics;
using Curation.Pipelines.Embedding;
using Curation.Pipelines.Execution;
using Curation.Pipelines.IO;
using Curation.Pipelines.Spec;
using Curation.Pipelines.Stages;
using Curation.Pipelines.Storage;
using Microsoft.ML.OnnxRuntime;

namespace Curation.Bench;

/// <summary>
/// <c>embed</c>: embedding throughput in attended tokens per second on two inputs (a subset of the real demo corpus and
/// a synthetic set of fixed-length documents), three comparisons each, every one paired in the same run:
/// (a)+(b) the embed stage inside an in-process job (read → tokenize → embed → output, run phase by phase as the
/// coordinator does) against a bare ONNX Runtime loop fed the very batches the stage's bucketed planner makes; (c)
/// <see cref="BatchEmbedder"/> with length bucketing against naive fixed-size batches in input order.
/// </summary>
public static class EmbedBenchmark
{
    private const double Goal = 0.9;

    /// <summary>Lowest cosine similarity accepted between one document's vector from two sides (float rounding only).</summary>
    private const double MinCosine = 0.9999;

    public static async Task<int> RunAsync(BenchOptions options)
    {
        if (options.Model is { } kind)
            return kind == "static" ? await StaticEmbedBenchmark.RunAsync(options) : throw new ArgumentException($"--model {kind}: only static is known");
        var root = Path.Combine(Path.GetTempPath(), $"curation-bench-embed-{Guid.NewGuid():N}");
        try
        {
            return await RunInAsync(root, options);
        }
        finally
        {
            try { Directory.Delete(root, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }

    /// <summary>What every run of one benchmark shares: the pipeline's runtime (one session, as on a silo) and the bare session.</summary>
    private sealed record Setup(StageServices Services, LoadedModel Model, BareOnnxEmbed Bare, EmbeddingBatchOptions Bucketed,
        EmbeddingBatchOptions Naive, int Threads, int Repeat);

    private static async Task<int> RunInAsync(string root, BenchOptions options)
    {
        var repeat = options.Repeat ?? 2;
        var clock = Stopwatch.StartNew();

        // The pipeline's side exactly as an in-process job gets it: StageServices.CreateDefault() (default runtime
        // options), the model spec's defaults, the embed stage's own batch options. One runtime for every run, loaded
        // before any clock starts, as a silo keeps its session from job to job.
        var provider = options.Provider switch
        {
            "cpu" => ExecutionProviderPreference.Cpu,
            "cuda" => ExecutionProviderPreference.Cuda,
            _ => ExecutionProviderPreference.Auto,
        };
        using var services = new StageServices(new EmbeddingRuntime(new EmbeddingRuntimeOptions { Provider = provider }), Environment.MachineName, ownsRuntime: true);
        var modelOptions = EmbeddingRuntime.ModelOptionsOf(new ModelSpec(), services.Embedding.Options);
        var files = await ModelFiles.ResolveAsync(new EmbeddingModelOptions());
        var load = Stopwatch.StartNew();
        var model = await services.Embedding.GetAsync(new ModelSpec());
        var loadSeconds = load.Elapsed.TotalSeconds;
        load.Restart();
        using var bare = new BareOnnxEmbed(files.ModelPath, modelOptions.IntraOpThreads, model.Tokenizer.SpecialTokens,
            model.Embedder.ActiveProvider == ActiveExecutionProvider.Cuda ? modelOptions.DeviceId : null);
        var bareLoadSeconds = load.Elapsed.TotalSeconds;
        var bucketed = new EmbedStage(0, new EmbedStageSpec()).BatchOptions;
        var naive = new EmbeddingBatchOptions
        {
            Windows = bucketed.Windows, WindowSize = bucketed.WindowSize, WindowStride = bucketed.WindowStride,
            Batching = BatchingMode.Naive, NaiveBatchSize = 32,
        };
        var embedder = model.Embedder;
        if (bare.Dimensions != embedder.Dimensions)
            throw new InvalidOperationException($"the bare session sees {bare.Dimensions} dimensions, the pipeline's {embedder.Dimensions}");

        Console.WriteLine($"model:    {ShippedModel.ModelName} {files.ModelPath} ({Measure.Size(new FileInfo(files.ModelPath).Length)}); {embedder.Dimensions} dims, " +
                          $"{embedder.MaxTokens} positions ({embedder.MaxSequenceLength} tokens + [CLS]/[SEP] per window), {embedder.Pooling} pooling, " +
                          $"{(embedder.Normalize ? "L2-normalised" : "not normalised")}");
        Console.WriteLine($"          inputs {bare.InputShapes}; output {bare.OutputShape}");
        Console.WriteLine($"runtime:  ONNX Runtime {OrtEnv.Instance().GetVersionString()} (Microsoft.ML.OnnxRuntime.Gpu.Linux); provider asked {modelOptions.Provider}, " +
                          $"active {embedder.ActiveProvider} (pipeline session); bare session: {bare.Provider}");
        Console.WriteLine($"threads:  intra-op {modelOptions.IntraOpThreads}{(modelOptions.IntraOpThreads == 0 ? " (ONNX Runtime's default: one per physical core)" : "")} on both sessions " +
                          $"→ a pool of {bare.ThreadsCreated + 1} threads (the calling thread + {bare.ThreadsCreated} that creating the bare session added to the process); " +
                          "sequential execution, ORT_ENABLE_ALL; " +
                          $"at most {services.Embedding.Options.MaxConcurrentInferences} inference at a time in the pipeline's runtime");
        Console.WriteLine($"startup:  pipeline runtime {loadSeconds:0.00} s (model + tokenizer + session; on a silo once per process), bare session {bareLoadSeconds:0.00} s: not timed below");
        Console.WriteLine($"batching: bucketed = the embed stage's options (token budget {bucketed.TokenBudget:N0} padded tokens, ≤ {bucketed.MaxBatchRows} rows, " +
                          $"longest first, windows {bucketed.Windows}); naive = {naive.NaiveBatchSize} windows per call in input order, padded to the longest");

        var generation = Stopwatch.StartNew();
        var corpusFolder = EmbedWorkload.FindDemoCorpus();
        var workloads = new[]
        {
            EmbedWorkload.FromDemoCorpus(corpusFolder, Path.Combine(root, "demo"), options.EmbedDocs, model.Tokenizer),
            EmbedWorkload.FixedLength(Path.Combine(root, "fixed"), options.FixedDocs, options.FixedTokens, options.Seed, files.VocabPath, model.Tokenizer),
        };
        var demoFiles = EmbedWorkload.TokenizeFiles(corpusFolder, model.Tokenizer);
        Console.WriteLine($"inputs:   built and tokenized in {generation.Elapsed.TotalSeconds:0.0} s, not timed");
        Console.WriteLine($"order:    per input, after warm-ups on every 8th document: bare, {repeat} × (pipeline, bare), then bucketed, {repeat} × (naive, bucketed); " +
                          "each pipeline (naive) run is compared with the mean of the bare (bucketed) runs just before and after it");
        Console.WriteLine("tokens/s: attended tokens per second: each window's tokens + [CLS] + [SEP], padding not counted; the same count for every side");

        var setup = new Setup(services, model, bare, bucketed, naive, options.Threads, repeat);
        var failures = new List<string>();
        foreach (var workload in workloads)
        {
            Console.WriteLine();
            Console.WriteLine($"--- input: {workload.Name} ---");
            failures.AddRange((await RunWorkloadAsync(root, workload, setup, workload.Name == "demo" ? () => PrintWholeCorpusPlans(demoFiles, setup) : null))
                .Select(f => $"{workload.Name}: {f}"));
        }
        Console.WriteLine();
        Console.WriteLine($"embed benchmark took {clock.Elapsed.TotalSeconds:0} s in all");
        if (failures.Count == 0) return 0;
        foreach (var failure in failures) Console.WriteLine($"FAILED: {failure}");
        return 1;
    }

    /// <summary>One timed run of a side outside the pipeline.</summary>
    private sealed record SideRun(ResourceProbe Probe, float[] Vectors, EmbeddingPlan Plan);

    /// <summary>
    /// Padding of the whole demo corpus under each batching, from the planner alone (nothing run): a subset has fewer
    /// documents per length bucket, so its bucketed batches pad more than a full row group's would.
    /// </summary>
    private static void PrintWholeCorpusPlans(List<int[][]> files, Setup setup)
    {
        var max = setup.Model.Embedder.MaxSequenceLength;
        EmbeddingPlan PlanOf(IEnumerable<int[]> documents, EmbeddingBatchOptions options) =>
            EmbeddingPlanner.Create(documents.Select(d => d.Length).ToArray(), max, options);
        var all = files.SelectMany(f => f).ToList();
        var whole = PlanOf(all, setup.Bucketed);
        var naive = PlanOf(all, setup.Naive);
        var perFile = files.Select(f => PlanOf(f, setup.Bucketed)).ToList();
        long filePadded = perFile.Sum(p => p.PaddedTokens), fileAttended = perFile.Sum(p => p.AttendedTokens);
        Console.WriteLine($"whole:    the whole demo corpus ({all.Count:N0} documents, {whole.AttendedTokens:N0} attended tokens; planned, not run): " +
                          $"padding bucketed {Padding(whole.PaddedTokens, whole.AttendedTokens):P1} in {whole.Batches.Count} calls as one row group, " +
                          $"{Padding(filePadded, fileAttended):P1} in {perFile.Sum(p => p.Batches.Count)} calls as {files.Count} shards of one file each " +
                          $"(samples/demo.job.json's 512 KiB shards); naive {Padding(naive.PaddedTokens, naive.AttendedTokens):P1} in {naive.Batches.Count} calls");
    }

    private static async Task<List<string>> RunWorkloadAsync(string root, EmbedWorkload work, Setup setup, Action? context)
    {
        var failures = new List<string>();
        var dims = setup.Model.Embedder.Dimensions;
        var bucketedEmbedder = new BatchEmbedder(setup.Model.Embedder, setup.Bucketed);
        var naiveEmbedder = new BatchEmbedder(setup.Model.Embedder, setup.Naive);
        var documents = work.Tokens.Select(t => (ReadOnlyMemory<int>)t).ToArray();
        var plan = bucketedEmbedder.Plan(documents);
        var naivePlan = naiveEmbedder.Plan(documents);
        var lengths = work.Tokens.Select(t => t.Length).Order().ToArray();
        var attended = plan.AttendedTokens;

        Console.WriteLine($"input:    {work.Description}; {Measure.Size(work.JsonlBytes)} of JSONL");
        Console.WriteLine($"tokens:   {lengths.Sum(l => (long)l):N0} in {work.Documents:N0} documents: min {lengths[0]}, median {lengths[lengths.Length / 2]}, " +
                          $"mean {lengths.Average():0}, p90 {lengths[(int)(lengths.Length * 0.9)]}, max {lengths[^1]}; " +
                          $"documents over {setup.Model.Embedder.MaxSequenceLength} tokens (split into windows): {plan.Documents.Count(d => d.Windows > 1)} → {plan.Windows.Count:N0} windows; " +
                          $"{attended:N0} attended tokens with [CLS]/[SEP]");
        Console.WriteLine($"batches:  bucketed {Describe(plan)}");
        Console.WriteLine($"          naive    {Describe(naivePlan)}");
        context?.Invoke();
        Console.WriteLine($"pipeline: read → tokenize → embed → output, one shard (one row group: the stage plans the whole input at once, " +
                          $"the same plan as above), {setup.Threads} tasks in parallel, local folder store; timed: the embed phase (and the whole job)");

        // One warm-up of every side: JIT of every managed path (tokenizer, Parquet, planner, pooling) and ONNX Runtime's
        // memory arena of each session; every 8th document keeps the mix of lengths. Inference dominates every side, so
        // one pass is enough here (exact needs three: its sides are all managed code).
        var warm = work.Every(8, Path.Combine(root, work.Name + "-warm"));
        var warmDocuments = warm.Tokens.Select(t => (ReadOnlyMemory<int>)t).ToArray();
        setup.Bare.Run(warm.Tokens, bucketedEmbedder.Plan(warmDocuments), new float[warm.Documents * dims]);
        await RunPipelineAsync(warm, Path.Combine(root, $"{work.Name}-warm-data"), setup.Services, setup.Threads);
        bucketedEmbedder.Embed(warmDocuments, new float[warm.Documents * dims]);
        naiveEmbedder.Embed(warmDocuments, new float[warm.Documents * dims]);

        SideRun RunBare()
        {
            var vectors = new float[work.Documents * dims];
            Measure.Settle();
            var probe = new ResourceProbe(sampleWorkingSet: false); // no sampler thread: the pipeline's runs have none either
            setup.Bare.Run(work.Tokens, plan, vectors);
            return new SideRun(probe.Stop(), vectors, plan);
        }
        SideRun RunEmbedder(BatchEmbedder embedder)
        {
            var vectors = new float[work.Documents * dims];
            Measure.Settle();
            var probe = new ResourceProbe(sampleWorkingSet: false); // no sampler thread: the pipeline's runs have none either
            var used = embedder.Embed(documents, vectors);
            return new SideRun(probe.Stop(), vectors, used);
        }

        var bares = new List<SideRun> { RunBare() };
        var pipelines = new List<PipelineRun>();
        for (var i = 0; i < setup.Repeat; i++)
        {
            Measure.Settle();
            pipelines.Add(await RunPipelineAsync(work, Path.Combine(root, $"{work.Name}-data-{i}"), setup.Services, setup.Threads));
            bares.Add(RunBare());
        }
        var bucketeds = new List<SideRun> { RunEmbedder(bucketedEmbedder) };
        var naives = new List<SideRun>();
        for (var i = 0; i < setup.Repeat; i++)
        {
            naives.Add(RunEmbedder(naiveEmbedder));
            bucketeds.Add(RunEmbedder(bucketedEmbedder));
        }

        // What EmbedStage does before it embeds: tokenize the row group's texts, Parallel.For over the rows.
        var tokenizeSeconds = new List<double>();
        for (var i = 0; i < 3; i++)
        {
            var texts = work.Texts;
            var tokens = new ReadOnlyMemory<int>[texts.Count];
            var tokenizeClock = Stopwatch.StartNew();
            Parallel.For(0, texts.Count, row => tokens[row] = setup.Model.Tokenizer.Tokenize(texts[row]));
            tokenizeSeconds.Add(tokenizeClock.Elapsed.TotalSeconds);
        }
        var tokenize = Measure.Median(tokenizeSeconds);

        Console.WriteLine();
        Console.WriteLine($"{"side",-30} {"wall s",7} {"CPU s",6} {"tokens/s",9} {"docs/s",7} {"batches",7} {"padded tok",11} {"pad %",6} {"alloc",10}");
        void Row(string label, double seconds, double cpu, EmbeddingPlan? used, long padded, string batches, long allocated) =>
            Console.WriteLine($"{label,-30} {seconds,7:0.00} {cpu,6:0.0} {Measure.Rate(attended, seconds),9} {Measure.Rate(work.Documents, seconds),7} " +
                              $"{batches,7} {padded,11:N0} {Padding(padded, used?.AttendedTokens ?? attended),6:P1} {Measure.Size(allocated),10}");
        void SideRow(string label, SideRun run) =>
            Row(label, run.Probe.Seconds, run.Probe.CpuSeconds, run.Plan, run.Plan.PaddedTokens, run.Plan.Batches.Count.ToString("N0"), run.Probe.Allocated);
        for (var i = 0; i < bares.Count; i++)
        {
            SideRow($"(a) bare ORT #{i + 1}", bares[i]);
            if (i >= pipelines.Count) continue;
            var p = pipelines[i];
            Row($"(b) pipeline #{i + 1}: embed phase", p.Embed.WallSeconds, p.Embed.CpuSeconds, null, (long)p.Embed.Metric("padded_tokens"), "–", p.Embed.Allocated);
            Row($"    pipeline #{i + 1}: whole job", p.Seconds, p.CpuSeconds, null, (long)p.Embed.Metric("padded_tokens"), "–", p.Allocated);
        }
        for (var i = 0; i < bucketeds.Count; i++)
        {
            SideRow($"(c) bucketed #{i + 1}", bucketeds[i]);
            if (i < naives.Count) SideRow($"(c) naive #{i + 1}", naives[i]);
        }
        Console.WriteLine("(tokens/s and docs/s from wall s; CPU s: process CPU time (ORT's threads, GC and every other thread of this process); " +
                          "pad %: padded tokens / attended tokens; batches –: not reported by the stage; padded tok: its padded_tokens metric)");

        var shown = pipelines[pipelines.Count / 2];
        Console.WriteLine();
        Console.WriteLine($"{(pipelines.Count == 1 ? "pipeline phase" : $"phase (pipeline #{pipelines.Count / 2 + 1})"),-30} {"tasks",5} {"wall s",7} {"share",6} {"CPU s",6} {"docs in",8}");
        foreach (var phase in shown.Phases)
            Console.WriteLine($"{phase.Name,-30} {phase.Tasks,5} {phase.WallSeconds,7:0.00} {phase.WallSeconds / shown.Seconds,6:P0} {phase.CpuSeconds,6:0.0} {phase.DocumentsIn,8:N0}");
        Console.WriteLine($"{"total (incl. planning)",-30} {"",5} {shown.Seconds,7:0.00} {"",6} {shown.CpuSeconds,6:0.0}");

        // Ratios, each against its neighbours in time.
        var wall = new List<double>();
        var cpu = new List<double>();
        var job = new List<double>();
        for (var i = 0; i < pipelines.Count; i++)
        {
            var bareWall = (bares[i].Probe.Seconds + bares[i + 1].Probe.Seconds) / 2;
            wall.Add(bareWall / pipelines[i].Embed.WallSeconds);
            cpu.Add((bares[i].Probe.CpuSeconds + bares[i + 1].Probe.CpuSeconds) / 2 / pipelines[i].Embed.CpuSeconds);
            job.Add(bareWall / pipelines[i].Seconds);
        }
        var bucketWall = new List<double>();
        var bucketCpu = new List<double>();
        for (var i = 0; i < naives.Count; i++)
        {
            bucketWall.Add(naives[i].Probe.Seconds / ((bucketeds[i].Probe.Seconds + bucketeds[i + 1].Probe.Seconds) / 2));
            bucketCpu.Add(naives[i].Probe.CpuSeconds / ((bucketeds[i].Probe.CpuSeconds + bucketeds[i + 1].Probe.CpuSeconds) / 2));
        }
        var embedWall = Measure.Median(pipelines.Select(p => p.Embed.WallSeconds));

        static string List(IEnumerable<double> ratios) => string.Join(" ", ratios.Select(r => r.ToString("0.000")));
        var runs = pipelines.Count > 1 ? "median of the paired runs" : "one paired run";
        var ratio = Measure.Median(wall);
        Console.WriteLine();
        Console.WriteLine($"ratio pipeline/bare (embed phase tokens/s / bare ORT tokens/s on the same batches, higher is better; goal ≥ {Goal:0.00}):");
        Console.WriteLine($"  wall time: {ratio:0.000}   ({runs}{(pipelines.Count > 1 ? $": {List(wall)}" : "")}; the figure)");
        Console.WriteLine($"  CPU time:  {Measure.Median(cpu):0.000}   ({List(cpu)}; process CPU seconds: ONNX Runtime's pool threads spin while they wait, " +
                          "so on a busy machine CPU time moves with the load too)");
        Console.WriteLine($"  whole job (read, tokenize, embed, output, manifest) against bare: {Measure.Median(job):0.000} ({List(job)})");
        var overhead = Measure.Median(pipelines.Select((p, i) => p.Embed.WallSeconds - (bares[i].Probe.Seconds + bares[i + 1].Probe.Seconds) / 2));
        Console.WriteLine($"  the embed phase's time over bare: {overhead:0.00} s ({overhead / embedWall:P1} of the phase, median of the paired runs); " +
                          $"of it, tokenizing the texts as the stage does (Parallel.For over the row group, measured alone, median of 3): {tokenize * 1000:0.0} ms");
        var skeleton = Measure.Median(pipelines.Select(p => p.Phases.Single(f => f.Name.EndsWith("-" + TokenizeStageSpec.TypeName + "/" + DocumentStage.ApplyPhase, StringComparison.Ordinal)).WallSeconds));
        Console.WriteLine($"  the stage's work besides the model, bounded by the tokenize phase (the same read shard → tokenize → write → commit, no model): " +
                          $"{skeleton * 1000:0} ms = {skeleton / embedWall:P1} of the embed phase (median of the runs; the embed stage also writes the vectors file)");
        Console.WriteLine($"ratio BatchEmbedder(bucketed)/bare (the library alone, on the pipeline's session; one pair of adjacent runs, bare #{bares.Count} then bucketed #1): " +
                          $"{bares[^1].Probe.Seconds / bucketeds[0].Probe.Seconds:0.000} wall");
        Console.WriteLine($"ratio bucketing/naive (tokens/s bucketed / tokens/s naive, higher is better): {Measure.Median(bucketWall):0.000} wall, {runs}" +
                          $"{(naives.Count > 1 ? $" ({List(bucketWall)})" : "")}; CPU {Measure.Median(bucketCpu):0.000}");
        Console.WriteLine($"  padding (padded − attended) / attended: bucketed {Padding(plan.PaddedTokens, attended):P1} in {plan.Batches.Count} calls, " +
                          $"naive {Padding(naivePlan.PaddedTokens, attended):P1} in {naivePlan.Batches.Count} calls ({plan.PaddedTokens:N0} vs {naivePlan.PaddedTokens:N0} " +
                          $"padded tokens for {attended:N0} attended: naive runs {(double)naivePlan.PaddedTokens / plan.PaddedTokens:0.00}× the positions)");
        if (ratio < Goal)
            Console.WriteLine($"BELOW GOAL: pipeline/bare (wall) ratio {ratio:0.000} < {Goal:0.00} (paired runs {wall.Min():0.000}–{wall.Max():0.000}; " +
                              "on a busy machine more pairs narrow it: --repeat N)");

        // Correctness, after the clocks: the same work and the same vectors on every side.
        foreach (var (p, i) in pipelines.Select((p, i) => (p, i)))
        {
            var label = pipelines.Count == 1 ? "pipeline" : $"pipeline #{i + 1}";
            if (p.Reused > 0) failures.Add($"{label}: {p.Reused} tasks were reused from an earlier run: the timing is not of a fresh job");
            if ((long)p.Embed.Metric("tokens") != attended || (long)p.Embed.Metric("padded_tokens") != plan.PaddedTokens)
                failures.Add($"{label} embedded {p.Embed.Metric("tokens"):N0} attended / {p.Embed.Metric("padded_tokens"):N0} padded tokens; " +
                             $"the bare loop's plan has {attended:N0} / {plan.PaddedTokens:N0}: not the same batches");
            if (p.Kept != work.Documents) failures.Add($"{label} kept {p.Kept:N0} of {work.Documents:N0} documents");
            if (p.Embed.Metric("provider_cuda") != 0 && setup.Model.Embedder.ActiveProvider == ActiveExecutionProvider.Cpu)
                failures.Add($"{label} reports the CUDA provider");
        }
        var checks = new List<string>();
        void Compare(string name, Func<int, ReadOnlySpan<float>> vectorOf)
        {
            var worst = 1.0;
            var worstDoc = -1;
            for (var d = 0; d < work.Documents; d++)
            {
                var cosine = Cosine(bares[0].Vectors.AsSpan(d * dims, dims), vectorOf(d));
                if (cosine < worst || double.IsNaN(cosine)) (worst, worstDoc) = (cosine, d);
            }
            checks.Add($"{name} {worst:0.0000000}");
            if (!(worst >= MinCosine)) failures.Add($"{name}: document {work.Ids[worstDoc]} has cosine {worst:0.000000} to the bare loop's vector (< {MinCosine})");
        }
        var pipelineVectors = pipelines[0].Vectors;
        foreach (var id in work.Ids.Where(id => !pipelineVectors.ContainsKey(id)).Take(3))
            failures.Add($"pipeline: no embedding for document {id}");
        Compare("pipeline", d => pipelineVectors.TryGetValue(work.Ids[d], out var v) ? v : new float[dims]);
        Compare("bucketed", d => bucketeds[0].Vectors.AsSpan(d * dims, dims));
        Compare("naive", d => naives[0].Vectors.AsSpan(d * dims, dims));
        if (naives[0].Plan.AttendedTokens != attended) failures.Add($"naive plan attends {naives[0].Plan.AttendedTokens:N0} tokens, bucketed {attended:N0}");
        if (failures.Count == 0)
            Console.WriteLine($"check: the pipeline embedded the same {attended:N0} tokens in the same padded batches ({plan.PaddedTokens:N0}) as the bare loop; " +
                              $"lowest cosine to the bare loop's vectors: {string.Join(", ", checks)}: OK");
        return failures;
    }

    private static string Describe(EmbeddingPlan plan)
    {
        var rows = plan.Batches.Select(b => b.Count).ToArray();
        var widths = plan.Batches.Select(b => b.PaddedLength).ToArray();
        return $"{plan.Batches.Count:N0} calls, {rows.Min()}–{rows.Max()} rows × {widths.Min()}–{widths.Max()} positions, " +
               $"{plan.PaddedTokens:N0} padded tokens, padding {Padding(plan.PaddedTokens, plan.AttendedTokens):P1} of attended";
    }

    private static double Padding(long padded, long attended) => attended == 0 ? 0 : (double)(padded - attended) / attended;

    private static double Cosine(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        double dot = 0, na = 0, nb = 0;
        for (var i = 0; i < a.Length; i++)
        {
            dot += (double)a[i] * b[i];
            na += (double)a[i] * a[i];
            nb += (double)b[i] * b[i];
        }
        return dot / Math.Sqrt(na * nb);
    }

    private sealed record PhaseRun(string Name, int Tasks, double WallSeconds, double CpuSeconds, long Allocated, long DocumentsIn,
        IReadOnlyDictionary<string, double> Metrics)
    {
        public double Metric(string name) => Metrics.GetValueOrDefault(name);
    }

    private sealed record PipelineRun(double Seconds, double CpuSeconds, long Allocated, IReadOnlyList<PhaseRun> Phases, PhaseRun Embed,
        long Kept, int Reused, Dictionary<string, float[]> Vectors);

    private static JobSpec SpecFor(EmbedWorkload work) => new()
    {
        Name = $"bench-embed-{work.Name}",
        Inputs = [new InputSpec { Path = work.Folder + "/*.jsonl", Format = InputFormat.Jsonl, IdField = "id" }],
        // One shard whatever the size: the stage then plans the whole input at once, as the bare loop does.
        Sharding = new ShardingSpec { TargetShardBytes = 1L << 40 },
        Stages = [new TokenizeStageSpec(), new EmbedStageSpec()],
        Output = new OutputSpec { Path = $"curated/bench-embed-{work.Name}" },
    };

    /// <summary>The job as the coordinator runs it: plan, then every phase in order, its tasks in parallel; each phase timed.</summary>
    private static async Task<PipelineRun> RunPipelineAsync(EmbedWorkload work, string dataDir, StageServices services, int threads)
    {
        var process = Process.GetCurrentProcess();
        var cpuStart = process.TotalProcessorTime;
        var allocatedStart = GC.GetTotalAllocatedBytes(precise: true);
        var total = Stopwatch.StartNew();
        var stores = CurationStoreServiceCollectionExtensions.CreateResolver(new CurationStoreOptions { RootPath = dataDir });
        var job = await JobContext.CreateOrLoadAsync(SpecFor(work), stores);
        var phases = new List<PhaseRun>
        {
            new("plan", 1, total.Elapsed.TotalSeconds, (Process.GetCurrentProcess().TotalProcessorTime - cpuStart).TotalSeconds,
                GC.GetTotalAllocatedBytes(precise: true) - allocatedStart, 0, new Dictionary<string, double>()),
        };
        var reused = 0;
        foreach (var (stage, phase) in job.Phases())
        {
            var cpu = Process.GetCurrentProcess().TotalProcessorTime;
            var allocated = GC.GetTotalAllocatedBytes(precise: true);
            var clock = Stopwatch.StartNew();
            var stats = new TaskStats[phase.TaskCount];
            await Parallel.ForEachAsync(Enumerable.Range(0, phase.TaskCount), new ParallelOptions { MaxDegreeOfParallelism = threads },
                async (task, ct) => stats[task] = await JobExecutor.RunTaskAsync(job, stage.Index, phase.Name, task, services, ct));
            var wall = clock.Elapsed.TotalSeconds;
            reused += stats.Count(s => s.Reused);
            var metrics = stats.SelectMany(s => s.Metrics).GroupBy(m => m.Key).ToDictionary(g => g.Key, g => g.Sum(m => m.Value));
            phases.Add(new PhaseRun($"{stage.Folder}/{phase.Name}", phase.TaskCount, wall, (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalSeconds,
                GC.GetTotalAllocatedBytes(precise: true) - allocated, stats.Sum(s => s.In), metrics));
        }
        var seconds = total.Elapsed.TotalSeconds;
        var cpuSeconds = (Process.GetCurrentProcess().TotalProcessorTime - cpuStart).TotalSeconds;
        var allocatedTotal = GC.GetTotalAllocatedBytes(precise: true) - allocatedStart;

        // After the clock: the manifest's count and the embeddings the stage wrote.
        var (manifest, _) = await job.Output.TryReadJsonAsync<Manifest>(job.OutputLocation.KeyOf(Manifest.FileName));
        if (manifest is null) throw new InvalidOperationException("the job finished without a manifest");
        var embedStage = job.Stages.Single(s => s is EmbedStage);
        var embed = phases.Single(p => p.Name.EndsWith("/" + EmbedStage.EmbedPhase, StringComparison.Ordinal) && p.Name.Contains(EmbedStageSpec.TypeName, StringComparison.Ordinal));
        var vectors = new Dictionary<string, float[]>(StringComparer.Ordinal);
        for (var shard = 0; shard < job.Plan.ShardCount; shard++)
        {
            await using var stream = await job.Data.OpenReadAsync(job.Layout.ShardEmbeddings(embedStage.Index, embedStage.Name, shard));
            var (ids, matrix, dims) = await EmbeddingFile.ReadAllAsync(stream);
            for (var i = 0; i < ids.Count; i++) vectors[ids[i]] = matrix.AsSpan(i * dims, dims).ToArray();
        }
        return new PipelineRun(seconds, cpuSeconds, allocatedTotal, phases, embed, manifest.Accounting.Kept, reused, vectors);
    }
}
