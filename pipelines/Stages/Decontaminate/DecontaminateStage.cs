using Curation.Pipelines.Execution;

namespace Curation.Pipelines.Stages;

/// <summary>
/// Benchmark decontamination in four phases:
/// <list type="number">
/// <item><b>ngrams</b> (one task): reads the evaluation sets once, lists the items (benchmark, id, n-gram count) and
/// routes every item's distinct n-grams (hash, item) by hash partition;</item>
/// <item><b>index</b> (per partition): the partition's n-grams sorted by hash. Built once per job, whatever the number
/// of shards;</item>
/// <item><b>match</b> (per shard): loads the index (the evaluation sets' size, never the corpus'), streams the shard,
/// and drops (or cuts) every document contaminated by an item; each shard lists the items it found;</item>
/// <item><b>report</b>: contamination per benchmark and per item.</item>
/// </list>
/// </summary>
public sealed partial class DecontaminateStage(int index, DecontaminateStageSpec spec) : PipelineStage(index)
{
    public const string NgramsPhase = "ngrams";
    public const string IndexPhase = "index";
    public const string MatchPhase = "match";
    public const string ReportPhase = "report";

    public const string ContaminatedReason = "contaminated";
    public const string MatchedColumn = "contamination_ngrams";

    /// <summary>A row of the n-gram index (and of the routed n-grams): an n-gram's hash and an item holding it.</summary>
    internal readonly record struct IndexRow(long Hash, int Item);

    /// <summary>A row of the items table: an evaluation item's benchmark (position in the spec), id and distinct n-grams.</summary>
    internal readonly record struct ItemRow(int Benchmark, string ItemId, int Ngrams);

    public override string Name => DecontaminateStageSpec.TypeName;

    public DecontaminateStageSpec Spec => spec;

    protected override IReadOnlyList<StagePhase> DeclarePhases(JobPlan plan) =>
    [
        new(NgramsPhase, TaskScope.Single, 1, NgramsAsync),
        new(IndexPhase, TaskScope.Partition, spec.Partitions, IndexAsync),
        new(MatchPhase, TaskScope.Shard, plan.ShardCount, MatchAsync, producesShardOutput: true),
        new(ReportPhase, TaskScope.Single, 1, ReportAsync),
    ];

    private string Key(TaskContext task, string relative) => task.Job.Layout.StageRoot(Index, Name) + relative;
    private string IndexKey(TaskContext task, int partition) => Key(task, $"{IndexPhase}/{partition:D5}.parquet");
    private string ItemsKey(TaskContext task) => Key(task, $"{NgramsPhase}/items.parquet");
    private string NgramsKey(TaskContext task) => Key(task, $"{NgramsPhase}/ngrams.parquet");
    private string HitsKey(TaskContext task, int shard) => Key(task, $"{MatchPhase}/{JobLayout.ShardName(shard)}.hits.json");

    /// <summary>The partition of an n-gram hash.</summary>
    private int PartitionOf(ulong hash) => (int)(hash % (ulong)spec.Partitions);
}
