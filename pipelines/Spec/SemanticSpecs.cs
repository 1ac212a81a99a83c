using System.Text.Json.Serialization;
using Curation.Pipelines.Stages;

namespace Curation.Pipelines.Spec;

public enum SemanticOrder { Hard, Easy, Random }

/// <summary>
/// SemDeDup on the embeddings of the last embed stage: distributed spherical k-means, then within each cluster every
/// member whose highest cosine similarity to an earlier-ranked member reaches 1 − eps is removed.
/// </summary>
[Stage(TypeName, Role = StageRole.SemanticDedup)]
public sealed record SemanticDedupStageSpec : StageSpec, IClusteringSpec, IThresholdedSpec
{
    public const string TypeName = "semantic_dedup";
    public const double DefaultEps = 0.01;

    public int Clusters { get; init; } = 100;
    public int MaxIterations { get; init; } = 20;

    /// <summary>Stop when no centroid moves more than this (1 − cos between iterations).</summary>
    public double Tolerance { get; init; } = 1e-4;

    /// <summary>Fraction of documents (seeded by id) that k-means++ initialisation sees.</summary>
    public double InitSampleFraction { get; init; } = 1.0;

    /// <summary>The most vectors the initialisation sample holds (null: <see cref="Semantic.KMeansInitSample.DefaultMaxVectors"/>).</summary>
    public int? InitSampleMax { get; init; }

    /// <summary>Remove when M ≥ 1 − eps. Unset: <see cref="DefaultEps"/> (NeMo's default), or chosen by <see cref="TargetKeepFraction"/>.</summary>
    public double? Eps { get; init; }

    /// <summary>
    /// Instead of a fixed eps: the fraction of the stage's documents to keep; eps is picked from the run's own curve of
    /// M (SemDeDup §6.5), as the largest eps whose kept fraction is closest to the target.
    /// </summary>
    public double? TargetKeepFraction { get; init; }

    /// <summary>Eps values reported in the manifest's eps curve (fraction removed at each).</summary>
    public IReadOnlyList<double> EpsCurve { get; init; } = [0.001, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2];

    public SemanticOrder Order { get; init; } = SemanticOrder.Hard;

    /// <summary>Cluster partitions, each deduplicated by its own task (cluster mod partitions).</summary>
    public int Partitions { get; init; } = 8;

    /// <summary>Columns of the similarity block: memory per cluster is O(tile × dimensions + members); vectors are paged from a local spill file.</summary>
    public int TileSize { get; init; } = 512;

    /// <summary>
    /// Embeddings this close (cosine) to the corpus mean direction are degenerate ("sticky"): kept out of dedup, so
    /// they are never collapsed as false duplicates, and reported. 1 turns the check off.
    /// </summary>
    public double StickyCosine { get; init; } = 0.95;

    /// <summary>
    /// The two-tier cascade: pairs the last embed stage's (static) vectors propose at <see cref="SemanticVerifySpec.CandidateEps"/>
    /// are re-embedded with <see cref="SemanticVerifySpec.Model"/> (a transformer) and decided at <see cref="Eps"/>. Null: off.
    /// </summary>
    public SemanticVerifySpec? Verify { get; init; }

    /// <summary>
    /// k-means assignment in a PCA projection of this many dimensions (fitted deterministically on the init sample);
    /// null or the embeddings' own dimensions: the full space. Within clusters, similarity is exact cosine as always.
    /// </summary>
    public int? ClusterDims { get; init; }

    /// <summary>M, a member's highest cosine to an earlier-ranked member of its cluster; removed when M ≥ 1 − eps.</summary>
    [JsonIgnore]
    public IReadOnlyList<ThresholdMeasure> Thresholds =>
        [new("eps", "M: highest cosine to an earlier member (removed when M ≥ 1 − eps)", Eps ?? DefaultEps, DropsAbove: true, 0, 1)];

    /// <summary>A fixed eps (a target keep fraction gives way to it).</summary>
    public StageSpec WithThreshold(string field, double value) => field == "eps"
        ? this with { Eps = value, TargetKeepFraction = null }
        : throw new ArgumentException($"{TypeName} has no threshold '{field}'.", nameof(field));

    public override void Validate(StageChecks check)
    {
        check.NeedsEarlier<EmbedStageSpec>(TypeName, "an embed stage");
        check.Clustering(this);
        check.That(Eps is null or (>= 0 and < 1), "eps", "must be in [0, 1)");
        check.That(TargetKeepFraction is null or (> 0 and <= 1), "targetKeepFraction", "must be in (0, 1]");
        check.That(Eps is null || TargetKeepFraction is null, "targetKeepFraction", "set eps or targetKeepFraction, not both");
        check.That(EpsCurve is not null, "epsCurve", "must be a list (it may be empty)");
        check.ListLength(EpsCurve, "epsCurve");
        check.That(EpsCurve is null || EpsCurve.All(e => e is >= 0 and < 1), "epsCurve", "values must be in [0, 1)");
        check.That(Partitions is >= 1 and <= 4096, "partitions", "must be between 1 and 4096");
        check.That(TileSize is >= 16 and <= 8192, "tileSize", "must be between 16 and 8192");
        check.That(StickyCosine is > 0 and <= 1, "stickyCosine", "must be in (0, 1]");
        check.That(ClusterDims is null or (>= 2 and <= 4096), "clusterDims", "must be between 2 and the embeddings' dimensions (unset: the full space)");
        if (Verify is { } verify)
        {
            check.Model(verify.Model, "verify.model");
            check.That(verify.Model.Kind == ModelKind.Transformer, "verify.model.kind", "must be transformer (the tier that decides the static candidates)");
            check.That(TargetKeepFraction is null, "verify",
                "needs eps, not targetKeepFraction: the cascade computes the transformer's similarity for the candidates only, not the whole M curve a target is picked from");
            var eps = Eps ?? DefaultEps;
            check.That(verify.CandidateEps is null or (> 0 and < 1), "verify.candidateEps", "must be in (0, 1)");
            check.That(verify.Budget is null or (> 0 and <= 1), "verify.budget", "must be in (0, 1]: the fraction of a cluster the transformer may embed");
            check.That(verify.CandidateEps is null || verify.CandidateEps >= eps, "verify.candidateEps",
                $"must be at least eps ({eps}): candidates are found at a looser threshold than the one that decides");
        }
        if (check.Snapshots)
        {
            check.That(Verify is null, "verify", "is not supported with output.snapshots yet (the corpus' members are indexed with their static vectors only)");
            check.That(ClusterDims is null, "clusterDims", "is not supported with output.snapshots yet (the corpus' centroids index holds full-dimension centroids)");
        }
    }

    public override PipelineStage CreateStage(int index) => new SemanticDedupStage(index, this);

    public override IEnumerable<StageFile> FilesRead() => Verify?.Model.FilesRead("verify.model") ?? [];
}

/// <summary>semantic_dedup's cascade: which model decides the static tier's candidate pairs, and how loose the candidates are.</summary>
public sealed record SemanticVerifySpec
{
    /// <summary>The model that re-embeds the candidates (default: the shipped transformer).</summary>
    public ModelSpec Model { get; init; } = new();

    /// <summary>
    /// Candidate pairs: static cosine ≥ 1 − candidateEps. Null: with a <see cref="Budget"/>, <see cref="MaxCandidateEps"/>,
    /// so the budget alone sets each cluster's threshold (the loosest whose candidates fit: the static table's cosine scale
    /// does not matter); without one, <see cref="DefaultFactor"/> × eps (at least eps + 0.01), at most
    /// <see cref="MaxCandidateEps"/>. Looser finds more of the transformer's pairs and embeds more documents.
    /// </summary>
    public double? CandidateEps { get; init; }

    /// <summary>
    /// At most this fraction of each cluster's members is re-embedded with the transformer: where the candidates at
    /// candidateEps would hold more, the cluster's candidate threshold is raised until they fit (decided per cluster from
    /// its static vectors alone, so the same on any silo count). Null: no cap.
    /// </summary>
    public double? Budget { get; init; }

    /// <summary>
    /// Which pairs the transformer decides: <see cref="VerifyRule.Pairs"/> (the candidate pairs the static tier proposed)
    /// or <see cref="VerifyRule.Set"/> (every pair among a cluster's candidate documents: the same documents embedded,
    /// more pairs decided; cost quadratic in the candidates of a cluster, so meant with a <see cref="Budget"/>).
    /// </summary>
    public VerifyRule Rule { get; init; } = VerifyRule.Pairs;

    public const double DefaultFactor = 4;

    public const double MaxCandidateEps = 0.5;

    /// <summary>The candidate eps used for a stage eps (before a budget tightens it per cluster).</summary>
    public double CandidateEpsFor(double eps) =>
        CandidateEps ?? (Budget is null ? Math.Min(MaxCandidateEps, Math.Max(DefaultFactor * eps, eps + 0.01)) : Math.Max(MaxCandidateEps, eps));
}

/// <summary>Which pairs the cascade's transformer decides (<see cref="SemanticVerifySpec.Rule"/>).</summary>
public enum VerifyRule
{
    /// <summary>The candidate pairs: static cosine ≥ 1 − candidateEps.</summary>
    Pairs,

    /// <summary>Every pair among a cluster's candidate documents (the documents of the candidate pairs).</summary>
    Set,
}

/// <summary>
/// D4 diversification: re-cluster the documents reaching the stage (typically SemDeDup's survivors) with spherical
/// k-means and remove the most prototypical ones — nearest their centroid — until <see cref="KeepFraction"/> remains.
/// </summary>
[Stage(TypeName, Role = StageRole.Selection)]
public sealed record D4StageSpec : StageSpec, IClusteringSpec
{
    public const string TypeName = "d4";

    /// <summary>Fraction of the documents reaching this stage to keep (required).</summary>
    public double KeepFraction { get; init; }

    public int Clusters { get; init; } = 100;
    public int MaxIterations { get; init; } = 20;
    public double Tolerance { get; init; } = 1e-4;
    public double InitSampleFraction { get; init; } = 1.0;
    public int? InitSampleMax { get; init; }

    public override void Validate(StageChecks check)
    {
        check.NeedsEarlier<EmbedStageSpec>(TypeName, "an embed stage");
        check.Clustering(this);
        check.That(KeepFraction is > 0 and <= 1, "keepFraction", "is required and must be in (0, 1]");
        // d4 cannot yet select against the corpus: refusing beats a refresh that silently diversifies new documents only among themselves.
        check.That(!check.Snapshots, "type", "d4 is not supported with output.snapshots yet (it cannot deduplicate against the corpus' earlier snapshots)");
    }

    public override PipelineStage CreateStage(int index) => new D4Stage(index, this);
}

/// <summary>Settings of the distributed spherical k-means a clustering stage runs.</summary>
public interface IClusteringSpec
{
    int Clusters { get; }
    int MaxIterations { get; }
    double Tolerance { get; }
    double InitSampleFraction { get; }

    /// <summary>
    /// The most vectors the k-means++ initialisation sample holds: of the documents <see cref="InitSampleFraction"/>
    /// picks, those with the smallest seeded id hashes (null: <see cref="Semantic.KMeansInitSample.DefaultMaxVectors"/>).
    /// </summary>
    int? InitSampleMax { get; }

    /// <summary>k-means assigns in a PCA projection of this many dimensions; null: the embeddings' own space.</summary>
    int? ClusterDims => null;
}
