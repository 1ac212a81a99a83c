using Curation.Pipelines.Spec;

namespace Curation.Pipelines.Stages;

/// <summary>What line_dedup compares: single lines, or paragraphs (runs of non-blank lines separated by blank lines).</summary>
public enum LineDedupUnit { Line, Paragraph }

/// <summary>
/// Line (or paragraph) dedup, the CCNet/Dolma rule for boilerplate: every unit is hashed after normalisation (NFC, case
/// folded, whitespace collapsed; blank units are ignored), a shuffle by hash partition counts in how many documents each
/// occurs, and a unit found in more than <see cref="MaxOccurrences"/> documents stays only in the first
/// <see cref="MaxOccurrences"/> of them by document id: it is removed from every other document. A document left with
/// fewer than <see cref="MinChars"/> characters is dropped (<c>empty_after_line_dedup</c>). Against a versioned corpus
/// (<c>output.snapshots</c>) the corpus' documents come first: a unit its line index says corpus documents already keep
/// is removed from the new documents (up to <see cref="MaxOccurrences"/> keepers in all).
/// </summary>
[Stage(TypeName, Role = StageRole.Filter)]
public sealed record LineDedupStageSpec : StageSpec
{
    public const string TypeName = "line_dedup";

    /// <summary>line: each line is a unit; paragraph: each run of non-blank lines is one.</summary>
    public LineDedupUnit Unit { get; init; } = LineDedupUnit.Line;

    /// <summary>Documents a unit may occur in (the first ones by document id); 1 (the CCNet rule) keeps it once.</summary>
    public int MaxOccurrences { get; init; } = 1;

    /// <summary>A document that lost units and has fewer visible characters left (trimmed) is dropped.</summary>
    public int MinChars { get; init; } = 50;

    /// <summary>Hash partitions, each counted by its own task: bounds the memory of one task.</summary>
    public int Partitions { get; init; } = 16;

    /// <summary>How many of the most repeated removed units the report lists (hash, count, truncated sample).</summary>
    public int TopLines { get; init; } = 20;

    public override void Validate(StageChecks check)
    {
        check.That(Enum.IsDefined(Unit), "unit", "must be line or paragraph");
        check.That(MaxOccurrences is >= 1 and <= 1_000_000, "maxOccurrences", "must be between 1 and 1,000,000");
        check.That(MinChars >= 0, "minChars", "must be ≥ 0");
        check.That(Partitions is >= 1 and <= 4096, "partitions", "must be between 1 and 4096");
        check.That(TopLines is >= 0 and <= 1000, "topLines", "must be between 0 and 1,000");
    }

    public override PipelineStage CreateStage(int index) => new LineDedupStage(index, this);
}
