using Curation.Pipelines.Execution;
using Curation.Pipelines.IO;

namespace Curation.Pipelines.Stages.QualityScore;

/// <summary>
/// score with a model (per shard, embed role): streams the shard's texts, runs the sequence classifier on each
/// document's first maxTokens tokens (batched by length under the token budget, as the embed stage batches) and turns
/// its outputs into (logit, score) by the recorded <see cref="ModelHead"/>. A document without word pieces is scored as
/// the model scores an empty input ([CLS] [SEP]). Writes the same scores table as <see cref="ScorePhase"/>.
/// </summary>
internal static class ModelScorePhase
{
    public static async Task<TaskStats> RunAsync(QualityScoreStage stage, TaskContext task, CancellationToken cancellationToken)
    {
        var head = (await stage.ReadClassifierAsync(task, cancellationToken).ConfigureAwait(false)).Head
            ?? throw new InvalidOperationException($"{stage}: classifier.json has no model head (written by another version of the stage).");
        var embedder = await InspectPhase.LoadAsync(stage, task, cancellationToken).ConfigureAwait(false);
        var outputs = embedder.Dimensions;
        if (outputs != head.Outputs)
            throw new InvalidOperationException($"{stage}: model {stage.Spec.Model!.ModelPath} has {outputs} outputs; it had {head.Outputs} when the job inspected it.");
        var ids = new List<string>();
        var logits = new List<float>();
        var scores = new List<float>();
        float[]? empty = null;
        long truncated = 0, tokens = 0, bytesIn = 0;

        await using (var input = await task.Job.Data.OpenReadAsync(task.InputShardKey(task.Task), cancellationToken).ConfigureAwait(false))
        await using (var reader = await ParquetTableReader.OpenAsync(input, cancellationToken).ConfigureAwait(false))
        {
            TaskProgress.Expect(reader.RowCount);
            await foreach (var batch in reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
            {
                var texts = batch.Texts.List;
                foreach (var text in texts) bytesIn += System.Text.Encoding.UTF8.GetByteCount(text);
                var values = new float[batch.RowCount * outputs];
                var result = await embedder.EmbedAsync(texts, values, cancellationToken).ConfigureAwait(false);
                tokens += result.AttendedTokens;
                for (var row = 0; row < batch.RowCount; row++)
                {
                    var info = result.Documents[row];
                    if (info.Truncated) truncated++;
                    if (info.IsEmpty)
                    {
                        empty ??= await ScoreEmptyAsync(task, embedder, cancellationToken).ConfigureAwait(false);
                        empty.CopyTo(values, row * outputs);
                    }
                    var rowValues = values.AsSpan(row * outputs, outputs);
                    foreach (var value in rowValues)
                        if (!float.IsFinite(value))
                            throw new InvalidOperationException($"{stage}: model {stage.Spec.Model!.ModelPath} gave {value} for document {batch.Ids[row]} (shard {task.Task}, row {ids.Count}).");
                    var (logit, score) = head.Read(rowValues);
                    ids.Add(batch.Ids[row]);
                    logits.Add((float)logit);
                    scores.Add((float)score);
                }
            }
        }
        await ScorePhase.WriteAsync(stage, task, ids, logits.ToArray(), scores.ToArray(), cancellationToken).ConfigureAwait(false);
        return new TaskStats
        {
            In = ids.Count, BytesIn = bytesIn,
            Metrics = { ["tokens"] = tokens, ["truncated"] = truncated },
        };
    }

    /// <summary>The model's outputs for an empty input, once per shard (a batch of one: the same bytes whatever else the shard holds).</summary>
    private static async Task<float[]> ScoreEmptyAsync(TaskContext task, StageEmbedder embedder, CancellationToken cancellationToken)
    {
        var values = new float[embedder.Dimensions];
        using (await task.Services.Embedding.AcquireInferenceAsync(cancellationToken).ConfigureAwait(false))
            embedder.Session!.Embed([ReadOnlyMemory<int>.Empty], values);
        return values;
    }
}
