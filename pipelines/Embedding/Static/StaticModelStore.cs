using System.Diagnostics;
using Microsoft.Extensions.Logging;

namespace Curation.Pipelines.Embedding.Static;

/// <summary>
/// Builds a <see cref="StaticModel"/> from a transformer once and caches it beside the extracted model, like the model
/// itself: written to a temporary file, moved into place with a <c>.sha256</c> file beside it, and verified against
/// that hash whenever a process loads it (a damaged file is rebuilt). Nothing is downloaded.
/// <para>
/// Determinism: the distilled rows are rounded to float16 precision before the PCA, and the PCA and weighting are done
/// in double precision in a fixed order (<see cref="Pca"/>), so the table is byte-identical wherever ONNX Runtime's
/// kernels agree to within that rounding: machines of one <see cref="OnnxKernelFamily"/> do, an AVX2 and an AVX-512
/// machine do not. A process on the same machine (every silo of a TestingHost cluster, every silo process of one host)
/// shares the one cached file. For the shipped model the SHA-256 measured on a reference machine of each family is
/// recorded (<see cref="KnownSha256"/>): a machine that distils other bytes says so in its log.
/// </para>
/// </summary>
public static class StaticModelStore
{
    /// <summary>
    /// Bump when the recipe changes: the cached file's name carries it. v2: the same table bytes as v1, documents pooled
    /// with √tf (<see cref="StaticPooling.SqrtTf"/>), so a job never mixes vectors of the two recipes. v3: the distilled
    /// table fitted to the transformer on the training text (<see cref="DistillFitted"/>, <see cref="StaticFit"/>); the
    /// input-mean table's bytes are unchanged (only its name moves with the version).
    /// </summary>
    public const int RecipeVersion = 3;

    /// <summary>Model2Vec's SIF coefficient.</summary>
    public const double SifCoefficient = 1e-4;

    private const int DistillBatch = 1024;

    private static readonly SemaphoreSlim Gate = new(1, 1);

    /// <summary>
    /// SHA-256 of the tables this recipe gives for the shipped model, by file name and <see cref="OnnxKernelFamily"/>, as
    /// distilled on a reference machine of each family; a null family: any (the input-mean table is read from the model
    /// file, no kernel computes it).
    /// </summary>
    private static readonly Dictionary<(string Name, string? Family), string> Known = new()
    {
        [("static-v3-4a64cee3d4134bbd-distilled-256.bin", OnnxKernelFamily.Avx512)] = "4f3a1536a1629732058e0aa879d284791741bb2d3d78f03ddf7cc07040607154",
        [("static-v3-4a64cee3d4134bbd-distilled-256.bin", OnnxKernelFamily.Avx2)] = "1833b93766a507a8f9282b90cde4a37188a9086387f7720696cff4f6cab8ec6b",
        [("static-v3-4a64cee3d4134bbd-input-mean.bin", null)] = "2cfbb8be4b6d559d1604ef4627c81b3c2fdfa55d230d7bc4957ea7620ed577e7",
    };

    /// <summary>
    /// The SHA-256 a reference machine of kernel family <paramref name="family"/> distilled for the table named
    /// <paramref name="name"/> (<see cref="FileName"/>), or null when none is recorded.
    /// </summary>
    public static string? KnownSha256(string name, string family) =>
        Known.TryGetValue((name, family), out var sha) ? sha : Known.GetValueOrDefault((name, null));

    /// <summary>The cached table's file name for a model file and recipe.</summary>
    public static string FileName(string modelSha256, StaticRecipe recipe, int dims) =>
        recipe == StaticRecipe.InputMean
            ? $"static-v{RecipeVersion}-{modelSha256[..16]}-input-mean.bin"
            : $"static-v{RecipeVersion}-{modelSha256[..16]}-distilled-{dims}.bin";

    /// <summary>
    /// The cached table for <paramref name="files"/> (building it on first use, which for <see cref="StaticRecipe.Distilled"/>
    /// runs every vocabulary token through the model once).
    /// </summary>
    /// <param name="dims">Output dimensions of the distilled table (ignored by <see cref="StaticRecipe.InputMean"/>).</param>
    /// <param name="cacheDirectory">Folder of the cached tables.</param>
    /// <param name="createEmbedder">Opens the transformer's session when a distillation is needed.</param>
    public static async Task<StaticModel> EnsureAsync(ModelFiles files, StaticRecipe recipe, int dims, string cacheDirectory,
        Func<OnnxEmbedder> createEmbedder, ILogger? logger = null, CancellationToken cancellationToken = default)
    {
        await Gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            return await Task.Run(() => Ensure(files, recipe, dims, cacheDirectory, createEmbedder, logger, cancellationToken), cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            Gate.Release();
        }
    }

    private static StaticModel Ensure(ModelFiles files, StaticRecipe recipe, int dims, string cacheDirectory,
        Func<OnnxEmbedder> createEmbedder, ILogger? logger, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(cacheDirectory);
        var modelSha = ShippedModel.HashFile(files.ModelPath);
        var name = FileName(modelSha, recipe, dims);
        var path = Path.Combine(cacheDirectory, name);
        var hashPath = path + ".sha256";
        if (File.Exists(path) && File.Exists(hashPath))
        {
            var model = StaticModel.Read(path);
            if (model.Sha256 == File.ReadAllText(hashPath).Trim()) return model;
            logger?.LogWarning("Cached static table {Path} does not match its SHA-256; building it again", path);
        }

        var clock = Stopwatch.StartNew();
        var built = recipe == StaticRecipe.InputMean
            ? InputMean(files.ModelPath, WordPieceTokenizer.Load(files.VocabPath).VocabularySize)
            : DistillFitted(createEmbedder, WordPieceTokenizer.Load(files.VocabPath), dims, logger, cancellationToken);
        var temp = Path.Combine(cacheDirectory, $".{name}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20))
            {
                built.Write(stream);
                stream.Flush(flushToDisk: true);
            }
            File.WriteAllText(hashPath, built.Sha256 + "\n");
            File.Move(temp, path, overwrite: true);
        }
        finally
        {
            if (File.Exists(temp)) File.Delete(temp);
        }
        logger?.LogInformation("Built static table {Path} ({Vocabulary} × {Dims}, {Recipe}) in {Seconds:0.0} s, SHA-256 {Sha}",
            path, built.VocabularySize, built.Dimensions, recipe, clock.Elapsed.TotalSeconds, built.Sha256);
        if (KnownSha256(name, OnnxKernelFamily.Current) is { } known && known != built.Sha256)
            logger?.LogWarning("Static table {Path} has SHA-256 {Sha}, a reference machine of kernel family {Family} distilled {Known}: this " +
                               "machine's ONNX Runtime kernels round differently; silos on different CPUs should share one cache folder",
                path, built.Sha256, OnnxKernelFamily.Current, known);
        return built;
    }

    /// <summary>The plain input embedding rows (word_embeddings) of the model.</summary>
    public static StaticModel InputMean(string modelPath, int vocabulary)
    {
        var tensor = OnnxInitializers.FindMatrix(modelPath, vocabulary);
        return new StaticModel(StaticRecipe.InputMean, vocabulary, (int)tensor.Dims[1], tensor.Values);
    }

    /// <summary>
    /// The Model2Vec recipe on <paramref name="vocabulary"/> tokens: each token alone through the model ([CLS] t [SEP],
    /// mean-pooled, normalised), rounded to float16 precision, PCA to <paramref name="dims"/>, rows scaled by SIF weights.
    /// </summary>
    public static StaticModel Distill(Func<OnnxEmbedder> createEmbedder, int vocabulary, int dims, ILogger? logger, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        var (raw, hidden) = DistillTokens(createEmbedder, vocabulary, logger, cancellationToken);
        var model = Finish(raw, hidden, vocabulary, new StaticDistillSettings(dims), out var explained);
        logger?.LogInformation("Distilled {Vocabulary} tokens in {Seconds:0.0} s; PCA {Hidden} → {Dims} keeps {Explained:P1} of the variance",
            vocabulary, clock.Elapsed.TotalSeconds, hidden, dims, explained);
        return model;
    }

    /// <summary>
    /// Recipe v3: <see cref="Distill"/>'s table, then fitted to the transformer (<see cref="StaticFit"/>) on the training text
    /// (<see cref="StaticTrainingText"/>): the transformer embeds those documents once (the one extra cost of the recipe,
    /// logged), a ridge map from the table's document vectors to the transformer's is reduced to <paramref name="dims"/> and
    /// folded into the rows.
    /// </summary>
    public static StaticModel DistillFitted(Func<OnnxEmbedder> createEmbedder, WordPieceTokenizer tokenizer, int dims, ILogger? logger, CancellationToken cancellationToken)
    {
        var table = Distill(createEmbedder, tokenizer.VocabularySize, dims, logger, cancellationToken);
        var clock = Stopwatch.StartNew();
        var training = StaticTrainingText.Documents.Select(d => (ReadOnlyMemory<int>)tokenizer.Tokenize(d.Text)).ToArray();
        float[] targets;
        int targetDims;
        using (var embedder = createEmbedder())
        {
            targets = StaticFit.Targets(embedder, training, logger, cancellationToken);
            targetDims = embedder.Dimensions;
        }
        var embedded = clock.Elapsed.TotalSeconds;
        var fitted = StaticFit.Fit(table, training, targets, targetDims, StaticFit.Lambda, Math.Min(dims, targetDims));
        logger?.LogInformation("Fitted the static table to the transformer on {Documents} training documents: transformer pass {Embedded:0.0} s, fit {Fit:0.0} s",
            training.Length, embedded, clock.Elapsed.TotalSeconds - embedded);
        return fitted;
    }

    /// <summary>
    /// The first half of the recipe: every vocabulary token alone through the model ([CLS] t [SEP], mean-pooled,
    /// normalised), rounded to float16 precision. Row-major [vocabulary × hidden].
    /// </summary>
    public static (float[] Rows, int Hidden) DistillTokens(Func<OnnxEmbedder> createEmbedder, int vocabulary, ILogger? logger, CancellationToken cancellationToken)
    {
        using var embedder = createEmbedder();
        var hidden = embedder.Dimensions;
        var raw = new float[(long)vocabulary * hidden];
        var sequences = new ReadOnlyMemory<int>[DistillBatch];
        var clock = Stopwatch.StartNew();
        for (var start = 0; start < vocabulary; start += DistillBatch)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var count = Math.Min(DistillBatch, vocabulary - start);
            for (var i = 0; i < count; i++) sequences[i] = new[] { start + i };
            embedder.Embed(sequences.AsSpan(0, count), raw.AsSpan(start * hidden, count * hidden));
            if (start / DistillBatch % 8 == 0)
                logger?.LogInformation("Distilling the static table: {Done}/{Total} tokens, {Seconds:0} s", start + count, vocabulary, clock.Elapsed.TotalSeconds);
        }
        for (var i = 0; i < raw.Length; i++) raw[i] = (float)(Half)raw[i];
        return (raw, hidden);
    }

    /// <summary>
    /// Contextual token vectors: the transformer's last-layer state of every token occurrence in <paramref name="reference"/>
    /// (documents cut into windows of at most <paramref name="window"/> tokens, in order), averaged per vocabulary entry
    /// and normalised; entries that never occur keep their row of <paramref name="fallback"/> (<see cref="DistillTokens"/>).
    /// Rounded to float16 precision like the per-token pass. Returns the rows and how many entries occurred.
    /// </summary>
    public static (float[] Rows, int Seen) ContextualTokens(Func<OnnxEmbedder> createEmbedder, float[] fallback, int vocabulary,
        IEnumerable<ReadOnlyMemory<int>> reference, int window, ILogger? logger, CancellationToken cancellationToken)
    {
        using var embedder = createEmbedder();
        var hidden = embedder.Dimensions;
        window = Math.Min(window, embedder.MaxSequenceLength);
        var sums = new double[(long)vocabulary * hidden];
        var counts = new long[vocabulary];
        var batch = new List<ReadOnlyMemory<int>>();
        var pooled = new float[16 * hidden];
        void Flush()
        {
            if (batch.Count == 0) return;
            var windows = batch.ToArray();
            embedder.Embed(windows, pooled, (row, states) =>
            {
                var tokens = windows[row].Span;
                for (var p = 0; p < tokens.Length; p++)
                {
                    var id = tokens[p];
                    counts[id]++;
                    var sum = sums.AsSpan(id * hidden, hidden);
                    var state = states.Slice((p + 1) * hidden, hidden);
                    for (var d = 0; d < hidden; d++) sum[d] += state[d];
                }
            });
            batch.Clear();
        }
        var clock = Stopwatch.StartNew();
        foreach (var document in reference)
        {
            cancellationToken.ThrowIfCancellationRequested();
            for (var start = 0; start < document.Length; start += window)
            {
                batch.Add(document.Slice(start, Math.Min(window, document.Length - start)));
                if (batch.Count == 16) Flush();
            }
        }
        Flush();
        var rows = (float[])fallback.Clone();
        var seen = 0;
        for (var t = 0; t < vocabulary; t++)
        {
            if (counts[t] == 0) continue;
            seen++;
            var row = rows.AsSpan(t * hidden, hidden);
            var sum = sums.AsSpan(t * hidden, hidden);
            double norm = 0;
            for (var d = 0; d < hidden; d++) norm += sum[d] * sum[d];
            norm = Math.Sqrt(norm);
            for (var d = 0; d < hidden; d++) row[d] = (float)(Half)(sum[d] / norm);
        }
        logger?.LogInformation("Contextual token vectors: {Seen} of {Vocabulary} entries occur in the reference corpus ({Seconds:0.0} s)",
            seen, vocabulary, clock.Elapsed.TotalSeconds);
        return (rows, seen);
    }

    /// <summary>
    /// The second half of the recipe on <see cref="DistillTokens"/>' rows: PCA to <see cref="StaticDistillSettings.Dims"/>
    /// (none when <see cref="StaticDistillSettings.NoPca"/>), then each row scaled by its token weight.
    /// </summary>
    public static StaticModel Finish(float[] raw, int hidden, int vocabulary, StaticDistillSettings settings, out double explained)
    {
        var dims = settings.NoPca ? hidden : settings.Dims;
        if (dims > hidden) throw new ArgumentOutOfRangeException(nameof(settings), dims, $"the model has {hidden} dimensions");
        var skip = settings.SkipComponents;
        var pca = settings.NoPca ? null : Pca.Fit(raw, hidden, Math.Min(hidden, dims + skip));
        explained = pca?.ExplainedFraction ?? 1;
        var table = new float[(long)vocabulary * dims];
        var weights = settings.Weights(vocabulary);
        var projected = new float[dims + skip];
        for (var t = 0; t < vocabulary; t++)
        {
            var row = table.AsSpan(t * dims, dims);
            if (pca is null) raw.AsSpan(t * hidden, hidden).CopyTo(row);
            else
            {
                pca.Project(raw.AsSpan(t * hidden, hidden), projected.AsSpan(0, pca.OutputDims));
                projected.AsSpan(skip, dims).CopyTo(row);
            }
            var weight = (float)weights[t];
            for (var d = 0; d < dims; d++) row[d] *= weight;
        }
        return new StaticModel(StaticRecipe.Distilled, vocabulary, dims, table);
    }
}

/// <summary>How a token's weight damps frequent tokens in <see cref="StaticModelStore.Finish"/>.</summary>
public enum StaticWeighting
{
    /// <summary>SIF a / (a + p), p the Zipf-estimated frequency of the token's vocabulary rank: p(rank) = (1/rank) / H.</summary>
    ZipfSif,

    /// <summary>SIF a / (a + p), p the token's relative frequency counted on a reference corpus (add-one smoothed).</summary>
    CountedSif,

    /// <summary>Every token weighs 1.</summary>
    Uniform,
}

/// <summary>The distillation recipe's knobs after the per-token pass (see <see cref="StaticModelStore.Finish"/>).</summary>
/// <param name="Dims">Output dimensions (PCA components kept).</param>
/// <param name="Weighting">Token weights.</param>
/// <param name="SifA">SIF's a.</param>
/// <param name="TokenCounts">Occurrences of each token in a reference corpus, for <see cref="StaticWeighting.CountedSif"/>.</param>
/// <param name="SkipComponents">Leading principal components dropped (the common component of SIF).</param>
/// <param name="NoPca">Rows kept as distilled (all hidden dimensions, not centred).</param>
public sealed record StaticDistillSettings(int Dims, StaticWeighting Weighting = StaticWeighting.ZipfSif, double SifA = StaticModelStore.SifCoefficient,
    long[]? TokenCounts = null, int SkipComponents = 0, bool NoPca = false)
{
    /// <summary>The weight of every token id.</summary>
    public double[] Weights(int vocabulary)
    {
        var weights = new double[vocabulary];
        switch (Weighting)
        {
            case StaticWeighting.Uniform:
                Array.Fill(weights, 1.0);
                break;
            case StaticWeighting.CountedSif:
                var counts = TokenCounts ?? throw new InvalidOperationException("CountedSif needs token counts.");
                double total = vocabulary;
                for (var t = 0; t < vocabulary; t++) total += counts[t];
                for (var t = 0; t < vocabulary; t++) weights[t] = SifA / (SifA + (counts[t] + 1) / total);
                break;
            default:
                double harmonic = 0;
                for (var r = 1; r <= vocabulary; r++) harmonic += 1.0 / r;
                for (var t = 0; t < vocabulary; t++) weights[t] = SifA / (SifA + 1.0 / (t + 1) / harmonic);
                break;
        }
        return weights;
    }
}
