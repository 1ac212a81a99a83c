namespace Curation.Pipelines.Semantic;

/// <summary>
/// D4's diversification step (Tirumala et al. 2023, "D4: Document De-Duplication and Diversification"): after
/// SemDeDup, re-cluster the survivors and prune the most prototypical documents (smallest cosine distance to their
/// centroid, the "SSL prototypes" metric of Sorscher et al.) first, until the target number remains.
/// <para>
/// Our reading, kept simple: one global ranking across all clusters by distance to the document's own (re-clustered)
/// centroid, ascending, ties by document id (ordinal ascending) — so a tight cluster loses more than a diffuse one,
/// which is the point. The target is a count (<see cref="KeepCount"/> turns a fraction of the whole input into one).
/// </para>
/// <para>
/// Distributed use: the decision is a single cutoff (<see cref="D4Cutoff"/>) on the key (distance, id); shards apply
/// it locally. The coordinator finds it without gathering the corpus: a 65,536-bin histogram of the distance's high
/// 16 bits (<see cref="CountHigh"/>), then of the low 16 bits inside the bin that holds the cutoff
/// (<see cref="CountLow"/>), then the ids at that exact distance (<see cref="CutoffAmongTies"/>) — three small
/// rounds whose histograms add exactly.
/// </para>
/// </summary>
public static class D4Selection
{
    public const int HistogramBins = 65536;

    /// <summary>round(total × fraction), halves away from zero.</summary>
    public static long KeepCount(long total, double keepFraction)
    {
        if (!(keepFraction >= 0 && keepFraction <= 1)) throw new ArgumentOutOfRangeException(nameof(keepFraction));
        return (long)Math.Round(total * keepFraction, MidpointRounding.AwayFromZero);
    }

    /// <summary>A distance as an unsigned key with the same order (−0 and +0 share one key; NaN is refused).</summary>
    public static uint KeyOf(float distance)
    {
        if (float.IsNaN(distance)) throw new ArgumentException("A distance is NaN.", nameof(distance));
        var bits = BitConverter.SingleToUInt32Bits(distance + 0f);
        return (bits & 0x8000_0000u) != 0 ? ~bits : bits | 0x8000_0000u;
    }

    /// <summary>Which members stay: all but the <c>Count − keepCount</c> nearest their centroids.</summary>
    public static bool[] Select(ReadOnlySpan<float> distances, IReadOnlyList<string> ids, long keepCount)
    {
        var cutoff = FindCutoff(distances, ids, distances.Length - keepCount);
        var kept = new bool[distances.Length];
        for (var i = 0; i < kept.Length; i++) kept[i] = !cutoff.Removes(distances[i], ids[i]);
        return kept;
    }

    /// <summary>The cutoff that removes exactly <paramref name="removeCount"/> of these members (in memory).</summary>
    public static D4Cutoff FindCutoff(ReadOnlySpan<float> distances, IReadOnlyList<string> ids, long removeCount)
    {
        ArgumentNullException.ThrowIfNull(ids);
        if (ids.Count != distances.Length) throw new ArgumentException($"{ids.Count} ids for {distances.Length} distances.", nameof(ids));
        if (removeCount < 0 || removeCount > distances.Length) throw new ArgumentOutOfRangeException(nameof(removeCount), removeCount, $"Cannot remove that many of {distances.Length}.");
        if (removeCount == 0) return D4Cutoff.None;
        var keys = new uint[distances.Length];
        var order = new int[distances.Length];
        for (var i = 0; i < keys.Length; i++) { keys[i] = KeyOf(distances[i]); order[i] = i; }
        Array.Sort(order, (a, b) => keys[a] != keys[b] ? keys[a].CompareTo(keys[b]) : string.CompareOrdinal(ids[a], ids[b]));
        var last = order[removeCount - 1];
        return new D4Cutoff(keys[last], ids[last]);
    }

    /// <summary>Adds a shard's distances to a histogram of their keys' high 16 bits (<see cref="HistogramBins"/> bins).</summary>
    public static void CountHigh(ReadOnlySpan<float> distances, long[] histogram)
    {
        CheckHistogram(histogram);
        foreach (var d in distances) histogram[KeyOf(d) >> 16]++;
    }

    /// <summary>Adds a shard's distances whose key has these high 16 bits to a histogram of the low 16 bits.</summary>
    public static void CountLow(ReadOnlySpan<float> distances, int highBin, long[] histogram)
    {
        CheckHistogram(histogram);
        foreach (var d in distances)
        {
            var key = KeyOf(d);
            if ((key >> 16) == (uint)highBin) histogram[key & 0xFFFF]++;
        }
    }

    /// <summary>The bin holding the element of 0-based rank <paramref name="rank"/>, and that element's rank inside the bin.</summary>
    public static (int Bin, long RankInBin) Locate(long[] histogram, long rank)
    {
        CheckHistogram(histogram);
        long before = 0;
        for (var bin = 0; bin < histogram.Length; bin++)
        {
            if (rank < before + histogram[bin]) return (bin, rank - before);
            before += histogram[bin];
        }
        throw new ArgumentOutOfRangeException(nameof(rank), rank, $"The histogram holds only {before} elements.");
    }

    /// <summary>
    /// The last round: <paramref name="idsAtKey"/> are the ids of all documents (any shard, any order) whose distance has
    /// key <paramref name="key"/>; the cutoff falls on the one of 0-based rank <paramref name="rankAmongTies"/> among them.
    /// </summary>
    public static D4Cutoff CutoffAmongTies(uint key, IEnumerable<string> idsAtKey, long rankAmongTies)
    {
        var ids = idsAtKey.ToArray();
        Array.Sort(ids, StringComparer.Ordinal);
        if (rankAmongTies < 0 || rankAmongTies >= ids.Length) throw new ArgumentOutOfRangeException(nameof(rankAmongTies));
        return new D4Cutoff(key, ids[rankAmongTies]);
    }

    private static void CheckHistogram(long[] histogram)
    {
        ArgumentNullException.ThrowIfNull(histogram);
        if (histogram.Length != HistogramBins) throw new ArgumentException($"A histogram has {HistogramBins} bins.", nameof(histogram));
    }
}

/// <summary>
/// A D4 decision every shard applies alone: a document is removed when (distance key, id) is at or before
/// (<see cref="Key"/>, <see cref="LastId"/>) — smaller distance, or equal distance and ordinal id not after.
/// </summary>
public readonly record struct D4Cutoff(uint Key, string? LastId)
{
    /// <summary>Removes nothing.</summary>
    public static D4Cutoff None => new(0, null);

    public bool Removes(float distance, string id)
    {
        if (LastId is null) return false;
        var key = D4Selection.KeyOf(distance);
        return key < Key || (key == Key && string.CompareOrdinal(id, LastId) <= 0);
    }
}
