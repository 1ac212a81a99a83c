using System.Numerics.Tensors;
using System.Security.Cryptography;
using Curation.Pipelines.Embedding;
using Curation.Pipelines.Embedding.Static;
using Curation.Pipelines.Execution;
using Curation.Pipelines.Spec;
using Curation.Pipelines.Stages;

namespace Curation.Bench;

/// <summary>
/// <c>static-fit</c>: the static tier fitted to the transformer (the Tokenlearn recipe of Model2Vec's later paper), measured
/// as <c>static-recipes</c> measures a recipe, on corpora disjoint from the ones it is fitted on. The training targets are
/// the transformer's document vectors of the other corpora (leave one corpus out, and single-corpus folds such as man
/// pages → Debian documentation); a corpus is never fitted and evaluated on. Two fits, both on the v2 table (the shipped v3 table before its fit):
/// (a) <b>ridge</b>: a linear map W (256 → 384, closed form, (XᵀX + λ·tr(XᵀX)/d·I)⁻¹XᵀY) from the static document
/// vector to the transformer's; W is linear and a document vector is a weighted sum of rows, so it folds into the table
/// (every row times W: a 384-wide table, the document cost unchanged); (b) <b>token re-fit</b>: that table's rows then
/// moved so each training document's pooled vector turns towards its transformer vector (gradient of the cosine, a fixed
/// number of passes over the training documents in corpus order, single-threaded: deterministic). Each variant prints
/// the mean cosine static↔transformer on the training and held-out documents, then <c>static-recipes</c>' line.
/// </summary>
public static class StaticFitBenchmark
{
    private static readonly double[] Lambdas = [0.01, 0.1];
    private static readonly int[] Epochs = [2, 6];
    private const double Step = 0.1;

    public static async Task<int> RunAsync(BenchOptions options)
    {
        using var services = StageServices.CreateDefault();
        var transformer = await services.Embedding.GetAsync(new ModelSpec());
        var shippedFitted = (await services.Embedding.GetStaticAsync(new ModelSpec { Kind = ModelKind.Static })).Table;
        var embedder = new BatchEmbedder(transformer.Embedder, new EmbedStage(0, new EmbedStageSpec()).BatchOptions);
        var modelOptions = EmbeddingRuntime.ModelOptionsOf(new ModelSpec(), new EmbeddingRuntimeOptions());
        var files = await ModelFiles.ResolveAsync(modelOptions);
        var modelSha = Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(files.ModelPath)));
        var corpora = StaticRecipesBenchmark.LoadCorpora(options, transformer.Tokenizer, embedder, modelSha);
        var truthDims = embedder.Dimensions;
        modelOptions.Normalize = true;
        OnnxEmbedder CreateEmbedder() => new(files.ModelPath, transformer.Tokenizer.SpecialTokens, modelOptions);
        // The shipped recipe's table before its fit (v2's bytes): the base every fit here starts from.
        var vocabulary = transformer.Tokenizer.VocabularySize;
        var raw = StaticRecipesBenchmark.RawPass(CreateEmbedder, vocabulary, modelSha);
        var shipped = StaticModelStore.Finish(raw, raw.Length / vocabulary, vocabulary, new StaticDistillSettings(shippedFitted.Dimensions), out _);
        if (options.Variants is null || options.Variants.Contains(0) || options.Variants.Contains(4))
            StaticFitHeldOut.Run(options, corpora, transformer.Tokenizer, shipped, shippedFitted, CreateEmbedder, modelSha, truthDims);
        if (options.Variants is { } picked && !picked.Contains(1)) return 0;
        Console.WriteLine();
        Console.WriteLine("=== folds across the bench corpora (the demo corpus quotes Debian paragraphs: not disjoint from debian-docs) ===");
        using (var sink = Stream.Null) shipped.Write(sink);
        Console.WriteLine($"unfitted v2 table {shipped.Sha256} ({shipped.VocabularySize:N0} × {shipped.Dimensions}); ridge λ (relative to tr(XᵀX)/d) {string.Join(", ", Lambdas)}; " +
                          $"re-fit step {Step}, passes {string.Join(", ", Epochs)}");

        var folds = corpora.Select(c => (Train: corpora.Where(o => o != c).ToList(), Eval: c, Full: true)).ToList();
        StaticRecipesBenchmark.Corpus? Named(string name) => corpora.FirstOrDefault(c => c.Name == name);
        foreach (var (train, eval) in new[] { ("man-pages", "debian-docs"), ("man-pages", "demo"), ("debian-docs", "man-pages") })
            if (Named(train) is { } t && Named(eval) is { } e) folds.Add(([t], e, false));

        var baselineShown = new HashSet<string>();
        foreach (var (train, eval, full) in folds)
        {
            Console.WriteLine();
            Console.WriteLine($"=== fit on {string.Join(" + ", train.Select(c => $"{c.Name} ({c.Texts.Count:N0})"))}, evaluate on {eval.Name} ({eval.Texts.Count:N0}) === {Machine.Load()}");
            var trainTokens = train.SelectMany(c => c.Tokens).ToArray();
            var targets = train.SelectMany(c => c.Truth).ToArray();
            if (baselineShown.Add(eval.Name)) Report("v2 (no fit)", shipped, eval, trainTokens, targets, truthDims, options.Threads);
            var x = StaticFit.DocumentVectors(shipped, trainTokens);
            foreach (var lambda in full ? Lambdas : [Lambdas[0]])
            {
                var w = StaticFit.Ridge(x, shipped.Dimensions, targets, truthDims, trainTokens.Length, lambda);
                var mapped = StaticFit.Fold(shipped, w, truthDims);
                Report($"(a) ridge λ {lambda}", mapped, eval, trainTokens, targets, truthDims, options.Threads);
                if (lambda != Lambdas[0]) continue;
                var rows = (float[])mapped.Table.Clone();
                var done = 0;
                foreach (var epochs in full ? Epochs : [Epochs[^1]])
                {
                    for (; done < epochs; done++) Refit(rows, truthDims, trainTokens, targets, Step);
                    Report($"(b) ridge λ {lambda} + token re-fit, {epochs} passes", new StaticModel(StaticRecipe.Distilled, shipped.VocabularySize, truthDims, rows),
                        eval, trainTokens, targets, truthDims, options.Threads);
                }
            }
        }
        return 0;
    }

    private static void Report(string name, StaticModel model, StaticRecipesBenchmark.Corpus eval, ReadOnlyMemory<int>[] trainTokens, float[] targets, int truthDims, int threads)
    {
        var vectors = new float[eval.Texts.Count * model.Dimensions];
        model.EmbedMany(eval.Tokens, vectors, new bool[eval.Texts.Count], threads);
        var trainVectors = new float[trainTokens.Length * model.Dimensions];
        model.EmbedMany(trainTokens, trainVectors, new bool[trainTokens.Length], threads);
        var heldOut = model.Dimensions == truthDims ? MeanCosine(vectors, eval.Truth, truthDims) : double.NaN;
        var fitted = model.Dimensions == truthDims ? MeanCosine(trainVectors, targets, truthDims) : double.NaN;
        Console.WriteLine(FormattableString.Invariant($"-- {name}: mean cos(static, transformer) training {fitted:0.000}, held-out {heldOut:0.000}"));
        StaticRecipesBenchmark.Evaluate(eval, vectors, model.Dimensions, truthDims, examples: false);
    }

    internal static double MeanCosine(float[] a, float[] b, int dims)
    {
        double sum = 0;
        var n = a.Length / dims;
        for (var i = 0; i < n; i++) sum += TensorPrimitives.CosineSimilarity(a.AsSpan(i * dims, dims), b.AsSpan(i * dims, dims));
        return sum / n;
    }

    /// <summary>
    /// One pass of the token re-fit, documents in order, single-threaded: a document's pooled vector u = Σ √tf·row (as
    /// <see cref="StaticPooling.SqrtTf"/>) moves by <paramref name="step"/>·|u| along the part of its target y orthogonal
    /// to u (the cosine's gradient), shared among its rows in proportion to their pooling weight.
    /// </summary>
    public static void Refit(float[] rows, int dims, ReadOnlyMemory<int>[] documents, float[] targets, double step)
    {
        var counts = new Dictionary<int, int>();
        var u = new float[dims];
        var g = new float[dims];
        for (var d = 0; d < documents.Length; d++)
        {
            var tokens = documents[d].Span;
            if (tokens.IsEmpty) continue;
            counts.Clear();
            var order = new List<int>();
            foreach (var t in tokens)
            {
                if (counts.TryGetValue(t, out var c)) counts[t] = c + 1;
                else { counts[t] = 1; order.Add(t); }
            }
            Array.Clear(u);
            double weights = 0;
            foreach (var t in order)
            {
                var c = MathF.Sqrt(counts[t]);
                TensorPrimitives.MultiplyAdd(rows.AsSpan(t * dims, dims), c, u, u);
                weights += counts[t];
            }
            var norm = TensorPrimitives.Norm(u);
            if (norm == 0) continue;
            var y = targets.AsSpan(d * dims, dims);
            var cos = TensorPrimitives.Dot(u, y) / norm;
            // g = y − cos·n (n = u/|u|): the direction that turns u towards y.
            TensorPrimitives.Multiply(u, -cos / norm, g);
            TensorPrimitives.Add(g, y, g);
            var scale = (float)(step * norm / weights);
            foreach (var t in order)
                TensorPrimitives.MultiplyAdd(g, scale * MathF.Sqrt(counts[t]), rows.AsSpan(t * dims, dims), rows.AsSpan(t * dims, dims));
        }
    }
}
