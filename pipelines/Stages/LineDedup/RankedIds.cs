using System.Buffers.Binary;
using System.Text;
using Curation.Pipelines.IO;

namespace Curation.Pipelines.Stages;

/// <summary>
/// One shard's document ids in the keep rule's order (ordinal id, then row), written by the hash phase next to its
/// shuffle file. The shuffle rows carry each document's rank in this order instead of its id, so they are fixed-width
/// and two occurrences in one shard compare by rank alone; resolve reads the ids back only for the few candidates it
/// must compare across shards (<see cref="ReadAsync"/>: the ids asked for, not the shard's list).
/// Layout (little-endian): count, count + 1 byte offsets into the UTF-8 bytes that follow, the bytes.
/// </summary>
internal static class RankedIds
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

    /// <summary>
    /// The ids at <paramref name="ranks"/> (ascending, distinct) of the object <paramref name="key"/>, in that order,
    /// read front to back through one small buffer (<see cref="ForwardReader"/>). A resolve task asks every shard of the
    /// corpus for a few ids: reading each object whole made its garbage grow with the corpus' shard count (at 10M
    /// documents 400 objects of ~0.4 MiB per task, each copied twice over while read), whatever its partition held.
    /// </summary>
    public static async Task<string[]> ReadAsync(Stream input, string key, IReadOnlyList<int> ranks, CancellationToken cancellationToken)
    {
        var ids = new string[ranks.Count];
        if (ranks.Count == 0) return ids;
        using var reader = new ForwardReader(input);
        var word = new byte[4];
        async ValueTask<int> Int32At(long position)
        {
            try
            {
                await reader.ReadAsync(position, word, cancellationToken).ConfigureAwait(false);
            }
            catch (EndOfStreamException e)
            {
                throw new InvalidDataException($"{key}: the object ends before byte {position + 4:N0} ({e.Message}).", e);
            }
            return BinaryPrimitives.ReadInt32LittleEndian(word);
        }

        var count = await Int32At(0).ConfigureAwait(false);
        var header = 4L * ((long)count + 2);
        var length = input.CanSeek ? input.Length : long.MaxValue;
        // Each id's start and end offsets: an id's end is the next rank's start, read once when both are asked for.
        var (starts, ends) = (new int[ranks.Count], new int[ranks.Count]);
        var (lastRank, lastEnd) = (-2, 0);
        for (var i = 0; i < ranks.Count; i++)
        {
            var rank = ranks[i];
            if (rank < 0 || rank >= count || rank <= lastRank)
                throw new InvalidDataException($"{key}: no id at rank {rank} (the object lists {count:N0}; ranks are asked for in ascending order).");
            starts[i] = rank == lastRank + 1 ? lastEnd : await Int32At(4L * (rank + 1)).ConfigureAwait(false);
            ends[i] = await Int32At(4L * (rank + 2)).ConfigureAwait(false);
            if (starts[i] < header || ends[i] < starts[i] || ends[i] > length || (i > 0 && starts[i] < ends[i - 1]))
                throw new InvalidDataException($"{key}: the offsets of rank {rank} ({starts[i]}, {ends[i]}) lie outside the object's ids.");
            (lastRank, lastEnd) = (rank, ends[i]);
        }

        var longest = 0;
        for (var i = 0; i < ranks.Count; i++) longest = Math.Max(longest, ends[i] - starts[i]);
        var bytes = ScratchArray.Rent<byte>(Math.Max(16, longest));
        try
        {
            for (var i = 0; i < ranks.Count; i++)
            {
                var size = ends[i] - starts[i];
                try
                {
                    await reader.ReadAsync(starts[i], bytes.AsMemory(0, size), cancellationToken).ConfigureAwait(false);
                }
                catch (EndOfStreamException e)
                {
                    throw new InvalidDataException($"{key}: the object ends inside the id of rank {ranks[i]} (bytes {starts[i]:N0}–{ends[i]:N0}; {e.Message}).", e);
                }
                ids[i] = Encoding.UTF8.GetString(bytes, 0, size);
            }
        }
        finally
        {
            ScratchArray.Return(bytes);
        }
        return ids;
    }
}
