using System.Security.Cryptography;
using Curation.Pipelines.Execution;
using Curation.Pipelines.IO;
using Curation.Pipelines.Model;
using Curation.Pipelines.Spec;
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
    public const string PublishPhase = "publish";

    public const string ShardKind = "shard";
    public const string DropsKind = "drops";
    public const string QuarantineKind = "quarantine";
    public const string EmbeddingsKind = "embeddings";

    public override string Name => StageName;

    /// <summary>A versioned corpus gets a last phase: moving <c>current.json</c> (and retention) only after the manifest exists.</summary>
    protected override IReadOnlyList<StagePhase> DeclarePhases(JobPlan plan) =>
    [
        new(WritePhase, TaskScope.Shard, plan.ShardCount, WriteShardAsync),
        new(ManifestPhase, TaskScope.Single, 1, WriteManifestAsync),
        .. plan.Refresh is null ? Array.Empty<StagePhase>() : [new(PublishPhase, TaskScope.Single, 1, PublishSnapshotAsync)],
    ];

    public static string ShardFile(int shard) => $"part-{shard:D5}.parquet";

    /// <summary>
    /// The report's tally of a Parquet shard, gathered by whichever pass writes the rows this stage publishes (the document
    /// pass before it, or this stage's own deferred apply), so the manifest does not read every shard again for the report.
    /// </summary>
    public override IShardTap? TapInput(JobContext job, int shard) =>
        job.Spec.Output.Format == OutputFormat.Parquet ? new Reports.ReportTally.Tap(job.Data, ReportTallyKey(job, shard)) : null;

    private string ReportTallyKey(JobContext job, int shard) => $"{job.Layout.PhaseRoot(Index, Name, "report")}{JobLayout.ShardName(shard)}.json";

    /// <summary>The id index entries of one output shard and its drops (<see cref="IdIndex.WriteShardEntriesAsync"/>), in the data store.</summary>
    private string IdIndexEntriesKey(JobContext job, int shard) => $"{job.Layout.PhaseRoot(Index, Name, "index")}{JobLayout.ShardName(shard)}.entries";

    /// <summary>A shard's id index entries as its write task serialized them, or null when it did not (then the manifest reads the shard).</summary>
    private async Task<(byte[] Entries, string Name)?> GatheredEntriesAsync(JobContext job, int shard, CancellationToken cancellationToken)
    {
        var key = IdIndexEntriesKey(job, shard);
        try
        {
            return (await job.Data.ReadBytesAsync(key, cancellationToken).ConfigureAwait(false), $"{job.Data.Location}/{key}");
        }
        catch (ObjectNotFoundException)
        {
            return null;
        }
    }

    private static string OutputKey(TaskContext task, string relative) => task.Job.OutputLocation.KeyOf(relative);

    /// <summary>An output object's key relative to the corpus root: inside the snapshot's folder for a versioned corpus.</summary>
    /// <summary>
    /// A refresh whose inputs no longer list objects the corpus read earlier: said in the manifest's errors (and the
    /// job's warnings), since a snapshot keeps every document earlier snapshots curated.
    /// </summary>
    private static string VanishedWarning(RefreshPlan refresh)
    {
        var n = refresh.VanishedObjects;
        var more = n > refresh.VanishedExamples.Count ? $", … {n - refresh.VanishedExamples.Count:N0} more" : "";
        return $"{n:N0} input object{(n == 1 ? "" : "s")} the corpus read earlier {(n == 1 ? "is" : "are")} no longer in the inputs " +
            $"({string.Join(", ", refresh.VanishedExamples)}{more}): the documents curated from {(n == 1 ? "it" : "them")} stay in the " +
            "corpus, as a snapshot keeps what earlier snapshots curated; to leave them out, write a new corpus (another output path)";
    }

    private static string Relative(TaskContext task, string name) => task.Job.Refresh is { } refresh ? $"{refresh.Folder}/{name}" : name;

    private async Task<TaskStats> WriteShardAsync(TaskContext task, CancellationToken cancellationToken)
    {
        var job = task.Job;
        var shard = task.Task;
        var name = ShardFile(shard);

        // Curated documents: the last stage's file is already in the output schema, so it is copied byte for byte; a last
        // stage that left its decisions to this pass wrote none: they are applied here, over its input (one read, one write).
        await using var documents = SpoolFile.Create();
        if (await DeferredApplyAsync(task, shard, cancellationToken).ConfigureAwait(false) is { } apply)
            await ShardTransformer.RunIntoAsync(task, task.PreviousInputShardKey(shard), shard, [new ShardTransformer.Member(task.Previous, apply)], documents,
                null, task.Stage.TapInput(job, shard), cancellationToken).ConfigureAwait(false);
        else
            await using (var source = await job.Data.OpenReadAsync(task.InputShardKey(shard), cancellationToken).ConfigureAwait(false))
                await source.CopyToAsync(documents.Stream, cancellationToken).ConfigureAwait(false);

        await using var drops = SpoolFile.Create();
        long dropRows;
        await using (var writer = await ParquetTableWriter.CreateAsync(drops.Stream, DropsSchema.Columns, cancellationToken: cancellationToken).ConfigureAwait(false))
        {
            foreach (var stage in job.Stages.Skip(1).Take(job.Stages.Count - 2))
                await CopyRowsAsync(job.Data, job.Layout.ShardDrops(stage.Index, stage.Name, shard), writer, cancellationToken).ConfigureAwait(false);
            dropRows = writer.RowsWritten;
        }

        await using var quarantine = SpoolFile.Create();
        await using (var source = await job.Data.OpenReadAsync(job.Layout.ShardQuarantine(0, ReadStage.StageName, shard), cancellationToken).ConfigureAwait(false))
            await source.CopyToAsync(quarantine.Stream, cancellationToken).ConfigureAwait(false);

        var format = job.Spec.Output.Format;
        await using var jsonl = format == OutputFormat.Parquet ? null : SpoolFile.Create();
        long? jsonlRows = null;
        if (jsonl is not null)
        {
            documents.Stream.Position = 0;
            jsonlRows = await JsonlShardFile.ConvertAsync(new NonClosingStream(documents.Stream), jsonl.Stream, format, cancellationToken).ConfigureAwait(false);
        }
        var shardKey = jsonl is null ? Relative(task, name) : Relative(task, Path.ChangeExtension(name, null) + JsonlShardFile.Extension(format));
        var dropsKey = Relative(task, $"drops/{name}");

        // The id index's share of this shard (its rows' and drops' entries), serialized here so that the manifest only
        // sorts them into buckets: the writing tasks run in parallel, the manifest alone.
        await using var entries = SpoolFile.Create();
        var curated = jsonl ?? documents;
        curated.Stream.Position = 0;
        drops.Stream.Position = 0;
        await IdIndex.WriteShardEntriesAsync(entries.Stream, new NonClosingStream(curated.Stream), shardKey, new NonClosingStream(drops.Stream), dropsKey,
            cancellationToken).ConfigureAwait(false);

        // Three independent create-only objects, published together (their hashing and flushes to disk overlap); listed in
        // this order; the index entries committed beside them.
        var committing = entries.CommitOnceAsync(job.Data, IdIndexEntriesKey(job, shard), cancellationToken);
        var outputs = new List<OutputObject>(await Task.WhenAll(
            jsonl is null
                ? PublishAsync(task, ShardKind, shardKey, documents, cancellationToken)
                : PublishAsync(task, ShardKind, shardKey, jsonl, cancellationToken, jsonlRows),
            PublishAsync(task, DropsKind, dropsKey, drops, cancellationToken, dropRows),
            PublishAsync(task, QuarantineKind, Relative(task, $"quarantine/{name}"), quarantine, cancellationToken)).ConfigureAwait(false));
        await committing.ConfigureAwait(false);

        // The last embed stage's vectors of the documents that survived every later stage, in shard order.
        if (job.Stages.OfType<EmbedStage>().LastOrDefault() is { } embed)
        {
            await using var vectors = SpoolFile.Create();
            await WriteKeptEmbeddingsAsync(job, embed, shard, documents, vectors, cancellationToken).ConfigureAwait(false);
            outputs.Add(await PublishAsync(task, EmbeddingsKind, Relative(task, $"embeddings/{name}"), vectors, cancellationToken).ConfigureAwait(false));
        }
        if (job.Spec.Output.Tokens is not null && job.Stages.OfType<TrainTokenizeStage>().LastOrDefault() is { } train)
        {
            await using var tokens = await TokenShards.WriteAsync(job, train, documents, cancellationToken).ConfigureAwait(false);
            var files = new List<TokenFile>();
            foreach (var (kind, suffix, file, documentCount, tokenCount) in tokens.Files)
            {
                var published = await PublishAsync(task, kind, Relative(task, $"tokens/part-{shard:D5}{suffix}"), file, cancellationToken,
                    rows: kind is TokenShards.MegatronIdx or TokenShards.NpyOffsets ? documentCount : tokenCount).ConfigureAwait(false);
                files.Add(new TokenFile(kind, published.Key, shard, documentCount, tokenCount, published.Bytes, published.Sha256));
            }
            var metrics = new Dictionary<string, double>(tokens.Corpus.Metrics());
            foreach (var (key, count) in tokens.Mixed)
            {
                metrics[TokensSection.MixDocuments + key] = count.Documents;
                metrics[TokensSection.MixCopies + key] = count.Copies;
                metrics[TokensSection.MixTokens + key] = count.Tokens;
            }
            return new TaskStats { Outputs = outputs, TokenFiles = files, Metrics = metrics };
        }
        return new TaskStats { Outputs = outputs };
    }

    /// <summary>
    /// The previous stage's deferred decisions for <paramref name="shard"/> (<see cref="PipelineStage.DeferredApplyAsync"/>)
    /// when it wrote no shard of its own; null when its shard is there to copy.
    /// </summary>
    private static async Task<IDocumentTransform?> DeferredApplyAsync(TaskContext task, int shard, CancellationToken cancellationToken) =>
        await task.Job.Data.GetInfoAsync(task.InputShardKey(shard), cancellationToken).ConfigureAwait(false) is null
            ? await task.Previous.DeferredApplyAsync(task.Job, shard, cancellationToken).ConfigureAwait(false)
            : null;

    /// <summary>
    /// The curated documents' schema: the previous stage's shard's, or, where it deferred its decisions, its input's plus
    /// the columns applying them adds (<see cref="PipelineStage.DeferredApplyColumnsAsync"/>: the decisions are not read).
    /// </summary>
    private static async Task<IReadOnlyList<ColumnSchema>> ShardSchemaAsync(TaskContext task, int shard, CancellationToken cancellationToken)
    {
        var deferred = await task.Job.Data.GetInfoAsync(task.InputShardKey(shard), cancellationToken).ConfigureAwait(false) is null;
        await using var input = await task.Job.Data.OpenReadAsync(deferred ? task.PreviousInputShardKey(shard) : task.InputShardKey(shard), cancellationToken)
            .ConfigureAwait(false);
        await using var reader = await ParquetTableReader.OpenAsync(input, cancellationToken).ConfigureAwait(false);
        if (!deferred) return reader.Schema;
        var added = await task.Previous.DeferredApplyColumnsAsync(task.Job, shard, cancellationToken).ConfigureAwait(false);
        return ShardTransformer.OutputSchema(reader.Schema, added);
    }

    private static async Task WriteKeptEmbeddingsAsync(JobContext job, EmbedStage embed, int shard, SpoolFile documents, SpoolFile target,
        CancellationToken cancellationToken)
    {
        // How many curated rows hold each id: one vector is taken for each, in file order, so the file has exactly a row per
        // curated document even where inputs reuse an id (which of such rows' vectors is then ambiguous: the job warns).
        var kept = new Dictionary<string, int>(StringComparer.Ordinal);
        documents.Stream.Position = 0;
        await using (var reader = await ParquetTableReader.OpenAsync(new NonClosingStream(documents.Stream), cancellationToken).ConfigureAwait(false))
            await foreach (var batch in reader.ReadColumnsAsync([Model.Columns.Id], cancellationToken).ConfigureAwait(false))
                foreach (var id in batch.Ids.List) kept[id] = kept.GetValueOrDefault(id) + 1;

        // The job's binary vectors become the output's list of float (EmbeddingListFile), kept rows only, in file order.
        await using var input = await job.Data.OpenReadAsync(job.Layout.ShardEmbeddings(embed.Index, embed.Name, shard), cancellationToken).ConfigureAwait(false);
        await using var source = await ParquetTableReader.OpenAsync(input, cancellationToken).ConfigureAwait(false);
        var dimensions = int.Parse(source.Metadata[EmbeddingFile.DimensionsKey], System.Globalization.CultureInfo.InvariantCulture);
        var float16 = EmbeddingFile.IsFloat16(source.Metadata);
        await using var writer = await EmbeddingListFile.CreateAsync(target.Stream, dimensions, source.Metadata, cancellationToken).ConfigureAwait(false);
        await foreach (var batch in source.ReadAllAsync(cancellationToken).ConfigureAwait(false))
        {
            var rows = new List<int>();
            for (var row = 0; row < batch.RowCount; row++)
            {
                if (!kept.TryGetValue(batch.Ids[row], out var left) || left == 0) continue;
                kept[batch.Ids[row]] = left - 1;
                rows.Add(row);
            }
            var vectors = new float[rows.Count * dimensions];
            var column = batch.GetColumn<byte[]>(EmbeddingFile.VectorColumn);
            for (var i = 0; i < rows.Count; i++) EmbeddingFile.Decode(column[rows[i]], vectors.AsSpan(i * dimensions, dimensions), float16);
            await writer.WriteAsync(rows.Select(r => batch.Ids[r]).ToArray(), vectors, cancellationToken).ConfigureAwait(false);
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
    private static async Task<OutputObject> PublishAsync(TaskContext task, string kind, string relative, SpoolFile file, CancellationToken cancellationToken,
        long? rows = null)
    {
        var key = OutputKey(task, relative);
        var sha = await file.Sha256Async(cancellationToken).ConfigureAwait(false);
        if (rows is null)
        {
            file.Stream.Position = 0;
            await using var reader = await ParquetTableReader.OpenAsync(new NonClosingStream(file.Stream), cancellationToken).ConfigureAwait(false);
            rows = reader.RowCount;
        }
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
        return new OutputObject(kind, relative, rows.Value, file.Length, sha);
    }

    private async Task<TaskStats> WriteManifestAsync(TaskContext task, CancellationToken cancellationToken)
    {
        var job = task.Job;
        var accounts = new List<StageAccount>();
        var errors = new List<string>();
        var metrics = new Dictionary<string, Dictionary<string, double>>();
        var outputs = new List<OutputObject>();
        var indexes = new List<SnapshotIndex>();
        var tokenFiles = new List<TokenFile>();

        foreach (var stage in job.Stages)
            foreach (var phase in stage.Phases(job.Plan))
            {
                if (stage != this && await stage.SkipsPhaseAsync(job, phase, cancellationToken).ConfigureAwait(false)) continue; // never dispatched
                // The manifest and publish tasks of this stage are running now: they have no stats yet.
                var stats = stage == this && phase.Name is ManifestPhase or PublishPhase
                    ? []
                    : await job.PhaseStatsAsync(stage, phase.Name, phase.TaskCount, cancellationToken).ConfigureAwait(false);
                foreach (var s in stats)
                {
                    errors.AddRange(s.Errors);
                    outputs.AddRange(s.Outputs);
                    if (s.Indexes is not null) indexes.AddRange(s.Indexes);
                    if (s.TokenFiles is not null) tokenFiles.AddRange(s.TokenFiles);
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

        var baseManifest = await job.BaseManifestAsync(cancellationToken).ConfigureAwait(false);
        IReadOnlyList<ManifestColumn> schema;
        if (job.Plan.ShardCount == 0)
            schema = baseManifest?.Schema ?? [];   // a refresh that found nothing new: the corpus' schema
        else
            schema = (await ShardSchemaAsync(task, 0, cancellationToken).ConfigureAwait(false)).Select(ManifestColumn.Of).ToArray();

        SnapshotSection? snapshot = null;
        if (job.Refresh is { } refresh)
        {
            var carriedShards = baseManifest?.AllShards.ToArray() ?? [];
            snapshot = new SnapshotSection
            {
                Number = refresh.Snapshot, Folder = refresh.Folder, Previous = refresh.BaseSnapshot, PreviousManifest = refresh.BaseManifest,
                CarriedShards = carriedShards, CarriedEmbeddings = baseManifest?.AllEmbeddings.ToArray() ?? [],
                CarriedDocuments = carriedShards.Sum(s => s.Rows), NewDocuments = accounting.Kept,
                ReadObjects = job.Plan.ObjectCount, SkippedObjects = refresh.SkippedObjects, ChangedObjects = refresh.ChangedObjects,
                VanishedObjects = refresh.VanishedObjects, Inputs = refresh.Inputs,
                Indexes = indexes.OrderBy(i => i.Stage, StringComparer.Ordinal).ThenBy(i => i.Name, StringComparer.Ordinal).ThenBy(i => i.Partition).ToArray(),
            };
        }

        if (job.Refresh is { VanishedObjects: > 0 } gone) errors.Add(VanishedWarning(gone));
        var shardObjects = outputs.Where(o => o.Kind == ShardKind).ToArray();
        // Task order is shard order: shard i and drops file i are task i's, whose index entries it serialized.
        var idIndex = await IdIndex.WriteAsync(job.Output, job.OutputLocation, Relative(task, IdIndex.FolderName), shardObjects,
            outputs.Where(o => o.Kind == DropsKind).ToArray(), cancellationToken,
            shardObjects.Length == job.Plan.ShardCount ? (s, ct) => GatheredEntriesAsync(job, s, ct) : null).ConfigureAwait(false);
        if (idIndex.SharedIdsWarning() is { } shared) errors.Add(shared);
        var manifest = new Manifest
        {
            IdIndex = idIndex,
            JobId = job.JobId, JobName = job.Spec.Name, Seed = job.Spec.Seed, Schema = schema,
            Shards = outputs.Where(o => o.Kind == ShardKind).ToArray(),
            Drops = outputs.Where(o => o.Kind == DropsKind).ToArray(),
            Quarantine = outputs.Where(o => o.Kind == QuarantineKind).ToArray(),
            Embeddings = outputs.Where(o => o.Kind == EmbeddingsKind).ToArray(),
            Accounting = accounting, Errors = errors, Metrics = metrics, Reports = reports, Snapshot = snapshot,
            Tokens = job.Spec.Output.Tokens is null || job.Stages.OfType<TrainTokenizeStage>().LastOrDefault() is not { } train ? null
                : TokensSection.Of(job.Spec, train.Spec, tokenFiles, metrics.GetValueOrDefault(Folder) ?? []),
        };
        // The shards' tallies the writing passes gathered (task order is shard order); a shard without one is read.
        var tallies = new Reports.ReportTally?[manifest.Shards.Count == job.Plan.ShardCount ? manifest.Shards.Count : 0];
        await Parallel.ForAsync(0, tallies.Length, cancellationToken, async (s, ct) =>
            tallies[s] = await Reports.ReportTally.TryReadAsync(job.Data, ReportTallyKey(job, s), ct).ConfigureAwait(false)).ConfigureAwait(false);
        await Reports.CorpusReport.WriteAsync(job.Output, job.OutputLocation, Relative(task, ""), manifest, job.Spec, cancellationToken, tallies)
            .ConfigureAwait(false);
        var key = OutputKey(task, Relative(task, Manifest.FileName));
        try
        {
            await job.Output.WriteJsonAsync(key, manifest, WriteCondition.CreateOnly, CurationJson.Readable, cancellationToken).ConfigureAwait(false);
        }
        catch (ObjectAlreadyExistsException)
        {
            var (existing, _) = await job.Output.TryReadJsonAsync<Manifest>(key, cancellationToken: cancellationToken).ConfigureAwait(false);
            if (existing?.JobId != job.JobId)
                throw new InvalidOperationException($"{job.Output.Location}/{key} belongs to job {existing?.JobId}; choose a new output.path.");
        }
        return new TaskStats { Metrics = { ["shards"] = manifest.Shards.Count, ["kept"] = accounting.Kept } };
    }

    /// <summary>
    /// The last task of a versioned corpus' job: moves <c>current.json</c> from the base to this snapshot (conditional
    /// write; the manifest exists by now, so readers never see a half-made snapshot), then applies retention.
    /// Interrupted anywhere before, the pointer still names the base; run again, the job completes.
    /// </summary>
    private static async Task<TaskStats> PublishSnapshotAsync(TaskContext task, CancellationToken cancellationToken)
    {
        var job = task.Job;
        var refresh = job.Refresh ?? throw new InvalidOperationException($"{job.JobId} writes no snapshots.");
        var manifestKey = Relative(task, Manifest.FileName);
        if (await job.Output.GetInfoAsync(OutputKey(task, manifestKey), cancellationToken).ConfigureAwait(false) is null)
            throw new InvalidOperationException($"{job.Output.Location}/{OutputKey(task, manifestKey)} is missing: the snapshot cannot be published.");
        var prefix = job.OutputLocation.Prefix;
        await CorpusSnapshots.MoveCurrentAsync(job.Output, prefix, new CurrentSnapshot(refresh.Snapshot, manifestKey, job.JobId), refresh.BaseSnapshot,
            cancellationToken).ConfigureAwait(false);
        var deleted = await CorpusSnapshots.ApplyRetentionAsync(job.Output, prefix, job.Spec.Output.KeepSnapshots ?? Spec.OutputSpec.DefaultKeepSnapshots,
            cancellationToken).ConfigureAwait(false);
        return new TaskStats { Metrics = { ["snapshot"] = refresh.Snapshot, ["retention_deleted_objects"] = deleted } };
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
