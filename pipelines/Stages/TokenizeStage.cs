using Curation.Pipelines.Embedding;
using Curation.Pipelines.Execution;
using Curation.Pipelines.Model;
using Curation.Pipelines.Spec;

namespace Curation.Pipelines.Stages;

/// <summary>The <c>tokenize</c> stage's column and drop reason (its transform: <see cref="TokenizeTransform"/>).</summary>
public static class TokenizeStage
{
    public const string TokenCountColumn = "token_count";
    public const string NoTokens = "no_tokens";
}

/// <summary>
/// WordPiece-tokenizes every document and records its token count; drops documents without tokens. A per-document
/// stage (<see cref="DocumentStage"/>), so it runs in the same pass as its per-document neighbours
/// (<see cref="FusedDocumentPass"/>); each task binds it to its silo's tokenizer for <see cref="TokenizeStageSpec.Model"/>.
/// </summary>
public sealed class TokenizeTransform(ModelSpec model) : IServiceTransform
{
    public IReadOnlyList<ColumnSchema> AddedColumns => Added;

    private static readonly IReadOnlyList<ColumnSchema> Added = [new(TokenizeStage.TokenCountColumn, typeof(int))];

    public void Process(RecordBatch batch, DropCollector drops) =>
        throw new InvalidOperationException($"{TokenizeStageSpec.TypeName} runs bound to a tokenizer ({nameof(BindAsync)}).");

    public async Task<IDocumentTransform> BindAsync(StageServices services, CancellationToken cancellationToken) =>
        new CountTokens(await services.Embedding.GetTokenizerAsync(model, cancellationToken).ConfigureAwait(false));

    private sealed class CountTokens(WordPieceTokenizer tokenizer) : IDocumentTransform
    {
        public IReadOnlyList<ColumnSchema> AddedColumns => Added;

        public void Process(RecordBatch batch, DropCollector drops)
        {
            var counts = new int[batch.RowCount];
            var texts = batch.Texts.List;
            Parallel.For(0, batch.RowCount, row => counts[row] = tokenizer.CountTokens(texts[row]));
            var column = batch.ResetColumn<int>(TokenizeStage.TokenCountColumn, batch.RowCount);
            column.AddRange(counts);
            for (var row = 0; row < counts.Length; row++)
                if (counts[row] == 0) drops.Drop(row, TokenizeStage.NoTokens, "the text has no word pieces (whitespace, controls or nothing)");
        }
    }
}
