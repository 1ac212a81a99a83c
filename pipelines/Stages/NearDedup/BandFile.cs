using System.Buffers.Binary;
using Curation.Pipelines.IO;
using Curation.Pipelines.Storage;

namespace Curation.Pipelines.Stages;

/// <summary>One document's key in one band, as a shard's band file holds it: no id (the row names the document).</summary>
internal readonly record struct BandRecord(ulong Key, int Band, int Row);

/// <summary>
/// One shard's LSH band keys as fixed-width binary, grouped by bucket partition so a bucket task reads only its own
/// section of every shard's file. Layout (little-endian): header (magic, version, partitions, 0: 4 × int32), entry
/// counts per partition (int64 each), then the entries partition after partition, 16 bytes each (key uint64, row
/// int32, band int32), in row order then band order within a partition.
/// </summary>
internal static class BandFile
{
    private const int Magic = 0x444E4243; // "CBND"
    private const int Version = 1;
    private const int HeaderBytes = 16;
    private const int EntryBytes = 16;

    /// <summary>Writes the entries (one list per partition) and commits the file create-once.</summary>
    public static async Task WriteAsync(IObjectStore store, string key, IReadOnlyList<List<BandRecord>> byPartition, CancellationToken cancellationToken)
    {
        await using var spool = SpoolFile.Create();
        var output = new BufferedStream(spool.Stream, 1 << 16);
        var buffer = new byte[Math.Max(HeaderBytes, EntryBytes)];
        BinaryPrimitives.WriteInt32LittleEndian(buffer, Magic);
        BinaryPrimitives.WriteInt32LittleEndian(buffer.AsSpan(4), Version);
        BinaryPrimitives.WriteInt32LittleEndian(buffer.AsSpan(8), byPartition.Count);
        BinaryPrimitives.WriteInt32LittleEndian(buffer.AsSpan(12), 0);
        output.Write(buffer, 0, HeaderBytes);
        foreach (var entries in byPartition)
        {
            BinaryPrimitives.WriteInt64LittleEndian(buffer, entries.Count);
            output.Write(buffer, 0, 8);
        }
        foreach (var entries in byPartition)
            foreach (var entry in entries)
            {
                BinaryPrimitives.WriteUInt64LittleEndian(buffer, entry.Key);
                BinaryPrimitives.WriteInt32LittleEndian(buffer.AsSpan(8), entry.Row);
                BinaryPrimitives.WriteInt32LittleEndian(buffer.AsSpan(12), entry.Band);
                output.Write(buffer, 0, EntryBytes);
            }
        await output.FlushAsync(cancellationToken).ConfigureAwait(false);
        await spool.CommitOnceAsync(store, key, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The entries of <paramref name="key"/> in <paramref name="partition"/> (null: every partition, in file order).</summary>
    public static async Task<List<BandRecord>> ReadAsync(IObjectStore store, string key, int? partition, CancellationToken cancellationToken)
    {
        await using var input = await store.OpenReadAsync(key, cancellationToken).ConfigureAwait(false);
        var header = new byte[HeaderBytes];
        await input.ReadExactlyAsync(header, cancellationToken).ConfigureAwait(false);
        if (BinaryPrimitives.ReadInt32LittleEndian(header) != Magic || BinaryPrimitives.ReadInt32LittleEndian(header.AsSpan(4)) != Version)
            throw new InvalidDataException($"{key}: not a band file of this version.");
        var partitions = BinaryPrimitives.ReadInt32LittleEndian(header.AsSpan(8));
        if (partition >= partitions) throw new InvalidDataException($"{key}: partition {partition} is outside the file's {partitions} partitions.");
        var countBytes = new byte[partitions * 8];
        await input.ReadExactlyAsync(countBytes, cancellationToken).ConfigureAwait(false);
        var counts = new long[partitions];
        for (var p = 0; p < partitions; p++) counts[p] = BinaryPrimitives.ReadInt64LittleEndian(countBytes.AsSpan(p * 8));
        long skip = 0, take = counts.Sum();
        if (partition is { } only) (skip, take) = (counts.Take(only).Sum(), counts[only]);
        var dataStart = HeaderBytes + partitions * 8L;
        if (dataStart + counts.Sum() * EntryBytes != input.Length) throw new InvalidDataException($"{key}: corrupt band file (its counts do not match its length).");
        input.Position = dataStart + skip * EntryBytes;
        var result = new List<BandRecord>((int)take);
        var chunk = new byte[EntryBytes * 4096];
        for (var left = take; left > 0;)
        {
            var n = (int)Math.Min(left, 4096);
            await input.ReadExactlyAsync(chunk.AsMemory(0, n * EntryBytes), cancellationToken).ConfigureAwait(false);
            for (var i = 0; i < n; i++)
            {
                var entry = chunk.AsSpan(i * EntryBytes, EntryBytes);
                result.Add(new BandRecord(BinaryPrimitives.ReadUInt64LittleEndian(entry), BinaryPrimitives.ReadInt32LittleEndian(entry[12..]),
                    BinaryPrimitives.ReadInt32LittleEndian(entry[8..])));
            }
            left -= n;
        }
        return result;
    }
}
