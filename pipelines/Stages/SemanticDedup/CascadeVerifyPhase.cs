using System.Globalization;
using Curation.Pipelines.Execution;
using Curation.Pipelines.IO;
using Curation.Pipelines.Semantic;
using Curation.Pipelines.Spec;

namespace Curation.Pipelines.Stages;

// verify: the transformer decides the candidate pairs.
internal sealed partial class CascadePhases
{
    /// <summary>verify: the transformer decides the partition's candidate pairs; final scores, histogram and confirmed pairs.</summary>
    private async Task<TaskStats> VerifyAsync(TaskContext task, CancellationToken cancellationToken)
    {
        var data = task.Job.Data;
        var partition = task.Task;
        var scores = await StageObjects.ReadParquetAsync(data, Key(task, $"static-scores/{partition:D4}.parquet"), cancellationToken).ConfigureAwait(false);
        var pairs = PairsOf(await StageObjects.ReadParquetAsync(data, Key(task, $"candidates/{partition:D4}.parquet"), cancellationToken).ConfigureAwait(false));
        var (shards, rows, clusterOf, ranks) = (scores.GetColumn<int>("shard"), scores.GetColumn<long>("row"), scores.GetColumn<int>("cluster"),
            scores.GetColumn<int>("rank"));

        // The transformer's vectors of the rows this partition's pairs name, read from each shard's verified file.
        var needed = new Dictionary<(int Shard, long Row), int>();
        foreach (var pair in pairs)
            foreach (var i in new[] { pair.Member, pair.Earlier }) needed.TryAdd((shards[i], rows[i]), -1);
        var vectors = new List<float[]>();
        var dimensions = 0;
        foreach (var shard in needed.Keys.Select(k => k.Shard).Distinct().Order())
        {
            await using var input = await data.OpenReadAsync(Key(task, $"verified/{JobLayout.ShardName(shard)}.parquet"), cancellationToken).ConfigureAwait(false);
            await using var reader = await ParquetTableReader.OpenAsync(input, cancellationToken).ConfigureAwait(false);
            dimensions = int.Parse(reader.Metadata[EmbeddingFile.DimensionsKey], CultureInfo.InvariantCulture);
            await foreach (var batch in reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
            {
                var (verifiedRows, bytes) = (batch.GetColumn<long>("row"), batch.GetColumn<byte[]>(EmbeddingFile.VectorColumn));
                for (var i = 0; i < batch.RowCount; i++)
                {
                    if (!needed.ContainsKey((shard, verifiedRows[i]))) continue;
                    var vector = new float[dimensions];
                    EmbeddingFile.Decode(bytes[i], vector, float16: false);
                    needed[(shard, verifiedRows[i])] = vectors.Count;
                    vectors.Add(vector);
                }
            }
        }
        float[] Gather(int[] tableRows)
        {
            var gathered = new float[tableRows.Length * dimensions];
            for (var i = 0; i < tableRows.Length; i++)
            {
                var at = needed[(shards[tableRows[i]], rows[tableRows[i]])];
                if (at < 0) throw new InvalidOperationException($"{stage}: the transformer did not embed row {rows[tableRows[i]]} of shard {shards[tableRows[i]]}.");
                vectors[at].CopyTo(gathered.AsSpan(i * dimensions));
            }
            return gathered;
        }
        var result = spec.Verify!.Rule == VerifyRule.Set
            ? SemanticCascade.VerifySet(scores.RowCount, pairs, clusterOf.List, Gather, dimensions, Eps)
            : SemanticCascade.Verify(scores.RowCount, pairs, Gather, dimensions, Eps);

        // A decided member's M and twin are the transformer's over its pairs; the rest keep the static tier's.
        var max = scores.GetColumn<float>("max_similarity");
        var twinRank = scores.GetColumn<int>("twin_rank");
        var clusterStart = new Dictionary<int, int>();
        for (var i = 0; i < scores.RowCount; i++) clusterStart.TryAdd(clusterOf[i], i);
        foreach (var member in result.Decided)
        {
            max.List[member] = result.MaxSimilarity[member];
            twinRank.List[member] = result.Twin[member] < 0 ? -1 : result.Twin[member] - clusterStart[clusterOf[member]];
        }
        var histogram = new long[SemanticDedupStage.SimilarityBins];
        var healthy = new List<float>();
        for (var i = 0; i < scores.RowCount; i++)
        {
            if (ranks[i] < 0) continue;
            histogram[SemanticDedupStage.SimilarityBin(max[i])]++;
            healthy.Add(max[i]);
        }
        await StageObjects.WriteParquetAsync(data, Key(task, $"scores/{partition:D4}.parquet"), scores, null, cancellationToken).ConfigureAwait(false);
        await StageObjects.WriteSparseHistogramAsync(data, Key(task, $"mhist/{partition:D4}.bin"), histogram, cancellationToken).ConfigureAwait(false);
        await StageObjects.WriteParquetAsync(data, Key(task, $"pairs/{partition:D4}.parquet"), PairTable(result.Verified), null, cancellationToken).ConfigureAwait(false);

        var metrics = new Dictionary<string, double>
        {
            ["candidate_pairs"] = pairs.Count, ["verified_pairs"] = result.Verified.Count, ["transformer_vectors"] = result.Embedded.Length,
            ["candidate_members"] = result.Decided.Length,
        };
        foreach (var eps in spec.EpsCurve) metrics[SemanticDedupStage.EpsMetric(eps)] = healthy.Count(m => SemDeDup.IsDuplicate(m, eps));
        return new TaskStats { In = scores.RowCount, Metrics = metrics };
    }
}
