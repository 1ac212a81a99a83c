using System.Collections.Concurrent;
using Curation.Pipelines.Embedding.Static;
using Curation.Pipelines.Spec;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Curation.Pipelines.Embedding;

/// <summary>
/// Configuration section <c>Curation:Embedding</c>: how this process runs models. Where a model runs changes nothing
/// in a job's output beyond float rounding, so it is machine configuration, not part of the job spec.
/// </summary>
public sealed class EmbeddingRuntimeOptions
{
    public const string Section = "Curation:Embedding";

    public ExecutionProviderPreference Provider { get; set; } = ExecutionProviderPreference.Auto;
    public int DeviceId { get; set; }

    /// <summary>Threads of one CPU inference; 0 = every core.</summary>
    public int IntraOpThreads { get; set; }

    /// <summary>Inferences running at once on the one session of this process (per device).</summary>
    public int MaxConcurrentInferences { get; set; } = 1;

    /// <summary>Where the shipped model is extracted; null = ~/.cache/curation/models/….</summary>
    public string? CacheDirectory { get; set; }
}

/// <summary>Checks <see cref="EmbeddingRuntimeOptions"/> when the host starts, naming each wrong key.</summary>
public sealed class EmbeddingRuntimeOptionsValidator : Microsoft.Extensions.Options.IValidateOptions<EmbeddingRuntimeOptions>
{
    public Microsoft.Extensions.Options.ValidateOptionsResult Validate(string? name, EmbeddingRuntimeOptions o)
    {
        var failures = new List<string>();
        if (!Enum.IsDefined(o.Provider))
            failures.Add($"{EmbeddingRuntimeOptions.Section}:Provider must be one of {string.Join(", ", Enum.GetNames<ExecutionProviderPreference>())}.");
        if (o.DeviceId < 0) failures.Add($"{EmbeddingRuntimeOptions.Section}:DeviceId must be ≥ 0.");
        if (o.IntraOpThreads < 0) failures.Add($"{EmbeddingRuntimeOptions.Section}:IntraOpThreads must be ≥ 0 (0 = every core).");
        if (o.MaxConcurrentInferences < 1) failures.Add($"{EmbeddingRuntimeOptions.Section}:MaxConcurrentInferences must be ≥ 1.");
        return failures.Count > 0
            ? Microsoft.Extensions.Options.ValidateOptionsResult.Fail(failures)
            : Microsoft.Extensions.Options.ValidateOptionsResult.Success;
    }
}

/// <summary>A loaded model: its tokenizer and its inference session.</summary>
public sealed record LoadedModel(WordPieceTokenizer Tokenizer, OnnxEmbedder Embedder);

/// <summary>A loaded static model (<see cref="ModelKind.Static"/> or <see cref="ModelKind.InputMean"/>): its tokenizer and table.</summary>
public sealed record LoadedStaticModel(WordPieceTokenizer Tokenizer, StaticModel Table)
{
    /// <summary>Text → vector through the process's word cache for this table (what the embed stage runs).</summary>
    public StaticTextEmbedder Text { get; } = new(new WordPieceCache(Tokenizer), Table);
}

/// <summary>
/// The models of one process (one silo): each loaded once, on first use, into one inference session per device,
/// shared by every task of every job, with bounded concurrency.
/// </summary>
public sealed class EmbeddingRuntime(EmbeddingRuntimeOptions options, ILoggerFactory? loggers = null) : IDisposable
{
    private readonly ConcurrentDictionary<ModelSpec, Lazy<Task<LoadedModel>>> _models = new();
    private readonly ConcurrentDictionary<ModelSpec, Lazy<Task<WordPieceTokenizer>>> _tokenizers = new();
    private readonly ConcurrentDictionary<ModelSpec, Lazy<Task<LoadedStaticModel>>> _statics = new();
    private readonly SemaphoreSlim _inferences = new(Math.Max(1, options.MaxConcurrentInferences));
    private readonly ILoggerFactory _loggers = loggers ?? NullLoggerFactory.Instance;
    // Cancelled when the process's runtime is disposed: a static table still being distilled stops at its next batch.
    private readonly CancellationTokenSource _stopping = new();

    public EmbeddingRuntimeOptions Options => options;

    /// <summary>The tokenizer and session of a model spec; loads them (extracting the shipped model) on first use.</summary>
    public Task<LoadedModel> GetAsync(ModelSpec model, CancellationToken cancellationToken = default)
    {
        var entry = _models.GetOrAdd(model, m => new Lazy<Task<LoadedModel>>(() => LoadAsync(m)));
        if (entry.Value.IsFaulted) _models.TryRemove(new KeyValuePair<ModelSpec, Lazy<Task<LoadedModel>>>(model, entry));
        return entry.Value.WaitAsync(cancellationToken);
    }

    /// <summary>
    /// The static table of a <see cref="ModelKind.Static"/> or <see cref="ModelKind.InputMean"/> spec: read from the cache
    /// folder (<see cref="StaticTableDirectory"/>), or built there once from the transformer on first use.
    /// </summary>
    public Task<LoadedStaticModel> GetStaticAsync(ModelSpec model, CancellationToken cancellationToken = default)
    {
        if (model.Kind == ModelKind.Transformer) throw new ArgumentException("a transformer spec has no static table", nameof(model));
        var entry = _statics.GetOrAdd(model, m => new Lazy<Task<LoadedStaticModel>>(() => LoadStaticAsync(m)));
        if (entry.Value.IsFaulted) _statics.TryRemove(new KeyValuePair<ModelSpec, Lazy<Task<LoadedStaticModel>>>(model, entry));
        return entry.Value.WaitAsync(cancellationToken);
    }

    /// <summary>Where static tables are cached: <c>static/</c> inside the model cache folder.</summary>
    public string StaticTableDirectory => Path.Combine(options.CacheDirectory ?? ShippedModel.DefaultCacheDirectory, "static");

    private async Task<LoadedStaticModel> LoadStaticAsync(ModelSpec model)
    {
        var logger = _loggers.CreateLogger<EmbeddingRuntime>();
        var transformer = model with { Kind = ModelKind.Transformer };
        var modelOptions = ModelOptionsOf(transformer, options);
        modelOptions.Normalize = true; // the recipe distils normalised token vectors
        var files = await ModelFiles.ResolveAsync(modelOptions, logger).ConfigureAwait(false);
        var tokenizer = await GetTokenizerAsync(transformer).ConfigureAwait(false);
        var recipe = model.Kind == ModelKind.InputMean ? StaticRecipe.InputMean : StaticRecipe.Distilled;
        var table = await StaticModelStore.EnsureAsync(files, recipe, model.Dims, StaticTableDirectory,
            () => new OnnxEmbedder(files.ModelPath, tokenizer.SpecialTokens, modelOptions, _loggers.CreateLogger<OnnxEmbedder>()),
            logger, _stopping.Token).ConfigureAwait(false);
        if (table.VocabularySize != tokenizer.VocabularySize)
            throw new InvalidDataException($"The static table has {table.VocabularySize} rows, the vocabulary {tokenizer.VocabularySize} tokens.");
        logger.LogInformation("Loaded static table {Recipe} ({Dims} dimensions, SHA-256 {Sha})", recipe, table.Dimensions, table.Sha256);
        return new LoadedStaticModel(tokenizer, table);
    }

    /// <summary>Only the tokenizer of a model spec (no inference session): for stages that count tokens.</summary>
    public Task<WordPieceTokenizer> GetTokenizerAsync(ModelSpec model, CancellationToken cancellationToken = default)
    {
        var entry = _tokenizers.GetOrAdd(model, m => new Lazy<Task<WordPieceTokenizer>>(async () =>
        {
            var files = await ModelFiles.ResolveAsync(ModelOptionsOf(m, options), _loggers.CreateLogger<EmbeddingRuntime>()).ConfigureAwait(false);
            return WordPieceTokenizer.Load(files.VocabPath, m.LowerCase);
        }));
        if (entry.Value.IsFaulted) _tokenizers.TryRemove(new KeyValuePair<ModelSpec, Lazy<Task<WordPieceTokenizer>>>(model, entry));
        return entry.Value.WaitAsync(cancellationToken);
    }

    /// <summary>A turn on the inference session; dispose it when the batch is done.</summary>
    public async Task<IDisposable> AcquireInferenceAsync(CancellationToken cancellationToken)
    {
        await _inferences.WaitAsync(cancellationToken).ConfigureAwait(false);
        return new Turn(_inferences);
    }

    public static EmbeddingModelOptions ModelOptionsOf(ModelSpec model, EmbeddingRuntimeOptions runtime) => new()
    {
        ModelPath = model.ModelPath,
        VocabPath = model.VocabPath,
        CacheDirectory = runtime.CacheDirectory,
        Pooling = model.Pooling switch { Pooling.Cls => PoolingMode.Cls, Pooling.LastToken => PoolingMode.LastToken, _ => PoolingMode.Mean },
        MaxTokens = model.MaxTokens,
        LowerCase = model.LowerCase,
        OutputName = model.OutputName,
        Normalize = model.Normalize,
        Provider = runtime.Provider,
        DeviceId = runtime.DeviceId,
        IntraOpThreads = runtime.IntraOpThreads,
    };

    private async Task<LoadedModel> LoadAsync(ModelSpec model)
    {
        var logger = _loggers.CreateLogger<EmbeddingRuntime>();
        var modelOptions = ModelOptionsOf(model, options);
        var files = await ModelFiles.ResolveAsync(modelOptions, logger).ConfigureAwait(false);
        var tokenizer = await GetTokenizerAsync(model).ConfigureAwait(false);
        var embedder = new OnnxEmbedder(files.ModelPath, tokenizer.SpecialTokens, modelOptions, _loggers.CreateLogger<OnnxEmbedder>());
        logger.LogInformation("Loaded embedding model {Model} ({Dimensions} dimensions) on the {Provider} provider",
            files.ModelPath, embedder.Dimensions, embedder.ActiveProvider);
        return new LoadedModel(tokenizer, embedder);
    }

    public void Dispose()
    {
        _stopping.Cancel();
        foreach (var entry in _models.Values)
            if (entry.IsValueCreated && entry.Value.IsCompletedSuccessfully) entry.Value.Result.Embedder.Dispose();
        _inferences.Dispose();
        _stopping.Dispose();
    }

    private sealed class Turn(SemaphoreSlim semaphore) : IDisposable
    {
        private int _released;
        public void Dispose() { if (Interlocked.Exchange(ref _released, 1) == 0) semaphore.Release(); }
    }
}
