namespace Curation.Pipelines.IO;

/// <summary>How an object larger than the shard target is cut into parts that separate tasks read.</summary>
public enum PartUnit
{
    /// <summary>Uncompressed JSONL or line text: byte range [Start, End); a part owns every record that starts inside it.</summary>
    Bytes,
    /// <summary>Parquet: row groups [Start, End); <see cref="ObjectPart.FirstRecord"/> is the row number of the first one.</summary>
    RowGroups,
    /// <summary>
    /// A compressed stream nobody can seek into: part 0's task reads it whole and writes every part's records to a part
    /// file (about <c>targetShardBytes</c> of text each, in record order); the task of part N reads part file N.
    /// </summary>
    Stream,
}

/// <summary>
/// One part of a split object. <see cref="FirstRecord"/> is the position (record number in the object) of the part's
/// first record where the plan knows it (row groups); byte parts learn it at run time from the newline counts of the
/// parts before them, so positions and ids are exactly those of an unsplit read.
/// </summary>
/// <param name="Bytes">Input bytes this part stands for (range length, row groups' compressed size, a share of a stream).</param>
public sealed record ObjectPart(int Part, int Parts, PartUnit Unit, long Start, long End, long Bytes, long FirstRecord = 0)
{
    public bool IsLast => Part == Parts - 1;

    public override string ToString() => $"part {Part + 1} of {Parts} ({Unit} {Start}–{End})";
}
