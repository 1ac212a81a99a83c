using Curation.Pipelines.Execution;
using Curation.Pipelines.IO;
using Curation.Pipelines.Model;
using Curation.Pipelines.Spec;
using Curation.Pipelines.Stages;
using Curation.Pipelines.Storage;

namespace Curation.Testing;

/// <summary>
/// Runs a job whose embed stage's results are planted instead of computed, so the stages after it (semantic_dedup,
/// d4) can be tested end to end on synthetic vectors with known structure. It uses the executor's own resume rule:
/// the read stage runs for real; then, per shard, the embed stage's outputs (documents unchanged, planted vectors at the spec's precision) and
/// an empty drops file and its task marker are written, so the executor treats those tasks as done; then the rest of the job runs.
/// </summary>
public static class PlantedEmbeddings
{
    /// <param name="vectorOf">The planted vector of a document id (unit length for cosine semantics).</param>
    public static async Task<JobContext> RunAsync(JobSpec spec, IStoreResolver stores, StageServices services, Func<string, float[]> vectorOf,
        int parallelism = 2, int? maxPhases = null)
    {
        var job = await JobContext.CreateOrLoadAsync(spec, stores);
        var embed = job.Stages.OfType<EmbedStage>().Single();
        var phases = job.Phases().ToList();
        var beforeEmbed = phases.TakeWhile(p => p.Stage.Index < embed.Index).Count();
        await InProcessJob.RunAsync(spec, stores, services, parallelism, Math.Min(beforeEmbed, maxPhases ?? int.MaxValue));
        if (maxPhases is { } limit && limit <= beforeEmbed) return job;

        var previous = job.Stages[embed.Index - 1];
        for (var shard = 0; shard < job.Plan.ShardCount; shard++)
        {
            var marker = job.Layout.TaskStats(embed.Index, embed.Name, EmbedStage.EmbedPhase, shard);
            if (await job.Data.GetInfoAsync(marker) is not null) continue;
            var documents = await job.Data.ReadBytesAsync(job.Layout.ShardData(previous.Index, previous.Name, shard));
            var ids = new List<string>();
            await using (var reader = await ParquetTableReader.OpenAsync(new MemoryStream(documents)))
                await foreach (var batch in reader.ReadColumnsAsync([Columns.Id]))
                    ids.AddRange(batch.Ids.List);
            var dimensions = ids.Count == 0 ? 1 : vectorOf(ids[0]).Length;
            var vectors = new float[ids.Count * dimensions];
            for (var i = 0; i < ids.Count; i++) vectorOf(ids[i]).CopyTo(vectors.AsSpan(i * dimensions));

            await job.Data.WriteBytesAsync(job.Layout.ShardData(embed.Index, embed.Name, shard), documents, WriteCondition.Overwrite);
            await job.Data.WriteAsync(job.Layout.ShardEmbeddings(embed.Index, embed.Name, shard), async (stream, ct) =>
            {
                await using var writer = await ParquetTableWriter.CreateAsync(stream, EmbeddingFile.Schema,
                    EmbeddingFile.Metadata(dimensions, embed.Spec.Precision, "planted"), ct);
                await writer.WriteAsync(EmbeddingFile.ToBatch(ids, vectors, dimensions, embed.Spec.Precision), ct);
            }, WriteCondition.Overwrite);
            await job.Data.WriteAsync(job.Layout.ShardDrops(embed.Index, embed.Name, shard), async (stream, ct) =>
            {
                await using var writer = await ParquetTableWriter.CreateAsync(stream, DropsSchema.Columns, cancellationToken: ct);
            }, WriteCondition.Overwrite);
            await job.Data.WriteBytesAsync(job.Layout.TaskStats(embed.Index, embed.Name, EmbedStage.EmbedPhase, shard),
                System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(new TaskStats { In = ids.Count, Kept = ids.Count }, Curation.Pipelines.CurationJson.Options),
                WriteCondition.Overwrite);
        }
        return await InProcessJob.RunAsync(spec, stores, services, parallelism, maxPhases);
    }
}
