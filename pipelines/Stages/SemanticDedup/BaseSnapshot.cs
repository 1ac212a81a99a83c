using System.Globalization;
using Curation.Pipelines.Execution;
using Curation.Pipelines.IO;
using Curation.Pipelines.Model;
using Curation.Pipelines.Semantic;
using Curation.Pipelines.Spec;

namespace Curation.Pipelines.Stages;

// A versioned corpus: the base snapshot's centroids and members a refresh compares with, and the indexes this run writes.
public sealed partial class SemanticDedupStage
{
    /// <summary>A refresh of a versioned corpus with a base snapshot: cluster and deduplicate against the base's index.</summary>
    private static bool Refreshing(TaskContext task) => task.Job.Refresh?.BaseManifest is not null;

    private sealed class BaseClustering(SemanticDedupStage stage) : IFixedClustering
    {
        public bool Applies(TaskContext task) => Refreshing(task);

        public Task<(Centroids Centroids, MeanDirection Mean)> LoadAsync(TaskContext task, CancellationToken cancellationToken) =>
            stage.LoadBaseClusteringAsync(task, cancellationToken);
    }

    private async Task<SnapshotIndex> BaseCentroidsIndexAsync(TaskContext task, CancellationToken cancellationToken) =>
        (await task.Job.BaseIndexAsync(Folder, CentroidsIndex, 1, cancellationToken).ConfigureAwait(false))[0];

    private async Task<SnapshotIndex> BaseMembersIndexAsync(TaskContext task, int partition, CancellationToken cancellationToken) =>
        (await task.Job.BaseIndexAsync(Folder, MembersIndex, _spec.Partitions, cancellationToken).ConfigureAwait(false))[partition];

    /// <summary>
    /// The base snapshot's centroids and mean direction. Fails, naming the setting, when the corpus was created with
    /// other clusters or partitions: its members index is laid out by them.
    /// </summary>
    private async Task<(Centroids, MeanDirection)> LoadBaseClusteringAsync(TaskContext task, CancellationToken cancellationToken)
    {
        var index = await BaseCentroidsIndexAsync(task, cancellationToken).ConfigureAwait(false);
        await BaseMembersIndexAsync(task, 0, cancellationToken).ConfigureAwait(false); // checks the partition count
        var (table, metadata) = await StageObjects.ReadSmallIndexAsync(task.Job, index, cancellationToken).ConfigureAwait(false);
        if (!metadata.TryGetValue(ClustersMetadata, out var clusters) || clusters != _spec.Clusters.ToString(CultureInfo.InvariantCulture))
            throw new InvalidOperationException(
                $"{this}: the base snapshot {task.Job.Refresh!.BaseSnapshot} was clustered with clusters = {clusters ?? "?"}, this job asks for " +
                $"{_spec.Clusters}: a refresh reuses the corpus' centroids, so clusters and partitions must stay the same (start a new corpus instead).");
        var (ids, resultant, counts, vectors) = (table.GetColumn<int>("cluster"), table.GetColumn<double>("resultant_length"), table.GetColumn<long>("count"),
            table.GetColumn<byte[]>(EmbeddingFile.VectorColumn));
        var dimensions = vectors[0].Length / sizeof(float);
        var k = ids.List.Count(c => c != MeanRow);
        var values = new float[k * dimensions];
        MeanDirection? mean = null;
        for (var i = 0; i < table.RowCount; i++)
        {
            if (ids[i] == MeanRow)
            {
                var direction = new float[dimensions];
                EmbeddingFile.Decode(vectors[i], direction, float16: false);
                mean = new MeanDirection(direction, resultant[i], counts[i]);
            }
            else EmbeddingFile.Decode(vectors[i], values.AsSpan(ids[i] * dimensions, dimensions), float16: false);
        }
        return (new Centroids(values, dimensions), mean ?? throw new InvalidOperationException($"{index.Key} holds no mean direction."));
    }

    /// <summary>The centroids index of the snapshot this job writes: the base's, by reference, or this run's fit.</summary>
    private async Task<SnapshotIndex> WriteCentroidsIndexAsync(TaskContext task, CancellationToken cancellationToken)
    {
        if (Refreshing(task)) return await BaseCentroidsIndexAsync(task, cancellationToken).ConfigureAwait(false);
        var centroids = await _kmeans.FinalCentroidsAsync(task, cancellationToken).ConfigureAwait(false);
        var mean = await _kmeans.MeanAsync(task, cancellationToken).ConfigureAwait(false);
        var batch = RecordBatch.WithSchema(CentroidsIndexSchema, centroids.Count + 1);
        void Add(int cluster, double resultant, long count, ReadOnlySpan<float> vector)
        {
            batch.GetColumn<int>("cluster").Add(cluster);
            batch.GetColumn<double>("resultant_length").Add(resultant);
            batch.GetColumn<long>("count").Add(count);
            batch.GetColumn<byte[]>(EmbeddingFile.VectorColumn).Add(EmbeddingFile.Encode(vector, EmbeddingPrecision.Float32));
        }
        for (var c = 0; c < centroids.Count; c++) Add(c, 0, 0, centroids[c]);
        Add(MeanRow, mean.ResultantLength, mean.Count, mean.Direction);
        var metadata = new Dictionary<string, string>
        {
            [ClustersMetadata] = _spec.Clusters.ToString(CultureInfo.InvariantCulture),
            [EmbeddingFile.DimensionsKey] = centroids.Dimensions.ToString(CultureInfo.InvariantCulture),
        };
        return await StageObjects.WriteIndexAsync(task, CentroidsIndex, 0, CentroidsIndexSchema, metadata, (writer, ct) => writer.WriteAsync(batch, ct),
            cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The shard of a base snapshot's member in score tables (its row is its position in the base's index partition).</summary>
    private const int BaseShard = -1;

    /// <summary>
    /// A refresh: the base snapshot's indexed members of this partition whose cluster <paramref name="wanted"/> accepts,
    /// in index order, their vectors spilled to the spill <paramref name="spillFor"/> gives (by dimensions).
    /// </summary>
    private async Task<List<Member>> ReadBaseMembersAsync(TaskContext task, int partition, Func<int, bool> wanted, Func<int, VectorSpill> spillFor,
        CancellationToken cancellationToken)
    {
        var members = new List<Member>();
        var index = await BaseMembersIndexAsync(task, partition, cancellationToken).ConfigureAwait(false);
        long ordinal = 0;
        float[]? vector = null;
        await foreach (var batch in StageObjects.ReadIndexAsync(task.Job, index, cancellationToken).ConfigureAwait(false))
        {
            var (clusters, vectors) = (batch.GetColumn<int>("cluster"), batch.GetColumn<byte[]>(EmbeddingFile.VectorColumn));
            for (var i = 0; i < batch.RowCount; i++, ordinal++)
            {
                if (!wanted(clusters[i])) continue;
                vector ??= new float[vectors[i].Length / sizeof(float)];
                EmbeddingFile.Decode(vectors[i], vector, float16: false);
                members.Add(new Member(BaseShard, ordinal, batch.Ids[i], clusters[i], 0, "", spillFor(vector.Length).Append(vector)));
            }
        }
        return members;
    }

    /// <summary>
    /// A versioned corpus: this partition's members index for the snapshot this job writes — the base's members (index
    /// order) then this run's kept healthy members (shard, row order). Carried by reference when this run kept none here.
    /// Streams both, a row group per piece, so the partition is never held in memory.
    /// </summary>
    private async Task<SnapshotIndex> WriteMembersIndexAsync(TaskContext task, int partition, RecordBatch scores, bool[] removed,
        CancellationToken cancellationToken)
    {
        var (shards, rows, ranks) = (scores.GetColumn<int>("shard"), scores.GetColumn<long>("row"), scores.GetColumn<int>("rank"));
        var keep = new HashSet<(int Shard, long Row)>();
        for (var i = 0; i < scores.RowCount; i++)
            if (shards[i] != BaseShard && ranks[i] >= 0 && !removed[i]) keep.Add((shards[i], rows[i]));
        var baseIndex = Refreshing(task) ? await BaseMembersIndexAsync(task, partition, cancellationToken).ConfigureAwait(false) : null;
        if (baseIndex is not null && keep.Count == 0) return baseIndex;

        var keys = new List<string>();
        await foreach (var info in task.Job.Data.ListAsync(MembersFolder(task, partition), cancellationToken).ConfigureAwait(false)) keys.Add(info.Key);
        keys.Sort(StringComparer.Ordinal);
        return await StageObjects.WriteIndexAsync(task, MembersIndex, partition, MembersIndexSchema, null, async (writer, ct) =>
        {
            if (baseIndex is not null)
                await foreach (var batch in StageObjects.ReadIndexAsync(task.Job, baseIndex, ct).ConfigureAwait(false))
                    await writer.WriteAsync(batch, ct).ConfigureAwait(false);
            foreach (var key in keys)
            {
                var shard = int.Parse(Path.GetFileNameWithoutExtension(key), CultureInfo.InvariantCulture);
                await using var input = await task.Job.Data.OpenReadAsync(key, ct).ConfigureAwait(false);
                await using var reader = await ParquetTableReader.OpenAsync(input, ct).ConfigureAwait(false);
                await foreach (var batch in reader.ReadAllAsync(ct).ConfigureAwait(false))
                {
                    var piece = RecordBatch.WithSchema(MembersIndexSchema);
                    var (pieceRows, clusters, vectors) = (batch.GetColumn<long>("row"), batch.GetColumn<int>("cluster"), batch.GetColumn<byte[]>(EmbeddingFile.VectorColumn));
                    for (var i = 0; i < batch.RowCount; i++)
                    {
                        if (!keep.Contains((shard, pieceRows[i]))) continue;
                        piece.Ids.Add(batch.Ids[i]);
                        piece.GetColumn<int>("cluster").Add(clusters[i]);
                        piece.GetColumn<byte[]>(EmbeddingFile.VectorColumn).Add(vectors[i]);
                    }
                    await writer.WriteAsync(piece, ct).ConfigureAwait(false);
                }
            }
        }, cancellationToken).ConfigureAwait(false);
    }
}
