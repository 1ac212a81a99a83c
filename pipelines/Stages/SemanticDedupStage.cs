using System.Diagnostics;
using System.Globalization;
using Curation.Pipelines.Execution;
using Curation.Pipelines.IO;
using Curation.Pipelines.Model;
using Curation.Pipelines.Semantic;
using Curation.Pipelines.Spec;
using Curation.Pipelines.Storage;

namespace Curation.Pipelines.Stages;

/// <summary>
/// SemDeDup over the embeddings of the last embed stage, distributed as phases of the job:
/// <list type="number">
/// <item><b>sample</b> (per shard): the seeded initialisation sample (by document id);</item>
/// <item><b>init</b>: k-means++ on the sample → centroids of iteration 0;</item>
/// <item><b>assign-i</b> (per shard) / <b>reduce-i</b>: one Lloyd iteration — exact fixed-point partial sums per
/// shard, reduced in shard order (bit-identical whatever the silo count); a converged run makes the rest no-ops;</item>
/// <item><b>assign</b> (per shard): each document's cluster and distance to its centroid;</item>
/// <item><b>dedup</b> (per cluster partition): per cluster, members ranked (hard/easy/random), M computed in tiles,
/// removals decided for eps, lineage to a kept twin; the eps curve and histograms are reported as metrics;</item>
/// <item><b>apply</b> (per shard): drops the removed documents (<c>semantic_duplicate</c>, kept twin) and adds
/// <c>semantic_cluster</c> and <c>semantic_max_similarity</c>.</item>
/// </list>
/// </summary>
public sealed class SemanticDedupStage(int index, SemanticDedupStageSpec spec) : PipelineStage(index)
{
    public const string DuplicateReason = "semantic_duplicate";
    public const string ClusterColumn = "semantic_cluster";
    public const string MaxSimilarityColumn = "semantic_max_similarity";
    public const string HealthColumn = "embedding_health";

    private const string SamplePhase = "sample";
    private const string InitPhase = "init";
    private const string AssignPhase = "assign";
    private const string DedupPhase = "dedup";
    private const string ApplyPhase = "apply";

    private static readonly IReadOnlyList<ColumnSchema> AssignmentSchema =
        [new("row", typeof(long)), new(Columns.Id, typeof(string)), new("cluster", typeof(int)), new("distance", typeof(float))];

    private static readonly IReadOnlyList<ColumnSchema> VerdictSchema =
    [
        new("row", typeof(long)), new("cluster", typeof(int)), new("max_similarity", typeof(float)), new(DropsSchema.TwinId, typeof(string)),
        new("health", typeof(string)),
    ];

    public override string Name => SemanticDedupStageSpec.TypeName;

    private ulong Seed(TaskContext task) => unchecked((ulong)task.Job.Spec.Seed);

    public override IReadOnlyList<PhaseInfo> Phases(JobPlan plan)
    {
        var phases = new List<PhaseInfo>
        {
            new(SamplePhase, TaskScope.Shard, plan.ShardCount, false),
            new(InitPhase, TaskScope.Single, 1, false),
        };
        for (var i = 0; i < spec.MaxIterations; i++)
        {
            phases.Add(new($"{AssignPhase}-{i:D3}", TaskScope.Shard, plan.ShardCount, false));
            phases.Add(new($"reduce-{i:D3}", TaskScope.Single, 1, false));
        }
        phases.Add(new(AssignPhase, TaskScope.Shard, plan.ShardCount, false));
        phases.Add(new(DedupPhase, TaskScope.Partition, spec.Partitions, false));
        phases.Add(new(ApplyPhase, TaskScope.Shard, plan.ShardCount, true));
        return phases;
    }

    public override Task<TaskStats> RunAsync(TaskContext task, CancellationToken cancellationToken) => task.Phase switch
    {
        SamplePhase => SampleAsync(task, cancellationToken),
        InitPhase => InitAsync(task, cancellationToken),
        AssignPhase => FinalAssignAsync(task, cancellationToken),
        DedupPhase => DedupAsync(task, cancellationToken),
        ApplyPhase => ApplyAsync(task, cancellationToken),
        var p when p.StartsWith(AssignPhase + "-", StringComparison.Ordinal) => LloydAssignAsync(task, Iteration(p), cancellationToken),
        var p when p.StartsWith("reduce-", StringComparison.Ordinal) => ReduceAsync(task, Iteration(p), cancellationToken),
        _ => throw new ArgumentException($"{this} has no phase '{task.Phase}'."),
    };

    private static int Iteration(string phase) => int.Parse(phase[(phase.LastIndexOf('-') + 1)..], CultureInfo.InvariantCulture);

    private string Key(TaskContext task, string relative) => task.Job.Layout.StageRoot(Index, Name) + relative;

    private string CentroidsKey(TaskContext task, int iteration) => Key(task, $"centroids/{iteration:D3}.bin");

    /// <summary>The current documents of a shard (the previous stage's output, in row order) and their vectors.</summary>
    private async Task<(List<string> Ids, float[] Vectors, int Dimensions)> LoadShardAsync(TaskContext task, int shard, CancellationToken cancellationToken)
    {
        var embed = task.Job.Stages.Take(Index).OfType<EmbedStage>().LastOrDefault()
            ?? throw new InvalidOperationException($"{this} needs an embed stage before it.");
        var ids = new List<string>();
        await using (var input = await task.Job.Data.OpenReadAsync(task.InputShardKey(shard), cancellationToken).ConfigureAwait(false))
        await using (var reader = await ParquetTableReader.OpenAsync(input, cancellationToken).ConfigureAwait(false))
            await foreach (var batch in reader.ReadColumnsAsync([Columns.Id], cancellationToken).ConfigureAwait(false))
                ids.AddRange(batch.Ids.List);

        await using var file = await task.Job.Data.OpenReadAsync(task.Job.Layout.ShardEmbeddings(embed.Index, embed.Name, shard), cancellationToken).ConfigureAwait(false);
        var (embeddedIds, embedded, dimensions) = await EmbeddingFile.ReadAllAsync(file, cancellationToken).ConfigureAwait(false);
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
        var clock = Stopwatch.StartNew();
        var (ids, vectors, dimensions) = await LoadShardAsync(task, task.Task, cancellationToken).ConfigureAwait(false);
        var rows = Enumerable.Range(0, ids.Count).Where(i => SphericalKMeans.InSample(ids[i], Seed(task), spec.InitSampleFraction)).ToArray();
        var sample = new float[rows.Length * dimensions];
        for (var i = 0; i < rows.Length; i++) vectors.AsSpan(rows[i] * dimensions, dimensions).CopyTo(sample.AsSpan(i * dimensions));
        var mean = EmbeddingHealth.Accumulate(vectors, dimensions);
        await task.Job.Data.CreateOnceAsync(Key(task, $"mean/{JobLayout.ShardName(task.Task)}.bin"), (stream, ct) => WriteLongsAsync(stream, [mean.Count, .. mean.Sums], ct),
            cancellationToken).ConfigureAwait(false);
        await WriteParquetAsync(task, Key(task, $"sample/{JobLayout.ShardName(task.Task)}.parquet"),
            EmbeddingFile.ToBatch(rows.Select(r => ids[r]).ToArray(), sample, dimensions, EmbeddingPrecision.Float32),
            EmbeddingFile.Metadata(dimensions, EmbeddingPrecision.Float32, "sample"), cancellationToken).ConfigureAwait(false);
        return new TaskStats { In = ids.Count, Seconds = clock.Elapsed.TotalSeconds, Metrics = { ["sampled"] = rows.Length } };
    }

    private async Task<TaskStats> InitAsync(TaskContext task, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        var ids = new List<string>();
        var vectors = new List<float>();
        var dimensions = 0;
        for (var shard = 0; shard < task.Job.Plan.ShardCount; shard++)
        {
            await using var input = await task.Job.Data.OpenReadAsync(Key(task, $"sample/{JobLayout.ShardName(shard)}.parquet"), cancellationToken).ConfigureAwait(false);
            var (shardIds, shardVectors, d) = await EmbeddingFile.ReadAllAsync(input, cancellationToken).ConfigureAwait(false);
            ids.AddRange(shardIds);
            vectors.AddRange(shardVectors);
            dimensions = d;
        }
        if (ids.Count == 0) throw new InvalidOperationException($"{this}: the initialisation sample is empty (no documents reach this stage).");
        var means = new List<MeanPartial>();
        for (var shard = 0; shard < task.Job.Plan.ShardCount; shard++)
        {
            var longs = await ReadLongsAsync(task, Key(task, $"mean/{JobLayout.ShardName(shard)}.bin"), cancellationToken).ConfigureAwait(false);
            means.Add(new MeanPartial(dimensions, longs[1..], longs[0]));
        }
        var direction = EmbeddingHealth.Reduce(means);
        await task.Job.Data.CreateOnceAsync(Key(task, "mean.bin"), (stream, ct) => WriteFloatsAsync(stream,
            [(float)direction.ResultantLength, direction.Count, .. direction.Direction], ct), cancellationToken).ConfigureAwait(false);
        var k = Math.Min(spec.Clusters, ids.Count);
        var centroids = SphericalKMeans.InitializePlusPlus(vectors.ToArray(), dimensions, ids, k, Seed(task));
        await WriteCentroidsAsync(task, 0, centroids, shift: double.PositiveInfinity, converged: false, cancellationToken).ConfigureAwait(false);
        return new TaskStats { In = ids.Count, Seconds = clock.Elapsed.TotalSeconds, Metrics = { ["clusters"] = k } };
    }

    private async Task<TaskStats> LloydAssignAsync(TaskContext task, int iteration, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        var (centroids, converged) = await ReadCentroidsAsync(task, iteration, cancellationToken).ConfigureAwait(false);
        if (converged) return new TaskStats { Seconds = clock.Elapsed.TotalSeconds, Metrics = { ["skipped_converged"] = 1 } };
        var (ids, vectors, dimensions) = await LoadShardAsync(task, task.Task, cancellationToken).ConfigureAwait(false);
        var partial = SphericalKMeans.Assign(vectors, dimensions, centroids);
        await task.Job.Data.CreateOnceAsync(Key(task, $"partials/{iteration:D3}/{JobLayout.ShardName(task.Task)}.bin"),
            (stream, ct) => WritePartialAsync(stream, partial, ct), cancellationToken).ConfigureAwait(false);
        return new TaskStats { In = ids.Count, Seconds = clock.Elapsed.TotalSeconds };
    }

    private async Task<TaskStats> ReduceAsync(TaskContext task, int iteration, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        var (previous, converged) = await ReadCentroidsAsync(task, iteration, cancellationToken).ConfigureAwait(false);
        if (converged)
        {
            await WriteCentroidsAsync(task, iteration + 1, previous, 0, converged: true, cancellationToken).ConfigureAwait(false);
            return new TaskStats { Seconds = clock.Elapsed.TotalSeconds, Metrics = { ["skipped_converged"] = 1 } };
        }
        var partials = new List<PartialSums>();
        for (var shard = 0; shard < task.Job.Plan.ShardCount; shard++)
        {
            await using var input = await task.Job.Data.OpenReadAsync(Key(task, $"partials/{iteration:D3}/{JobLayout.ShardName(shard)}.bin"), cancellationToken).ConfigureAwait(false);
            partials.Add(await ReadPartialAsync(input, cancellationToken).ConfigureAwait(false));
        }
        var update = SphericalKMeans.Reduce(partials, previous);
        var done = update.MaxShift <= spec.Tolerance;
        await WriteCentroidsAsync(task, iteration + 1, update.Centroids, update.MaxShift, done, cancellationToken).ConfigureAwait(false);
        return new TaskStats
        {
            Seconds = clock.Elapsed.TotalSeconds,
            Metrics = { ["iterations"] = 1, ["converged"] = done ? 1 : 0, [$"inertia_{iteration:D3}"] = update.Inertia, ["empty_clusters"] = update.EmptyClusters },
        };
    }

    private async Task<TaskStats> FinalAssignAsync(TaskContext task, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        var (centroids, _) = await ReadCentroidsAsync(task, spec.MaxIterations, cancellationToken).ConfigureAwait(false);
        var (ids, vectors, dimensions) = await LoadShardAsync(task, task.Task, cancellationToken).ConfigureAwait(false);
        var clusters = new int[ids.Count];
        var distances = new float[ids.Count];
        SphericalKMeans.Assign(vectors, dimensions, centroids, clusters, distances);
        var batch = RecordBatch.WithSchema(AssignmentSchema, ids.Count);
        for (var i = 0; i < ids.Count; i++)
        {
            batch.GetColumn<long>("row").Add(i);
            batch.Ids.Add(ids[i]);
        }
        batch.GetColumn<int>("cluster").AddRange(clusters);
        batch.GetColumn<float>("distance").AddRange(distances);
        await WriteParquetAsync(task, Key(task, $"assign/{JobLayout.ShardName(task.Task)}.parquet"), batch, null, cancellationToken).ConfigureAwait(false);
        return new TaskStats { In = ids.Count, Seconds = clock.Elapsed.TotalSeconds };
    }

    private async Task<TaskStats> DedupAsync(TaskContext task, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        var partition = task.Task;
        // Members of this partition's clusters, gathered from every shard in shard order (stable).
        var members = new Dictionary<int, List<(int Shard, long Row, string Id, float Distance, float[] Vector)>>();
        var dimensions = 0;
        for (var shard = 0; shard < task.Job.Plan.ShardCount; shard++)
        {
            var assignment = await ReadParquetAsync(task, Key(task, $"assign/{JobLayout.ShardName(shard)}.parquet"), cancellationToken).ConfigureAwait(false);
            var clusterColumn = assignment.GetColumn<int>("cluster");
            if (!Enumerable.Range(0, assignment.RowCount).Any(i => clusterColumn[i] % spec.Partitions == partition)) continue;
            var (ids, vectors, d) = await LoadShardAsync(task, shard, cancellationToken).ConfigureAwait(false);
            dimensions = d;
            var distance = assignment.GetColumn<float>("distance");
            for (var i = 0; i < assignment.RowCount; i++)
            {
                if (clusterColumn[i] % spec.Partitions != partition) continue;
                var list = members.TryGetValue(clusterColumn[i], out var l) ? l : members[clusterColumn[i]] = [];
                list.Add((shard, i, ids[i], distance[i], vectors.AsSpan(i * d, d).ToArray()));
            }
        }

        var verdicts = new Dictionary<int, RecordBatch>();
        var metrics = new Dictionary<string, double>();
        var allMax = new List<float>();
        long removed = 0;
        var order = spec.Order switch { SemanticOrder.Easy => SemDeDupOrder.Easy, SemanticOrder.Random => SemDeDupOrder.Random, _ => SemDeDupOrder.Hard };
        // mean.bin: resultant length, count (as floats: both only gate the check), then the direction.
        var meanFile = await ReadFloatsAsync(task, Key(task, "mean.bin"), cancellationToken).ConfigureAwait(false);
        var mean = new MeanDirection(meanFile[2..], meanFile[0], (long)meanFile[1]);
        var health = new EmbeddingHealthOptions { StickyCosine = spec.StickyCosine };
        foreach (var (cluster, all) in members.OrderBy(m => m.Key))
        {
            // Degenerate embeddings sit near the mean direction and look alike whatever their text: they are kept out
            // of dedup (never removed, never anyone's twin) and reported, instead of being collapsed as duplicates.
            var allVectors = new float[all.Count * dimensions];
            for (var i = 0; i < all.Count; i++) all[i].Vector.CopyTo(allVectors.AsSpan(i * dimensions));
            var check = EmbeddingHealth.Check(allVectors, dimensions, mean, health);
            var list = all.Where((_, i) => check.Issues[i] == EmbeddingIssues.None).ToList();
            for (var i = 0; i < all.Count; i++)
                if (check.Issues[i] != EmbeddingIssues.None)
                {
                    Bump(metrics, $"health_{check.Issues[i].ToString().ToLowerInvariant().Replace(", ", "_", StringComparison.Ordinal)}");
                    AddVerdict(all[i], cluster, 0, "", string.Join("; ", check.Reasons(i)));
                }

            var vectors = new float[list.Count * dimensions];
            for (var i = 0; i < list.Count; i++) list[i].Vector.CopyTo(vectors.AsSpan(i * dimensions));
            var ids = list.Select(m => m.Id).ToArray();
            var result = SemDeDup.Run(vectors, dimensions, list.Select(m => m.Distance).ToArray(), ids, order, Seed(task), spec.TileSize);
            var decision = result.Decide(spec.Eps);
            removed += decision.RemovedCount;
            allMax.AddRange(result.MaxSimilarity);
            Bump(metrics, $"cluster_size_le_{SizeBucket(all.Count)}");
            for (var i = 0; i < list.Count; i++)
                AddVerdict(list[i], cluster, result.MaxSimilarity[i], decision.Removed[i] ? ids[decision.KeptTwin[i]] : "", "");
        }

        void AddVerdict((int Shard, long Row, string Id, float Distance, float[] Vector) m, int cluster, float max, string twin, string healthReason)
        {
            var batch = verdicts.TryGetValue(m.Shard, out var b) ? b : verdicts[m.Shard] = RecordBatch.WithSchema(VerdictSchema);
            batch.GetColumn<long>("row").Add(m.Row);
            batch.GetColumn<int>("cluster").Add(cluster);
            batch.GetColumn<float>("max_similarity").Add(max);
            batch.GetColumn<string>(DropsSchema.TwinId).Add(twin);
            batch.GetColumn<string>("health").Add(healthReason);
        }

        foreach (var (shard, batch) in verdicts)
            await WriteParquetAsync(task, Key(task, $"verdicts/{JobLayout.ShardName(shard)}/{partition:D4}.parquet"), batch, null, cancellationToken).ConfigureAwait(false);

        // Reports: the eps curve (M is computed once, so every eps costs nothing) and the M histogram.
        foreach (var eps in spec.EpsCurve)
            metrics[$"eps_{eps.ToString(CultureInfo.InvariantCulture)}_removed"] = allMax.Count(m => SemDeDup.IsDuplicate(m, eps));
        foreach (var m in allMax) Bump(metrics, $"max_similarity_ge_{Math.Floor(Math.Max(0, m) * 20) / 20:0.00}");
        metrics["clusters"] = members.Count;
        metrics["documents"] = allMax.Count;
        metrics["removed"] = removed;
        return new TaskStats { In = allMax.Count, Seconds = clock.Elapsed.TotalSeconds, Metrics = metrics };

        static void Bump(Dictionary<string, double> counters, string key) => counters[key] = counters.GetValueOrDefault(key) + 1;
        static int SizeBucket(int size) { var bucket = 1; while (bucket < size) bucket *= 4; return bucket; }
    }

    private async Task<TaskStats> ApplyAsync(TaskContext task, CancellationToken cancellationToken)
    {
        var verdicts = new Dictionary<long, (int Cluster, float Max, string Twin, string Health)>();
        await foreach (var info in task.Job.Data.ListAsync(Key(task, $"verdicts/{JobLayout.ShardName(task.Task)}/"), cancellationToken).ConfigureAwait(false))
        {
            var batch = await ReadParquetAsync(task, info.Key, cancellationToken).ConfigureAwait(false);
            var (rows, clusters, max, twins, health) = (batch.GetColumn<long>("row"), batch.GetColumn<int>("cluster"), batch.GetColumn<float>("max_similarity"),
                batch.GetColumn<string>(DropsSchema.TwinId), batch.GetColumn<string>("health"));
            for (var i = 0; i < batch.RowCount; i++) verdicts[rows[i]] = (clusters[i], max[i], twins[i], health[i]);
        }
        return await ShardTransformer.RunAsync(task, task.Task, new ApplyVerdicts(verdicts), cancellationToken).ConfigureAwait(false);
    }

    private sealed class ApplyVerdicts(Dictionary<long, (int Cluster, float Max, string Twin, string Health)> verdicts) : IDocumentTransform
    {
        private long _offset;

        public IReadOnlyList<ColumnSchema> AddedColumns { get; } =
            [new(ClusterColumn, typeof(int)), new(MaxSimilarityColumn, typeof(float)), new(HealthColumn, typeof(string))];

        public void Process(RecordBatch batch, DropCollector drops)
        {
            var clusters = batch.ResetColumn<int>(ClusterColumn, batch.RowCount);
            var max = batch.ResetColumn<float>(MaxSimilarityColumn, batch.RowCount);
            var health = batch.ResetColumn<string>(HealthColumn, batch.RowCount);
            for (var i = 0; i < batch.RowCount; i++)
            {
                var verdict = verdicts.TryGetValue(_offset + i, out var v)
                    ? v
                    : throw new InvalidOperationException($"Row {_offset + i} ({batch.Ids[i]}) has no semantic dedup verdict.");
                clusters.Add(verdict.Cluster);
                max.Add(verdict.Max);
                health.Add(verdict.Health);
                if (verdict.Twin.Length > 0)
                    drops.Drop(i, DuplicateReason, $"cosine {verdict.Max:0.0000} to an earlier member of cluster {verdict.Cluster}", verdict.Twin);
            }
            _offset += batch.RowCount;
        }
    }

    private async Task WriteCentroidsAsync(TaskContext task, int iteration, Centroids centroids, double shift, bool converged, CancellationToken cancellationToken) =>
        await task.Job.Data.CreateOnceAsync(CentroidsKey(task, iteration), async (stream, ct) =>
        {
            using var buffer = new MemoryStream();
            await using (var writer = new BinaryWriter(buffer, System.Text.Encoding.UTF8, leaveOpen: true))
            {
                writer.Write(centroids.Count);
                writer.Write(centroids.Dimensions);
                writer.Write(shift);
                writer.Write(converged);
                foreach (var value in centroids.Values) writer.Write(value);
            }
            buffer.Position = 0;
            await buffer.CopyToAsync(stream, ct).ConfigureAwait(false);
        }, cancellationToken).ConfigureAwait(false);

    private async Task<(Centroids Centroids, bool Converged)> ReadCentroidsAsync(TaskContext task, int iteration, CancellationToken cancellationToken)
    {
        using var reader = new BinaryReader(new MemoryStream(await task.Job.Data.ReadBytesAsync(CentroidsKey(task, iteration), cancellationToken).ConfigureAwait(false)));
        var (k, d) = (reader.ReadInt32(), reader.ReadInt32());
        reader.ReadDouble();
        var converged = reader.ReadBoolean();
        var values = new float[k * d];
        for (var i = 0; i < values.Length; i++) values[i] = reader.ReadSingle();
        return (new Centroids(values, d), converged);
    }

    private static async Task WritePartialAsync(Stream stream, PartialSums partial, CancellationToken cancellationToken)
    {
        using var buffer = new MemoryStream();
        await using (var writer = new BinaryWriter(buffer, System.Text.Encoding.UTF8, leaveOpen: true))
        {
            writer.Write(partial.Clusters);
            writer.Write(partial.Dimensions);
            writer.Write(partial.InertiaFixed);
            writer.Write(partial.VectorCount);
            foreach (var value in partial.Sums) writer.Write(value);
            foreach (var value in partial.Counts) writer.Write(value);
        }
        buffer.Position = 0;
        await buffer.CopyToAsync(stream, cancellationToken).ConfigureAwait(false);
    }

    private static async Task<PartialSums> ReadPartialAsync(Stream input, CancellationToken cancellationToken)
    {
        using var buffer = new MemoryStream();
        await input.CopyToAsync(buffer, cancellationToken).ConfigureAwait(false);
        buffer.Position = 0;
        using var reader = new BinaryReader(buffer);
        var (k, d, inertia, count) = (reader.ReadInt32(), reader.ReadInt32(), reader.ReadInt64(), reader.ReadInt64());
        var sums = new long[k * d];
        for (var i = 0; i < sums.Length; i++) sums[i] = reader.ReadInt64();
        var counts = new long[k];
        for (var i = 0; i < counts.Length; i++) counts[i] = reader.ReadInt64();
        return new PartialSums(k, d, sums, counts, inertia, count);
    }

    private static async Task WriteLongsAsync(Stream stream, long[] values, CancellationToken cancellationToken) =>
        await stream.WriteAsync(System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan()).ToArray(), cancellationToken).ConfigureAwait(false);

    private static async Task WriteFloatsAsync(Stream stream, float[] values, CancellationToken cancellationToken) =>
        await stream.WriteAsync(System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan()).ToArray(), cancellationToken).ConfigureAwait(false);

    private static async Task<long[]> ReadLongsAsync(TaskContext task, string key, CancellationToken cancellationToken) =>
        System.Runtime.InteropServices.MemoryMarshal.Cast<byte, long>(await task.Job.Data.ReadBytesAsync(key, cancellationToken).ConfigureAwait(false)).ToArray();

    private static async Task<float[]> ReadFloatsAsync(TaskContext task, string key, CancellationToken cancellationToken) =>
        System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(await task.Job.Data.ReadBytesAsync(key, cancellationToken).ConfigureAwait(false)).ToArray();

    private static async Task WriteParquetAsync(TaskContext task, string key, RecordBatch batch, Dictionary<string, string>? metadata, CancellationToken cancellationToken)
    {
        await using var spool = SpoolFile.Create();
        await using (var writer = await ParquetTableWriter.CreateAsync(spool.Stream, batch.Schema, metadata, cancellationToken).ConfigureAwait(false))
            await writer.WriteAsync(batch, cancellationToken).ConfigureAwait(false);
        await spool.CommitOnceAsync(task.Job.Data, key, cancellationToken).ConfigureAwait(false);
    }

    private static async Task<RecordBatch> ReadParquetAsync(TaskContext task, string key, CancellationToken cancellationToken)
    {
        await using var input = await task.Job.Data.OpenReadAsync(key, cancellationToken).ConfigureAwait(false);
        await using var reader = await ParquetTableReader.OpenAsync(input, cancellationToken).ConfigureAwait(false);
        var result = RecordBatch.WithSchema(reader.Schema);
        await foreach (var batch in reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
            foreach (var column in batch.AllColumns)
                foreach (var value in column.Values) result.Find(column.Name)!.Values.Add(value);
        return result;
    }
}
