using Curation.Pipelines.Storage;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Curation.Pipelines.Embedding;

/// <summary>How the model's per-token output becomes one vector per sequence.</summary>
public enum PoolingMode
{
    /// <summary>Average of every attended token, [CLS] and [SEP] included (sentence-transformers' mean pooling).</summary>
    Mean,

    /// <summary>The first token's vector ([CLS]).</summary>
    Cls,

    /// <summary>The last attended token's vector (here the [SEP] that ends each sequence).</summary>
    LastToken,
}

/// <summary>Which ONNX Runtime execution provider to ask for.</summary>
public enum ExecutionProviderPreference
{
    /// <summary>CUDA where its libraries and a device are there, else the CPU (logged at Information).</summary>
    Auto,

    /// <summary>Always the CPU provider.</summary>
    Cpu,

    /// <summary>CUDA; when it is unavailable the embedder still falls back to the CPU, logged at Warning.</summary>
    Cuda,
}

/// <summary>The provider a session actually runs on.</summary>
public enum ActiveExecutionProvider
{
    Cpu,
    Cuda,
}

/// <summary>
/// Which embedding model to run and how. Any BERT-family ONNX model with inputs <c>input_ids</c> and
/// <c>attention_mask</c> (and optionally <c>token_type_ids</c>) and a WordPiece <c>vocab.txt</c> works by configuration;
/// the embedding size is read from the model's output metadata. Leave <see cref="ModelPath"/> and
/// <see cref="VocabPath"/> null for the shipped all-MiniLM-L6-v2 (see <see cref="ShippedModel"/>).
/// </summary>
public sealed class EmbeddingModelOptions
{
    /// <summary>The ONNX model file; null (with <see cref="VocabPath"/> null) means the shipped model.</summary>
    public string? ModelPath { get; set; }

    /// <summary>The model's WordPiece vocabulary (one token a line; line number = id).</summary>
    public string? VocabPath { get; set; }

    /// <summary>Where the shipped model is extracted; null means <see cref="ShippedModel.DefaultCacheDirectory"/>.</summary>
    public string? CacheDirectory { get; set; }

    public PoolingMode Pooling { get; set; } = PoolingMode.Mean;

    /// <summary>The model's longest input sequence, [CLS] and [SEP] included (its position embeddings).</summary>
    public int MaxTokens { get; set; } = 512;

    /// <summary>Uncased model: lowercase and strip accents before WordPiece (as HuggingFace's do_lower_case).</summary>
    public bool LowerCase { get; set; } = true;

    /// <summary>
    /// The output to pool: rank 3 (batch, sequence, hidden) is pooled per <see cref="Pooling"/>;
    /// rank 2 (batch, hidden) is taken as already pooled.
    /// </summary>
    public string OutputName { get; set; } = "last_hidden_state";

    /// <summary>L2-normalise each embedding (cosine similarity becomes a dot product).</summary>
    public bool Normalize { get; set; } = true;

    public ExecutionProviderPreference Provider { get; set; } = ExecutionProviderPreference.Auto;

    /// <summary>CUDA device ordinal.</summary>
    public int DeviceId { get; set; }

    /// <summary>Threads one inference uses on the CPU provider; 0 lets ONNX Runtime use every physical core.</summary>
    public int IntraOpThreads { get; set; }
}

public sealed class EmbeddingModelOptionsValidator : IValidateOptions<EmbeddingModelOptions>
{
    /// <summary>Longest sequence any BERT-family model we know of accepts; a larger value is a typo.</summary>
    internal const int MaxTokensLimit = 32_768;

    public ValidateOptionsResult Validate(string? name, EmbeddingModelOptions options)
    {
        const string type = nameof(EmbeddingModelOptions);
        var failures = new List<string>();
        var hasModel = !string.IsNullOrWhiteSpace(options.ModelPath);
        var hasVocab = !string.IsNullOrWhiteSpace(options.VocabPath);
        if (hasModel != hasVocab)
            failures.Add($"{type}: set both {nameof(options.ModelPath)} and {nameof(options.VocabPath)}, or neither for the shipped model.");
        if (hasModel && !File.Exists(options.ModelPath))
            failures.Add($"{type}.{nameof(options.ModelPath)} '{options.ModelPath}' does not exist.");
        if (hasVocab && !File.Exists(options.VocabPath))
            failures.Add($"{type}.{nameof(options.VocabPath)} '{options.VocabPath}' does not exist.");
        if (options.CacheDirectory is { } cache && (cache.Length == 0 || cache.IndexOfAny(Path.GetInvalidPathChars()) >= 0))
            failures.Add($"{type}.{nameof(options.CacheDirectory)} '{cache}' is not a valid folder path.");
        if (!Enum.IsDefined(options.Pooling))
            failures.Add($"{type}.{nameof(options.Pooling)} '{options.Pooling}' must be one of {string.Join(", ", Enum.GetNames<PoolingMode>())}.");
        if (options.MaxTokens is < 3 or > MaxTokensLimit)
            failures.Add($"{type}.{nameof(options.MaxTokens)} {options.MaxTokens} must be between 3 ([CLS], one token, [SEP]) and {MaxTokensLimit}.");
        if (string.IsNullOrWhiteSpace(options.OutputName))
            failures.Add($"{type}.{nameof(options.OutputName)} is required (e.g. last_hidden_state).");
        if (!Enum.IsDefined(options.Provider))
            failures.Add($"{type}.{nameof(options.Provider)} '{options.Provider}' must be one of {string.Join(", ", Enum.GetNames<ExecutionProviderPreference>())}.");
        if (options.DeviceId < 0)
            failures.Add($"{type}.{nameof(options.DeviceId)} {options.DeviceId} must not be negative.");
        if (options.IntraOpThreads is < 0 or > 1024)
            failures.Add($"{type}.{nameof(options.IntraOpThreads)} {options.IntraOpThreads} must be between 0 (all cores) and 1024.");
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}

/// <summary>The two files a model needs, resolved to paths on this machine.</summary>
public sealed record ModelFiles(string ModelPath, string VocabPath)
{
    /// <summary>
    /// The configured files, or the shipped model extracted (and verified) into the cache folder when
    /// <see cref="EmbeddingModelOptions.ModelPath"/> and <see cref="EmbeddingModelOptions.VocabPath"/> are null.
    /// </summary>
    public static async Task<ModelFiles> ResolveAsync(
        EmbeddingModelOptions options, ILogger? logger = null, CancellationToken cancellationToken = default)
    {
        new EmbeddingModelOptionsValidator().ThrowIfInvalid(options);
        if (options.ModelPath is { } model && options.VocabPath is { } vocab)
            return new ModelFiles(Path.GetFullPath(model), Path.GetFullPath(vocab));
        return await ShippedModel.EnsureExtractedAsync(options.CacheDirectory, logger: logger, cancellationToken: cancellationToken).ConfigureAwait(false);
    }
}
