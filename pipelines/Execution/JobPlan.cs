namespace Curation.Pipelines.Execution;

/// <summary>The shards of a job, fixed once when the job is planned and stored as <c>plan.json</c>.</summary>
public sealed record JobPlan(string JobId, IReadOnlyList<PlannedShard> Shards)
{
    public int ShardCount => Shards.Count;
    public long TotalBytes => Shards.Sum(s => s.Bytes);
    public int ObjectCount => Shards.Sum(s => s.Objects.Count);
}

/// <summary>A unit of work: whole source objects packed up to the target shard size.</summary>
public sealed record PlannedShard(int Index, IReadOnlyList<PlannedObject> Objects)
{
    public long Bytes => Objects.Sum(o => o.Size);
}

/// <summary>
/// A source object as it was when planned. <see cref="Source"/> (the key relative to its input's root) is what the
/// <c>source</c> column holds, so a corpus gives the same ids from a local folder or a blob container.
/// </summary>
public sealed record PlannedObject(int Input, string Source, string Key, long Size, string ETag);
