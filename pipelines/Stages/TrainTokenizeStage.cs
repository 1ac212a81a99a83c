using Curation.Pipelines.Execution;
using Curation.Pipelines.Model;
using Curation.Pipelines.Spec;
using Curation.Pipelines.Training;

namespace Curation.Pipelines.Stages;

/// <summary>
/// Counts every document's tokens in the training tokenizer (<c>train_tokens</c>) and drops documents without any.
/// Its metrics give the tokens reaching the stage in total, per source object and per language (when a
/// <c>language</c> column exists); the manifest's <c>tokens</c> section counts the curated corpus the same way.
/// </summary>
public sealed class TrainTokenizeStage(int index, TrainTokenizeStageSpec spec) : PipelineStage(index)
{
    public const string TokensColumn = "train_tokens";
    public const string LanguageColumn = "language";
    public const string NoTokens = "no_tokens";

    public override string Name => TrainTokenizeStageSpec.TypeName;

    public TrainTokenizeStageSpec Spec => spec;

    protected override IReadOnlyList<StagePhase> DeclarePhases(JobPlan plan) =>
        [new(DocumentStage.ApplyPhase, TaskScope.Shard, plan.ShardCount, ApplyAsync, producesShardOutput: true)];

    private async Task<TaskStats> ApplyAsync(TaskContext task, CancellationToken cancellationToken)
    {
        var transform = new CountTrainTokens(TrainingTokenizer.For(spec));
        var stats = await ShardTransformer.RunAsync(task, task.Task, transform, cancellationToken).ConfigureAwait(false);
        foreach (var (key, value) in transform.Totals.Metrics()) stats.Metrics[key] = value;
        return stats;
    }

    private sealed class CountTrainTokens(TrainingTokenizer tokenizer) : IDocumentTransform
    {
        public TokenTotals Totals { get; } = new();

        public IReadOnlyList<ColumnSchema> AddedColumns { get; } = [new(TokensColumn, typeof(long))];

        public void Process(RecordBatch batch, DropCollector drops)
        {
            var counts = new long[batch.RowCount];
            var texts = batch.Texts.List;
            Parallel.For(0, batch.RowCount, row => counts[row] = tokenizer.CountTokens(texts[row]));
            var column = batch.ResetColumn<long>(TokensColumn, batch.RowCount);
            column.AddRange(counts);
            var languages = batch.Find(LanguageColumn) as Column<string>;
            for (var row = 0; row < counts.Length; row++)
                if (counts[row] == 0) drops.Drop(row, NoTokens, $"the text has no {tokenizer.Name} tokens");
                else Totals.Add(batch.Sources[row], languages?[row], counts[row]);
        }
    }
}
