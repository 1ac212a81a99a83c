using System.Text.Json;
using System.Text.Json.Serialization;
using Curation.Pipelines.Stages;

namespace Curation.Pipelines.Spec;

/// <summary>
/// A curation job as users write it (JSON). Everything the output depends on is here: inputs, stages with their
/// parameters, sharding and the seed; the same spec over the same input always yields the same curated corpus.
/// </summary>
public sealed record JobSpec
{
    /// <summary>Job name: letters, digits, '-', '_' and '.'; names the output and the job's work folder.</summary>
    public required string Name { get; init; }

    public required IReadOnlyList<InputSpec> Inputs { get; init; }

    public ShardingSpec Sharding { get; init; } = new();

    /// <summary>Stages in the order they run; each reads the previous stage's output.</summary>
    public required IReadOnlyList<StageSpec> Stages { get; init; }

    public required OutputSpec Output { get; init; }

    /// <summary>Seed for every random choice a stage makes (sampling, k-means init, random keep order).</summary>
    public long Seed { get; init; } = 42;

    /// <summary>
    /// Optional key of one run of a recurring job (a schedule sets it to its tick, e.g. <c>20250101T0305Z</c>): part of
    /// the canonical spec and so of the job id, it makes each scheduled run a job of its own. Null (the default) is not
    /// written, so specs without it keep their ids.
    /// </summary>
    public string? RunKey { get; init; }

    /// <summary>
    /// This spec as one run of a recurring job (<paramref name="runKey"/>: a schedule's tick, <c>curate run --run-key</c>):
    /// a versioned corpus (<c>output.snapshots</c>) keeps its path, each run an incremental refresh publishing the next
    /// snapshot there; any other output goes to <c>{output}/runs/{runKey}</c>, so every run publishes its own corpus
    /// (outputs are create-only).
    /// </summary>
    public JobSpec ForRun(string runKey) => Output.Snapshots
        ? this with { RunKey = runKey }
        : this with { RunKey = runKey, Output = Output with { Path = $"{Output.Path.TrimEnd('/')}/runs/{runKey}" } };

    /// <summary>
    /// The output's root: <see cref="OutputSpec.Path"/>, or for a run given a key by <see cref="ForRun"/> the folder its
    /// <c>runs/</c> are in. Everything under it is this job's own output (every run, every snapshot): never its input.
    /// </summary>
    public string OutputRoot()
    {
        var suffix = $"/runs/{RunKey}";
        return RunKey is not null && !Output.Snapshots && Output.Path.EndsWith(suffix, StringComparison.Ordinal) ? Output.Path[..^suffix.Length] : Output.Path;
    }

    public static JobSpec Parse(string json)
    {
        try
        {
            return JsonSerializer.Deserialize<JobSpec>(json, SpecJson)
                ?? throw new JobSpecException([new SpecError("$", "the job spec is empty (null)")]);
        }
        catch (Exception e) when (e is JsonException or NotSupportedException) // NotSupported: a stage without a "type"
        {
            throw new JobSpecException([SpecParseErrors.From(e, SpecJson)], e);
        }
    }

    public string ToJson() => JsonSerializer.Serialize(this, SpecJson);

    /// <summary>
    /// The spec with relative local paths made absolute against <paramref name="baseDirectory"/> (the job file's folder):
    /// its inputs and every file a stage reads (<see cref="StageSpec.FilesRead"/>: blocklists, evaluation sets, training
    /// sets, models, tokenizers), so a job file can name its corpus and its stages' files next to itself and run from
    /// anywhere. <c>data:</c> paths, <c>az://</c> and absolute paths are left as written.
    /// </summary>
    public JobSpec WithPathsRelativeTo(string baseDirectory)
    {
        string Absolute(string path) => System.IO.Path.GetFullPath(path, baseDirectory);
        var spec = this with
        {
            Inputs = Inputs.Select(input => StoreLocation.IsRelativeLocalPath(input.Path) ? input with { Path = Absolute(input.Path) } : input).ToArray(),
        };
        if (!spec.Stages.Any(stage => stage.FilesRead().Any(file => StoreLocation.IsRelativeLocalPath(file.Path)))) return spec;

        // A stage file's field is its JSON path inside the stage ("benchmarks[0].path", "model.modelPath"): rewritten
        // there, whatever the stage's record looks like.
        var json = JsonSerializer.SerializeToNode(spec, SpecJson)!;
        var stages = json["stages"]!.AsArray();
        for (var i = 0; i < spec.Stages.Count; i++)
            foreach (var file in spec.Stages[i].FilesRead().Where(file => StoreLocation.IsRelativeLocalPath(file.Path)))
            {
                var (parent, name) = FieldParent(stages[i]!, file.Field);
                parent[name] = Absolute(file.Path);
            }
        return json.Deserialize<JobSpec>(SpecJson)!;
    }

    /// <summary>The object holding the last member of a field path such as <c>benchmarks[0].path</c>, and that member's name.</summary>
    private static (System.Text.Json.Nodes.JsonNode Parent, string Name) FieldParent(System.Text.Json.Nodes.JsonNode node, string field)
    {
        var parts = field.Split('.');
        foreach (var part in parts[..^1])
        {
            var bracket = part.IndexOf('[', StringComparison.Ordinal);
            node = bracket < 0
                ? node[part]!
                : node[part[..bracket]]![int.Parse(part[(bracket + 1)..^1], System.Globalization.CultureInfo.InvariantCulture)]!;
        }
        return (node, parts[^1]);
    }

    /// <summary>Unknown fields are errors: a misspelt parameter must never become a silent no-op.</summary>
    public static readonly JsonSerializerOptions SpecJson = new(CurationJson.Options)
    {
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
        AllowOutOfOrderMetadataProperties = true,
        RespectRequiredConstructorParameters = true,
    };
}

public sealed record InputSpec
{
    /// <summary>
    /// Where the objects are, with an optional glob in the last segments: <c>az://container/prefix/**/*.jsonl.gz</c>,
    /// an absolute path, or a path relative to the job file (<c>corpus/*.jsonl</c>).
    /// </summary>
    public required string Path { get; init; }

    public InputFormat Format { get; init; } = InputFormat.Auto;

    /// <summary>Field (JSONL) or column (Parquet) holding the document text.</summary>
    public string TextField { get; init; } = "text";

    /// <summary>Field or column holding a stable document id; absent: the id is derived from object + position.</summary>
    public string? IdField { get; init; }

    /// <summary>
    /// Input fields (JSONL) or columns (Parquet) besides text and id to keep as columns of the curated shards; null: all
    /// of them; empty: none (<c>docs/metadata</c>, README "Metadata passthrough").
    /// </summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public IReadOnlyList<string>? Fields { get; init; }

    /// <summary>Input fields not to keep (applied after <see cref="Fields"/>); null: none.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public IReadOnlyList<string>? DropFields { get; init; }

    /// <summary>How a plain-text object splits into documents.</summary>
    public TextDocumentMode TextDocuments { get; init; } = TextDocumentMode.File;

    /// <summary>Records larger than this are quarantined unread (bounded memory), not loaded.</summary>
    public int MaxRecordBytes { get; init; } = 8 * 1024 * 1024;
}

public enum InputFormat { Auto, Jsonl, JsonlGz, Parquet, Txt, JsonlZst, Warc, WarcGz, Html, Csv }

public enum TextDocumentMode { File, Line, Paragraph }

/// <summary>Format of the curated shards (<see cref="OutputSpec.Format"/>).</summary>
public enum OutputFormat { Parquet, JsonlZst, JsonlGz, Jsonl }

public sealed record ShardingSpec
{
    /// <summary>Objects are packed into shards of about this many (compressed) input bytes; one shard is one unit of work.</summary>
    public long TargetShardBytes { get; init; } = 64L * 1024 * 1024;

    /// <summary>
    /// Codec of the Parquet files the job writes for itself and reads back (stage shards, drops): <c>auto</c> (the default)
    /// writes them uncompressed on a local-folder data store, where compressing only costs CPU, and Snappy on a remote one,
    /// where every byte crosses the network twice. The curated output is Snappy whatever this says. Omitted from the JSON
    /// (and so from the job id) when <c>auto</c>.
    /// </summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public IntermediateCompression IntermediateCompression { get; init; }
}

/// <summary>How a job compresses its intermediate files (<see cref="ShardingSpec.IntermediateCompression"/>).</summary>
public enum IntermediateCompression { Auto, None, Snappy }

public sealed record OutputSpec
{
    public const int DefaultKeepSnapshots = 5;

    /// <summary><c>az://container/prefix</c>, an absolute path, or a path inside the data store (<c>curated/demo</c>).</summary>
    public required string Path { get; init; }

    /// <summary>
    /// Makes the output path a versioned corpus: each run writes <c>snapshots/{NNNNNN}-{job}/</c> (its new shards and a
    /// manifest listing the carried-over shards of the previous snapshot), reads only input objects that are new or
    /// changed since the previous snapshot, deduplicates them against the corpus' durable indexes, and moves
    /// <c>current.json</c> with a conditional write. Omitted from the JSON when false.
    /// </summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public bool Snapshots { get; init; }

    /// <summary>Token files per shard for trainers (needs a train_tokenize stage); null: Parquet only. Omitted from the JSON when null.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public TokensOutputSpec? Tokens { get; init; }

    /// <summary>Deterministic shuffle and mixing weights of the token files; null: shuffled by the job's seed, every document once.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public MixSpec? Mix { get; init; }

    /// <summary>
    /// Format of the curated shards: Parquet (the default, omitted from the JSON so older specs keep their ids), or
    /// JSON Lines (plain or compressed) with the same columns for tools that want JSONL. Drops, quarantine and embeddings stay Parquet.
    /// </summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public OutputFormat Format { get; init; }

    /// <summary>Snapshots kept (listed, readable) after a refresh; older ones' objects are deleted unless a kept snapshot references them. Null: <see cref="DefaultKeepSnapshots"/>.</summary>
    public int? KeepSnapshots { get; init; }
}

/// <summary>
/// A stage and its parameters; <c>type</c> selects the stage. Each stage's spec record carries
/// <see cref="Stages.StageAttribute"/> (its <c>type</c> and funnel role), validates its own fields and creates its stage:
/// that record is the one place a stage is declared (<see cref="Stages.StageRegistry"/>).
/// </summary>
[JsonPolymorphic(TypeDiscriminatorPropertyName = "type", UnknownDerivedTypeHandling = JsonUnknownDerivedTypeHandling.FailSerialization)]
public abstract record StageSpec
{
    /// <summary>The stage's <c>type</c> from its <see cref="Stages.StageAttribute"/>.</summary>
    [JsonIgnore] public string Type => Stages.StageRegistry.Of(GetType()).Type;

    /// <summary>Reports problems with this stage's fields (ranges, stages it needs before it, what a refresh cannot do).</summary>
    public virtual void Validate(Stages.StageChecks check) { }

    /// <summary>The stage that runs this spec at position <paramref name="index"/> of the job (0 = read).</summary>
    public abstract Stages.PipelineStage CreateStage(int index);

    /// <summary>
    /// Everything outside the job's inputs this stage reads, with its field (relative to the stage): submitted jobs may only
    /// name paths inside their allowed roots, so a stage that reads a file says so here and the API checks it.
    /// </summary>
    public virtual IEnumerable<StageFile> FilesRead() => [];
}

/// <summary>
/// A path a stage reads: a local <see cref="StageFileKind.File"/> (a model, a tokenizer, a blocklist) or a
/// <see cref="StageFileKind.Location"/> read like an input (data store key, local path or <c>az://</c>).
/// </summary>
public sealed record StageFile(string Field, string Path, StageFileKind Kind = StageFileKind.File);

public enum StageFileKind { File, Location }

/// <summary>
/// A per-document stage: one <see cref="Stages.IDocumentTransform"/> over every shard, fused with its per-document
/// neighbours into one pass (<see cref="Stages.FusedDocumentPass"/>). A new filter is one file: this record with its
/// parameters and <see cref="Stages.StageAttribute"/>, and the transform.
/// </summary>
public abstract record DocumentStageSpec : StageSpec
{
    public abstract Stages.IDocumentTransform CreateTransform();

    public sealed override Stages.PipelineStage CreateStage(int index) => new Stages.DocumentStage(index, Type, CreateTransform());
}

/// <summary>Exact dedup on a hash of the (normalised) text; the smallest document id of each group is kept.</summary>
[Stage(TypeName, Role = StageRole.ExactDedup)]
public sealed record ExactDedupStageSpec : StageSpec
{
    public const string TypeName = "exact_dedup";

    /// <summary>Hash partitions, each resolved by its own grain: bounds the memory of one resolver.</summary>
    public int Partitions { get; init; } = 16;

    /// <summary>Compare case-insensitively (Unicode case folding), so case variants count as copies.</summary>
    public bool CaseFold { get; init; } = true;

    /// <summary>Compare with all whitespace runs collapsed to one space, so layout variants count as copies.</summary>
    public bool CollapseWhitespace { get; init; } = true;

    /// <summary>
    /// Which member of a duplicate group survives: <c>smallest_id</c> (the default, omitted from the JSON so older specs
    /// keep their ids) keeps the smallest id; <c>none</c> drops every member ("drop every copy"), each naming the group's smallest id as twin.
    /// </summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public DedupKeep Keep { get; init; }

    public override void Validate(StageChecks check) => check.That(Partitions is >= 1 and <= 4096, "partitions", "must be between 1 and 4096");

    public override PipelineStage CreateStage(int index) => new ExactDedupStage(index, new ContentDedupKey(this));
}

/// <summary>Which member of a duplicate group a dedup stage keeps: the smallest id, or none of them.</summary>
public enum DedupKeep { SmallestId, None }

public enum NearDedupShingle { Word, Char }

public enum NearDedupVerify { None, Estimated, Exact }

/// <summary>
/// Near-duplicate dedup: MinHash signatures of shingles, LSH buckets partitioned over tasks, optional verification of
/// candidate pairs, and connected components computed distributed (large-star/small-star rounds). Each component keeps
/// its smallest document id; every other member is dropped naming it as twin. A pair of Jaccard similarity j becomes a
/// candidate with probability 1 − (1 − j^rows)^bands: the S-curve is steepest near (1/bands)^(1/rows).
/// </summary>
[Stage(TypeName, Role = StageRole.NearDedup)]
public sealed record NearDedupStageSpec : StageSpec, IThresholdedSpec
{
    public const string TypeName = "near_dedup";

    /// <summary>word: word n-grams (texts mostly in scripts without spaces fall back to character n-grams); char: character n-grams.</summary>
    public NearDedupShingle Shingle { get; init; } = NearDedupShingle.Word;

    /// <summary>Words per shingle (word mode); a text with fewer words is one shingle.</summary>
    public int Ngram { get; init; } = 5;

    /// <summary>Characters per shingle (char mode and the fallback for scripts written without spaces).</summary>
    public int CharNgram { get; init; } = 5;

    /// <summary>LSH bands; bands × rows is the number of MinHash permutations.</summary>
    public int Bands { get; init; } = 14;

    /// <summary>Signature values per band.</summary>
    public int Rows { get; init; } = 8;

    /// <summary>How a candidate pair is checked before it counts as an edge: none, estimated (signature agreement) or exact (shingle sets) Jaccard.</summary>
    public NearDedupVerify Verify { get; init; } = NearDedupVerify.Estimated;

    /// <summary>Jaccard similarity a verified candidate pair must reach to become an edge.</summary>
    public double Threshold { get; init; } = 0.7;

    /// <summary>Each bucket member is paired with this many of the bucket's smallest members (not with every member: O(n) pairs per bucket).</summary>
    public int Anchors { get; init; } = 2;

    /// <summary>Bucket and graph partitions, each handled by its own task: bounds the memory of one task.</summary>
    public int Partitions { get; init; } = 16;

    /// <summary>Most connected-components rounds planned; a graph that has not converged by then fails the job (it never yields a wrong result).</summary>
    public int MaxRounds { get; init; } = 24;

    /// <summary>
    /// Verified edges up to which connected components are decided in one task, in memory, with the rounds' very result
    /// (null: 1,000,000, about 2 × that many adjacency entries; 0: always as distributed rounds). Omitted from the JSON when null.
    /// </summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public long? OneTaskComponentsEdges { get; init; }

    /// <summary>
    /// Which member of a duplicate group survives: <c>smallest_id</c> (the default, omitted from the JSON so older specs
    /// keep their ids) keeps the smallest id; <c>none</c> drops every member ("drop every copy"), each naming the group's smallest id as twin.
    /// </summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public DedupKeep Keep { get; init; }

    public override void Validate(StageChecks check)
    {
        check.That(Ngram is >= 1 and <= 64, "ngram", "must be between 1 and 64");
        check.That(CharNgram is >= 1 and <= 256, "charNgram", "must be between 1 and 256");
        check.That(Bands is >= 1 and <= 512, "bands", "must be between 1 and 512");
        check.That(Rows is >= 1 and <= 64, "rows", "must be between 1 and 64");
        check.That((long)Bands * Rows <= 1024, "rows", $"bands × rows (permutations) must be at most 1024, not {(long)Bands * Rows}");
        check.That(Threshold is > 0 and <= 1, "threshold", "must be in (0, 1]");
        check.That(Anchors is >= 1 and <= 64, "anchors", "must be between 1 and 64");
        check.That(Partitions is >= 1 and <= 4096, "partitions", "must be between 1 and 4096");
        check.That(MaxRounds is >= 2 and <= 200, "maxRounds", "must be between 2 and 200");
        check.That(OneTaskComponentsEdges is null or >= 0, "oneTaskComponentsEdges", "must be ≥ 0 (0: always distributed rounds)");
    }

    public override PipelineStage CreateStage(int index) => new NearDedupStage(index, this);

    /// <summary>The Jaccard (estimated or exact, as <see cref="Verify"/> says) of candidate pairs; at or above the threshold a pair is an edge.</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public IReadOnlyList<ThresholdMeasure> Thresholds =>
        [new("threshold", Verify == NearDedupVerify.Exact ? "exact Jaccard of candidate pairs" : "estimated Jaccard of candidate pairs", Threshold, DropsAbove: true, 0, 1)];

    /// <summary>A new threshold; a stage that ran without verification verifies by estimate (the what-if measured that).</summary>
    public StageSpec WithThreshold(string field, double value) => field == "threshold"
        ? this with { Threshold = value, Verify = Verify == NearDedupVerify.None ? NearDedupVerify.Estimated : Verify }
        : throw new ArgumentException($"{TypeName} has no threshold '{field}'.", nameof(field));
}

/// <summary>
/// The embedding model a job uses: part of the spec because it decides the output. Paths null = the shipped
/// all-MiniLM-L6-v2. Where it runs (CPU/CUDA, threads) is silo configuration, not part of the job.
/// </summary>
public sealed record ModelSpec
{
    /// <summary>
    /// <c>transformer</c>: run the ONNX model. <c>static</c>: a table distilled once from that model (Model2Vec recipe,
    /// PCA to <see cref="Dims"/>, SIF weights, then fitted to the model's document vectors of the shipped training text);
    /// a document is the weighted mean of its word pieces' rows, normalised.
    /// <c>input_mean</c>: the plain mean of the model's input embedding rows (the baseline of the similarity-metrics paper).
    /// </summary>
    public ModelKind Kind { get; init; } = ModelKind.Transformer;

    /// <summary>Dimensions of the <c>static</c> table (PCA of the model's output); ignored by the other kinds.</summary>
    public int Dims { get; init; } = 256;

    public string? ModelPath { get; init; }
    public string? VocabPath { get; init; }
    public Pooling Pooling { get; init; } = Pooling.Mean;

    /// <summary>Longest input of the model, [CLS] and [SEP] included.</summary>
    public int MaxTokens { get; init; } = 512;

    public bool LowerCase { get; init; } = true;
    public string OutputName { get; init; } = "last_hidden_state";
    public bool Normalize { get; init; } = true;

    /// <summary>The model's own files (none for the shipped model), under <paramref name="field"/>.</summary>
    public IEnumerable<StageFile> FilesRead(string field) =>
        new[] { (ModelPath, "modelPath"), (VocabPath, "vocabPath") }.Where(f => f.Item1 is not null).Select(f => new StageFile($"{field}.{f.Item2}", f.Item1!));
}

public enum Pooling { Mean, Cls, LastToken }

public enum ModelKind { Transformer, Static, InputMean }

/// <summary>WordPiece tokenization; records each document's token count (a column) for length-aware stages.</summary>
[Stage(TypeName)]
public sealed record TokenizeStageSpec : DocumentStageSpec
{
    public const string TypeName = "tokenize";

    public ModelSpec Model { get; init; } = new();

    public override void Validate(StageChecks check) => check.Model(Model, "model");

    public override IDocumentTransform CreateTransform() => new TokenizeTransform(Model);

    public override IEnumerable<StageFile> FilesRead() => Model.FilesRead("model");
}

public enum WindowStrategy { Average, Truncate }

public enum EmbeddingPrecision { Float32, Float16 }

/// <summary>Embeds every document with an ONNX model, on silos with the embed role (GPU where present).</summary>
[Stage(TypeName)]
public sealed record EmbedStageSpec : StageSpec
{
    public const string TypeName = "embed";

    public ModelSpec Model { get; init; } = new();

    /// <summary>Longer documents: average the embeddings of their windows (weighted by tokens) or keep the first window.</summary>
    public WindowStrategy Windows { get; init; } = WindowStrategy.Average;

    /// <summary>Tokens per window without [CLS]/[SEP]; 0 = the model's window (maxTokens − 2).</summary>
    public int WindowTokens { get; init; }

    /// <summary>Start-to-start distance of windows; 0 = windowTokens (no overlap).</summary>
    public int WindowStride { get; init; }

    /// <summary>Padded tokens per inference batch (length bucketing fills batches up to it).</summary>
    public int BatchTokens { get; init; } = 8192;

    /// <summary>How vectors are stored: float32, or float16 for half the bytes.</summary>
    public EmbeddingPrecision Precision { get; init; } = EmbeddingPrecision.Float32;

    public override void Validate(StageChecks check)
    {
        check.Model(Model, "model");
        check.That(WindowTokens == 0 || (WindowTokens >= 8 && WindowTokens <= Model.MaxTokens - 2), "windowTokens",
            $"must be 0 (the model's window) or between 8 and model.maxTokens − 2 ({Model.MaxTokens - 2})");
        check.That(WindowStride >= 0 && (WindowStride == 0 || WindowStride <= Math.Max(WindowTokens, Model.MaxTokens - 2)),
            "windowStride", "must be 0 (no overlap) or between 1 and windowTokens");
        check.That(BatchTokens >= Model.MaxTokens, "batchTokens", $"must be at least model.maxTokens ({Model.MaxTokens})");
    }

    public override PipelineStage CreateStage(int index) => new EmbedStage(index, this);

    public override IEnumerable<StageFile> FilesRead() => Model.FilesRead("model");
}

/// <summary>One problem in a spec, with the JSON path of the field it is about.</summary>
public sealed record SpecError(string Field, string Message)
{
    public override string ToString() => $"{Field}: {Message}";
}

public sealed class JobSpecException(IReadOnlyList<SpecError> errors, Exception? inner = null)
    : Exception(MessageOf(errors), inner)
{
    /// <summary>Errors the message lists; the rest are counted (<see cref="Errors"/> has them all).</summary>
    public const int ListedErrors = 20;

    public IReadOnlyList<SpecError> Errors { get; } = errors;

    private static string MessageOf(IReadOnlyList<SpecError> errors) =>
        "Invalid job spec: " + string.Join("; ", errors.Take(ListedErrors)) +
        (errors.Count > ListedErrors ? $"; … and {errors.Count - ListedErrors:N0} more" : "");
}
