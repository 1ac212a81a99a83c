using System.Buffers;
using System.Buffers.Binary;
using System.Text;

namespace Curation.Pipelines.IO;

/// <summary>One self-contained Parquet file inside a routed shuffle object: the rows of one target, at a byte range.</summary>
public readonly record struct RoutedSegment(int Target, long Offset, long Length, long Rows);

/// <summary>
/// The side index at the end of a <see cref="RoutedTable"/> object (format <see cref="Version"/>), little-endian:
/// <code>
/// segment 0 | segment 1 | … | entry 0 … entry N-1 | N (int32) | version (int32) | magic "CURROUTE" (8 bytes)
/// entry: target (int32), offset (int64), length (int64), rows (int64) — 28 bytes, in segment order
/// </code>
/// The segments are contiguous Parquet files from byte 0 to the first entry, each listed once. A reader reads the
/// 16-byte trailer and the entries (28 bytes per segment, through one pooled buffer) and then only its own segments'
/// byte ranges, so what it allocates grows with its rows, not with the number of targets or of their row groups.
/// Format 1 (before this index) was one Parquet file listing the targets in its metadata: refused by name, never
/// misread (it ends in Parquet's "PAR1").
/// </summary>
public static class RoutedIndex
{
    /// <summary>The layout this release writes and reads; any other is refused naming the object.</summary>
    public const int Version = 2;

    public const int TrailerBytes = 16;
    public const int EntryBytes = 28;

    /// <summary>The smallest Parquet file: "PAR1", a footer length and "PAR1" (a segment shorter than that is corrupt).</summary>
    private const int MinimumSegmentBytes = 12;

    private const int ChunkEntries = 146; // 4,088 bytes of entries per read

    private static ReadOnlySpan<byte> Magic => "CURROUTE"u8;

    private static ReadOnlySpan<byte> ParquetMagic => "PAR1"u8;

    /// <summary>Appends the entries and the trailer of <paramref name="segments"/> at <paramref name="output"/>'s position (the end of the last segment).</summary>
    public static async Task WriteAsync(Stream output, IReadOnlyList<RoutedSegment> segments, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(segments);
        var buffer = ArrayPool<byte>.Shared.Rent(ChunkEntries * EntryBytes);
        try
        {
            for (var first = 0; first < segments.Count; first += ChunkEntries)
            {
                var count = Math.Min(ChunkEntries, segments.Count - first);
                for (var i = 0; i < count; i++) Encode(segments[first + i], buffer.AsSpan(i * EntryBytes, EntryBytes));
                await output.WriteAsync(buffer.AsMemory(0, count * EntryBytes), cancellationToken).ConfigureAwait(false);
            }
            BinaryPrimitives.WriteInt32LittleEndian(buffer.AsSpan(0, 4), segments.Count);
            BinaryPrimitives.WriteInt32LittleEndian(buffer.AsSpan(4, 4), Version);
            Magic.CopyTo(buffer.AsSpan(8, 8));
            await output.WriteAsync(buffer.AsMemory(0, TrailerBytes), cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>
    /// The segments of <paramref name="target"/> in <paramref name="input"/> (a seekable stream of the whole object), in
    /// object order; none when nothing is addressed to it. Checks the whole index on the way and fails naming
    /// <paramref name="objectName"/> when it is short, corrupt, or of another format version.
    /// </summary>
    public static Task<IReadOnlyList<RoutedSegment>> FindAsync(Stream input, string objectName, int target, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(target);
        return SegmentsAsync(input, objectName, target, cancellationToken);
    }

    /// <summary>Every segment of <paramref name="input"/>, in object order (whole-object readers: a shard's own hash file); checked as <see cref="FindAsync"/>.</summary>
    public static Task<IReadOnlyList<RoutedSegment>> AllAsync(Stream input, string objectName, CancellationToken cancellationToken) =>
        SegmentsAsync(input, objectName, -1, cancellationToken);

    /// <summary>The segments of <paramref name="target"/>, or all of them for -1.</summary>
    private static async Task<IReadOnlyList<RoutedSegment>> SegmentsAsync(Stream input, string objectName, int target, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(input);
        var length = input.Length;
        if (length < TrailerBytes)
            throw Corrupt(objectName, $"it is {length} bytes long, shorter than the index trailer ({TrailerBytes} bytes): truncated or not a routed shuffle object");
        var buffer = ArrayPool<byte>.Shared.Rent(ChunkEntries * EntryBytes);
        try
        {
            input.Position = length - TrailerBytes;
            await input.ReadExactlyAsync(buffer.AsMemory(0, TrailerBytes), cancellationToken).ConfigureAwait(false);
            var count = CheckTrailer(buffer.AsSpan(0, TrailerBytes), objectName, length);
            var indexStart = length - TrailerBytes - (long)count * EntryBytes;
            input.Position = indexStart;
            List<RoutedSegment>? found = null;
            long expected = 0;
            for (var first = 0; first < count; first += ChunkEntries)
            {
                var chunk = Math.Min(ChunkEntries, count - first);
                await input.ReadExactlyAsync(buffer.AsMemory(0, chunk * EntryBytes), cancellationToken).ConfigureAwait(false);
                for (var i = 0; i < chunk; i++)
                {
                    var segment = Decode(buffer.AsSpan(i * EntryBytes, EntryBytes));
                    Check(segment, first + i, expected, indexStart, objectName);
                    expected += segment.Length;
                    if (target < 0 || segment.Target == target) (found ??= []).Add(segment);
                }
            }
            if (expected != indexStart)
                throw Corrupt(objectName, $"its {count} segments end at byte {expected} but the index starts at byte {indexStart}");
            return found ?? (IReadOnlyList<RoutedSegment>)[];
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static int CheckTrailer(ReadOnlySpan<byte> trailer, string objectName, long length)
    {
        if (!trailer[8..].SequenceEqual(Magic))
        {
            if (trailer[^4..].SequenceEqual(ParquetMagic))
                throw new InvalidDataException(
                    $"{objectName}: a routed shuffle object of format 1 (one Parquet file listing its targets), written by an older release; " +
                    $"this release reads format {Version} only. Submit the job again: this release's job ids differ from the old release's " +
                    "(StageCatalog.OutputFormatVersion), so the resubmitted job starts afresh and reuses nothing of the old one.");
            throw Corrupt(objectName, $"its last 8 bytes are not the routed shuffle index's magic \"{Encoding.ASCII.GetString(Magic)}\": truncated or not a routed shuffle object");
        }
        var version = BinaryPrimitives.ReadInt32LittleEndian(trailer[4..]);
        if (version != Version)
            throw new InvalidDataException($"{objectName}: a routed shuffle object of format {version}; this release reads format {Version} only.");
        var count = BinaryPrimitives.ReadInt32LittleEndian(trailer);
        if (count < 0 || (long)count * EntryBytes > length - TrailerBytes)
            throw Corrupt(objectName, $"its index lists {count} segments, which do not fit in its {length} bytes");
        return count;
    }

    private static void Check(RoutedSegment segment, int index, long expectedOffset, long indexStart, string objectName)
    {
        if (segment.Target < 0 || segment.Rows <= 0 || segment.Offset != expectedOffset || segment.Length < MinimumSegmentBytes
            || segment.Length > indexStart - segment.Offset)
            throw Corrupt(objectName,
                $"index entry {index} (target {segment.Target}, bytes {segment.Offset}+{segment.Length}, {segment.Rows} rows) is not the segment " +
                $"expected at byte {expectedOffset} before the index at byte {indexStart}");
    }

    private static InvalidDataException Corrupt(string objectName, string why) =>
        new($"{objectName}: corrupt routed shuffle index (format {Version}): {why}.");

    private static void Encode(RoutedSegment segment, Span<byte> entry)
    {
        BinaryPrimitives.WriteInt32LittleEndian(entry, segment.Target);
        BinaryPrimitives.WriteInt64LittleEndian(entry[4..], segment.Offset);
        BinaryPrimitives.WriteInt64LittleEndian(entry[12..], segment.Length);
        BinaryPrimitives.WriteInt64LittleEndian(entry[20..], segment.Rows);
    }

    private static RoutedSegment Decode(ReadOnlySpan<byte> entry) => new(
        BinaryPrimitives.ReadInt32LittleEndian(entry),
        BinaryPrimitives.ReadInt64LittleEndian(entry[4..]),
        BinaryPrimitives.ReadInt64LittleEndian(entry[12..]),
        BinaryPrimitives.ReadInt64LittleEndian(entry[20..]));
}
