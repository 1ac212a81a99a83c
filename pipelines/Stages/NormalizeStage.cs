using System.Text;
using System.Text.Json.Serialization;
using Curation.Pipelines.Model;
using Curation.Pipelines.Spec;
using Curation.Pipelines.Text;

namespace Curation.Pipelines.Stages;

/// <summary>Unicode NFC, control characters removed, whitespace collapsed.</summary>
[Stage(TypeName)]
public sealed record NormalizeStageSpec : DocumentStageSpec
{
    public const string TypeName = "normalize";

    /// <summary>Unicode normalisation form: nfc (default) or nfkc.</summary>
    public UnicodeForm Form { get; init; } = UnicodeForm.Nfc;

    /// <summary>Keep line breaks (collapsed to at most one blank line); false joins everything into one line.</summary>
    public bool KeepLineBreaks { get; init; } = true;

    /// <summary>
    /// Keep each line's leading spaces and tabs as they are (code, indented paragraphs) instead of trimming them; needs
    /// <see cref="KeepLineBreaks"/>. Omitted from the JSON (and so from the job id) when false.
    /// </summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public bool KeepIndentation { get; init; }

    public override void Validate(StageChecks check) =>
        check.That(!KeepIndentation || KeepLineBreaks, "keepIndentation", "needs keepLineBreaks: true (indentation begins a line)");

    public override IDocumentTransform CreateTransform() => new NormalizeTransform(this);
}

public enum UnicodeForm { Nfc, Nfkc }

/// <summary>Rewrites each text in canonical form; a document with nothing left is dropped.</summary>
public sealed class NormalizeTransform(NormalizeStageSpec spec) : IDocumentTransform
{
    public const string EmptyAfterNormalization = "empty_after_normalization";

    private readonly TextNormalizer _normalizer = new(
        spec.Form == UnicodeForm.Nfkc ? NormalizationForm.FormKC : NormalizationForm.FormC, spec.KeepLineBreaks, spec.KeepIndentation);

    public IReadOnlyList<ColumnSchema> AddedColumns => [];

    public void Process(RecordBatch batch, DropCollector drops)
    {
        var texts = batch.Texts;
        for (var row = 0; row < batch.RowCount; row++)
        {
            var normalized = _normalizer.Normalize(texts[row]);
            texts[row] = normalized;
            if (normalized.Length == 0) drops.Drop(row, EmptyAfterNormalization, "no visible characters");
        }
    }
}
