using System.Globalization;
using Curation.Pipelines.Execution;
using Curation.Pipelines.IO;
using Curation.Pipelines.Spec;
using Curation.Pipelines.Storage;

namespace Curation.Pipelines.Stages;

/// <summary>
/// SemDeDup over the embeddings of the last embed stage, distributed as phases of the job:
/// <list type="number">
/// <item>k-means (<see cref="KMeansPhases"/>): sample, init, assign-i / reduce-i;</item>
/// <item><b>assign</b> (per shard): each document's cluster, distance to its centroid and embedding health, shuffled
/// by cluster partition (cluster mod partitions) together with its vector, so each partition reads only its own;</item>
/// <item><b>score</b> (per partition): per cluster, healthy members ranked (hard/easy/random); M and the direct twin of
/// every member, computed in tiles over a memory-mapped spill of the partition's vectors (bounded memory); a fine
/// histogram of M and the eps curve;</item>
/// <item><b>choose</b>: eps — the spec's, or picked from the merged histogram for a target keep fraction;</item>
/// <item><b>decide</b> (per partition): removal (M ≥ 1 − eps) and lineage: every removed document names the most
/// similar kept earlier member of its cluster when one lies within eps (always, unless it is the tail of a chain);</item>
/// <item><b>report</b>: <c>report.json</c> (eps curve, M histogram, cluster sizes, removed/kept per cluster);</item>
/// <item><b>apply</b> (per shard): drops the removed documents (<c>semantic_duplicate</c>, twin) and adds
/// <c>semantic_cluster</c>, <c>semantic_max_similarity</c> and <c>embedding_health</c>.</item>
/// </list>
/// A versioned corpus (<c>output.snapshots</c>) keeps durable indexes in each snapshot: <c>centroids</c> (the centroids
/// and mean direction used; written by choose) and, per partition, <c>members</c> (id, cluster and vector of every kept
/// healthy member of the corpus; written by decide). A refresh fits nothing: the k-means phases forward the base's
/// centroids, assign uses them, and score ranks each cluster's base members first (already curated: compared with,
/// never removed), so a new document within eps of a curated one is dropped naming it. The next index is the base's
/// members plus this run's kept ones; a partition this run kept nothing new in is carried by reference.
/// </summary>
public sealed partial class SemanticDedupStage : PipelineStage
{
    public const string DuplicateReason = "semantic_duplicate";
    public const string ClusterColumn = "semantic_cluster";
    public const string MaxSimilarityColumn = "semantic_max_similarity";
    public const string HealthColumn = "embedding_health";

    public const string AssignPhase = "assign";
    public const string ScorePhase = "score";
    public const string ChoosePhase = "choose";
    public const string DecidePhase = "decide";
    public const string ReportPhase = "report";
    public const string ApplyPhase = "apply";

    /// <summary>Bins of the M histogram eps is chosen from: M in [b/65536, (b+1)/65536), M ≥ 1 in the last.</summary>
    public const int SimilarityBins = 65536;

    /// <summary>Durable index (versioned corpora): the centroids used and the mean direction (one partition).</summary>
    public const string CentroidsIndex = "centroids";

    /// <summary>Durable index (versioned corpora), per cluster partition: every kept healthy member's id, cluster and vector.</summary>
    public const string MembersIndex = "members";

    /// <summary>The <c>clusters</c> setting the corpus was created with (centroids index metadata).</summary>
    public const string ClustersMetadata = "curation.clusters";

    /// <summary>The cluster value of the centroids index row holding the mean direction.</summary>
    private const int MeanRow = -1;

    /// <summary>A row of the centroids index: one per cluster, and the mean direction (<see cref="MeanRow"/>).</summary>
    private readonly record struct CentroidRow(int Cluster, double ResultantLength, long Count, [ShuffleColumn(EmbeddingFile.VectorColumn)] byte[] Vector);

    /// <summary>A row of a versioned corpus' members index partition.</summary>
    private readonly record struct MemberIndexRow(string Id, int Cluster, [ShuffleColumn(EmbeddingFile.VectorColumn)] byte[] Vector);

    /// <summary>A row of an assign piece: a document of a shard shuffled to its cluster's partition with its vector.</summary>
    private readonly record struct MemberRow(long Row, string Id, int Cluster, float Distance, string Health,
        [ShuffleColumn(EmbeddingFile.VectorColumn)] byte[] Vector);

    /// <summary>A row of a partition's scores: rank in its cluster (−1 unhealthy), M and the direct twin's rank.</summary>
    private readonly record struct ScoreRow(int Shard, long Row, string Id, int Cluster, int Rank, float MaxSimilarity, int TwinRank, string Health);

    /// <summary>A row of a shard's verdicts from one partition, read by the apply phase.</summary>
    private readonly record struct VerdictRow(long Row, int Cluster, float MaxSimilarity, [ShuffleColumn(DropsSchema.TwinId)] string TwinId,
        float TwinSimilarity, bool TwinKept, string Health);

    /// <summary>A row of a partition's cluster counts, read by the report.</summary>
    private readonly record struct ClusterRow(int Cluster, long Size, long Healthy, long Removed);

    private readonly SemanticDedupStageSpec _spec;
    private readonly KMeansPhases _kmeans;
    private readonly CascadePhases _cascade;

    public SemanticDedupStage(int index, SemanticDedupStageSpec spec) : base(index)
    {
        _spec = spec;
        _kmeans = new KMeansPhases(this, spec, new BaseClustering(this));
        _cascade = new CascadePhases(this, spec);
    }

    public override string Name => SemanticDedupStageSpec.TypeName;

    private static ulong Seed(TaskContext task) => unchecked((ulong)task.Job.Spec.Seed);

    protected override IReadOnlyList<StagePhase> DeclarePhases(JobPlan plan) =>
    [
        .. _kmeans.Phases(plan),
        new(AssignPhase, TaskScope.Shard, plan.ShardCount, AssignAsync),
        new(ScorePhase, TaskScope.Partition, _spec.Partitions, ScoreAsync),
        .. _cascade.Phases(plan),
        new(ChoosePhase, TaskScope.Single, 1, ChooseAsync),
        new(DecidePhase, TaskScope.Partition, _spec.Partitions, DecideAsync),
        new(ReportPhase, TaskScope.Single, 1, ReportAsync),
        new(ApplyPhase, TaskScope.Shard, plan.ShardCount, ApplyAsync, producesShardOutput: true),
    ];

    private string Key(TaskContext task, string relative) => task.Job.Layout.StageRoot(Index, Name) + relative;

    private string MembersFolder(TaskContext task, int partition) => Key(task, $"members/{partition:D4}/");

    /// <summary>The M histogram's bin of a similarity: bin b holds [b/65536, (b+1)/65536), exact in binary, so choose's
    /// threshold b/65536 removes exactly the counted bins.</summary>
    internal static int SimilarityBin(float maxSimilarity) =>
        Math.Min(SimilarityBins - 1, (int)(Math.Max(0, maxSimilarity) * (double)SimilarityBins));

    internal static string EpsMetric(double eps) => $"eps_{eps.ToString(CultureInfo.InvariantCulture)}_removed";

    /// <summary>What the choose phase decided, read by decide and report.</summary>
    public sealed record EpsChoice(double Eps, double? TargetKeepFraction, long Documents, long Removed);

    private Task<IReadOnlyList<TaskStats>> PhaseStatsAsync(TaskContext task, string phase, int count, CancellationToken cancellationToken) =>
        task.Job.PhaseStatsAsync(this, phase, count, cancellationToken);

    private async Task<EpsChoice> ReadChoiceAsync(TaskContext task, CancellationToken cancellationToken) =>
        (await task.Job.Data.TryReadJsonAsync<EpsChoice>(Key(task, "eps.json"), cancellationToken: cancellationToken).ConfigureAwait(false)).Value
        ?? throw new InvalidOperationException($"{this}: eps.json is missing; the choose phase has not run.");
}
