using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using Curation.Pipelines.Embedding;
using Curation.Pipelines.Embedding.Static;

namespace Curation.Bench;

/// <summary>
/// The part of <c>static-fit</c> that decides what may ship: the static table fitted (<see cref="StaticFit"/>) on the
/// repository's training text only (<see cref="StaticTrainingText"/>: the demo corpus, which every machine has) and
/// scored on held-out real corpora disjoint from it: the Debian documentation paragraphs with every package the training
/// text quotes left out and every paragraph equal (case-folded) to a training text left out, and the man-page paragraphs
/// with every paragraph equal to a training text left out. The demo corpus is the training text here, so it is not scored.
/// Each base table (v2, the shipped v3 table before its fit; the best unfitted variant of <c>static-recipes</c>) is scored
/// unfitted, then fitted with several λ and output widths; the fit the store ships (v2, λ <see cref="StaticFit.Lambda"/>,
/// 256 dims) says so when its bytes equal the shipped table's.
/// </summary>
internal static class StaticFitHeldOut
{
    private static readonly (double Lambda, int? Output)[] Fits = [(0.01, null), (0.1, null), (1.0, null), (0.01, 256), (0.1, 256), (0.01, 128)];

    public static void Run(BenchOptions options, List<StaticRecipesBenchmark.Corpus> corpora, WordPieceTokenizer tokenizer, StaticModel unfitted,
        StaticModel shipped, Func<OnnxEmbedder> createEmbedder, string modelSha, int truthDims)
    {
        var training = StaticTrainingText.Documents;
        var trainingTexts = training.Select(d => d.Text.ToLowerInvariant()).ToHashSet(StringComparer.Ordinal);
        var packages = StaticTrainingText.DebianPackages();
        var heldOut = new List<StaticRecipesBenchmark.Corpus>();
        foreach (var corpus in corpora.Where(c => c.Name != "demo"))
        {
            bool Disjoint(int i) => !trainingTexts.Contains(corpus.Texts[i].ToLowerInvariant()) &&
                                    (corpus.Ids is null || !packages.Contains(corpus.Ids[i].Split('/')[0]));
            var subset = corpus.Subset(Disjoint, truthDims);
            Console.WriteLine($"held-out {corpus.Name}: {subset.Texts.Count:N0} of {corpus.Texts.Count:N0} documents disjoint from the training text " +
                              $"({(corpus.Ids is null ? "no equal text" : $"no equal text, none of its {packages.Count} Debian packages")})");
            heldOut.Add(subset);
        }

        var tokens = training.Select(d => (ReadOnlyMemory<int>)tokenizer.Tokenize(d.Text)).ToArray();
        var key = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(modelSha + "\n" + string.Join("\u0001", training.Select(d => d.Text)))))[..16];
        var targetsPath = Path.Combine(Path.GetTempPath(), $"curation-fit-targets-{key}.bin");
        float[] targets;
        if (File.Exists(targetsPath)) targets = StaticRecipesBenchmark.ReadFloats(targetsPath);
        else
        {
            var clock = Stopwatch.StartNew();
            using (var embedder = createEmbedder()) targets = StaticFit.Targets(embedder, tokens, null, default);
            Console.WriteLine($"transformer pass over the training text: {training.Count:N0} documents, {tokens.Sum(t => t.Length):N0} word pieces, " +
                              $"{clock.Elapsed.TotalSeconds:0.0} s ({Machine.Load()})");
            StaticRecipesBenchmark.WriteFloats(targetsPath, targets);
        }
        Console.WriteLine($"training text: {training.Count:N0} documents of the demo corpus (StaticTrainingText), targets cached at {targetsPath}");

        if (options.Variants is { } four && four.Contains(4))
        {
            var (sentenceTokens, sentenceTargets) = CachedSentences(tokenizer, modelSha, truthDims);
            StaticFitReference.Run(options, heldOut, tokenizer, unfitted, shipped, createEmbedder, modelSha, tokens, targets, truthDims, sentenceTargets, sentenceTokens);
            return;
        }

        if (options.Variants is { } tokenLevel && (tokenLevel.Contains(5) || tokenLevel.Contains(6) || tokenLevel.Contains(7)))
        {
            StaticTokenFitHeldOut.Run(options, heldOut, tokenizer, unfitted, shipped, createEmbedder, modelSha, tokens, targets, truthDims);
            return;
        }

        if (options.Variants is { } picked && (picked.Contains(2) || picked.Contains(3)))
        {
            RunSamples(options, heldOut, tokenizer, unfitted, shipped, createEmbedder, modelSha, tokens, targets, truthDims, picked.Contains(3) ? 2 : 1);
            return;
        }

        var bases = new List<(string Name, Func<StaticModel> Build)>
        {
            ("v2 (mean of [CLS] t [SEP], 256, Zipf SIF, sqrt(tf)): the shipped v3 table before its fit", () => unfitted),
            ("token state, 128, first PC removed", () => TokenState128(createEmbedder, modelSha, unfitted.VocabularySize)),
        };
        foreach (var (name, build) in bases)
        {
            var table = build();
            Console.WriteLine();
            Console.WriteLine($"=== base: {name} === {Machine.Load()}");
            Report("no fit", table, heldOut, tokens, targets, truthDims, options.Threads);
            foreach (var (lambda, output) in Fits)
            {
                var clock = Stopwatch.StartNew();
                var fitted = StaticFit.Fit(table, tokens, targets, truthDims, lambda, output ?? truthDims);
                var seconds = clock.Elapsed.TotalSeconds;
                using (var sink = Stream.Null) fitted.Write(sink);
                var isShipped = fitted.Sha256 == shipped.Sha256 ? "; byte for byte the shipped v3 table (StaticModelStore)" : "";
                Report(FormattableString.Invariant($"ridge λ {lambda}, {fitted.Dimensions} dims (fit {seconds:0.0} s, SHA-256 {fitted.Sha256![..16]}{isShipped})"),
                    fitted, heldOut, tokens, targets, truthDims, options.Threads);
            }
        }
    }

    /// <summary>
    /// Idea 1 of issue 17: the training documents plus their sentences (and runs of up to <paramref name="maxRun"/> adjacent
    /// sentences, <see cref="StaticTrainingSamples"/>) as training rows, each embedded alone by the transformer (cached).
    /// </summary>
    private static void RunSamples(BenchOptions options, List<StaticRecipesBenchmark.Corpus> heldOut, WordPieceTokenizer tokenizer, StaticModel unfitted,
        StaticModel shipped, Func<OnnxEmbedder> createEmbedder, string modelSha, ReadOnlyMemory<int>[] docTokens, float[] docTargets, int truthDims, int maxRun)
    {
        int maxPieces;
        using (var probe = createEmbedder()) maxPieces = probe.MaxSequenceLength;
        var cut = docTokens.Count(t => t.Length > maxPieces);
        Console.WriteLine($"training documents longer than {maxPieces} word pieces (the transformer sees only their start): {cut:N0}");
        var (unitTokens, unitTargets, sentences) = UnitTargets(tokenizer, createEmbedder, modelSha, truthDims, maxRun);
        Console.WriteLine();
        Console.WriteLine($"=== base: v2, fitted on the training documents plus their sentence units === {Machine.Load()}");
        Report("no fit", unfitted, heldOut, docTokens, docTargets, truthDims, options.Threads);
        var sets = new List<(string Name, ReadOnlyMemory<int>[] Tokens, float[] Targets)>
        {
            ("documents (v3)", docTokens, docTargets),
            ($"documents cut to the transformer's {maxPieces} pieces", docTokens.Select(t => t.Length > maxPieces ? t[..maxPieces] : t).ToArray(), docTargets),
            ($"documents + {sentences:N0} sentences", [.. docTokens, .. unitTokens[..sentences]], [.. docTargets, .. unitTargets.AsSpan(0, sentences * truthDims)]),
        };
        if (unitTokens.Length > sentences) sets.Add(($"documents + {unitTokens.Length:N0} units (runs of ≤ {maxRun} sentences)", [.. docTokens, .. unitTokens], [.. docTargets, .. unitTargets]));
        if (unitTokens.Length > sentences) sets.Add(($"{unitTokens.Length:N0} units only", unitTokens, unitTargets));
        foreach (var (setName, setTokens, setTargets) in sets)
            foreach (var lambda in new[] { 0.001, 0.01, 0.1 })
            {
                if (setName.StartsWith("documents (", StringComparison.Ordinal) && lambda != StaticFit.Lambda) continue;
                var clock = Stopwatch.StartNew();
                var fitted = StaticFit.Fit(unfitted, setTokens, setTargets, truthDims, lambda, truthDims);
                Report(FormattableString.Invariant($"{setName}: ridge λ {lambda}, {fitted.Dimensions} dims (fit {clock.Elapsed.TotalSeconds:0.0} s)"),
                    fitted, heldOut, docTokens, docTargets, truthDims, options.Threads);
            }
    }

    /// <summary>
    /// The sentence units of the training text (<see cref="StaticTrainingSamples"/>, runs of up to <paramref name="maxRun"/>
    /// sentences), their word pieces and the transformer's vectors of them (cached under the temp folder by content hash);
    /// <c>Sentences</c>: how many of them are single sentences (they come first).
    /// </summary>
    internal static (ReadOnlyMemory<int>[] Tokens, float[] Targets, int Sentences) UnitTargets(WordPieceTokenizer tokenizer, Func<OnnxEmbedder> createEmbedder,
        string modelSha, int truthDims, int maxRun)
    {
        var texts = StaticTrainingText.Documents.Select(d => d.Text).ToList();
        var units = StaticTrainingSamples.Units(texts, t => tokenizer.Tokenize(t).Length, maxRun);
        var sentences = StaticTrainingSamples.Units(texts, t => tokenizer.Tokenize(t).Length, 1).Count;
        var unitTokens = units.Select(u => (ReadOnlyMemory<int>)tokenizer.Tokenize(u)).ToArray();
        Console.WriteLine($"samples (runs of up to {maxRun} sentences): {units.Count:N0} units ({sentences:N0} sentences), {unitTokens.Sum(t => t.Length):N0} word pieces");
        var unitTargets = new float[units.Count * truthDims];
        var done = 0;
        foreach (var count in new[] { sentences, units.Count }.Distinct())
        {
            var part = unitTokens[done..count];
            var key = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(modelSha + "\n" + string.Join("\u0001", units.Take(count).Skip(done)))))[..16];
            var path = Path.Combine(Path.GetTempPath(), $"curation-fit-targets-{key}.bin");
            float[] partTargets;
            if (File.Exists(path)) partTargets = StaticRecipesBenchmark.ReadFloats(path);
            else
            {
                var clock = Stopwatch.StartNew();
                using (var embedder = createEmbedder()) partTargets = StaticFit.Targets(embedder, part, null, default);
                Console.WriteLine($"transformer pass over {part.Length:N0} units ({part.Sum(t => t.Length):N0} word pieces): {clock.Elapsed.TotalSeconds:0.0} s ({Machine.Load()})");
                StaticRecipesBenchmark.WriteFloats(path, partTargets);
            }
            partTargets.CopyTo(unitTargets.AsSpan(done * truthDims));
            Console.WriteLine($"unit targets {done:N0}..{count:N0} cached at {path}");
            done = count;
        }

        return (unitTokens, unitTargets, sentences);
    }

    /// <summary>Round 6's sentences of the training documents with their transformer targets, when a run of variant 2 cached them.</summary>
    private static (ReadOnlyMemory<int>[]? Tokens, float[]? Targets) CachedSentences(WordPieceTokenizer tokenizer, string modelSha, int truthDims)
    {
        var texts = StaticTrainingText.Documents.Select(d => d.Text).ToList();
        var sentences = StaticTrainingSamples.Units(texts, t => tokenizer.Tokenize(t).Length, 1);
        var key = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(modelSha + "\n" + string.Join("\u0001", sentences))))[..16];
        var path = Path.Combine(Path.GetTempPath(), $"curation-fit-targets-{key}.bin");
        if (!File.Exists(path)) return (null, null);
        var targets = StaticRecipesBenchmark.ReadFloats(path);
        if (targets.Length != sentences.Count * truthDims) return (null, null);
        return (sentences.Select(u => (ReadOnlyMemory<int>)tokenizer.Tokenize(u)).ToArray(), targets);
    }

    private static StaticModel TokenState128(Func<OnnxEmbedder> createEmbedder, string modelSha, int vocabulary)
    {
        var path = Path.Combine(Path.GetTempPath(), $"curation-static-pooled-token-{modelSha[..16]}.bin");
        float[] rows;
        if (File.Exists(path)) rows = StaticRecipesBenchmark.ReadFloats(path);
        else
        {
            rows = StaticTokenPooling.Distill(createEmbedder, vocabulary).TokenOnly;
            StaticRecipesBenchmark.WriteFloats(path, rows);
        }
        return StaticModelStore.Finish(rows, rows.Length / vocabulary, vocabulary, new StaticDistillSettings(128, SkipComponents: 1), out _);
    }

    internal static void Report(string name, StaticModel model, List<StaticRecipesBenchmark.Corpus> heldOut, ReadOnlyMemory<int>[] trainTokens,
        float[] targets, int truthDims, int threads)
    {
        var trainVectors = new float[trainTokens.Length * model.Dimensions];
        model.EmbedMany(trainTokens, trainVectors, new bool[trainTokens.Length], threads);
        var fitted = model.Dimensions == truthDims ? StaticFitBenchmark.MeanCosine(trainVectors, targets, truthDims) : double.NaN;
        var line = new StringBuilder(FormattableString.Invariant($"-- {name}: mean cos(static, transformer) training {fitted:0.000}"));
        var vectors = heldOut.Select(c =>
        {
            var v = new float[c.Texts.Count * model.Dimensions];
            model.EmbedMany(c.Tokens, v, new bool[c.Texts.Count], threads);
            if (model.Dimensions == truthDims) line.Append(FormattableString.Invariant($", {c.Name} {StaticFitBenchmark.MeanCosine(v, c.Truth, truthDims):0.000}"));
            return v;
        }).ToList();
        Console.WriteLine(line.ToString());
        for (var i = 0; i < heldOut.Count; i++) StaticRecipesBenchmark.Evaluate(heldOut[i], vectors[i], model.Dimensions, truthDims, examples: false);
    }
}
