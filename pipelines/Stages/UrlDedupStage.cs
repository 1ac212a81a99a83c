using System.Text.Json.Serialization;
using Curation.Pipelines.Model;
using Curation.Pipelines.Spec;
using Curation.Pipelines.Text;

namespace Curation.Pipelines.Stages;

/// <summary>
/// URL dedup: keeps one document per normalised URL (<see cref="UrlNormalizer"/>: scheme, host case, default ports,
/// trailing slash, fragment and tracking parameters such as <c>utm_*</c>, <c>fbclid</c>, <c>gclid</c> do not count).
/// The keeper of a URL is the document with the <b>longest text</b> (in UTF-16 characters), ties broken by the smallest
/// document id; every other document of that URL is dropped as <c>duplicate_url</c> naming the keeper as twin. With
/// <c>keep: none</c> every document of a repeated URL is dropped, each naming the one the default would keep. A document
/// without a URL (or whose URL is no absolute http(s) URL) is kept and never a duplicate; a job whose data has no
/// <c>url</c> column fails naming the stage and the column. The same shuffle as exact_dedup (hash, resolve, apply by
/// key partition): deterministic whatever the silo count, resumable, and against a versioned corpus the corpus' URLs win.
/// </summary>
[Stage(TypeName, Role = StageRole.Filter)]
public sealed record UrlDedupStageSpec : StageSpec
{
    public const string TypeName = "url_dedup";

    /// <summary>URL hash partitions, each resolved by its own task: bounds the memory of one resolver.</summary>
    public int Partitions { get; init; } = 16;

    /// <summary>
    /// Whether a document of a repeated URL survives: by default one does (the longest text, then the smallest id; the
    /// default is omitted from the JSON); <c>none</c> drops every document of a repeated URL ("drop every copy").
    /// </summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public DedupKeep Keep { get; init; }

    public override void Validate(StageChecks check) => check.That(Partitions is >= 1 and <= 4096, "partitions", "must be between 1 and 4096");

    public override PipelineStage CreateStage(int index) => new ExactDedupStage(index, new UrlDedupKey(this));
}

/// <summary>url_dedup's key: the hash of the normalised URL, ranked by text length (longest first).</summary>
public sealed class UrlDedupKey(UrlDedupStageSpec spec) : DedupKey
{
    public const string UrlColumn = "url";
    public const string DuplicateReason = "duplicate_url";
    public const string NormalizedUrlColumn = "normalized_url";

    public override string StageName => UrlDedupStageSpec.TypeName;

    public override string Reason => DuplicateReason;

    public override int Partitions => spec.Partitions;

    public override DedupKeep Keep => spec.Keep;

    public override IReadOnlyList<string> ReadColumns { get; } = [Columns.Text, UrlColumn];

    public override string OutputColumn => NormalizedUrlColumn;

    public override (ContentHash Key, long Rank)? KeyOf(RecordBatch batch, int row) =>
        OutputValue(batch, row) is { } url ? (ContentHash.Of(url, caseFold: false, collapseWhitespace: false), -(long)batch.Texts[row].Length) : null;

    public override string? OutputValue(RecordBatch batch, int row) => UrlNormalizer.Normalize(Urls(batch)[row]);

    private static Column<string> Urls(RecordBatch batch) => batch.Find(UrlColumn) as Column<string> ?? throw new InvalidOperationException(
        $"{UrlDedupStageSpec.TypeName} needs a '{UrlColumn}' column (WARC/HTML inputs or a passed-through metadata field named url); this data has none.");
}
