using Curation.Pipelines.Embedding;
using Curation.Pipelines.Execution;
using Curation.Pipelines.IO;
using Curation.Pipelines.Model;
using Curation.Pipelines.Spec;

namespace Curation.Pipelines.Stages;

/// <summary>
/// Embeds every document of a shard with the job's model on a silo with the <c>embed</c> role: tokenize, split long
/// documents into windows, batch windows by length under a token budget, run the model, average windows, restore
/// order. Writes the shard's documents (with <c>token_count</c> and <c>embedding_windows</c>) and, next to them,
/// its embeddings file (<see cref="EmbeddingFile"/>). Documents without tokens are dropped (<c>no_tokens</c>).
/// </summary>
public sealed class EmbedStage(int index, EmbedStageSpec spec) : PipelineStage(index)
{
    public const string EmbedPhase = "embed";
    public const string RequiredRole = "embed";
    public const string WindowsColumn = "embedding_windows";

    public EmbedStageSpec Spec => spec;

    public override string Name => EmbedStageSpec.TypeName;

    protected override IReadOnlyList<StagePhase> DeclarePhases(JobPlan plan) =>
        [new(EmbedPhase, TaskScope.Shard, plan.ShardCount, EmbedAsync, producesShardOutput: true, requiredRole: RequiredRole)];

    public EmbeddingBatchOptions BatchOptions => new()
    {
        Windows = spec.Windows == Curation.Pipelines.Spec.WindowStrategy.Truncate ? Embedding.WindowStrategy.Truncate : Embedding.WindowStrategy.Average,
        WindowSize = spec.WindowTokens == 0 ? null : spec.WindowTokens,
        WindowStride = spec.WindowStride == 0 ? null : spec.WindowStride,
        TokenBudget = spec.BatchTokens,
    };

    private async Task<TaskStats> EmbedAsync(TaskContext task, CancellationToken cancellationToken)
    {
        var embedder = await StageEmbedder.LoadAsync(task.Services.Embedding, this, cancellationToken).ConfigureAwait(false);
        var table = embedder.Table;
        var dimensions = embedder.Dimensions;
        var data = task.Job.Data;
        var shard = task.Task;
        long rowsIn = 0, kept = 0, bytesIn = 0, attended = 0, padded = 0;
        var dropped = new Dictionary<string, long>();

        await using var dataSpool = SpoolFile.Create();
        await using var dropsSpool = SpoolFile.Create();
        await using var vectorsSpool = SpoolFile.Create();
        await using (var input = await data.OpenReadAsync(task.InputShardKey(shard), cancellationToken).ConfigureAwait(false))
        await using (var reader = await ParquetTableReader.OpenAsync(input, cancellationToken).ConfigureAwait(false))
        {
            IReadOnlyList<ColumnSchema> added = [new(TokenizeStage.TokenCountColumn, typeof(int)), new(WindowsColumn, typeof(int))];
            var schema = reader.Schema.Concat(added.Where(c => reader.Schema.All(s => s.Name != c.Name))).ToArray();
            var modelName = (spec.Model.ModelPath ?? ShippedModel.ModelName) +
                            (table is null ? "" : $" {spec.Model.Kind.ToString().ToLowerInvariant()} table sha256:{table.Sha256}");
            await using var dataWriter = await ParquetTableWriter.CreateAsync(dataSpool.Stream, schema, cancellationToken: cancellationToken).ConfigureAwait(false);
            await using var dropsWriter = await ParquetTableWriter.CreateAsync(dropsSpool.Stream, DropsSchema.Columns, cancellationToken: cancellationToken).ConfigureAwait(false);
            await using var vectorWriter = await ParquetTableWriter.CreateAsync(vectorsSpool.Stream, EmbeddingFile.Schema,
                EmbeddingFile.Metadata(dimensions, spec.Precision, modelName), cancellationToken).ConfigureAwait(false);

            TaskProgress.Expect(reader.RowCount);
            await foreach (var batch in reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
            {
                rowsIn += batch.RowCount;
                var texts = batch.Texts.List;
                foreach (var text in texts) bytesIn += System.Text.Encoding.UTF8.GetByteCount(text);
                var vectors = new float[batch.RowCount * dimensions];
                var result = await embedder.EmbedAsync(texts, vectors, cancellationToken).ConfigureAwait(false);
                attended += result.AttendedTokens;
                padded += result.PaddedTokens;
                var infos = result.Documents;

                var drops = new DropCollector(batch, Name);
                var tokenCounts = batch.ResetColumn<int>(TokenizeStage.TokenCountColumn, batch.RowCount);
                var windows = batch.ResetColumn<int>(WindowsColumn, batch.RowCount);
                for (var row = 0; row < batch.RowCount; row++)
                {
                    var info = infos[row];
                    tokenCounts.Add(info.Tokens);
                    windows.Add(info.Windows);
                    if (info.IsEmpty) drops.Drop(row, TokenizeStage.NoTokens, "the text has no word pieces (whitespace, controls or nothing)");
                }
                var keptRows = drops.KeptRows();
                kept += keptRows.Count;
                drops.CountReasons(dropped);
                var keptBatch = keptRows.Count == batch.RowCount ? batch : batch.Select(keptRows);
                await dataWriter.WriteAsync(keptBatch, cancellationToken).ConfigureAwait(false);
                if (drops.Count > 0) await dropsWriter.WriteAsync(drops.ToDropsBatch(), cancellationToken).ConfigureAwait(false);
                await vectorWriter.WriteAsync(VectorsOf(keptBatch.Ids.List, keptRows, vectors, dimensions), cancellationToken).ConfigureAwait(false);
            }
        }

        await dropsSpool.CommitOnceAsync(data, task.DropsKey(shard), cancellationToken).ConfigureAwait(false);
        await vectorsSpool.CommitOnceAsync(data, task.Job.Layout.ShardEmbeddings(Index, Name, shard), cancellationToken).ConfigureAwait(false);
        await dataSpool.CommitOnceAsync(data, task.OutputShardKey(shard), cancellationToken).ConfigureAwait(false);
        return new TaskStats
        {
            In = rowsIn, Kept = kept, Dropped = dropped, BytesIn = bytesIn,
            Metrics = { ["tokens"] = attended, ["padded_tokens"] = padded, ["provider_cuda"] = embedder.Session?.ActiveProvider == ActiveExecutionProvider.Cuda ? 1 : 0 },
        };

        RecordBatch VectorsOf(List<string> ids, IReadOnlyList<int> rows, float[] vectors, int dimensions)
        {
            var keptVectors = new float[rows.Count * dimensions];
            for (var i = 0; i < rows.Count; i++) vectors.AsSpan(rows[i] * dimensions, dimensions).CopyTo(keptVectors.AsSpan(i * dimensions));
            return EmbeddingFile.ToBatch(ids, keptVectors, dimensions, spec.Precision);
        }
    }
}
