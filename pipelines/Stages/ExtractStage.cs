using Curation.Pipelines.IO.Readers;
using Curation.Pipelines.Model;
using Curation.Pipelines.Spec;
using Curation.Pipelines.Text;

namespace Curation.Pipelines.Stages;

/// <summary>HTML → main text (WARC and HTML inputs): boilerplate removed, paragraph breaks kept, the page title as a column.</summary>
[Stage(TypeName)]
public sealed record ExtractStageSpec : DocumentStageSpec
{
    public const string TypeName = "extract";

    /// <summary>A page with less main text than this (characters) is dropped as no_main_text.</summary>
    public int MinChars { get; init; } = 1;

    public override void Validate(StageChecks check) => check.That(MinChars >= 0, "minChars", "must be ≥ 0");

    public override IDocumentTransform CreateTransform() => new ExtractTransform(this);
}

/// <summary>
/// HTML → main text (<see cref="HtmlExtractor"/>): replaces each HTML document's text with its main content, with
/// paragraph breaks, and fills the <c>title</c> column (null for a page with neither a title nor an h1). A row whose
/// <c>content_type</c> column (WARC, HTML readers) says it is not HTML — a WET record's plain text — passes unchanged
/// with a null title. A page with no main text left is dropped as <see cref="NoMainText"/>.
/// </summary>
public sealed class ExtractTransform(ExtractStageSpec spec) : IDocumentTransform
{
    public const string TitleColumn = "title";
    public const string NoMainText = "no_main_text";

    public IReadOnlyList<ColumnSchema> AddedColumns { get; } = [new(TitleColumn, typeof(string))];

    public void Process(RecordBatch batch, DropCollector drops)
    {
        var texts = batch.Texts;
        var types = batch.Find(HtmlText.ContentTypeField) as Column<string>;
        var titles = new string?[batch.RowCount];
        var results = new HtmlExtractor.Result?[batch.RowCount];
        Parallel.For(0, batch.RowCount, new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount }, () => new HtmlExtractor(),
            (row, _, extractor) =>
            {
                if (types?[row] is { } type && !HtmlText.IsHtml(type)) return extractor;
                results[row] = extractor.Extract(texts[row]);
                return extractor;
            }, _ => { });
        for (var row = 0; row < batch.RowCount; row++)
        {
            if (results[row] is not { } result) continue;
            texts[row] = result.Text;
            titles[row] = result.Title.Length == 0 ? null : result.Title; // untitled: null, like a non-HTML row
            if (result.Text.Length < spec.MinChars)
                drops.Drop(row, NoMainText, $"{result.Text.Length} characters of main text < {spec.MinChars} ({(result.Title.Length == 0 ? "untitled" : Clip(result.Title))})");
        }
        var column = batch.ResetColumn<string>(TitleColumn, batch.RowCount);
        column.AddRange(titles!);
    }

    private static string Clip(string title) => title.Length > 60 ? title[..60] + "…" : title;
}
