using System.Diagnostics;
using Curation.Pipelines.Embedding;
using Curation.Pipelines.Embedding.Static;
using Curation.Pipelines.Execution;
using Curation.Pipelines.Spec;
using Curation.Pipelines.Stages;

namespace Curation.Bench;

/// <summary>
/// <c>embed --model static</c>: documents per second, text in → normalised vector out (tokenizing included on both
/// sides), of the static tables (<c>static</c>: distilled from the shipped model; <c>input_mean</c>: its input rows)
/// against the transformer itself, on the same documents of the demo corpus and the same threads, in one run.
/// </summary>
public static class StaticEmbedBenchmark
{
    private const double RatioGoal = 200;
    private const double PerCoreGoal = 50_000;

    public static async Task<int> RunAsync(BenchOptions options)
    {
        var threads = options.Threads;
        using var services = StageServices.CreateDefault();
        var clock = Stopwatch.StartNew();
        var transformer = await services.Embedding.GetAsync(new ModelSpec());
        var transformerLoad = clock.Elapsed.TotalSeconds;
        clock.Restart();
        var distilled = await services.Embedding.GetStaticAsync(new ModelSpec { Kind = ModelKind.Static });
        var distilledLoad = clock.Elapsed.TotalSeconds;
        clock.Restart();
        var inputMean = await services.Embedding.GetStaticAsync(new ModelSpec { Kind = ModelKind.InputMean });
        var inputMeanLoad = clock.Elapsed.TotalSeconds;
        Console.WriteLine($"models:   transformer {ShippedModel.ModelName} loaded in {transformerLoad:0.0} s; static table {distilled.Table.Dimensions} dims " +
                          $"(sha256 {distilled.Table.Sha256}) ready in {distilledLoad:0.0} s (distilled on first use into {services.Embedding.StaticTableDirectory}, read from there after); " +
                          $"input_mean {inputMean.Table.Dimensions} dims in {inputMeanLoad:0.0} s: not timed below");

        var corpus = EmbedWorkload.FindDemoCorpus();
        var root = Path.Combine(Path.GetTempPath(), $"curation-bench-static-{Guid.NewGuid():N}");
        try
        {
            var tokenizer = transformer.Tokenizer;
            var subset = EmbedWorkload.FromDemoCorpus(corpus, Path.Combine(root, "subset"), options.EmbedDocs, tokenizer);
            var whole = EmbedWorkload.FromDemoCorpus(corpus, Path.Combine(root, "whole"), int.MaxValue, tokenizer);
            var chars = whole.Texts.Sum(t => (long)t.Length);
            Console.WriteLine($"input:    {subset.Description} for the transformer and every static side; then {whole.Description} ({chars / whole.Documents:N0} characters a document on average) for the static sides");
            Console.WriteLine($"threads:  {threads} for every side (transformer: ONNX Runtime intra-op over {Environment.ProcessorCount} cores, tokenizing on {threads}; static: {threads} tasks); " +
                              "per core = docs/s ÷ threads");

            // Transformer: text → tokens → the embed stage's bucketed batches → vectors. One warm-up pass on every 8th document.
            var embedder = new BatchEmbedder(transformer.Embedder, new EmbedStage(0, new EmbedStageSpec()).BatchOptions);
            double RunTransformer(IReadOnlyList<string> texts)
            {
                var watch = Stopwatch.StartNew();
                var tokens = new ReadOnlyMemory<int>[texts.Count];
                Parallel.For(0, texts.Count, new ParallelOptions { MaxDegreeOfParallelism = threads }, i => tokens[i] = tokenizer.Tokenize(texts[i]));
                embedder.Embed(tokens, new float[texts.Count * embedder.Dimensions]);
                return watch.Elapsed.TotalSeconds;
            }
            RunTransformer(subset.Texts.Where((_, i) => i % 8 == 0).ToList());

            // The product's static path (StaticTextEmbedder: word cache → table), or with uncached: the path before the
            // word cache (the tokenizer's ids array per document, then the table), the in-run reference.
            double RunStatic(LoadedStaticModel table, IReadOnlyList<string> texts, int sideThreads, bool uncached = false)
            {
                var watch = Stopwatch.StartNew();
                var dims = table.Table.Dimensions;
                Parallel.For(0, sideThreads, new ParallelOptions { MaxDegreeOfParallelism = sideThreads }, part =>
                {
                    var row = new float[dims];
                    var buffer = new int[256];
                    for (var i = part; i < texts.Count; i += sideThreads)
                    {
                        if (uncached) table.Table.Embed(table.Tokenizer.Tokenize(texts[i]), row);
                        else table.Text.Embed(texts[i], row, ref buffer);
                    }
                });
                return watch.Elapsed.TotalSeconds;
            }
            // Static sides are timed over enough passes to last ≥ 1 s; the median pass rate is reported.
            double StaticRate(LoadedStaticModel table, IReadOnlyList<string> texts, int sideThreads) => StaticRates(table, texts, sideThreads).Wall;
            // Also by CPU time (the process's user + system seconds over the timed passes): on a busy machine the wall
            // rate falls with the share of the cores the run gets, documents per CPU-second do not.
            (double Wall, double Cpu) StaticRates(LoadedStaticModel table, IReadOnlyList<string> texts, int sideThreads, bool uncached = false)
            {
                RunStatic(table, texts, sideThreads, uncached);
                var rates = new List<double>();
                using var process = Process.GetCurrentProcess();
                var cpuBefore = process.TotalProcessorTime;
                var total = Stopwatch.StartNew();
                while (total.Elapsed.TotalSeconds < 1 || rates.Count < 3)
                    rates.Add(texts.Count / RunStatic(table, texts, sideThreads, uncached));
                process.Refresh();
                return (Measure.Median(rates), (double)texts.Count * rates.Count / (process.TotalProcessorTime - cpuBefore).TotalSeconds);
            }

            var failures = new List<string>();
            // The word cache must not change a single vector: every demo document, cached path vs tokenizer + table.
            // A fresh cache, so its first (cold) pass over the corpus is timed too: every chunk a miss once (the code is
            // warmed first on another cache and the uncached path, so the JIT's first tiers are not what is timed).
            var coldVectors = new float[whole.Documents * distilled.Table.Dimensions];
            var coldBuffer = new int[256];
            void ColdPass(StaticTextEmbedder embedder)
            {
                for (var i = 0; i < whole.Documents; i++)
                    embedder.Embed(whole.Texts[i], coldVectors.AsSpan(i * embedder.Dimensions, embedder.Dimensions), ref coldBuffer);
            }
            for (var warm = 0; warm < 3; warm++)
            {
                ColdPass(new StaticTextEmbedder(new WordPieceCache(distilled.Tokenizer), distilled.Table));
                RunStatic(distilled, whole.Texts, 1, uncached: true);
            }
            var cold = new StaticTextEmbedder(new WordPieceCache(distilled.Tokenizer), distilled.Table);
            Measure.Settle();
            using var self = Process.GetCurrentProcess();
            var coldCpuBefore = self.TotalProcessorTime;
            var coldWatch = Stopwatch.StartNew();
            ColdPass(cold);
            var coldRate = whole.Documents / coldWatch.Elapsed.TotalSeconds;
            self.Refresh();
            var coldCpu = whole.Documents / (self.TotalProcessorTime - coldCpuBefore).TotalSeconds;
            var different = 0;
            var reference = new float[cold.Dimensions];
            for (var i = 0; i < whole.Documents; i++)
            {
                distilled.Table.Embed(distilled.Tokenizer.Tokenize(whole.Texts[i]), reference);
                if (!reference.AsSpan().SequenceEqual(coldVectors.AsSpan(i * cold.Dimensions, cold.Dimensions))) different++;
            }
            Console.WriteLine($"cache:    word cache vs tokenizer + table over all {whole.Documents:N0} demo documents: {(different == 0 ? "every vector bit-identical" : $"{different} vectors DIFFER")}; " +
                              $"first pass with an empty cache {coldRate:N0} docs/s on 1 thread, {coldCpu:N0} per CPU-second ({cold.Words.Count:N0} chunks cached after it)");
            if (different > 0)
            {
                Console.WriteLine($"FAILED: the word cache changed {different} vectors");
                return 1;
            }
            var repeat = options.Repeat ?? 2;
            var transformerRates = new List<double>();
            var staticRates = new List<double>();
            for (var r = 0; r < repeat; r++)
            {
                Measure.Settle();
                staticRates.Add(StaticRate(distilled, subset.Texts, threads));
                Measure.Settle();
                transformerRates.Add(subset.Documents / RunTransformer(subset.Texts));
            }
            staticRates.Add(StaticRate(distilled, subset.Texts, threads));
            var transformerRate = Measure.Median(transformerRates);
            var staticRate = Measure.Median(staticRates);
            var meanRate = StaticRate(inputMean, subset.Texts, threads);
            var ratio = staticRate / transformerRate;
            Console.WriteLine($"subset:   transformer {transformerRate:N1} docs/s (median of {repeat}); static {staticRate:N0} docs/s (median of {staticRates.Count}, runs alternate); " +
                              $"input_mean {meanRate:N0} docs/s");
            Console.WriteLine($"ratio:    static / transformer = {ratio:N0}× (goal ≥ {RatioGoal:N0}×), input_mean / transformer = {meanRate / transformerRate:N0}×");
            if (ratio < RatioGoal) failures.Add($"static/transformer {ratio:N0}× < {RatioGoal}×");

            Measure.Settle();
            var (wholeRate, wholeCpu) = StaticRates(distilled, whole.Texts, threads);
            Measure.Settle();
            var (oneThread, oneThreadCpu) = StaticRates(distilled, whole.Texts, 1);
            Console.WriteLine($"whole:    static over all {whole.Documents:N0} demo documents: {wholeRate:N0} docs/s on {threads} threads = {wholeRate / threads:N0} docs/s per core; " +
                              $"on 1 thread {oneThread:N0} docs/s (goal ≥ {PerCoreGoal:N0} per core); " +
                              $"{chars * oneThread / whole.Documents / Measure.MiB:N1} M characters/s on 1 thread");
            Console.WriteLine($"          by CPU time: {wholeCpu:N0} docs per CPU-second on {threads} threads, {oneThreadCpu:N0} on 1 thread (the whole process's CPU time, GC included); {Machine.Load()}");
            Measure.Settle();
            var (uncachedRate, uncachedCpu) = StaticRates(distilled, whole.Texts, 1, uncached: true);
            Console.WriteLine($"          the same without the word cache (tokenizer + table, the path before it), 1 thread: {uncachedRate:N0} docs/s, {uncachedCpu:N0} per CPU-second: " +
                              $"the cached path is {oneThread / uncachedRate:N2}× by wall, {oneThreadCpu / uncachedCpu:N2}× by CPU time");
            // The two halves apart, one thread, by CPU time: text → ids through the word cache; ids → vector (the table).
            var buffer = new int[256];
            var (tokenizeWall, tokenizeCpu) = PassRates(whole.Documents, () =>
            {
                foreach (var text in whole.Texts) distilled.Text.Words.Tokenize(text, ref buffer);
            });
            var ids = whole.Texts.Select(distilled.Text.Words.Tokenize).ToArray();
            var vector = new float[distilled.Table.Dimensions];
            var (tableWall, tableCpu) = PassRates(whole.Documents, () =>
            {
                foreach (var document in ids) distilled.Table.Embed(document, vector);
            });
            Console.WriteLine($"          apart, 1 thread: tokenizing through the word cache {tokenizeWall:N0} docs/s ({tokenizeCpu:N0} per CPU-second), " +
                              $"the table alone {tableWall:N0} docs/s ({tableCpu:N0} per CPU-second): the table is {tokenizeCpu / (tokenizeCpu + tableCpu):P0} of the static side's CPU time");
            if (Math.Max(oneThread, wholeRate / threads) < PerCoreGoal) failures.Add($"static per core {Math.Max(oneThread, wholeRate / threads):N0} < {PerCoreGoal:N0} docs/s");
            foreach (var failure in failures) Console.WriteLine($"MISSED: {failure}");
            return 0;
        }
        finally
        {
            try { Directory.Delete(root, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }

    /// <summary>Documents per second of one-thread passes (median, passes lasting ≥ 1 s) and per CPU-second over them.</summary>
    private static (double Wall, double Cpu) PassRates(int documents, Action pass)
    {
        pass();
        var rates = new List<double>();
        using var process = Process.GetCurrentProcess();
        var cpuBefore = process.TotalProcessorTime;
        var total = Stopwatch.StartNew();
        while (total.Elapsed.TotalSeconds < 1 || rates.Count < 3)
        {
            var watch = Stopwatch.StartNew();
            pass();
            rates.Add(documents / watch.Elapsed.TotalSeconds);
        }
        process.Refresh();
        return (Measure.Median(rates), (double)documents * rates.Count / (process.TotalProcessorTime - cpuBefore).TotalSeconds);
    }
}
