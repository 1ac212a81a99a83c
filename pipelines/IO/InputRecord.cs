using Curation.Pipelines.Spec;

namespace Curation.Pipelines.IO;

/// <summary>One source object to read: its key relative to the input's root (the <c>source</c> column) and its spec.</summary>
public sealed record InputObject(string Source, long Size, InputSpec Spec)
{
    /// <summary>
    /// The part of the object to read (byte range or row groups, with the position of its first record); null: all of
    /// it. Readers yield the same records with the same positions as the matching slice of an unsplit read.
    /// </summary>
    public ObjectPart? Part { get; init; }
}

/// <summary>
/// One record read from an object: a document (text, optional id) or a quarantined record (problem + detail).
/// <see cref="Position"/> is the 0-based record number within the object: line number for JSONL/text, row for Parquet.
/// </summary>
public readonly record struct InputRecord(long Position, string? Id, string? Text, string? Problem, string? Detail)
{
    public bool IsQuarantined => Problem is not null;

    /// <summary>The record's other fields (metadata passthrough, <see cref="InputFields"/>), in input order; null: none.</summary>
    public IReadOnlyList<FieldValue>? Fields { get; init; }

    /// <summary>Records are equal when every member is, the fields compared value by value (in order).</summary>
    public bool Equals(InputRecord other) =>
        Position == other.Position && Id == other.Id && Text == other.Text && Problem == other.Problem && Detail == other.Detail &&
        (ReferenceEquals(Fields, other.Fields) || (Fields is not null && other.Fields is not null && Fields.SequenceEqual(other.Fields)));

    public override int GetHashCode() => HashCode.Combine(Position, Id, Text, Problem, Detail, Fields?.Count);

    public static InputRecord Document(long position, string? id, string text) => new(position, id, text, null, null);

    public static InputRecord Quarantine(long position, string reason, string detail) => new(position, null, null, reason, detail);
}

/// <summary>Named reasons a record is quarantined. They become counters and rows of the quarantine file.</summary>
public static class QuarantineReasons
{
    public const string MalformedJson = "malformed_json";
    public const string InvalidUtf8 = "invalid_utf8";
    public const string MissingTextField = "missing_text_field";
    public const string TextNotString = "text_not_string";
    public const string MissingIdField = "missing_id_field";
    public const string RecordTooLarge = "record_too_large";
    /// <summary>The object cannot be read (from this record on): truncated gzip, not Parquet, I/O failure.</summary>
    public const string CorruptObject = "corrupt_object";
}

/// <summary>
/// Streams the records of one object. Never throws for a bad record (it yields a quarantined one) nor for a corrupt
/// object: then it yields one last record with <see cref="QuarantineReasons.CorruptObject"/> whose detail names the
/// object and where reading stopped, and ends. Only cancellation propagates.
/// </summary>
public interface IInputReader
{
    IAsyncEnumerable<InputRecord> ReadAsync(Stream content, InputObject input, CancellationToken cancellationToken = default);
}
