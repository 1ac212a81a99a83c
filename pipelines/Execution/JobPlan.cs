using System.Text.Json.Serialization;
using Curation.Pipelines.IO;

namespace Curation.Pipelines.Execution;

/// <summary>The shards of a job, fixed once when the job is planned and stored as <c>plan.json</c>.</summary>
public sealed record JobPlan(string JobId, IReadOnlyList<PlannedShard> Shards)
{
    /// <summary>For a versioned corpus (<c>output.snapshots</c>): the snapshot this job writes and the base it refreshes, fixed at plan time.</summary>
    public RefreshPlan? Refresh { get; init; }

    public int ShardCount => Shards.Count;
    public long TotalBytes => Shards.Sum(s => s.Bytes);
    /// <summary>Source objects the plan reads (an object split into parts counts once).</summary>
    public int ObjectCount => Shards.SelectMany(s => s.Objects).Select(o => o.Source).Distinct(StringComparer.Ordinal).Count();
}

/// <summary>A unit of work: source objects, or parts of objects larger than the target, packed up to the target shard size.</summary>
public sealed record PlannedShard(int Index, IReadOnlyList<PlannedObject> Objects)
{
    public long Bytes => Objects.Sum(o => o.ReadBytes);
}

/// <summary>
/// A source object as it was when planned. <see cref="Source"/> (the key relative to its input's root) is what the
/// <c>source</c> column holds, so a corpus gives the same ids from a local folder or a blob container.
/// </summary>
public sealed record PlannedObject(int Input, string Source, string Key, long Size, string ETag)
{
    /// <summary>The part of the object this entry reads when the object was split (<see cref="ObjectSplitter"/>); null: all of it.</summary>
    public ObjectPart? Part { get; init; }

    /// <summary>Input bytes this entry reads: the part's, or the whole object's.</summary>
    [JsonIgnore]
    public long ReadBytes => Part?.Bytes ?? Size;
}

/// <summary>
/// What a job writing a versioned corpus decided when it was planned, so a resumed run uses the same base: the
/// snapshot it writes, the snapshot it refreshes (null for the first), and the corpus' input table after this run
/// (the base's table with the new and changed objects of this run replacing theirs).
/// </summary>
public sealed record RefreshPlan
{
    public required int Snapshot { get; init; }

    /// <summary>The snapshot's folder relative to the corpus root, <c>snapshots/{NNNNNN}-{job hash}</c>.</summary>
    public required string Folder { get; init; }

    public int? BaseSnapshot { get; init; }

    /// <summary>The base snapshot's manifest, relative to the corpus root.</summary>
    public string? BaseManifest { get; init; }

    /// <summary>The input table of the new snapshot: every object the corpus has read, with its size and ETag then.</summary>
    public required IReadOnlyList<PlannedObject> Inputs { get; init; }

    /// <summary>Input objects found unchanged in the base's table and not read again.</summary>
    public int SkippedObjects { get; init; }

    /// <summary>Input objects of this run that replace an older version in the base's table (re-read as new documents).</summary>
    public int ChangedObjects { get; init; }

    /// <summary>
    /// Objects of the base's input table that the inputs no longer list (deleted, moved, or outside a narrowed glob):
    /// the documents curated from them stay in the corpus, and they stay in its input table.
    /// </summary>
    public int VanishedObjects { get; init; }

    /// <summary>The first <see cref="VanishedExampleCount"/> of those keys, in key order.</summary>
    public IReadOnlyList<string> VanishedExamples { get; init; } = [];

    public const int VanishedExampleCount = 5;
}
