using System.Buffers.Binary;
using System.Text;

namespace Curation.Pipelines.Stages;

/// <summary>
/// One shard's document ids in the keep rule's order (ordinal id, then row), written by the hash phase next to its
/// shuffle file. The shuffle rows carry each document's rank in this order instead of its id, so they are fixed-width
/// and two occurrences in one shard compare by rank alone; resolve reads the ids back only for the few candidates it
/// must compare across shards (a lookup by rank decodes one id, not the shard's list).
/// Layout (little-endian): count, count + 1 byte offsets into the UTF-8 bytes that follow, the bytes.
/// </summary>
internal sealed class RankedIds(byte[] data, string key)
{
    /// <summary>Each row's rank and the rows in rank order (ordinal id, ties by row: the keep order within one shard).</summary>
    public static (int[] RankOfRow, int[] RowOfRank) Rank(IReadOnlyList<string> ids)
    {
        var order = new int[ids.Count];
        for (var i = 0; i < order.Length; i++) order[i] = i;
        Array.Sort(order, (a, b) =>
        {
            var byId = string.CompareOrdinal(ids[a], ids[b]);
            return byId != 0 ? byId : a.CompareTo(b);
        });
        var ranks = new int[order.Length];
        for (var rank = 0; rank < order.Length; rank++) ranks[order[rank]] = rank;
        return (ranks, order);
    }

    public static byte[] Encode(IReadOnlyList<string> ids, int[] rowOfRank)
    {
        var header = 4 * (rowOfRank.Length + 2);
        long total = header;
        foreach (var row in rowOfRank) total += Encoding.UTF8.GetByteCount(ids[row]);
        if (total > Array.MaxLength) throw new InvalidOperationException($"The ids of one shard take {total:N0} bytes, more than one object of ranked ids holds.");
        var data = new byte[total];
        BinaryPrimitives.WriteInt32LittleEndian(data, rowOfRank.Length);
        var offset = header;
        for (var rank = 0; rank < rowOfRank.Length; rank++)
        {
            BinaryPrimitives.WriteInt32LittleEndian(data.AsSpan(4 * (rank + 1)), offset);
            offset += Encoding.UTF8.GetBytes(ids[rowOfRank[rank]], data.AsSpan(offset));
        }
        BinaryPrimitives.WriteInt32LittleEndian(data.AsSpan(4 * (rowOfRank.Length + 1)), offset);
        return data;
    }

    public int Count => BinaryPrimitives.ReadInt32LittleEndian(data);

    /// <summary>The id of the document at <paramref name="rank"/>.</summary>
    public string this[int rank]
    {
        get
        {
            if (data.Length < 4 || rank < 0 || rank >= Count || data.Length < 4 * (Count + 2))
                throw new InvalidDataException($"{key}: no id at rank {rank} (the object holds {data.Length:N0} bytes).");
            var start = BinaryPrimitives.ReadInt32LittleEndian(data.AsSpan(4 * (rank + 1)));
            var end = BinaryPrimitives.ReadInt32LittleEndian(data.AsSpan(4 * (rank + 2)));
            if (start < 4 * (Count + 2) || end < start || end > data.Length)
                throw new InvalidDataException($"{key}: the offsets of rank {rank} ({start}, {end}) lie outside the object ({data.Length:N0} bytes).");
            return Encoding.UTF8.GetString(data, start, end - start);
        }
    }
}
