using System.Globalization;
using Curation.Pipelines.Execution;
using Curation.Pipelines.IO;
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
        var rows = ShuffleTable.Rows<CentroidRow>(table, index.Key).ToArray();
        if (!metadata.TryGetValue(ClustersMetadata, out var clusters) || clusters != _spec.Clusters.ToString(CultureInfo.InvariantCulture))
            throw new InvalidOperationException(
                $"{this}: the base snapshot {task.Job.Refresh!.BaseSnapshot} was clustered with clusters = {clusters ?? "?"}, this job asks for " +
                $"{_spec.Clusters}: a refresh reuses the corpus' centroids, so clusters and partitions must stay the same (start a new corpus instead).");
        var dimensions = rows[0].Vector.Length / sizeof(float);
        var k = rows.Count(r => r.Cluster != MeanRow);
        var values = new float[k * dimensions];
        MeanDirection? mean = null;
        foreach (var row in rows)
        {
            if (row.Cluster == MeanRow)
            {
                var direction = new float[dimensions];
                EmbeddingFile.Decode(row.Vector, direction, float16: false);
                mean = new MeanDirection(direction, row.ResultantLength, row.Count);
            }
            else EmbeddingFile.Decode(row.Vector, values.AsSpan(row.Cluster * dimensions, dimensions), float16: false);
        }
        return (new Centroids(values, dimensions), mean ?? throw new InvalidOperationException($"{index.Key} holds no mean direction."));
    }

    /// <summary>The centroids index of the snapshot this job writes: the base's, by reference, or this run's fit.</summary>
    private async Task<SnapshotIndex> WriteCentroidsIndexAsync(TaskContext task, CancellationToken cancellationToken)
    {
        if (Refreshing(task)) return await BaseCentroidsIndexAsync(task, cancellationToken).ConfigureAwait(false);
        var centroids = await _kmeans.FinalCentroidsAsync(task, cancellationToken).ConfigureAwait(false);
        var mean = await _kmeans.MeanAsync(task, cancellationToken).ConfigureAwait(false);
        var batch = new ShuffleRows<CentroidRow>(centroids.Count + 1);
        void Add(int cluster, double resultant, long count, ReadOnlySpan<float> vector) =>
            batch.Add(new CentroidRow(cluster, resultant, count, EmbeddingFile.Encode(vector, EmbeddingPrecision.Float32)));
        for (var c = 0; c < centroids.Count; c++) Add(c, 0, 0, centroids[c]);
        Add(MeanRow, mean.ResultantLength, mean.Count, mean.Direction);
        var metadata = new Dictionary<string, string>
        {
            [ClustersMetadata] = _spec.Clusters.ToString(CultureInfo.InvariantCulture),
            [EmbeddingFile.DimensionsKey] = centroids.Dimensions.ToString(CultureInfo.InvariantCulture),
        };
        return await StageObjects.WriteIndexAsync(task, CentroidsIndex, 0, ShuffleTable.Schema<CentroidRow>(), metadata, (writer, ct) => writer.WriteAsync(batch.Batch, ct),
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
            foreach (var row in ShuffleTable.Rows<MemberIndexRow>(batch, index.Key))
            {
                if (!wanted(row.Cluster)) { ordinal++; continue; }
                vector ??= new float[row.Vector.Length / sizeof(float)];
                EmbeddingFile.Decode(row.Vector, vector, float16: false);
                members.Add(new Member(BaseShard, ordinal++, row.Id, row.Cluster, 0, "", spillFor(vector.Length).Append(vector)));
            }
        return members;
    }

    /// <summary>
    /// A versioned corpus: this partition's members index for the snapshot this job writes — the base's members (index
    /// order) then this run's kept healthy members (shard, row order). Carried by reference when this run kept none here.
    /// Streams both, a row group per piece, so the partition is never held in memory.
    /// </summary>
    private async Task<SnapshotIndex> WriteMembersIndexAsync(TaskContext task, int partition, List<ScoreRow> scores, bool[] removed,
        CancellationToken cancellationToken)
    {
        var keep = new HashSet<(int Shard, long Row)>();
        for (var i = 0; i < scores.Count; i++)
            if (scores[i].Shard != BaseShard && scores[i].Rank >= 0 && !removed[i]) keep.Add((scores[i].Shard, scores[i].Row));
        var baseIndex = Refreshing(task) ? await BaseMembersIndexAsync(task, partition, cancellationToken).ConfigureAwait(false) : null;
        return await CorpusIndex.MergeOrCarryAsync<MemberIndexRow>(task, MembersIndex, partition, baseIndex, addsNothing: keep.Count == 0, null,
            async (writer, baseRows, ct) =>
            {
                await foreach (var batch in baseRows.ConfigureAwait(false)) await writer.WriteAsync(batch, ct).ConfigureAwait(false);
                // The index holds float32 whatever this run embedded at (a later refresh may embed at another
                // precision): float16 members are widened, exactly.
                var float16 = KMeansPhases.VectorPrecision(task) == EmbeddingPrecision.Float16;
                var keys = new List<string>();
                await foreach (var info in task.Job.Data.ListAsync(MembersFolder(task, partition), ct).ConfigureAwait(false)) keys.Add(info.Key);
                keys.Sort(StringComparer.Ordinal);
                foreach (var key in keys)
                {
                    var shard = int.Parse(Path.GetFileNameWithoutExtension(key), CultureInfo.InvariantCulture);
                    await foreach (var rows in ShuffleTable.ReadAsync<MemberRow>(task.Job.Data, key, ct).ConfigureAwait(false))
                    {
                        var piece = new ShuffleRows<MemberIndexRow>();
                        foreach (var row in rows)
                            if (keep.Contains((shard, row.Row)))
                                piece.Add(new MemberIndexRow(row.Id, row.Cluster, float16 ? EmbeddingFile.ToFloat32(row.Vector) : row.Vector));
                        await writer.WriteAsync(piece.Batch, ct).ConfigureAwait(false);
                    }
                }
            }, cancellationToken).ConfigureAwait(false);
    }
}
