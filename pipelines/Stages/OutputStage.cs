using System.Diagnostics;
using System.Security.Cryptography;
using Curation.Pipelines.Execution;
using Curation.Pipelines.IO;
using Curation.Pipelines.Storage;

namespace Curation.Pipelines.Stages;

/// <summary>
/// The last stage: publishes each shard's curated documents, its drops (all stages) and its quarantine to the output
/// location, then commits <c>manifest.json</c> once every shard is there and the books balance.
/// </summary>
public sealed class OutputStage(int index) : PipelineStage(index)
{
    public const string StageName = "output";
    public const string WritePhase = "write";
    public const string ManifestPhase = "manifest";

    public const string ShardKind = "shard";
    public const string DropsKind = "drops";
    public const string QuarantineKind = "quarantine";
    public const string EmbeddingsKind = "embeddings";

    public override string Name => StageName;

    public override IReadOnlyList<PhaseInfo> Phases(JobPlan plan) =>
    [
        new(WritePhase, TaskScope.Shard, plan.ShardCount, false),
        new(ManifestPhase, TaskScope.Single, 1, false),
    ];

    public override Task<TaskStats> RunAsync(TaskContext task, CancellationToken cancellationToken) => task.Phase switch
    {
        WritePhase => WriteShardAsync(task, cancellationToken),
        ManifestPhase => WriteManifestAsync(task, cancellationToken),
        _ => throw new ArgumentException($"{this} has no phase '{task.Phase}'."),
    };

    public static string ShardFile(int shard) => $"part-{shard:D5}.parquet";

    private static string OutputKey(TaskContext task, string relative) => task.Job.OutputLocation.KeyOf(relative);

    private async Task<TaskStats> WriteShardAsync(TaskContext task, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        var job = task.Job;
        var shard = task.Task;
        var name = ShardFile(shard);

        // Curated documents: the last stage's file is already in the output schema, so it is copied byte for byte.
        await using var documents = SpoolFile.Create();
        await using (var source = await job.Data.OpenReadAsync(task.InputShardKey(shard), cancellationToken).ConfigureAwait(false))
            await source.CopyToAsync(documents.Stream, cancellationToken).ConfigureAwait(false);

        await using var drops = SpoolFile.Create();
        await using (var writer = await ParquetTableWriter.CreateAsync(drops.Stream, DropsSchema.Columns, cancellationToken: cancellationToken).ConfigureAwait(false))
            foreach (var stage in job.Stages.Skip(1).Take(job.Stages.Count - 2))
                await CopyRowsAsync(job.Data, job.Layout.ShardDrops(stage.Index, stage.Name, shard), writer, cancellationToken).ConfigureAwait(false);

        await using var quarantine = SpoolFile.Create();
        await using (var source = await job.Data.OpenReadAsync(job.Layout.ShardQuarantine(0, ReadStage.StageName, shard), cancellationToken).ConfigureAwait(false))
            await source.CopyToAsync(quarantine.Stream, cancellationToken).ConfigureAwait(false);

        var outputs = new List<OutputObject>
        {
            await PublishAsync(task, ShardKind, name, documents, cancellationToken).ConfigureAwait(false),
            await PublishAsync(task, DropsKind, $"drops/{name}", drops, cancellationToken).ConfigureAwait(false),
            await PublishAsync(task, QuarantineKind, $"quarantine/{name}", quarantine, cancellationToken).ConfigureAwait(false),
        };

        // The last embed stage's vectors of the documents that survived every later stage, in shard order.
        if (job.Stages.OfType<EmbedStage>().LastOrDefault() is { } embed)
        {
            await using var vectors = SpoolFile.Create();
            await WriteKeptEmbeddingsAsync(job, embed, shard, documents, vectors, cancellationToken).ConfigureAwait(false);
            outputs.Add(await PublishAsync(task, EmbeddingsKind, $"embeddings/{name}", vectors, cancellationToken).ConfigureAwait(false));
        }
        return new TaskStats { Outputs = outputs, Seconds = clock.Elapsed.TotalSeconds };
    }

    private static async Task WriteKeptEmbeddingsAsync(JobContext job, EmbedStage embed, int shard, SpoolFile documents, SpoolFile target,
        CancellationToken cancellationToken)
    {
        var kept = new HashSet<string>(StringComparer.Ordinal);
        documents.Stream.Position = 0;
        await using (var reader = await ParquetTableReader.OpenAsync(new NonClosingStream(documents.Stream), cancellationToken).ConfigureAwait(false))
            await foreach (var batch in reader.ReadColumnsAsync([Model.Columns.Id], cancellationToken).ConfigureAwait(false))
                kept.UnionWith(batch.Ids.List);

        await using var input = await job.Data.OpenReadAsync(job.Layout.ShardEmbeddings(embed.Index, embed.Name, shard), cancellationToken).ConfigureAwait(false);
        await using var source = await ParquetTableReader.OpenAsync(input, cancellationToken).ConfigureAwait(false);
        await using var writer = await ParquetTableWriter.CreateAsync(target.Stream, source.Schema, source.Metadata.ToDictionary(), cancellationToken).ConfigureAwait(false);
        await foreach (var batch in source.ReadAllAsync(cancellationToken).ConfigureAwait(false))
        {
            var rows = Enumerable.Range(0, batch.RowCount).Where(row => kept.Contains(batch.Ids[row])).ToArray();
            await writer.WriteAsync(rows.Length == batch.RowCount ? batch : batch.Select(rows), cancellationToken).ConfigureAwait(false);
        }
    }

    private static async Task CopyRowsAsync(IObjectStore store, string key, ParquetTableWriter writer, CancellationToken cancellationToken)
    {
        await using var input = await store.OpenReadAsync(key, cancellationToken).ConfigureAwait(false);
        await using var reader = await ParquetTableReader.OpenAsync(input, cancellationToken).ConfigureAwait(false);
        await foreach (var batch in reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
            await writer.WriteAsync(batch, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Create-only upload to the output location. An object already there is accepted only when it is byte-identical
    /// (this job's earlier attempt); anything else means another job owns the output path, which must not be mixed.
    /// </summary>
    private static async Task<OutputObject> PublishAsync(TaskContext task, string kind, string relative, SpoolFile file, CancellationToken cancellationToken)
    {
        var key = OutputKey(task, relative);
        var sha = await file.Sha256Async(cancellationToken).ConfigureAwait(false);
        long rows;
        file.Stream.Position = 0;
        await using (var reader = await ParquetTableReader.OpenAsync(new NonClosingStream(file.Stream), cancellationToken).ConfigureAwait(false))
            rows = reader.RowCount;
        var output = task.Job.Output;
        try
        {
            await file.CommitCreateOnlyAsync(output, key, cancellationToken).ConfigureAwait(false);
        }
        catch (ObjectAlreadyExistsException)
        {
            await using var existing = await output.OpenReadAsync(key, cancellationToken).ConfigureAwait(false);
            var existingSha = Convert.ToHexStringLower(await SHA256.HashDataAsync(existing, cancellationToken).ConfigureAwait(false));
            if (existingSha != sha)
                throw new InvalidOperationException(
                    $"{output.Location}/{key} already exists with other content: output.path '{task.Job.Spec.Output.Path}' belongs to another job. " +
                    "Choose a new output.path (outputs are never overwritten).");
        }
        return new OutputObject(kind, relative, rows, file.Length, sha);
    }

    private async Task<TaskStats> WriteManifestAsync(TaskContext task, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        var job = task.Job;
        var accounts = new List<StageAccount>();
        var errors = new List<string>();
        var metrics = new Dictionary<string, Dictionary<string, double>>();
        var outputs = new List<OutputObject>();

        foreach (var stage in job.Stages)
            foreach (var phase in stage.Phases(job.Plan))
            {
                var stats = new List<TaskStats>();
                for (var t = 0; t < phase.TaskCount && !(stage == this && phase.Name == ManifestPhase); t++)
                {
                    var (s, _) = await job.Data.TryReadJsonAsync<TaskStats>(job.Layout.TaskStats(stage.Index, stage.Name, phase.Name, t),
                        cancellationToken: cancellationToken).ConfigureAwait(false);
                    stats.Add(s ?? throw new InvalidOperationException($"{stage}/{phase.Name} task {t} has not finished; the manifest cannot be written yet."));
                }
                foreach (var s in stats)
                {
                    errors.AddRange(s.Errors);
                    outputs.AddRange(s.Outputs);
                    foreach (var (metric, value) in s.Metrics)
                    {
                        var bucket = metrics.TryGetValue(stage.Folder, out var b) ? b : metrics[stage.Folder] = [];
                        bucket[metric] = bucket.GetValueOrDefault(metric) + value;
                    }
                }
                if (phase.ProducesShardOutput)
                    accounts.Add(new StageAccount(stage.Folder, stats.Sum(s => s.In), stats.Sum(s => s.Kept),
                        Sum(stats.Select(s => s.Dropped)), Sum(stats.Select(s => s.Quarantined))));
            }

        var reports = new Dictionary<string, System.Text.Json.JsonElement>();
        foreach (var stage in job.Stages)
            if (await StageReports.TryReadAsync(job, stage, cancellationToken).ConfigureAwait(false) is { } report) reports[stage.Folder] = report;

        var accounting = new Accounting { Stages = accounts };
        var imbalances = accounting.Imbalances();
        if (imbalances.Count > 0) throw new AccountingException(job.JobId, imbalances);

        IReadOnlyList<Model.ColumnSchema> schema;
        await using (var last = await job.Data.OpenReadAsync(task.InputShardKey(0), cancellationToken).ConfigureAwait(false))
        await using (var reader = await ParquetTableReader.OpenAsync(last, cancellationToken).ConfigureAwait(false))
            schema = reader.Schema;

        var manifest = new Manifest
        {
            JobId = job.JobId, JobName = job.Spec.Name, Seed = job.Spec.Seed, Schema = schema.Select(ManifestColumn.Of).ToArray(),
            Shards = outputs.Where(o => o.Kind == ShardKind).ToArray(),
            Drops = outputs.Where(o => o.Kind == DropsKind).ToArray(),
            Quarantine = outputs.Where(o => o.Kind == QuarantineKind).ToArray(),
            Embeddings = outputs.Where(o => o.Kind == EmbeddingsKind).ToArray(),
            Accounting = accounting, Errors = errors, Metrics = metrics, Reports = reports,
        };
        var key = OutputKey(task, Manifest.FileName);
        try
        {
            await job.Output.WriteJsonAsync(key, manifest, WriteCondition.CreateOnly, cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        catch (ObjectAlreadyExistsException)
        {
            var (existing, _) = await job.Output.TryReadJsonAsync<Manifest>(key, cancellationToken: cancellationToken).ConfigureAwait(false);
            if (existing?.JobId != job.JobId)
                throw new InvalidOperationException($"{job.Output.Location}/{key} belongs to job {existing?.JobId}; choose a new output.path.");
        }
        return new TaskStats { Seconds = clock.Elapsed.TotalSeconds, Metrics = { ["shards"] = manifest.Shards.Count, ["kept"] = accounting.Kept } };
    }

    private static Dictionary<string, long> Sum(IEnumerable<Dictionary<string, long>> counters)
    {
        var total = new Dictionary<string, long>();
        foreach (var counter in counters)
            foreach (var (reason, count) in counter)
                total[reason] = total.GetValueOrDefault(reason) + count;
        return total;
    }
}
