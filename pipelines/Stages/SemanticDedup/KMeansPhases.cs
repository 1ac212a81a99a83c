using Curation.Pipelines.Execution;
using Curation.Pipelines.IO;
using Curation.Pipelines.Model;
using Curation.Pipelines.Semantic;
using Curation.Pipelines.Spec;
using Curation.Pipelines.Storage;

namespace Curation.Pipelines.Stages;

/// <summary>
/// Distributed spherical k-means over the embeddings of the documents reaching a stage, as phases of that stage
/// (shared by <c>semantic_dedup</c> and <c>d4</c>):
/// <list type="number">
/// <item><b>sample</b> (per shard): the shard's vectors as one raw matrix, the ids and rows of its seeded initialisation
/// sample (chosen by document id, at most <c>initSampleMax</c> vectors: <see cref="KMeansInitSample"/>; the vectors stay
/// in the matrix, by reference) and the shard's part of the corpus mean direction (for embedding health);</item>
/// <item><b>init</b>: k-means++ on the sample → centroids of iteration 0;</item>
/// <item><b>assign-i</b> (per shard, or per run of consecutive shards beyond <see cref="MaxAssignTasks"/>) /
/// <b>reduce-i</b>: one Lloyd iteration — exact fixed-point partial sums per task, so the centroids are bit-identical
/// whatever the silo count or grouping; once converged, the remaining iterations are no-ops.</item>
/// </list>
/// Objects live under the owning stage's folder: <c>sample/</c> (each shard's sampled ids and rows), <c>mean/</c>,
/// <c>mean.bin</c>, <c>vectors/</c> (each shard's vectors as a raw float32 matrix, written by sample, read in tiles by
/// every assign-i and by init for the sampled rows), <c>partials/</c>, <c>centroids/NNN.bin</c>.
/// With <paramref name="fixedClustering"/> applying to a job (a refresh of a versioned corpus), nothing is fitted: sample
/// is a no-op, init writes the given centroids (and mean direction) as converged, and the Lloyd phases forward them —
/// the phase list stays the same, fixed at plan time.
/// </summary>
internal sealed partial class KMeansPhases(PipelineStage stage, IClusteringSpec spec, IFixedClustering? fixedClustering = null)
{
    public const string SamplePhase = "sample";
    public const string InitPhase = "init";
    private const string AssignPrefix = "assign-";
    private const string ReducePrefix = "reduce-";

    /// <summary>The k-means phases: sample, init, then an assign and a reduce phase per Lloyd iteration.</summary>
    public IEnumerable<StagePhase> Phases(JobPlan plan)
    {
        yield return new(SamplePhase, TaskScope.Shard, plan.ShardCount, SampleAsync);
        yield return new(InitPhase, TaskScope.Single, 1, InitAsync);
        for (var i = 0; i < spec.MaxIterations; i++)
        {
            var iteration = i;
            yield return new($"{AssignPrefix}{i:D3}", TaskScope.Shard, AssignTasks(plan.ShardCount), (task, ct) => LloydAssignAsync(task, iteration, ct));
            yield return new($"{ReducePrefix}{i:D3}", TaskScope.Single, 1, (task, ct) => ReduceAsync(task, iteration, ct));
        }
    }

    /// <summary>
    /// The most assign tasks a Lloyd iteration has. Each task writes a partial of clusters × dimensions fixed-point sums
    /// (3 MB at 1,000 × 384) that the reduce reads back, so one task per shard made a job of many small shards spend its
    /// iterations on partials (208 shards of ~1,000 documents: 624 MB written and read per iteration). Beyond this many
    /// shards a task assigns a run of consecutive shards; the sums are exact integers, so the centroids are bit-identical
    /// whatever the grouping.
    /// </summary>
    internal static int MaxAssignTasks => AssignCap.Value;

    private static readonly FlowSetting<int> AssignCap = new(64);

    /// <summary>A different <see cref="MaxAssignTasks"/> for the calling async flow only (tests: grouping on a small corpus).</summary>
    internal static IDisposable UseMaxAssignTasks(int max) => AssignCap.Use(max);

    /// <summary>Consecutive shards per assign task: 1 up to <see cref="MaxAssignTasks"/> shards.</summary>
    internal static int ShardsPerAssignTask(int shards) => Math.Max(1, (shards + MaxAssignTasks - 1) / MaxAssignTasks);

    /// <summary>Assign tasks per Lloyd iteration for a job of <paramref name="shards"/> shards.</summary>
    internal static int AssignTasks(int shards)
    {
        var perTask = ShardsPerAssignTask(shards);
        return (shards + perTask - 1) / perTask;
    }

    private static ulong Seed(TaskContext task) => unchecked((ulong)task.Job.Spec.Seed);

    private string Key(TaskContext task, string relative) => task.Job.Layout.StageRoot(stage.Index, stage.Name) + relative;

    /// <summary>Assign task <paramref name="assign"/>'s partial sums of an iteration (the task covers a run of shards).</summary>
    private string PartialKey(TaskContext task, int iteration, int assign) => Key(task, $"partials/{iteration:D3}/task-{assign:D5}.bin");

    private string CentroidsKey(TaskContext task, int iteration) => Key(task, $"centroids/{iteration:D3}.bin");

    private const string ProjectionObject = "projection.bin";

    /// <summary>
    /// The vectors k-means assigns: with clusterDims, projected into the space init fitted (<see cref="ClusterProjection"/>);
    /// otherwise the embeddings themselves.
    /// </summary>
    public async Task<(float[] Vectors, int Dimensions)> ClusterSpaceAsync(TaskContext task, float[] vectors, int dimensions, CancellationToken cancellationToken)
    {
        if (await ProjectionAsync(task, cancellationToken).ConfigureAwait(false) is not { } projection) return (vectors, dimensions);
        if (vectors.Length > 0 && projection.InputDims != dimensions)
            throw new InvalidOperationException($"{stage}: the embeddings have {dimensions} dimensions, the clusterDims projection {projection.InputDims}.");
        return (projection.Project(vectors), projection.OutputDims);
    }

    /// <summary>The clusterDims projection init fitted; null without clusterDims or when the clustering is given.</summary>
    private async Task<ClusterProjection?> ProjectionAsync(TaskContext task, CancellationToken cancellationToken) =>
        spec.ClusterDims is null || (fixedClustering?.Applies(task) ?? false) ? null
            : ClusterProjection.FromBytes(await task.Job.Data.ReadBytesAsync(Key(task, ProjectionObject), cancellationToken).ConfigureAwait(false));

    /// <summary>The centroids after the last iteration.</summary>
    public async Task<Centroids> FinalCentroidsAsync(TaskContext task, CancellationToken cancellationToken) =>
        (await ReadCentroidsAsync(task, spec.MaxIterations, cancellationToken).ConfigureAwait(false)).Centroids;

    /// <summary>The corpus mean direction of the documents reaching the stage (for the embedding-health check).</summary>
    public async Task<MeanDirection> MeanAsync(TaskContext task, CancellationToken cancellationToken)
    {
        // mean.bin: resultant length, count (as floats: both only gate the check), then the direction.
        var values = await StageObjects.ReadArrayAsync<float>(task.Job.Data, Key(task, "mean.bin"), cancellationToken).ConfigureAwait(false);
        return new MeanDirection(values[2..], values[0], (long)values[1]);
    }

    /// <summary>The embed stage whose vectors this stage reads: the last one before it.</summary>
    private static EmbedStage EmbedStageOf(TaskContext task) =>
        task.Job.Stages.Take(task.Stage.Index).OfType<EmbedStage>().LastOrDefault()
        ?? throw new InvalidOperationException($"{task.Stage} needs an embed stage before it.");

    /// <summary>The current documents of a shard (the previous stage's output, in row order) and their vectors.</summary>
    public static async Task<(List<string> Ids, float[] Vectors, int Dimensions)> LoadShardAsync(TaskContext task, int shard, CancellationToken cancellationToken)
    {
        var embed = EmbedStageOf(task);
        var ids = new List<string>();
        await using (var input = await task.Job.Data.OpenReadAsync(task.InputShardKey(shard), cancellationToken).ConfigureAwait(false))
        await using (var reader = await ParquetTableReader.OpenAsync(input, cancellationToken).ConfigureAwait(false))
            await foreach (var batch in reader.ReadColumnsAsync([Columns.Id], cancellationToken).ConfigureAwait(false))
                ids.AddRange(batch.Ids.List);

        await using var file = await task.Job.Data.OpenReadAsync(task.Job.Layout.ShardEmbeddings(embed.Index, embed.Name, shard), cancellationToken).ConfigureAwait(false);
        var (embeddedIds, embedded, dimensions) = await EmbeddingFile.ReadAllAsync(file, cancellationToken).ConfigureAwait(false);
        // Usually the shard's documents are exactly the embedded ones, in the same order: the matrix is used as read.
        if (embeddedIds.Count == ids.Count && embeddedIds.SequenceEqual(ids, StringComparer.Ordinal)) return (ids, embedded, dimensions);
        var rowOf = new Dictionary<string, int>(embeddedIds.Count, StringComparer.Ordinal);
        for (var i = 0; i < embeddedIds.Count; i++) rowOf.TryAdd(embeddedIds[i], i);
        var vectors = new float[ids.Count * dimensions];
        for (var i = 0; i < ids.Count; i++)
        {
            if (!rowOf.TryGetValue(ids[i], out var row))
                throw new InvalidOperationException($"Document {ids[i]} of shard {shard} has no embedding in {embed}.");
            embedded.AsSpan(row * dimensions, dimensions).CopyTo(vectors.AsSpan(i * dimensions));
        }
        return (ids, vectors, dimensions);
    }

    private async Task<TaskStats> SampleAsync(TaskContext task, CancellationToken cancellationToken)
    {
        if (fixedClustering?.Applies(task) == true) return new TaskStats();
        var (ids, vectors, dimensions) = await LoadShardAsync(task, task.Task, cancellationToken).ConfigureAwait(false);
        var rows = KMeansInitSample.ShardRows(ids, Seed(task), spec.InitSampleFraction, MaxSampleVectors, out var picked);
        var mean = EmbeddingHealth.Accumulate(vectors, dimensions);
        await WriteShardVectorsAsync(task, vectors, dimensions, cancellationToken).ConfigureAwait(false);
        await StageObjects.WriteArrayAsync(task.Job.Data, Key(task, $"mean/{JobLayout.ShardName(task.Task)}.bin"), [mean.Count, .. mean.Sums], cancellationToken).ConfigureAwait(false);
        // The sample by reference: its ids and rows; init reads those rows' vectors from the shard's matrix written above.
        var sample = RecordBatch.WithSchema(SampleSchema, rows.Length);
        var sampleRows = sample.GetColumn<int>(SampleRowColumn);
        foreach (var row in rows)
        {
            sample.Ids.Add(ids[row]);
            sampleRows.Add(row);
        }
        await StageObjects.WriteParquetAsync(task.Job.Data, SampleKey(task, task.Task), sample, null, cancellationToken).ConfigureAwait(false);
        var stats = new TaskStats { In = ids.Count, Metrics = { ["sampled"] = rows.Length } };
        if (rows.Length < picked) stats.Metrics[CappedMetric] = picked - rows.Length;
        return stats;
    }

    private const string SampleMetric = "init_sample";
    private const string CappedMetric = "init_sample_capped";

    /// <summary>The most vectors the initialisation sample holds (<see cref="KMeansInitSample"/>).</summary>
    private int MaxSampleVectors => spec.InitSampleMax ?? KMeansInitSample.DefaultMaxVectors;

    /// <summary>A sample file's columns: the sampled document's id and its row in the shard (and in the shard's matrix).</summary>
    private const string SampleRowColumn = "row";

    private static readonly IReadOnlyList<ColumnSchema> SampleSchema = [new(Columns.Id, typeof(string)), new(SampleRowColumn, typeof(int))];

    private string SampleKey(TaskContext task, int shard) => Key(task, $"sample/{JobLayout.ShardName(shard)}.rows.parquet");

    /// <summary>Offers the ids of a shard's sample to the cut with their shard rows, in row order (a row group at a time).</summary>
    private async Task OfferSampleIdsAsync(TaskContext task, int shard, KMeansInitSample.Cut cut, CancellationToken cancellationToken)
    {
        await using var input = await task.Job.Data.OpenReadAsync(SampleKey(task, shard), cancellationToken).ConfigureAwait(false);
        await using var reader = await ParquetTableReader.OpenAsync(input, cancellationToken).ConfigureAwait(false);
        await foreach (var batch in reader.ReadColumnsAsync([Columns.Id, SampleRowColumn], cancellationToken).ConfigureAwait(false))
        {
            var rows = batch.GetColumn<int>(SampleRowColumn);
            for (var i = 0; i < batch.RowCount; i++) cut.Offer(KMeansInitSample.KeyOf(batch.Ids[i], Seed(task)), shard, rows[i], batch.Ids[i]);
        }
    }

    private async Task<TaskStats> InitAsync(TaskContext task, CancellationToken cancellationToken)
    {
        if (fixedClustering?.Applies(task) == true)
        {
            var (given, mean) = await fixedClustering.LoadAsync(task, cancellationToken).ConfigureAwait(false);
            await StageObjects.WriteArrayAsync(task.Job.Data, Key(task, "mean.bin"), [(float)mean.ResultantLength, mean.Count, .. mean.Direction],
                cancellationToken).ConfigureAwait(false);
            await WriteCentroidsAsync(task, 0, given, shift: 0, converged: true, cancellationToken).ConfigureAwait(false);
            return new TaskStats { Metrics = { ["clusters"] = given.Count, ["reused_centroids"] = 1 } };
        }
        // The sample is bounded (KMeansInitSample): the shards' ids first, through a cut of the maximum's size (which keeps
        // the ids of what it keeps); then each shard's sample is streamed a row group at a time and the rows the cut keeps
        // are decoded into one array of the exact size, so init holds the sample and one small row group, whatever the corpus.
        var cut = new KMeansInitSample.Cut(MaxSampleVectors);
        for (var shard = 0; shard < task.Job.Plan.ShardCount; shard++)
            await OfferSampleIdsAsync(task, shard, cut, cancellationToken).ConfigureAwait(false);
        if (cut.Kept == 0) return await NothingToClusterAsync(task, cancellationToken).ConfigureAwait(false);
        var count = cut.Kept;
        var k = Math.Min(spec.Clusters, count);
        Centroids centroids;
        double? explained = null;
        if (spec.ClusterDims is not { } clusterDims)
        {
            // Straight into k-means++'s panels: one copy of the sample.
            var (panels, _, dimensions) = await ReadSamplePackedAsync(task, cut, cancellationToken).ConfigureAwait(false);
            await WriteMeanAsync(task, dimensions, cancellationToken).ConfigureAwait(false);
            centroids = SphericalKMeans.InitializePlusPlusPacked(panels, count, dimensions, k, Seed(task));
        }
        else
        {
            var (ids, sample, dimensions) = await ReadSampleRowsAsync(task, cut, cancellationToken).ConfigureAwait(false);
            await WriteMeanAsync(task, dimensions, cancellationToken).ConfigureAwait(false);
            // clusterDims: fit the projection on the sample (shard order, so the same rows whatever the silos) and cluster in it.
            if (clusterDims >= dimensions)
                throw new InvalidOperationException($"{stage}: clusterDims {clusterDims} is not below the embeddings' {dimensions} dimensions (leave it unset for the full space).");
            var projection = ClusterProjection.Fit(sample, dimensions, clusterDims);
            await task.Job.Data.CreateOnceAsync(Key(task, ProjectionObject), (stream, ct) => stream.WriteAsync(projection.ToBytes(), ct).AsTask(), cancellationToken)
                .ConfigureAwait(false);
            explained = projection.ExplainedFraction;
            centroids = SphericalKMeans.InitializePlusPlus(projection.Project(sample), clusterDims, ids, k, Seed(task));
        }
        await WriteCentroidsAsync(task, 0, centroids, shift: double.PositiveInfinity, converged: false, cancellationToken).ConfigureAwait(false);
        var stats = new TaskStats { In = count, Metrics = { ["clusters"] = k } };
        // Only a sample at its maximum reports it (whether a shard or this cut left rows out, the sample then holds exactly
        // the maximum), so a corpus under it reports what it did before the cap. The stage's init_sample_capped (summed
        // over the sample tasks and this one) is the documents the fraction picked that the maximum left out.
        if (count >= MaxSampleVectors) stats.Metrics[SampleMetric] = count;
        if (cut.Capped) stats.Metrics[CappedMetric] = cut.Candidates - cut.Kept;
        if (explained is { } fraction) stats.Metrics["cluster_dims_explained_variance"] = fraction;
        return stats;
    }

    /// <summary>
    /// The sample is empty. When no document reaches the stage (every one was dropped or quarantined before it) there is
    /// nothing to cluster and the job goes on to an empty output: one placeholder centroid, converged (and with
    /// clusterDims a placeholder projection), gives every later phase the objects it reads, and no document is ever
    /// assigned to it (this was a task failing four times, and so the job). Documents that an initSampleFraction left
    /// out of the sample fail the job saying so.
    /// </summary>
    private async Task<TaskStats> NothingToClusterAsync(TaskContext task, CancellationToken cancellationToken)
    {
        // Every shard's mean file holds its document count and the embeddings' dimensions (count, then the sums).
        var first = await StageObjects.ReadArrayAsync<long>(task.Job.Data, Key(task, $"mean/{JobLayout.ShardName(0)}.bin"), cancellationToken).ConfigureAwait(false);
        var mean = await WriteMeanAsync(task, first.Length - 1, cancellationToken).ConfigureAwait(false);
        if (mean.Count > 0)
            throw new InvalidOperationException($"{stage}: initSampleFraction {spec.InitSampleFraction} picked none of the {mean.Count:N0} documents " +
                                                "reaching this stage for the k-means initialisation: raise it");
        var dimensions = Math.Max(1, first.Length - 1);
        var space = dimensions;
        if (spec.ClusterDims is { } clusterDims)
        {
            space = Math.Min(clusterDims, dimensions);
            await task.Job.Data.CreateOnceAsync(Key(task, ProjectionObject),
                (stream, ct) => stream.WriteAsync(ClusterProjection.Placeholder(dimensions, space).ToBytes(), ct).AsTask(), cancellationToken).ConfigureAwait(false);
        }
        var placeholder = new float[space];
        placeholder[0] = 1;
        await WriteCentroidsAsync(task, 0, new Centroids(placeholder, space), shift: 0, converged: true, cancellationToken).ConfigureAwait(false);
        return new TaskStats { Metrics = { ["clusters"] = 0, ["no_documents"] = 1 } };
    }

    /// <summary>mean.bin: the corpus mean direction, reduced in shard order from the sample phase's per-shard sums (returned).</summary>
    private async Task<MeanDirection> WriteMeanAsync(TaskContext task, int dimensions, CancellationToken cancellationToken)
    {
        var means = new List<MeanPartial>();
        for (var shard = 0; shard < task.Job.Plan.ShardCount; shard++)
        {
            var longs = await StageObjects.ReadArrayAsync<long>(task.Job.Data, Key(task, $"mean/{JobLayout.ShardName(shard)}.bin"), cancellationToken).ConfigureAwait(false);
            means.Add(new MeanPartial(dimensions, longs[1..], longs[0]));
        }
        var direction = EmbeddingHealth.Reduce(means);
        await StageObjects.WriteArrayAsync(task.Job.Data, Key(task, "mean.bin"), [(float)direction.ResultantLength, direction.Count, .. direction.Direction],
            cancellationToken).ConfigureAwait(false);
        return direction;
    }

    private async Task<TaskStats> LloydAssignAsync(TaskContext task, int iteration, CancellationToken cancellationToken)
    {
        var (centroids, converged) = await ReadCentroidsAsync(task, iteration, cancellationToken).ConfigureAwait(false);
        if (converged) return new TaskStats { Metrics = { ["skipped_converged"] = 1 } };
        // The shard's vectors as the sample phase wrote them, a tile of rows at a time (bounded memory, no parquet decode).
        var projection = await ProjectionAsync(task, cancellationToken).ConfigureAwait(false);
        var partial = new PartialSums(centroids.Count, centroids.Dimensions);
        var perTask = ShardsPerAssignTask(task.Job.Plan.ShardCount);
        var (first, end) = (task.Task * perTask, Math.Min(task.Job.Plan.ShardCount, (task.Task + 1) * perTask));
        var rows = 0L;
        for (var shard = first; shard < end; shard++)
            rows += await ReadShardVectorsAsync(task, shard, (tile, dimensions) =>
            {
                if (projection is null) SphericalKMeans.AssignInto(partial, tile, dimensions, centroids);
                else SphericalKMeans.AssignInto(partial, projection.Project(tile), projection.OutputDims, centroids);
            }, cancellationToken).ConfigureAwait(false);
        await task.Job.Data.CreateOnceAsync(PartialKey(task, iteration, task.Task), (stream, ct) => WritePartialAsync(stream, partial, ct), cancellationToken)
            .ConfigureAwait(false);
        return new TaskStats { In = rows };
    }

    private async Task<TaskStats> ReduceAsync(TaskContext task, int iteration, CancellationToken cancellationToken)
    {
        var (previous, converged) = await ReadCentroidsAsync(task, iteration, cancellationToken).ConfigureAwait(false);
        if (converged)
        {
            await WriteCentroidsAsync(task, iteration + 1, previous, 0, converged: true, cancellationToken).ConfigureAwait(false);
            return new TaskStats { Metrics = { ["skipped_converged"] = 1 } };
        }
        // A running total (exact integer sums, so the same as totalling them all at once): one task's partial in memory at a time.
        var total = new PartialSums(previous.Count, previous.Dimensions);
        var tasks = AssignTasks(task.Job.Plan.ShardCount);
        for (var assign = 0; assign < tasks; assign++)
        {
            await using var input = await task.Job.Data.OpenReadAsync(PartialKey(task, iteration, assign), cancellationToken).ConfigureAwait(false);
            total.AddFrom(await ReadPartialAsync(input, cancellationToken).ConfigureAwait(false));
        }
        var update = SphericalKMeans.Reduce([total], previous);
        var done = update.MaxShift <= spec.Tolerance;
        await WriteCentroidsAsync(task, iteration + 1, update.Centroids, update.MaxShift, done, cancellationToken).ConfigureAwait(false);
        return new TaskStats
        {
            Metrics = { ["iterations"] = 1, ["converged"] = done ? 1 : 0, [$"inertia_{iteration:D3}"] = update.Inertia, ["empty_clusters"] = update.EmptyClusters },
        };
    }

}
