using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using Curation.Pipelines.Embedding;
using Curation.Pipelines.Embedding.Static;
using Curation.Pipelines.Execution;
using Curation.Pipelines.Semantic;
using Curation.Pipelines.Spec;
using Curation.Pipelines.Stages;

namespace Curation.Bench;

/// <summary>
/// <c>static-recipes</c>: variants of the static distillation recipe and of the cascade's candidate rule, each measured
/// on both <c>cascade</c> corpora (demo, Debian documentation paragraphs) against the same transformer truth. The
/// per-token pass of the recipe (<see cref="StaticModelStore.DistillTokens"/>) runs once; every variant finishes it
/// differently (<see cref="StaticModelStore.Finish"/>). Per variant, corpus and setting: static pair recall/precision at
/// the matched removal count (as <c>cascade</c>), and the fraction of documents the cascade must embed with the
/// transformer to reach pair recall 0.97 (precision is 1 by construction), with the candidate rule <c>global</c> (one
/// static cosine threshold, as the stage) and <c>top3</c> (the same threshold, but only on each member's 3 nearest
/// earlier documents). <c>rec@20%</c> (global | top-3 | set: every pair among the documents the global rule embeds,
/// not only those above its threshold): pair recall when the threshold is the lowest that embeds at most 20 % of the
/// documents (a threshold calibrated on the cluster, here the whole corpus, to the transformer budget).
/// Transformer vectors and the per-token pass are cached under the temp folder between runs (keyed by the texts' and
/// the model's SHA-256).
/// </summary>
public static class StaticRecipesBenchmark
{
    private const int TopK = 3;
    private static readonly string[] PoolingNames = ["mean", "token", "cls"];

    /// <param name="Ids">Where each text comes from (the Debian paragraphs' file and paragraph number), when known.</param>
    internal sealed record Corpus(string Name, IReadOnlyList<string> Texts, ReadOnlyMemory<int>[] Tokens, float[] Truth, float[] TruthM,
        List<(string Label, double Eps)> Settings, IReadOnlyList<string>? Ids = null)
    {
        /// <summary>The documents <paramref name="keep"/> selects (in order), with their truth and the four settings measured again on them.</summary>
        public Corpus Subset(Func<int, bool> keep, int dims)
        {
            var kept = Enumerable.Range(0, Texts.Count).Where(keep).ToArray();
            var truth = new float[kept.Length * dims];
            for (var r = 0; r < kept.Length; r++) Truth.AsSpan(kept[r] * dims, dims).CopyTo(truth.AsSpan(r * dims, dims));
            return Create(Name, kept.Select(i => Texts[i]).ToList(), kept.Select(i => Tokens[i]).ToArray(), truth, dims, Ids is null ? null : kept.Select(i => Ids[i]).ToList());
        }

        /// <summary>A corpus with its SemDeDup M values and the four settings (eps 0.01, eps 0.05, keep 0.90, keep 0.95) from its truth.</summary>
        public static Corpus Create(string name, IReadOnlyList<string> texts, ReadOnlyMemory<int>[] tokens, float[] truth, int dims, IReadOnlyList<string>? ids)
        {
            var ranking = Enumerable.Range(0, texts.Count).ToArray();
            var truthM = SemDeDup.ComputeMaxSimilarity(truth, dims, ranking).MaxSimilarity.ToArray();
            var sorted = truthM.OrderDescending().ToArray();
            return new Corpus(name, texts, tokens, truth, truthM,
                [("eps 0.01", 0.01), ("eps 0.05", 0.05), ("keep 0.90", CascadeBenchmark.KeepEps(sorted, 0.90)), ("keep 0.95", CascadeBenchmark.KeepEps(sorted, 0.95))], ids);
        }
    }

    public static async Task<int> RunAsync(BenchOptions options)
    {
        using var services = StageServices.CreateDefault();
        var transformer = await services.Embedding.GetAsync(new ModelSpec());
        var tokenizer = transformer.Tokenizer;
        var shipped = await services.Embedding.GetStaticAsync(new ModelSpec { Kind = ModelKind.Static });
        var embedder = new BatchEmbedder(transformer.Embedder, new EmbedStage(0, new EmbedStageSpec()).BatchOptions);
        var modelOptions = EmbeddingRuntime.ModelOptionsOf(new ModelSpec(), new EmbeddingRuntimeOptions());
        modelOptions.Normalize = true;
        var files = await ModelFiles.ResolveAsync(modelOptions);
        var vocabulary = tokenizer.VocabularySize;
        var modelSha = Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(files.ModelPath)));

        var raw = RawPass(() => new OnnxEmbedder(files.ModelPath, tokenizer.SpecialTokens, modelOptions), vocabulary, modelSha);
        var hidden = raw.Length / vocabulary;

        var corpora = LoadCorpora(options, tokenizer, embedder, modelSha);

        long[] Count(IEnumerable<ReadOnlyMemory<int>> documents)
        {
            var counts = new long[vocabulary];
            foreach (var document in documents) foreach (var t in document.Span) counts[t]++;
            return counts;
        }
        var demoCounts = Count(corpora[0].Tokens);
        var bothCounts = Count(corpora.SelectMany(c => c.Tokens));

        float[] Contextual(string name, IEnumerable<ReadOnlyMemory<int>> reference)
        {
            var path = Path.Combine(Path.GetTempPath(), $"curation-static-contextual-{name}-{modelSha[..16]}.bin");
            if (File.Exists(path)) return ReadFloats(path);
            var (rows, seen) = StaticModelStore.ContextualTokens(() => new OnnxEmbedder(files.ModelPath, tokenizer.SpecialTokens, modelOptions),
                raw, vocabulary, reference, 256, null, default);
            Console.WriteLine($"  contextual token vectors ({name}): {seen:N0} of {vocabulary:N0} entries occur");
            WriteFloats(path, rows);
            return rows;
        }

        StaticTokenPooling.Rows? poolings = null;
        float[] Pooled(Func<StaticTokenPooling.Rows, float[]> pick)
        {
            if (poolings is null)
            {
                var paths = PoolingNames.Select(k => Path.Combine(Path.GetTempPath(), $"curation-static-pooled-{k}-{modelSha[..16]}.bin")).ToArray();
                if (paths.All(File.Exists)) poolings = new StaticTokenPooling.Rows(ReadFloats(paths[0]), ReadFloats(paths[1]), ReadFloats(paths[2]), hidden);
                else
                {
                    poolings = StaticTokenPooling.Distill(() => new OnnxEmbedder(files.ModelPath, tokenizer.SpecialTokens, modelOptions), vocabulary);
                    WriteFloats(paths[0], poolings.Mean);
                    WriteFloats(paths[1], poolings.TokenOnly);
                    WriteFloats(paths[2], poolings.Cls);
                }
                var largest = 0f;
                for (var i = 0; i < raw.Length; i++) largest = Math.Max(largest, Math.Abs(raw[i] - poolings.Mean[i]));
                Console.WriteLine($"  per-token poolings from the states: the mean of [CLS] t [SEP] is the shipped pass within {largest:G3} (largest difference)");
            }
            return pick(poolings);
        }

        var variants = new List<(string Name, Func<StaticModel> Build)>
        {
            ("v2: 256, Zipf SIF a=1e-4, sqrt(tf) pooling (v3's table before its fit)", () => Finish(new StaticDistillSettings(256))),
            ("v1: 256, Zipf SIF a=1e-4, mean pooling", () => Mean(Finish(new StaticDistillSettings(256)))),
            ("384 PCA (rotation), Zipf SIF", () => Finish(new StaticDistillSettings(384))),
            ("384 no PCA (not centred), Zipf SIF", () => Finish(new StaticDistillSettings(384, NoPca: true))),
            ("256, uniform weights", () => Finish(new StaticDistillSettings(256, StaticWeighting.Uniform))),
            ("256, Zipf SIF a=1e-3", () => Finish(new StaticDistillSettings(256, SifA: 1e-3))),
            ("256, Zipf SIF, first PC removed", () => Finish(new StaticDistillSettings(256, SkipComponents: 1))),
            ("256, Zipf SIF, 2 PCs removed", () => Finish(new StaticDistillSettings(256, SkipComponents: 2))),
            ("256, Zipf SIF, demo docs' common component removed", () => RemoveCommonComponent(Finish(new StaticDistillSettings(256)), corpora[0].Tokens)),
            ("256, counted SIF a=1e-4 (demo counts)", () => Finish(new StaticDistillSettings(256, StaticWeighting.CountedSif, 1e-4, demoCounts))),
            ("256, counted SIF a=1e-3 (demo counts)", () => Finish(new StaticDistillSettings(256, StaticWeighting.CountedSif, 1e-3, demoCounts))),
            ("256, counted SIF a=1e-3 (demo counts), first PC removed", () => Finish(new StaticDistillSettings(256, StaticWeighting.CountedSif, 1e-3, demoCounts, 1))),
            ("contextual (demo corpus), 256, Zipf SIF", () => StaticModelStore.Finish(Contextual("demo", corpora[0].Tokens), hidden, vocabulary, new StaticDistillSettings(256), out _)),
            ("contextual (demo corpus), 256, counted SIF a=1e-3", () => StaticModelStore.Finish(Contextual("demo", corpora[0].Tokens), hidden, vocabulary,
                new StaticDistillSettings(256, StaticWeighting.CountedSif, 1e-3, demoCounts), out _)),
            ("ORACLE contextual (both corpora), 256, Zipf SIF", () => StaticModelStore.Finish(Contextual("both", corpora.SelectMany(c => c.Tokens)), hidden, vocabulary,
                new StaticDistillSettings(256), out _)),
            ("256, Zipf SIF, distinct-piece pooling", () => new StaticModel(StaticRecipe.Distilled, vocabulary, 256, Finish(new StaticDistillSettings(256)).Table) { Pooling = StaticPooling.Distinct }),
            ("ORACLE 256, counted SIF a=1e-3 (both corpora's own counts)", () => Finish(new StaticDistillSettings(256, StaticWeighting.CountedSif, 1e-3, bothCounts))),
            // 17–23: other poolings of the per-token pass ([CLS] t [SEP] through the model), then the v2 finish.
            ("token state only ([CLS]/[SEP] states not pooled), 256, Zipf SIF, sqrt(tf)", () => FinishRows(Pooled(p => p.TokenOnly), new StaticDistillSettings(256))),
            ("[CLS] state, 256, Zipf SIF, sqrt(tf)", () => FinishRows(Pooled(p => p.Cls), new StaticDistillSettings(256))),
            ("token state only, 256, token state's first PC removed", () => FinishRows(Pooled(p => p.TokenOnly), new StaticDistillSettings(256, SkipComponents: 1))),
            ("token state only, 128, Zipf SIF, sqrt(tf)", () => FinishRows(Pooled(p => p.TokenOnly), new StaticDistillSettings(128))),
            ("v2 pass (mean of [CLS] t [SEP]), 128, Zipf SIF, sqrt(tf)", () => Finish(new StaticDistillSettings(128))),
            ("token state only, 64, Zipf SIF, sqrt(tf)", () => FinishRows(Pooled(p => p.TokenOnly), new StaticDistillSettings(64))),
            ("token state only, 128, token state's first PC removed", () => FinishRows(Pooled(p => p.TokenOnly), new StaticDistillSettings(128, SkipComponents: 1))),
        };
        // Static features a bag of word pieces misses (O(tokens), deterministic), each on the shipped v2 table (or a narrower
        // one, so the total stays 256 dimensions): see StaticFeatures.
        var features = new List<(string Name, Func<StaticFeatures> Build)>
        {
            ("v2 + runs of one piece collapsed (\"=====\" counts once)", () => new StaticFeatures(Finish(new StaticDistillSettings(256))) { CollapseRuns = true }),
            ("v2 + position-damped weights (1/sqrt(1 + position/256))", () => new StaticFeatures(Finish(new StaticDistillSettings(256))) { PositionScale = 256 }),
            ("224 + 32 hashed bigram dims, share 0.10", () => new StaticFeatures(Finish(new StaticDistillSettings(224))) { BigramDims = 32, BigramShare = 0.10 }),
            ("224 + 32 hashed bigram dims, share 0.25", () => new StaticFeatures(Finish(new StaticDistillSettings(224))) { BigramDims = 32, BigramShare = 0.25 }),
            ("192 + 64 hashed bigram dims, share 0.25", () => new StaticFeatures(Finish(new StaticDistillSettings(192))) { BigramDims = 64, BigramShare = 0.25 }),
            ("192 + 64 hashed bigram dims, share 0.50", () => new StaticFeatures(Finish(new StaticDistillSettings(192))) { BigramDims = 64, BigramShare = 0.50 }),
            ("192 + 64 adjacent-row products (first 64 dims), share 0.25", () => new StaticFeatures(Finish(new StaticDistillSettings(192))) { BigramDims = 64, BigramShare = 0.25, BigramProducts = true }),
            ("192 + 64 hashed bigram dims, share 0.25, runs collapsed", () => new StaticFeatures(Finish(new StaticDistillSettings(192))) { BigramDims = 64, BigramShare = 0.25, CollapseRuns = true }),
        };
        var all = variants.Select(v => (v.Name, Build: (Func<Func<ReadOnlyMemory<int>[], int, (float[] Vectors, int Dims)>>)(() =>
        {
            var table = v.Build();
            if (v.Name.Contains("(v3's table before its fit)", StringComparison.Ordinal))
            {
                using var stream = Stream.Null;
                table.Write(stream);
                Console.WriteLine($"  (the shipped v3 table is this one fitted to the transformer, {shipped.Table.Sha256}: static-fit scores it; this one {table.Sha256})");
            }
            return (tokens, threads) =>
            {
                var vectors = new float[tokens.Length * table.Dimensions];
                table.EmbedMany(tokens, vectors, new bool[tokens.Length], threads);
                return (vectors, table.Dimensions);
            };
        }))).Concat(features.Select(f => (f.Name, Build: (Func<Func<ReadOnlyMemory<int>[], int, (float[] Vectors, int Dims)>>)(() =>
        {
            var model = f.Build();
            return (tokens, threads) => (model.EmbedMany(tokens, threads), model.Dimensions);
        })))).ToList();
        if (options.Variants is { } only) all = all.Where((_, i) => only.Contains(i)).ToList();

        Console.WriteLine("columns: per setting, static pair recall / precision at the transformer's removal count R; cascade = % of documents " +
                          "the transformer embeds for pair recall 0.97 with the global static threshold | with the top-3 rule; rec@20% = pair recall when at most 20 % may be embedded (global | top-3 | set: every pair among the global rule's documents)");
        Console.WriteLine("feasible = documents in at least one truth pair (the fewest any candidate rule must embed for recall 1; above 20 % " +
                          "recall 0.97 within 20 % may be infeasible for ANY rule)");
        foreach (var corpus in corpora)
            Console.WriteLine($"  {corpus.Name,-12}" + string.Concat(corpus.Settings.Select(setting =>
                FormattableString.Invariant($" | {setting.Label}: feasible {FeasibilityBound(corpus.Truth, embedder.Dimensions, corpus.Texts.Count, setting.Eps):P1}"))));
        foreach (var (name, build) in all)
        {
            var embed = build();
            Console.WriteLine($"== {name} ==");
            foreach (var corpus in corpora)
            {
                var (vectors, dims) = embed(corpus.Tokens, options.Threads);
                Evaluate(corpus, vectors, dims, embedder.Dimensions, examples: name == all[0].Name);
            }
        }
        return 0;

        StaticModel Finish(StaticDistillSettings settings) => StaticModelStore.Finish(raw, hidden, vocabulary, settings, out _);
        StaticModel FinishRows(float[] rows, StaticDistillSettings settings) => StaticModelStore.Finish(rows, hidden, vocabulary, settings, out _);
        StaticModel Mean(StaticModel model) => new(model.Recipe, model.VocabularySize, model.Dimensions, model.Table) { Pooling = StaticPooling.Mean };
    }

    /// <summary>
    /// The three corpora (demo, Debian documentation paragraphs, man-page paragraphs when <c>--man-docs</c> &gt; 0) with their
    /// transformer vectors (cached under the temp folder, keyed by the texts' and the model's SHA-256) and the four settings.
    /// </summary>
    internal static List<Corpus> LoadCorpora(BenchOptions options, WordPieceTokenizer tokenizer, BatchEmbedder embedder, string modelSha)
    {
        var demo = EmbedWorkload.FromDemoCorpus(EmbedWorkload.FindDemoCorpus(), Path.Combine(Path.GetTempPath(), $"curation-recipes-{Guid.NewGuid():N}"), int.MaxValue, tokenizer);
        try { Directory.Delete(demo.Folder, recursive: true); } catch (IOException) { }
        var demoTexts = demo.Texts.DistinctBy(t => t.ToLowerInvariant()).ToList();
        var (debIds, debTexts, debFiles) = DebianDocsCorpus.Build(options.CascadeDocs);
        var (manTexts, manFiles) = options.ManDocs > 0 ? ManPagesCorpus.Build(options.ManDocs) : ([], 0);
        var corpora = new List<Corpus>();
        var sources = new List<(string, IReadOnlyList<string>)> { ("demo", demoTexts), ("debian-docs", debTexts) };
        if (manTexts.Count > 1) sources.Add(("man-pages", manTexts));
        foreach (var (name, texts) in sources)
        {
            var tokens = new ReadOnlyMemory<int>[texts.Count];
            Parallel.For(0, texts.Count, i => tokens[i] = tokenizer.Tokenize(texts[i]));
            var truth = CachedTruth(name, texts, tokens, embedder, modelSha, out _);
            corpora.Add(Corpus.Create(name, texts, tokens, truth, embedder.Dimensions, name == "debian-docs" ? debIds : null));
        }
        Console.WriteLine($"corpora: demo {demoTexts.Count:N0} documents, debian-docs {debTexts.Count:N0} paragraphs of {debFiles:N0} files, " +
                          $"man-pages {manTexts.Count:N0} paragraphs of {manFiles:N0} pages; {Machine.Load()}");
        return corpora;
    }

    /// <summary>
    /// The transformer's vectors of <paramref name="texts"/>, cached under the temp folder (keyed by the texts' and the
    /// model's SHA-256) and shared by <c>static-recipes</c>, <c>static-fit</c> and <c>cascade</c>; <paramref name="cached"/>
    /// says whether they came from the cache (then nothing was embedded).
    /// </summary>
    internal static float[] CachedTruth(string name, IReadOnlyList<string> texts, ReadOnlyMemory<int>[] tokens, BatchEmbedder embedder, string modelSha, out bool cached)
    {
        var key = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(modelSha + "\n" + string.Join("\u0001", texts))))[..16];
        var truthPath = Path.Combine(Path.GetTempPath(), $"curation-truth-{name}-{key}.bin");
        cached = File.Exists(truthPath);
        if (cached) return ReadFloats(truthPath);
        var truth = new float[texts.Count * embedder.Dimensions];
        embedder.Embed(tokens, truth);
        WriteFloats(truthPath, truth);
        return truth;
    }

    /// <summary>The fraction of the <paramref name="n"/> documents in at least one pair at transformer cosine ≥ 1 − <paramref name="eps"/>.</summary>
    public static double FeasibilityBound(float[] truth, int dims, int n, double eps)
    {
        var inPair = new bool[n];
        var ranking = Enumerable.Range(0, n).ToArray();
        foreach (var pair in SemanticCascade.FindCandidates(truth, dims, ranking, eps)) inPair[pair.Member] = inPair[pair.Earlier] = true;
        return (double)inPair.Count(x => x) / n;
    }

    internal static void Evaluate(Corpus corpus, float[] vectors, int d, int truthDims, bool examples)
    {
        var n = corpus.Texts.Count;
        var s = Similarities(vectors, d, n);
        var t = Similarities(corpus.Truth, truthDims, n);
        var staticM = new float[n];
        for (var j = 1; j < n; j++) staticM[j] = TensorPrimitives.Max(s.AsSpan(j * n, j));
        var staticSorted = staticM.OrderDescending().ToArray();
        // top-k: each member's k-th highest static cosine to an earlier document.
        var kth = new float[n];
        Parallel.For(0, n, j =>
        {
            if (j < TopK) { kth[j] = -2; return; }
            var row = s.AsSpan(j * n, j).ToArray();
            Array.Sort(row);
            kth[j] = row[j - TopK];
        });
        float Global(int j, int i) => s[j * n + i];
        float TopK3(int j, int i) => s[j * n + i] >= kth[j] ? s[j * n + i] : -2;
        var (globalBudget, topK3Budget) = (BudgetThreshold(n, Global), BudgetThreshold(n, TopK3));
        // "set" rule: the same ≤ 20 % documents as the global rule (each one's highest static cosine to any other reaches
        // the budget threshold), but the transformer decides every pair among them, not only the pairs above the threshold.
        var inSet = new bool[n];
        for (var j = 1; j < n; j++)
            for (var i = 0; i < j; i++)
                if (Global(j, i) >= globalBudget) inSet[j] = inSet[i] = true;
        var line = new StringBuilder($"  {corpus.Name,-12}");
        foreach (var (label, eps) in corpus.Settings)
        {
            var removed = corpus.TruthM.Count(m => SemDeDup.IsDuplicate(m, eps));
            var truthPairs = new List<(int J, int I)>();
            for (var j = 1; j < n; j++)
                for (var i = 0; i < j; i++)
                    if (SemDeDup.IsDuplicate(t[j * n + i], eps)) truthPairs.Add((j, i));
            if (removed == 0 || truthPairs.Count == 0) { line.Append($" | {label}: no truth"); continue; }
            var cut = staticSorted[removed - 1];
            long found = 0, hit = 0;
            for (var j = 1; j < n; j++)
                for (var i = 0; i < j; i++)
                    if (s[j * n + i] >= cut) { found++; if (SemDeDup.IsDuplicate(t[j * n + i], eps)) hit++; }
            if (examples && eps == 0.05) Examples(corpus, truthPairs, cut, Global, (j, i) => t[j * n + i], eps);
            var global = EmbeddedFor(truthPairs, n, Global);
            var topK3 = EmbeddedFor(truthPairs, n, TopK3);
            var globalAt = (double)truthPairs.Count(p => Global(p.J, p.I) >= globalBudget) / truthPairs.Count;
            var setAt = (double)truthPairs.Count(p => inSet[p.J] && inSet[p.I]) / truthPairs.Count;
            var topK3At = (double)truthPairs.Count(p => TopK3(p.J, p.I) >= topK3Budget) / truthPairs.Count;
            line.Append(FormattableString.Invariant($" | {label}: R {(double)removed / n:P1} rec {(double)hit / truthPairs.Count:0.000} prec {(found == 0 ? 1 : (double)hit / found):0.000} casc {global:P1}|{topK3:P1} rec@20% {globalAt:0.000}|{topK3At:0.000}|set {setAt:0.000}"));
        }
        Console.WriteLine(line.ToString());
    }

    /// <summary>A few truth pairs the static cut misses and a few static pairs the transformer rejects, to see what each tier keys on.</summary>
    private static void Examples(Corpus corpus, List<(int J, int I)> truthPairs, float cut, Func<int, int, float> stat, Func<int, int, float> truth, double eps)
    {
        static string Short(string text) => text.Length <= 150 ? text : text[..150] + "…";
        var n = corpus.Texts.Count;
        foreach (var (j, i) in truthPairs.Where(p => stat(p.J, p.I) < cut).Take(4))
            Console.WriteLine(FormattableString.Invariant($"    missed (transformer {truth(j, i):0.000}, static {stat(j, i):0.000} < cut {cut:0.000}): «{Short(corpus.Texts[j])}» ~ «{Short(corpus.Texts[i])}»"));
        var shown = 0;
        for (var j = 1; j < n && shown < 4; j += 7)
            for (var i = 0; i < j && shown < 4; i++)
                if (stat(j, i) >= cut && !SemDeDup.IsDuplicate(truth(j, i), eps))
                {
                    Console.WriteLine(FormattableString.Invariant($"    false (transformer {truth(j, i):0.000}, static {stat(j, i):0.000}): «{Short(corpus.Texts[j])}» ~ «{Short(corpus.Texts[i])}»"));
                    shown++;
                }
    }

    /// <summary>The fraction of documents in the candidate pairs when the threshold on <paramref name="score"/> keeps 97 % of the truth pairs.</summary>
    private static double EmbeddedFor(List<(int J, int I)> truthPairs, int n, Func<int, int, float> score)
    {
        var scores = truthPairs.Select(p => score(p.J, p.I)).OrderDescending().ToArray();
        var threshold = scores[(int)Math.Ceiling(0.97 * scores.Length) - 1];
        var embedded = new bool[n];
        for (var j = 1; j < n; j++)
            for (var i = 0; i < j; i++)
                if (score(j, i) >= threshold) embedded[j] = embedded[i] = true;
        return (double)embedded.Count(e => e) / n;
    }

    /// <summary>The lowest threshold on <paramref name="score"/> whose candidate pairs embed at most 20 % of the documents.</summary>
    private static float BudgetThreshold(int n, Func<int, int, float> score)
    {
        int Embedded(float threshold)
        {
            var embedded = new bool[n];
            for (var j = 1; j < n; j++)
                for (var i = 0; i < j; i++)
                    if (score(j, i) >= threshold) embedded[j] = embedded[i] = true;
            return embedded.Count(e => e);
        }
        double low = -2, high = 2; // scores lie in [-2, 2]: high always within budget
        for (var step = 0; step < 24; step++)
        {
            var middle = (low + high) / 2;
            if (Embedded((float)middle) <= 0.2 * n) high = middle; else low = middle;
        }
        return (float)high;
    }

    /// <summary>Row-major n × n cosines (lower triangle filled).</summary>
    private static float[] Similarities(float[] vectors, int dims, int n)
    {
        var matrix = new float[(long)n * n];
        Parallel.For(0, n, j =>
        {
            var member = vectors.AsSpan(j * dims, dims);
            for (var i = 0; i < j; i++) matrix[(long)j * n + i] = TensorPrimitives.Dot(member, vectors.AsSpan(i * dims, dims));
        });
        return matrix;
    }

    /// <summary>
    /// SIF's common-component removal, folded into the table: the first (uncentred) singular vector u of the reference
    /// documents' vectors, projected out of every row (a document's mean then has no component along u).
    /// </summary>
    public static StaticModel RemoveCommonComponent(StaticModel table, ReadOnlyMemory<int>[] reference)
    {
        var d = table.Dimensions;
        var docs = new float[reference.Length * d];
        table.EmbedMany(reference, docs, new bool[reference.Length]);
        var u = new double[d];
        Array.Fill(u, 1.0 / Math.Sqrt(d));
        for (var iteration = 0; iteration < 100; iteration++)
        {
            var next = new double[d];
            for (var r = 0; r < reference.Length; r++)
            {
                double dot = 0;
                for (var k = 0; k < d; k++) dot += docs[r * d + k] * u[k];
                for (var k = 0; k < d; k++) next[k] += dot * docs[r * d + k];
            }
            var norm = Math.Sqrt(next.Sum(x => x * x));
            for (var k = 0; k < d; k++) u[k] = next[k] / norm;
        }
        var rows = (float[])table.Table.Clone();
        for (var t = 0; t < table.VocabularySize; t++)
        {
            var row = rows.AsSpan(t * d, d);
            double dot = 0;
            for (var k = 0; k < d; k++) dot += row[k] * u[k];
            for (var k = 0; k < d; k++) row[k] -= (float)(dot * u[k]);
        }
        return new StaticModel(table.Recipe, table.VocabularySize, d, rows);
    }

    /// <summary>The distillation's per-token pass (<see cref="StaticModelStore.DistillTokens"/>), cached under the temp folder by the model's SHA-256.</summary>
    internal static float[] RawPass(Func<OnnxEmbedder> createEmbedder, int vocabulary, string modelSha)
    {
        var rawPath = Path.Combine(Path.GetTempPath(), $"curation-static-raw-{modelSha[..16]}.bin");
        if (File.Exists(rawPath)) return ReadFloats(rawPath);
        var (raw, _) = StaticModelStore.DistillTokens(createEmbedder, vocabulary, null, default);
        WriteFloats(rawPath, raw);
        return raw;
    }

    internal static float[] ReadFloats(string path) => MemoryMarshal.Cast<byte, float>(File.ReadAllBytes(path)).ToArray();

    internal static void WriteFloats(string path, float[] values)
    {
        var temp = path + $".{Environment.ProcessId}.tmp";
        File.WriteAllBytes(temp, MemoryMarshal.AsBytes(values.AsSpan()).ToArray());
        File.Move(temp, path, overwrite: true);
    }
}
