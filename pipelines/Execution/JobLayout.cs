namespace Curation.Pipelines.Execution;

/// <summary>
/// Deterministic object names of one job in the data store. Every stage writes per-task outputs under
/// <c>jobs/{jobId}/{NN-stage}/</c>, created once; a task's <c>.stats.json</c> is written last and marks it done.
/// </summary>
public sealed class JobLayout(string jobId)
{
    public string JobId { get; } = jobId;
    public string Root => $"jobs/{JobId}/";
    public string SpecKey => Root + "job.json";
    public string PlanKey => Root + "plan.json";

    public static string StageFolderName(int stageIndex, string stageName) => $"{stageIndex:D2}-{stageName}";

    public string StageRoot(int stageIndex, string stageName) => $"{Root}{StageFolderName(stageIndex, stageName)}/";

    public static string ShardName(int shard) => $"{shard:D5}";

    /// <summary>The kept documents of one shard after a stage: the next stage's input.</summary>
    public string ShardData(int stageIndex, string stageName, int shard) => $"{StageRoot(stageIndex, stageName)}{ShardName(shard)}.parquet";

    /// <summary>Documents a stage dropped from one shard, with reasons and kept twins.</summary>
    public string ShardDrops(int stageIndex, string stageName, int shard) => $"{StageRoot(stageIndex, stageName)}{ShardName(shard)}.drops.parquet";

    /// <summary>Embeddings of one shard's documents (id + vector), next to the shard's documents.</summary>
    public string ShardEmbeddings(int stageIndex, string stageName, int shard) => $"{StageRoot(stageIndex, stageName)}{ShardName(shard)}.embeddings.parquet";

    /// <summary>Records quarantined while reading one shard.</summary>
    public string ShardQuarantine(int stageIndex, string stageName, int shard) => $"{StageRoot(stageIndex, stageName)}{ShardName(shard)}.quarantine.parquet";

    /// <summary>A stage's scratch objects for one phase (e.g. hash partitions of exact dedup).</summary>
    public string PhaseRoot(int stageIndex, string stageName, string phase) => $"{StageRoot(stageIndex, stageName)}{phase}/";

    /// <summary>The commit marker of one task, holding its stats; its existence means the task's outputs are complete.</summary>
    public string TaskStats(int stageIndex, string stageName, string phase, int task) =>
        $"{StageRoot(stageIndex, stageName)}_tasks/{phase}-{task:D5}.stats.json";
}
