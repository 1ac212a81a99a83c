using Curation.Pipelines.Execution;
using Curation.Pipelines.Model;
using Curation.Pipelines.NearDup;
using Curation.Pipelines.Spec;

namespace Curation.Pipelines.Stages;

/// <summary>
/// Near-duplicate dedup (MinHash LSH) as shuffles, so no task ever sees every document:
/// <list type="number">
/// <item><b>signature</b> (per shard): shingles → MinHash signature, stored per shard in a row-addressable binary file
/// with the ids (<see cref="SignatureFile"/>) → one key per band, written as fixed-width binary rows (key, band, row: no
/// ids) grouped by bucket partition (band key mod partitions; <see cref="BandFile"/>);</item>
/// <item><b>bucket</b> (per partition): documents grouped by (band, key); only the members of shared buckets get their
/// ids read (by row); each is paired with the bucket's <c>anchors</c> smallest members (O(n) pairs per bucket); pairs
/// routed to the shard of their larger end;</item>
/// <item><b>verify</b> (per shard): distinct candidate pairs, both ends' signatures (or shingle sets) read by row from
/// their shards' files; estimated or exact Jaccard against <c>threshold</c> (or none); accepted pairs become edges,
/// routed by node partition;</item>
/// <item><b>components-one-task</b> (single): a graph of at most <c>oneTaskComponentsEdges</c> verified edges gets the
/// rounds and components below computed in memory in this one task, with the same results; the phases below are then
/// not dispatched;</item>
/// <item><b>cc-NNN</b> (per partition): alternating large-star / small-star rounds (<see cref="StarContraction"/>) until
/// every component is a star around its smallest document; converged rounds are no-ops;</item>
/// <item><b>components</b> (per partition): checks the star form (a graph not converged after <c>maxRounds</c> fails
/// the job), and decides: every leaf is dropped naming its star's centre; <b>report</b> sums it up;</item>
/// <item><b>apply</b> (per shard): drops the decided rows with reason <c>near_duplicate</c> and the kept twin's id.</item>
/// </list>
/// Every choice depends only on ids, positions, the spec and the seed, so silo count and timing never change the result.
/// </summary>
public sealed partial class NearDedupStage(int index, NearDedupStageSpec spec) : PipelineStage(index)
{
    public const string DuplicateReason = "near_duplicate";
    public const string SignaturePhase = "signature";
    public const string BucketPhase = "bucket";
    public const string VerifyPhase = "verify";
    public const string RoundPhasePrefix = "cc-";
    public const string ComponentsPhase = "components";
    public const string ReportPhase = "report";
    public const string ApplyPhase = "apply";
    public const string BasePairPhase = "base-pair";
    public const string IndexPhase = "index";

    /// <summary>Durable index of a versioned corpus, per bucket partition: (band, key) → up to <c>anchors</c> smallest kept ids.</summary>
    public const string BandsIndex = "bands";

    /// <summary>Durable index of a versioned corpus, per id partition: each kept document's signature (and shingle set with exact verify).</summary>
    public const string SignaturesIndex = "signatures";

    private static readonly IReadOnlyList<ColumnSchema> BandIndexSchema =
        [new("band", typeof(int)), new("key", typeof(long)), new(Columns.Id, typeof(string))];

    private static readonly IReadOnlyList<ColumnSchema> SignatureIndexSchema =
        [new(Columns.Id, typeof(string)), new("signature", typeof(byte[])), new("hashes", typeof(byte[]))];

    private const string Row = "row";

    private static readonly IReadOnlyList<ColumnSchema> CandidateSchema =
    [
        new("u_id", typeof(string)), new("u_shard", typeof(int)), new("u_row", typeof(long)), new("v_id", typeof(string)), new("v_shard", typeof(int)),
        new("v_row", typeof(long)),
    ];

    private static readonly IReadOnlyList<ColumnSchema> PairSchema =
    [
        new("u_id", typeof(string)), new("u_shard", typeof(int)), new("u_row", typeof(long)), new("v_id", typeof(string)), new("v_row", typeof(long)),
        new("u_data", typeof(byte[])),
    ];

    private static readonly IReadOnlyList<ColumnSchema> EdgeSchema =
    [
        new("src_id", typeof(string)), new("src_shard", typeof(int)), new("src_row", typeof(long)),
        new("dst_id", typeof(string)), new("dst_shard", typeof(int)), new("dst_row", typeof(long)),
    ];

    private static readonly IReadOnlyList<ColumnSchema> DecisionSchema =
        [new(Row, typeof(long)), new(DropsSchema.TwinId, typeof(string)), new("component_size", typeof(long))];

    public override string Name => NearDedupStageSpec.TypeName;

    public NearDedupStageSpec Spec => spec;

    protected override IReadOnlyList<StagePhase> DeclarePhases(JobPlan plan)
    {
        var phases = new List<StagePhase>
        {
            new(SignaturePhase, TaskScope.Shard, plan.ShardCount, SignatureAsync),
            new(BucketPhase, TaskScope.Partition, spec.Partitions, BucketAsync),
            new(VerifyPhase, TaskScope.Shard, plan.ShardCount, VerifyAsync),
        };
        // A refresh pairs candidates with documents of the base snapshot: their signatures come from its index.
        if (plan.Refresh?.BaseSnapshot is not null) phases.Insert(2, new(BasePairPhase, TaskScope.Partition, spec.Partitions, BasePairAsync));
        // A small graph's connected components are decided in one task; the rounds and components then have nothing to do.
        phases.Add(new(OneTaskComponentsPhase, TaskScope.Single, 1, OneTaskComponentsAsync));
        for (var round = 0; round < spec.MaxRounds; round++)
        {
            var r = round;
            phases.Add(new(RoundPhase(r), TaskScope.Partition, spec.Partitions, (task, ct) => RoundAsync(task, r, ct),
                // A converged connected-components group ends early: its remaining rounds are not dispatched.
                skipWhen: async (job, ct) =>
                    await DecidedInOneTaskAsync(job, ct).ConfigureAwait(false) || await ConvergedBeforeAsync(job, r, ct).ConfigureAwait(false)));
        }
        phases.Add(new(ComponentsPhase, TaskScope.Partition, spec.Partitions, ComponentsAsync, skipWhen: DecidedInOneTaskAsync));
        phases.Add(new(ReportPhase, TaskScope.Single, 1, ReportAsync));
        phases.Add(new(ApplyPhase, TaskScope.Shard, plan.ShardCount, ApplyAsync, producesShardOutput: true));
        if (plan.Refresh is not null) phases.Add(new(IndexPhase, TaskScope.Partition, spec.Partitions, IndexAsync));
        return phases;
    }

    public static string RoundPhase(int round) => $"{RoundPhasePrefix}{round:D3}";

    private string Key(TaskContext task, string relative) => task.Job.Layout.StageRoot(Index, Name) + relative;
    private string SignatureKey(TaskContext task, int shard) => Key(task, $"{SignaturePhase}/{JobLayout.ShardName(shard)}.signatures.bin");
    private string ShingleSetKey(TaskContext task, int shard) => Key(task, $"{SignaturePhase}/{JobLayout.ShardName(shard)}.shingles.bin");
    private string BandsKey(TaskContext task, int shard) => Key(task, $"{SignaturePhase}/{JobLayout.ShardName(shard)}.bands.bin");
    private string CandidatesKey(TaskContext task, int partition) => Key(task, $"{BucketPhase}/{partition:D5}.parquet");
    private string EdgesKey(TaskContext task, int shard) => Key(task, $"{VerifyPhase}/{JobLayout.ShardName(shard)}.parquet");
    private string RoundKey(TaskContext task, int round, int partition) => Key(task, $"{RoundPhase(round)}/{partition:D5}.parquet");
    private string RoundSummaryKey(TaskContext task, int round, int partition) => RoundSummaryKey(task.Job, round, partition);
    private string RoundSummaryKey(JobContext job, int round, int partition) =>
        job.Layout.StageRoot(Index, Name) + $"{RoundPhase(round)}/{partition:D5}.json";
    private string DecisionsKey(TaskContext task, int partition) => DecisionsKey(task.Job, partition);
    private string DecisionsKey(JobContext job, int partition) => job.Layout.StageRoot(Index, Name) + $"{ComponentsPhase}/{partition:D5}.parquet";
    private string ComponentSummaryKey(TaskContext task, int partition) => Key(task, $"{ComponentsPhase}/{partition:D5}.json");
    private string BasePairsKey(TaskContext task, int partition) => Key(task, $"{BasePairPhase}/{partition:D5}.parquet");
    private string IndexInputKey(TaskContext task, int shard, string name) => Key(task, $"{IndexPhase}/{JobLayout.ShardName(shard)}.{name}.parquet");

    /// <summary>The signature-index partition of a document id (base documents are looked up there).</summary>
    private int IdPartition(string id) => (int)((ulong)Node.Base(id).Row % (ulong)spec.Partitions);
}
