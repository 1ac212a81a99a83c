using Curation.Pipelines.Execution;
using Curation.Pipelines.IO;
using Curation.Pipelines.Semantic;

namespace Curation.Pipelines.Stages;

// The assign phase: each document's cluster, distance and embedding health, shuffled by cluster partition with its vector.
public sealed partial class SemanticDedupStage
{
    private async Task<TaskStats> AssignAsync(TaskContext task, CancellationToken cancellationToken)
    {
        var centroids = await _kmeans.FinalCentroidsAsync(task, cancellationToken).ConfigureAwait(false);
        var mean = await _kmeans.MeanAsync(task, cancellationToken).ConfigureAwait(false);
        var (ids, vectors, dimensions) = await KMeansPhases.LoadShardAsync(task, task.Task, cancellationToken).ConfigureAwait(false);
        // clusterDims: assignment (and the distance that ranks members) in the projected space; dedup on the full vectors.
        var (clusterVectors, clusterDimensions) = await _kmeans.ClusterSpaceAsync(task, vectors, dimensions, cancellationToken).ConfigureAwait(false);
        if (ids.Count > 0 && clusterDimensions != centroids.Dimensions)
            throw new InvalidOperationException($"{this}: shard {task.Task} has {dimensions}-dimensional embeddings, the centroids {centroids.Dimensions} " +
                "(a refresh must embed with the corpus' model).");
        var clusters = new int[ids.Count];
        var distances = new float[ids.Count];
        SphericalKMeans.Assign(clusterVectors, clusterDimensions, centroids, clusters, distances);
        // Degenerate embeddings sit near the mean direction and look alike whatever their text: they are kept out of
        // dedup (never removed, never anyone's twin) and reported, instead of being collapsed as duplicates.
        var health = EmbeddingHealth.Check(vectors, dimensions, mean, new EmbeddingHealthOptions { StickyCosine = _spec.StickyCosine });

        // Members carry their vectors at the precision they were embedded at (float16 halves the partitions' disk, same values).
        var precision = KMeansPhases.VectorPrecision(task);
        var pieces = new SortedDictionary<int, ShuffleRows<MemberRow>>();
        for (var i = 0; i < ids.Count; i++)
        {
            var partition = clusters[i] % _spec.Partitions;
            var piece = pieces.TryGetValue(partition, out var p) ? p : pieces[partition] = new ShuffleRows<MemberRow>();
            piece.Add(new MemberRow(i, ids[i], clusters[i], distances[i],
                health.Issues[i] == EmbeddingIssues.None ? "" : string.Join("; ", health.Reasons(i)),
                EmbeddingFile.Encode(vectors.AsSpan(i * dimensions, dimensions), precision)));
        }
        var metadata = EmbeddingFile.Metadata(dimensions, precision, "members");
        foreach (var (partition, piece) in pieces)
            await ShuffleTable.WriteAsync(task.Job.Data, $"{MembersFolder(task, partition)}{JobLayout.ShardName(task.Task)}.parquet", piece, metadata, cancellationToken)
                .ConfigureAwait(false);
        var stats = new TaskStats { In = ids.Count };
        for (var i = 0; i < ids.Count; i++)
            if (health.Issues[i] != EmbeddingIssues.None)
                Bump(stats.Metrics, $"health_{health.Issues[i].ToString().ToLowerInvariant().Replace(", ", "_", StringComparison.Ordinal)}");
        return stats;
    }

    private static void Bump(Dictionary<string, double> counters, string key) => counters[key] = counters.GetValueOrDefault(key) + 1;
}
