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
internal sealed partial class CascadePhases(SemanticDedupStage stage, SemanticDedupStageSpec spec)
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

    /// <summary>How the score phase picks a cluster's candidates: candidateEps, tightened per cluster by the budget.</summary>
    public CandidateRule CandidateRule => new(CandidateEps, spec.Verify!.Budget);

    /// <summary>The phase whose task stats and objects hold the final M: verify with the cascade, score without.</summary>
    public string FinalScorePhase => Enabled ? VerifyPhase : SemanticDedupStage.ScorePhase;

    public IEnumerable<StagePhase> Phases(JobPlan plan)
    {
        if (!Enabled) yield break;
        yield return new(EmbedPhase, TaskScope.Shard, plan.ShardCount, EmbedAsync, requiredRole: EmbedStage.RequiredRole);
        yield return new(VerifyPhase, TaskScope.Partition, spec.Partitions, VerifyAsync);
    }

    private string Key(TaskContext task, string relative) => task.Job.Layout.StageRoot(stage.Index, stage.Name) + relative;

    /// <summary>
    /// Score phase, one cluster: the candidate pairs among its healthy members, whose rows of the partition's score table
    /// start at <paramref name="tableStart"/> in rank order. <paramref name="rowOfRank"/> indexes the spilled vectors;
    /// <paramref name="maxByRank"/> (static M) skips the members without any candidate.
    /// </summary>
    public static unsafe void CollectCandidates(List<CandidatePair> pairs, float* vectors, int vectorCount, int dimensions, int[] rowOfRank,
        float[] maxByRank, CandidateRule rule, int tableStart)
    {
        if (rowOfRank.Length < 2) return;
        var span = new ReadOnlySpan<float>(vectors, checked(vectorCount * dimensions));
        var candidateEps = rule.Budget is { } budget
            ? SemanticCascade.BudgetEps(span, dimensions, rowOfRank, maxByRank, rule.CandidateEps, budget)
            : rule.CandidateEps;
        if (candidateEps < 0) return;
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

/// <summary>The cascade's candidate rule: pairs at static cosine ≥ 1 − <paramref name="CandidateEps"/>, tightened per cluster so at most <paramref name="Budget"/> of its members are embedded.</summary>
internal readonly record struct CandidateRule(double CandidateEps, double? Budget);
