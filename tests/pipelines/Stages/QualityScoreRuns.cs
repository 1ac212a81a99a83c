using System.Text.Json;
using Curation.Pipelines.Execution;
using Curation.Pipelines.IO;
using Curation.Pipelines.Spec;
using Curation.Pipelines.Stages.QualityScore;
using Curation.Pipelines.Storage;
using Curation.Testing;

namespace Curation.Pipelines.Tests.Stages;

/// <summary>A quality_score job run in-process, and what it wrote: the output, the report, the scores table and the output column.</summary>
public sealed record QualityScoreRun(CuratedOutput Output, QualityScoreReport Report, Dictionary<string, (float Logit, float Score)> Scores, Dictionary<string, float> Column,
    JobContext Job)
{
    /// <summary>Runs <paramref name="spec"/> (quality_score its last stage, output <c>curated/quality</c>) with stores under <paramref name="root"/>.</summary>
    public static async Task<QualityScoreRun> RunAsync(JobSpec spec, string root)
    {
        using var services = StageServices.CreateDefault();
        var stores = CurationStoreServiceCollectionExtensions.CreateResolver(new CurationStoreOptions { RootPath = root });
        var job = await InProcessJob.RunAsync(spec, stores, services);
        var output = await CuratedOutput.ReadAsync(stores.DataStore, "curated/quality");
        var index = spec.Stages.Count;
        var report = output.Manifest.Reports[$"{index:D2}-{QualityScoreStageSpec.TypeName}"].Deserialize<QualityScoreReport>(CurationJson.Options)!;
        var scores = new Dictionary<string, (float, float)>();
        await foreach (var info in stores.DataStore.ListAsync(job.Layout.StageRoot(index, QualityScoreStageSpec.TypeName) + "scores/"))
            foreach (var batch in await ReadAsync(stores.DataStore, info.Key))
                for (var i = 0; i < batch.RowCount; i++) scores[batch.Ids[i]] = (batch.GetColumn<float>("logit")[i], batch.GetColumn<float>("score")[i]);
        var column = new Dictionary<string, float>();
        foreach (var shard in output.Manifest.Shards)
            foreach (var batch in await ReadAsync(stores.DataStore, "curated/quality/" + shard.Key))
                for (var i = 0; i < batch.RowCount; i++) column[batch.Ids[i]] = batch.GetColumn<float>(QualityScoreStage.ScoreColumn)[i];
        return new QualityScoreRun(output, report, scores, column, job);
    }

    private static async Task<List<Model.RecordBatch>> ReadAsync(IObjectStore store, string key)
    {
        var batches = new List<Model.RecordBatch>();
        await using var reader = await ParquetTableReader.OpenAsync(new MemoryStream(await store.ReadBytesAsync(key)));
        await foreach (var batch in reader.ReadAllAsync()) batches.Add(batch);
        return batches;
    }
}
