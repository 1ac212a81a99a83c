using System.Text.Json.Serialization;
using Curation.Pipelines.Stages;

namespace Curation.Pipelines.Spec;

/// <summary>
/// The training tokenizer: counts each document's tokens (<c>train_tokens</c>) in the encoding the model is trained
/// with; the output's token files are encoded with it. Drops documents with no tokens.
/// </summary>
[Stage(TypeName)]
public sealed record TrainTokenizeStageSpec : StageSpec
{
    public const string TypeName = "train_tokenize";

    /// <summary>A tiktoken encoding shipped in NuGet: o200k_base, cl100k_base, r50k_base or gpt2. With tokenizerPath: the encoding whose split pattern and &lt;|endoftext|&gt; id the file uses.</summary>
    public string Encoding { get; init; } = "o200k_base";

    /// <summary>Optional local <c>.tiktoken</c> file (base64 token and rank per line) instead of the shipped ranks.</summary>
    public string? TokenizerPath { get; init; }

    public override void Validate(StageChecks check)
    {
        check.That(Training.TrainingTokenizer.KnownEncodings.Contains(Encoding), "encoding",
            $"must be one of {string.Join(", ", Training.TrainingTokenizer.KnownEncodings)}");
        check.That(TokenizerPath is null || (Path.IsPathRooted(TokenizerPath) && TokenizerPath.EndsWith(".tiktoken", StringComparison.Ordinal)),
            "tokenizerPath", "must be omitted or an absolute path to a .tiktoken file");
    }

    public override PipelineStage CreateStage(int index) => new TrainTokenizeStage(index, this);

    public override IEnumerable<StageFile> FilesRead() => TokenizerPath is null ? [] : [new StageFile("tokenizerPath", TokenizerPath)];
}

/// <summary>Which token file formats the output writes next to each Parquet shard.</summary>
public sealed record TokensOutputSpec
{
    /// <summary>megatron (<c>.bin</c> + <c>.idx</c>, MMIDIDX v1) and/or npy (<c>.tokens.npy</c> + <c>.offsets.npy</c>).</summary>
    public IReadOnlyList<TokenFormat> Formats { get; init; } = [TokenFormat.Megatron, TokenFormat.Npy];
}

public enum TokenFormat { Megatron, Npy }

/// <summary>
/// Mixing of the token files: each document's weight w comes from its key (<see cref="By"/>); it is written
/// ⌊w⌋ times plus once more when its seeded hash falls below w − ⌊w⌋ (so 0.5 keeps about half, 2 repeats every
/// document twice, whole). Copies are ordered by a seeded hash, never by arrival order.
/// </summary>
public sealed record MixSpec
{
    /// <summary>The key: <c>source</c> (input object), <c>input</c> (the input's position in <c>inputs</c>, "0", "1", …), or any string column (e.g. <c>language</c>); with <see cref="Buckets"/>, a numeric column.</summary>
    public string By { get; init; } = "source";

    /// <summary>
    /// Bucket edges of a numeric column (a quality score, <c>word_count</c>, …), ascending: the key is the bucket
    /// label, <c>&lt;e0</c>, <c>e0-e1</c>, …, <c>&gt;=eN</c>. Null: <see cref="By"/> is a string key.
    /// </summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public IReadOnlyList<double>? Buckets { get; init; }

    /// <summary>Weight per key value; a value not listed gets <see cref="DefaultWeight"/>.</summary>
    public Dictionary<string, double> Weights { get; init; } = [];

    public double DefaultWeight { get; init; } = 1.0;

    /// <summary>Seed of the shuffle and sampling; null: the job's seed.</summary>
    public long? Seed { get; init; }

    /// <summary>SoftDedup-style down-weighting of redundant documents by semantic_dedup's max similarity, instead of (or besides) hard drops; null: off.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public SoftDedupSpec? SoftDedup { get; init; }
}

/// <summary>
/// Soft deduplication: a document whose highest cosine similarity M to an earlier-ranked member of its semantic
/// cluster (semantic_dedup's <c>semantic_max_similarity</c>) exceeds <see cref="Threshold"/> τ has its weight
/// multiplied by max(<see cref="MinWeight"/>, (1 − M) / (1 − τ)): 1 at τ, falling linearly to the floor for exact
/// copies (M = 1). Redundant documents are sampled less often instead of being dropped outright.
/// </summary>
public sealed record SoftDedupSpec
{
    public double Threshold { get; init; } = 0.8;
    public double MinWeight { get; init; } = 0.1;
}
