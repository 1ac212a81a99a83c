using Curation.Pipelines.Embedding;
using Curation.Pipelines.Execution;
using Curation.Pipelines.Model;
using Curation.Pipelines.Spec;

namespace Curation.Pipelines.Stages;

/// <summary>WordPiece-tokenizes every document and records its token count; drops documents without tokens.</summary>
public sealed class TokenizeStage(int index, TokenizeStageSpec spec) : PipelineStage(index)
{
    public const string TokenCountColumn = "token_count";
    public const string NoTokens = "no_tokens";

    public override string Name => TokenizeStageSpec.TypeName;

    protected override IReadOnlyList<StagePhase> DeclarePhases(JobPlan plan) =>
        [new(DocumentStage.ApplyPhase, TaskScope.Shard, plan.ShardCount, ApplyAsync, producesShardOutput: true)];

    private async Task<TaskStats> ApplyAsync(TaskContext task, CancellationToken cancellationToken)
    {
        var tokenizer = await task.Services.Embedding.GetTokenizerAsync(spec.Model, cancellationToken).ConfigureAwait(false);
        var stats = await ShardTransformer.RunAsync(task, task.Task, new CountTokens(tokenizer), cancellationToken).ConfigureAwait(false);
        return stats;
    }

    private sealed class CountTokens(WordPieceTokenizer tokenizer) : IDocumentTransform
    {
        public IReadOnlyList<ColumnSchema> AddedColumns { get; } = [new(TokenCountColumn, typeof(int))];

        public void Process(RecordBatch batch, DropCollector drops)
        {
            var counts = new int[batch.RowCount];
            var texts = batch.Texts.List;
            Parallel.For(0, batch.RowCount, row => counts[row] = tokenizer.CountTokens(texts[row]));
            var column = batch.ResetColumn<int>(TokenCountColumn, batch.RowCount);
            column.AddRange(counts);
            for (var row = 0; row < counts.Length; row++)
                if (counts[row] == 0) drops.Drop(row, NoTokens, "the text has no word pieces (whitespace, controls or nothing)");
        }
    }
}
