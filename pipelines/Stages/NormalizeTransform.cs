using System.Text;
using Curation.Pipelines.Model;
using Curation.Pipelines.Spec;
using Curation.Pipelines.Text;

namespace Curation.Pipelines.Stages;

/// <summary>Rewrites each text in canonical form; a document with nothing left is dropped.</summary>
public sealed class NormalizeTransform(NormalizeStageSpec spec) : IDocumentTransform
{
    public const string EmptyAfterNormalization = "empty_after_normalization";

    private readonly TextNormalizer _normalizer = new(
        spec.Form == UnicodeForm.Nfkc ? NormalizationForm.FormKC : NormalizationForm.FormC, spec.KeepLineBreaks);

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
