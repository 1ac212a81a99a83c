using Curation.Pipelines.Execution;
using Curation.Pipelines.Model;

namespace Curation.Pipelines.Stages;

/// <summary>
/// Line (paragraph) dedup as a shuffle, so no task holds every line hash:
/// <list type="number">
/// <item><b>hash</b> (per shard): the distinct unit hashes of every document, routed by hash partition as fixed-width
/// rows (hash, the document's rank in the shard's id order, its row, the unit's index), and the shard's ids in rank
/// order (<see cref="RankedIds"/>);</item>
/// <item><b>resolve</b> (per partition): per hash, the documents it occurs in; the first <c>maxOccurrences</c> by
/// (id, shard, row) keep it (ranks order one shard's documents, ids are read back only to compare shards), every other
/// occurrence becomes a removal (row, unit index, hash) routed back to its shard; the partition's most repeated units
/// are listed for the report;</item>
/// <item><b>apply</b> (per shard): removes the decided units by index (no hashing again), fills <c>lines_removed</c>,
/// drops documents left below <c>minChars</c> (<c>empty_after_line_dedup</c>) and samples the text of the job's most
/// repeated units;</item>
/// <item><b>report</b>: most repeated removed units (hash, documents, removed, sample) and characters removed.</item>
/// </list>
/// Every choice depends only on ids, positions and the spec: silo count and timing never change the result.
/// A versioned corpus keeps a durable line index per hash partition in each snapshot (<see cref="IndexName"/>: hash →
/// documents keeping it, the first of them; sorted by hash): a refresh's resolve streams the base's partition against
/// this run's units (never holding it), so units the corpus already keeps are removed from the new documents, and
/// writes the merged partition by a streaming merge (the base's by reference when this run changed nothing in it).
/// The hash phase hashes each text from its UTF-8 bytes as the shard stores them (<see cref="Utf8LineUnits"/>).
/// </summary>
public sealed partial class LineDedupStage(int index, LineDedupStageSpec spec) : PipelineStage(index)
{
    public const string HashPhase = "hash";
    public const string ResolvePhase = "resolve";
    public const string ApplyPhase = "apply";
    public const string ReportPhase = "report";

    public const string EmptyReason = "empty_after_line_dedup";
    public const string LinesRemovedColumn = "lines_removed";

    /// <summary>Characters of a unit the report shows (the rest is cut, marked with …).</summary>
    public const int SampleChars = 80;

    private const string HashHigh = "hash_hi";
    private const string HashLow = "hash_lo";
    private const string Rank = "rank";
    private const string Row = "row";

    /// <summary>The unit's index in its document; ~index (negative) when the document holds the unit more than once.</summary>
    private const string Unit = "unit";

    internal static readonly IReadOnlyList<ColumnSchema> OccurrenceSchema =
        [new(HashHigh, typeof(long)), new(HashLow, typeof(long)), new(Rank, typeof(int)), new(Row, typeof(int)), new(Unit, typeof(int))];

    private static readonly IReadOnlyList<ColumnSchema> RemovalSchema =
        [new(Row, typeof(int)), new(Unit, typeof(int)), new(HashHigh, typeof(long)), new(HashLow, typeof(long))];

    public override string Name => LineDedupStageSpec.TypeName;

    public LineDedupStageSpec Spec => spec;

    protected override IReadOnlyList<StagePhase> DeclarePhases(JobPlan plan) =>
    [
        new(HashPhase, TaskScope.Shard, plan.ShardCount, HashAsync),
        new(ResolvePhase, TaskScope.Partition, spec.Partitions, ResolveAsync),
        new(ApplyPhase, TaskScope.Shard, plan.ShardCount, ApplyAsync, producesShardOutput: true),
        new(ReportPhase, TaskScope.Single, 1, ReportAsync),
    ];

    private string Key(TaskContext task, string relative) => task.Job.Layout.StageRoot(Index, Name) + relative;
    private string OccurrencesKey(TaskContext task, int shard) => Key(task, $"{HashPhase}/{JobLayout.ShardName(shard)}.parquet");
    private string IdsKey(TaskContext task, int shard) => Key(task, $"{HashPhase}/{JobLayout.ShardName(shard)}.ids");
    private string RemovalsKey(TaskContext task, int partition) => Key(task, $"{ResolvePhase}/{partition:D5}.parquet");
    private string TopKey(TaskContext task, int partition) => Key(task, $"{ResolvePhase}/{partition:D5}.top.json");
    private string SamplesKey(TaskContext task, int shard) => Key(task, $"{ApplyPhase}/{JobLayout.ShardName(shard)}.samples.json");
}
