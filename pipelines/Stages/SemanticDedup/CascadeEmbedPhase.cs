using System.Globalization;
using Curation.Pipelines.Embedding;
using Curation.Pipelines.Execution;
using Curation.Pipelines.IO;
using Curation.Pipelines.Model;
using Curation.Pipelines.Spec;

namespace Curation.Pipelines.Stages;

// verify-embed: the shard's wanted rows embedded with the verify model.
internal sealed partial class CascadePhases
{
    /// <summary>verify-embed: the shard's wanted rows (every partition's), embedded with the verify model, in row order.</summary>
    private async Task<TaskStats> EmbedAsync(TaskContext task, CancellationToken cancellationToken)
    {
        var data = task.Job.Data;
        var shard = task.Task;
        var wanted = new SortedSet<long>();
        var keys = new List<string>();
        await foreach (var info in data.ListAsync(Key(task, $"wanted/{JobLayout.ShardName(shard)}/"), cancellationToken).ConfigureAwait(false)) keys.Add(info.Key);
        foreach (var key in keys)
            wanted.UnionWith((await StageObjects.ReadParquetAsync(data, key, cancellationToken).ConfigureAwait(false)).GetColumn<long>("row").List);

        var rows = new List<long>(wanted.Count);
        var texts = new List<string>(wanted.Count);
        if (wanted.Count > 0)
        {
            long offset = 0;
            await using var input = await data.OpenReadAsync(task.InputShardKey(shard), cancellationToken).ConfigureAwait(false);
            await using var reader = await ParquetTableReader.OpenAsync(input, cancellationToken).ConfigureAwait(false);
            await foreach (var batch in reader.ReadColumnsAsync([Columns.Id, Columns.Text], cancellationToken).ConfigureAwait(false))
            {
                for (var i = 0; i < batch.RowCount; i++)
                    if (wanted.Contains(offset + i)) { rows.Add(offset + i); texts.Add(batch.Texts[i]); }
                offset += batch.RowCount;
            }
            if (rows.Count != wanted.Count)
                throw new InvalidOperationException($"{stage}: shard {shard} has {offset} rows; the cascade wants row {wanted.Max} (the score phase and its input disagree).");
        }

        var runtime = task.Services.Embedding;
        var model = await runtime.GetAsync(spec.Verify!.Model, cancellationToken).ConfigureAwait(false);
        var embedder = new BatchEmbedder(model.Embedder, new EmbeddingBatchOptions());
        var tokens = new ReadOnlyMemory<int>[texts.Count];
        Parallel.For(0, texts.Count, i => tokens[i] = model.Tokenizer.Tokenize(texts[i]));
        var vectors = new float[texts.Count * embedder.Dimensions];
        EmbeddingPlan? plan = null;
        if (texts.Count > 0)
            using (await runtime.AcquireInferenceAsync(cancellationToken).ConfigureAwait(false))
                plan = embedder.Embed(tokens, vectors, cancellationToken);

        var table = RecordBatch.WithSchema(VerifiedSchema, rows.Count);
        for (var i = 0; i < rows.Count; i++)
        {
            table.GetColumn<long>("row").Add(rows[i]);
            table.GetColumn<byte[]>(EmbeddingFile.VectorColumn).Add(EmbeddingFile.Encode(vectors.AsSpan(i * embedder.Dimensions, embedder.Dimensions), EmbeddingPrecision.Float32));
        }
        await StageObjects.WriteParquetAsync(data, Key(task, $"verified/{JobLayout.ShardName(shard)}.parquet"), table,
            new Dictionary<string, string> { [EmbeddingFile.DimensionsKey] = embedder.Dimensions.ToString(CultureInfo.InvariantCulture) }, cancellationToken)
            .ConfigureAwait(false);
        return new TaskStats
        {
            In = rows.Count,
            Metrics =
            {
                ["transformer_embedded"] = rows.Count, ["tokens"] = plan?.AttendedTokens ?? 0,
                ["provider_cuda"] = model.Embedder.ActiveProvider == ActiveExecutionProvider.Cuda ? 1 : 0,
            },
        };
    }
}
