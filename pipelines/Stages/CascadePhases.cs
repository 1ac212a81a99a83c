using System.Diagnostics;
using System.Globalization;
using Curation.Pipelines.Embedding;
using Curation.Pipelines.Execution;
using Curation.Pipelines.IO;
using Curation.Pipelines.Model;
using Curation.Pipelines.Semantic;
using Curation.Pipelines.Spec;

namespace Curation.Pipelines.Stages;

/// <summary>
/// semantic_dedup's two-tier cascade (<c>verify</c>), as phases between score and choose (<see cref="SemanticCascade"/>
/// decides; these phases only move its inputs and outputs):
/// <list type="number">
/// <item><b>score</b> (the stage's own, per partition) ranks each cluster and computes M over the last embed stage's
/// (static) vectors as always; with verify it also lists the candidate pairs at the looser <c>candidateEps</c>
/// (<see cref="CollectCandidates"/>), and writes them with the static scores and, per shard, the rows the transformer
/// must embed (<c>wanted/{shard}/{partition}</c>) instead of the final scores;</item>
/// <item><b>verify-embed</b> (per shard, on silos with the embed role): the shard's wanted rows — only the candidates
/// and the members they matched — read from the stage's input, embedded with <c>verify.model</c> through the silo's
/// embedding runtime, written to <c>verified/{shard}</c>;</item>
/// <item><b>verify</b> (per partition): each candidate pair decided on the transformer's cosine; a candidate member's
/// M and twin become the transformer's, every other member keeps its static M (below 1 − candidateEps, so never
/// removed at eps); writes the final scores, M histogram and the confirmed pairs (cosine ≥ 1 − eps) that decide's
/// lineage search uses instead of the static vectors.</item>
/// </list>
/// Deterministic: pairs in (cluster, rank) order, rows embedded per shard in row order whatever the silo count.
/// </summary>
internal sealed class CascadePhases(SemanticDedupStage stage, SemanticDedupStageSpec spec)
{
    public const string EmbedPhase = "verify-embed";
    public const string VerifyPhase = "verify";

    private static readonly IReadOnlyList<ColumnSchema> PairSchema =
        [new("member", typeof(int)), new("earlier", typeof(int)), new("cosine", typeof(float))];

    private static readonly IReadOnlyList<ColumnSchema> WantedSchema = [new("row", typeof(long))];

    private static readonly IReadOnlyList<ColumnSchema> VerifiedSchema = [new("row", typeof(long)), new(EmbeddingFile.VectorColumn, typeof(byte[]))];

    public bool Enabled => spec.Verify is not null;

    public double Eps => spec.Eps ?? SemanticDedupStageSpec.DefaultEps;

    public double CandidateEps => spec.Verify!.CandidateEpsFor(Eps);

    /// <summary>The phase whose task stats and objects hold the final M: verify with the cascade, score without.</summary>
    public string FinalScorePhase => Enabled ? VerifyPhase : SemanticDedupStage.ScorePhase;

    public IEnumerable<PhaseInfo> Phases(JobPlan plan)
    {
        if (!Enabled) yield break;
        yield return new(EmbedPhase, TaskScope.Shard, plan.ShardCount, false, EmbedStage.RequiredRole);
        yield return new(VerifyPhase, TaskScope.Partition, spec.Partitions, false);
    }

    public Task<TaskStats>? TryRun(TaskContext task, CancellationToken cancellationToken) => task.Phase switch
    {
        EmbedPhase when Enabled => EmbedAsync(task, cancellationToken),
        VerifyPhase when Enabled => VerifyAsync(task, cancellationToken),
        _ => null,
    };

    private string Key(TaskContext task, string relative) => task.Job.Layout.StageRoot(stage.Index, stage.Name) + relative;

    /// <summary>
    /// Score phase, one cluster: the candidate pairs among its healthy members, whose rows of the partition's score table
    /// start at <paramref name="tableStart"/> in rank order. <paramref name="rowOfRank"/> indexes the spilled vectors;
    /// <paramref name="maxByRank"/> (static M) skips the members without any candidate.
    /// </summary>
    public static unsafe void CollectCandidates(List<CandidatePair> pairs, float* vectors, int vectorCount, int dimensions, int[] rowOfRank,
        float[] maxByRank, double candidateEps, int tableStart)
    {
        if (rowOfRank.Length < 2) return;
        var span = new ReadOnlySpan<float>(vectors, checked(vectorCount * dimensions));
        var found = SemanticCascade.FindCandidates(span, dimensions, rowOfRank, candidateEps, maxByRank);
        if (found.Count == 0) return;
        var rankOf = new Dictionary<int, int>(rowOfRank.Length);
        for (var r = 0; r < rowOfRank.Length; r++) rankOf[rowOfRank[r]] = r;
        foreach (var pair in found)
            pairs.Add(new CandidatePair(tableStart + rankOf[pair.Member], tableStart + rankOf[pair.Earlier], pair.Cosine));
    }

    /// <summary>Score phase with verify: the static scores, the candidate pairs and, per shard, the rows to embed.</summary>
    public async Task<Dictionary<string, double>> WriteCandidatesAsync(TaskContext task, int partition, RecordBatch staticScores, List<CandidatePair> pairs,
        CancellationToken cancellationToken)
    {
        var data = task.Job.Data;
        await StageObjects.WriteParquetAsync(data, Key(task, $"static-scores/{partition:D4}.parquet"), staticScores, null, cancellationToken).ConfigureAwait(false);
        await StageObjects.WriteParquetAsync(data, Key(task, $"candidates/{partition:D4}.parquet"), PairTable(pairs), null, cancellationToken).ConfigureAwait(false);
        var (shards, rows) = (staticScores.GetColumn<int>("shard"), staticScores.GetColumn<long>("row"));
        var wanted = new SortedDictionary<int, SortedSet<long>>();
        foreach (var pair in pairs)
            foreach (var i in new[] { pair.Member, pair.Earlier })
                (wanted.TryGetValue(shards[i], out var set) ? set : wanted[shards[i]] = []).Add(rows[i]);
        foreach (var (shard, set) in wanted)
        {
            var batch = RecordBatch.WithSchema(WantedSchema, set.Count);
            batch.GetColumn<long>("row").List.AddRange(set);
            await StageObjects.WriteParquetAsync(data, Key(task, $"wanted/{JobLayout.ShardName(shard)}/{partition:D4}.parquet"), batch, null, cancellationToken)
                .ConfigureAwait(false);
        }
        return new Dictionary<string, double>
        {
            ["candidate_pairs"] = pairs.Count,
            ["candidate_members"] = pairs.Select(p => p.Member).Distinct().Count(),
            ["candidate_documents"] = wanted.Values.Sum(s => s.Count),
        };
    }

    private static RecordBatch PairTable(IEnumerable<CandidatePair> pairs)
    {
        var table = RecordBatch.WithSchema(PairSchema);
        foreach (var pair in pairs)
        {
            table.GetColumn<int>("member").Add(pair.Member);
            table.GetColumn<int>("earlier").Add(pair.Earlier);
            table.GetColumn<float>("cosine").Add(pair.Cosine);
        }
        return table;
    }

    private static List<CandidatePair> PairsOf(RecordBatch table)
    {
        var (members, earlier, cosines) = (table.GetColumn<int>("member"), table.GetColumn<int>("earlier"), table.GetColumn<float>("cosine"));
        var pairs = new List<CandidatePair>(table.RowCount);
        for (var i = 0; i < table.RowCount; i++) pairs.Add(new CandidatePair(members[i], earlier[i], cosines[i]));
        return pairs;
    }

    /// <summary>verify-embed: the shard's wanted rows (every partition's), embedded with the verify model, in row order.</summary>
    private async Task<TaskStats> EmbedAsync(TaskContext task, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        var data = task.Job.Data;
        var shard = task.Task;
        var wanted = new SortedSet<long>();
        var keys = new List<string>();
        await foreach (var info in data.ListAsync(Key(task, $"wanted/{JobLayout.ShardName(shard)}/"), cancellationToken).ConfigureAwait(false)) keys.Add(info.Key);
        foreach (var key in keys)
            wanted.UnionWith((await StageObjects.ReadParquetAsync(data, key, cancellationToken).ConfigureAwait(false)).GetColumn<long>("row").List);

        var rows = new List<long>(wanted.Count);
        var texts = new List<string>(wanted.Count);
        if (wanted.Count > 0)
        {
            long offset = 0;
            await using var input = await data.OpenReadAsync(task.InputShardKey(shard), cancellationToken).ConfigureAwait(false);
            await using var reader = await ParquetTableReader.OpenAsync(input, cancellationToken).ConfigureAwait(false);
            await foreach (var batch in reader.ReadColumnsAsync([Columns.Id, Columns.Text], cancellationToken).ConfigureAwait(false))
            {
                for (var i = 0; i < batch.RowCount; i++)
                    if (wanted.Contains(offset + i)) { rows.Add(offset + i); texts.Add(batch.Texts[i]); }
                offset += batch.RowCount;
            }
            if (rows.Count != wanted.Count)
                throw new InvalidOperationException($"{stage}: shard {shard} has {offset} rows; the cascade wants row {wanted.Max} (the score phase and its input disagree).");
        }

        var runtime = task.Services.Embedding;
        var model = await runtime.GetAsync(spec.Verify!.Model, cancellationToken).ConfigureAwait(false);
        var embedder = new BatchEmbedder(model.Embedder, new EmbeddingBatchOptions());
        var tokens = new ReadOnlyMemory<int>[texts.Count];
        Parallel.For(0, texts.Count, i => tokens[i] = model.Tokenizer.Tokenize(texts[i]));
        var vectors = new float[texts.Count * embedder.Dimensions];
        EmbeddingPlan? plan = null;
        if (texts.Count > 0)
            using (await runtime.AcquireInferenceAsync(cancellationToken).ConfigureAwait(false))
                plan = embedder.Embed(tokens, vectors, cancellationToken);

        var table = RecordBatch.WithSchema(VerifiedSchema, rows.Count);
        for (var i = 0; i < rows.Count; i++)
        {
            table.GetColumn<long>("row").Add(rows[i]);
            table.GetColumn<byte[]>(EmbeddingFile.VectorColumn).Add(EmbeddingFile.Encode(vectors.AsSpan(i * embedder.Dimensions, embedder.Dimensions), EmbeddingPrecision.Float32));
        }
        await StageObjects.WriteParquetAsync(data, Key(task, $"verified/{JobLayout.ShardName(shard)}.parquet"), table,
            new Dictionary<string, string> { [EmbeddingFile.DimensionsKey] = embedder.Dimensions.ToString(CultureInfo.InvariantCulture) }, cancellationToken)
            .ConfigureAwait(false);
        return new TaskStats
        {
            In = rows.Count, Seconds = clock.Elapsed.TotalSeconds,
            Metrics =
            {
                ["transformer_embedded"] = rows.Count, ["tokens"] = plan?.AttendedTokens ?? 0,
                ["provider_cuda"] = model.Embedder.ActiveProvider == ActiveExecutionProvider.Cuda ? 1 : 0,
            },
        };
    }

    /// <summary>verify: the transformer decides the partition's candidate pairs; final scores, histogram and confirmed pairs.</summary>
    private async Task<TaskStats> VerifyAsync(TaskContext task, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
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
        var result = SemanticCascade.Verify(scores.RowCount, pairs, tableRows =>
        {
            var gathered = new float[tableRows.Length * dimensions];
            for (var i = 0; i < tableRows.Length; i++)
            {
                var at = needed[(shards[tableRows[i]], rows[tableRows[i]])];
                if (at < 0) throw new InvalidOperationException($"{stage}: the transformer did not embed row {rows[tableRows[i]]} of shard {shards[tableRows[i]]}.");
                vectors[at].CopyTo(gathered.AsSpan(i * dimensions));
            }
            return gathered;
        }, dimensions, Eps);

        // A candidate member's M and twin are the transformer's over its pairs; the rest keep the static tier's.
        var max = scores.GetColumn<float>("max_similarity");
        var twinRank = scores.GetColumn<int>("twin_rank");
        var clusterStart = new Dictionary<int, int>();
        for (var i = 0; i < scores.RowCount; i++) clusterStart.TryAdd(clusterOf[i], i);
        foreach (var member in pairs.Select(p => p.Member).Distinct())
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
            ["candidate_members"] = pairs.Select(p => p.Member).Distinct().Count(),
        };
        foreach (var eps in spec.EpsCurve) metrics[SemanticDedupStage.EpsMetric(eps)] = healthy.Count(m => SemDeDup.IsDuplicate(m, eps));
        return new TaskStats { In = scores.RowCount, Seconds = clock.Elapsed.TotalSeconds, Metrics = metrics };
    }

    /// <summary>
    /// decide, with verify: for removed members whose direct twin was removed too, the most similar kept earlier member
    /// among their confirmed pairs (earliest rank on ties). Returns how many found one.
    /// </summary>
    public async Task<long> ResolveChainsAsync(TaskContext task, int partition, List<int> chains, bool[] removed, int[] twinRow, float[] twinSimilarity,
        bool[] twinKept, CancellationToken cancellationToken)
    {
        var pairs = PairsOf(await StageObjects.ReadParquetAsync(task.Job.Data, Key(task, $"pairs/{partition:D4}.parquet"), cancellationToken).ConfigureAwait(false));
        var byMember = pairs.GroupBy(p => p.Member).ToDictionary(g => g.Key, g => g.OrderBy(p => p.Earlier).ToArray());
        long resolved = 0;
        foreach (var j in chains)
        {
            var (best, bestRow) = (float.NegativeInfinity, -1);
            foreach (var pair in byMember.GetValueOrDefault(j) ?? [])
                if (!removed[pair.Earlier] && pair.Cosine > best) (best, bestRow) = (pair.Cosine, pair.Earlier);
            if (bestRow < 0 || !SemDeDup.IsDuplicate(best, Eps)) continue;
            (twinRow[j], twinSimilarity[j], twinKept[j]) = (bestRow, best, true);
            resolved++;
        }
        return resolved;
    }

    /// <summary>The cascade's part of the report: from the score, verify-embed and verify task stats.</summary>
    public CascadeSummary Summary(IReadOnlyList<TaskStats> embedStats, IReadOnlyList<TaskStats> verifyStats, long documents)
    {
        double Sum(IEnumerable<TaskStats> stats, string key) => stats.Sum(s => s.Metrics.GetValueOrDefault(key));
        var embedded = (long)Sum(embedStats, "transformer_embedded");
        return new CascadeSummary(CandidateEps, spec.Verify!.Model.ModelPath ?? ShippedModel.ModelName, (long)Sum(verifyStats, "candidate_members"),
            (long)Sum(verifyStats, "candidate_pairs"), (long)Sum(verifyStats, "verified_pairs"), embedded,
            documents == 0 ? 0 : (double)embedded / documents);
    }
}
