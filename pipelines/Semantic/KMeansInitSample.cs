namespace Curation.Pipelines.Semantic;

/// <summary>
/// The k-means++ initialisation sample, bounded: of the documents <c>initSampleFraction</c> picks (a seeded hash of the
/// document id below the fraction, <see cref="SphericalKMeans.InSample(string, ulong, double)"/>), at most a maximum
/// number — those with the smallest seeded id hashes, ties by shard and row. As the hash is what the fraction compares,
/// a capped sample is the sample a smaller fraction would pick: still uniform over the documents, and the same whatever
/// the silos, the order shards finish in, or a resume (the plan's shards are fixed). A sample under the maximum is kept
/// whole, exactly as without one.
/// <para>Each shard keeps at most the maximum of its own rows (<see cref="ShardRows"/>); the init task streams the
/// shards' ids once through a <see cref="Cut"/> of the maximum's size, then keeps the rows it holds: memory is the
/// maximum's vectors and one shard's sample, whatever the corpus.</para>
/// </summary>
public static class KMeansInitSample
{
    /// <summary>
    /// The default maximum: 100,000 vectors are 147 MiB at 384 dimensions (init decodes them straight into k-means++'s
    /// panels: one copy), 1,000 per cluster at the default 100 clusters — FAISS trains on at most 256 per centroid.
    /// </summary>
    public const int DefaultMaxVectors = 100_000;

    /// <summary>The seeded key a sample is ordered by: the hash <see cref="SphericalKMeans.InSample(string, ulong, double)"/> compares.</summary>
    public static ulong KeyOf(string documentId, ulong seed) => StableRandom.KeyOf(documentId, seed);

    /// <summary>
    /// The rows of one shard's documents in its sample, in row order: those the fraction picks (<paramref name="picked"/>
    /// of them), and of those at most <paramref name="maxVectors"/>, the smallest by (key, row).
    /// </summary>
    public static int[] ShardRows(IReadOnlyList<string> ids, ulong seed, double fraction, int maxVectors, out int picked)
    {
        ArgumentNullException.ThrowIfNull(ids);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxVectors);
        var rows = new List<int>();
        for (var i = 0; i < ids.Count; i++)
            if (SphericalKMeans.InSample(ids[i], seed, fraction)) rows.Add(i);
        picked = rows.Count;
        if (rows.Count <= maxVectors) return [.. rows];
        var cut = new Cut(maxVectors);
        foreach (var row in rows) cut.Offer(KeyOf(ids[row], seed), 0, row);
        return [.. rows.Where(row => cut.Keeps(KeyOf(ids[row], seed), 0, row))];
    }

    /// <summary>
    /// The global selection: offer every candidate (key, shard, row) once, in any order; afterwards <see cref="Keeps"/>
    /// says whether a candidate is among the <c>maxVectors</c> smallest. Holds at most <c>maxVectors</c> entries.
    /// </summary>
    public sealed class Cut(int maxVectors)
    {
        private readonly PriorityQueue<Entry, Entry> _largestFirst = new(Comparer<Entry>.Create((a, b) => b.CompareTo(a)));

        public int MaxVectors { get; } = maxVectors > 0 ? maxVectors : throw new ArgumentOutOfRangeException(nameof(maxVectors));

        /// <summary>Candidates offered.</summary>
        public long Candidates { get; private set; }

        /// <summary>Candidates kept: min(candidates, maximum).</summary>
        public int Kept => _largestFirst.Count;

        /// <summary>Whether some candidates were left out.</summary>
        public bool Capped => Candidates > MaxVectors;

        /// <summary>Offers a candidate; <paramref name="id"/>, when given, is kept with it (<see cref="KeptCandidates"/>).</summary>
        public void Offer(ulong key, int shard, int row, string? id = null)
        {
            Candidates++;
            var entry = new Entry(key, shard, row, id);
            if (_largestFirst.Count < MaxVectors) _largestFirst.Enqueue(entry, entry);
            else if (entry.CompareTo(_largestFirst.Peek()) < 0) _largestFirst.EnqueueDequeue(entry, entry);
        }

        /// <summary>Whether an offered candidate is among the kept ones.</summary>
        public bool Keeps(ulong key, int shard, int row) =>
            !Capped || new Entry(key, shard, row, null).CompareTo(_largestFirst.Peek()) <= 0;

        /// <summary>The kept candidates with the ids they were offered with, in no particular order.</summary>
        public IEnumerable<(string? Id, int Shard, int Row)> KeptCandidates() =>
            _largestFirst.UnorderedItems.Select(item => (item.Element.Id, item.Element.Shard, item.Element.Row));
    }

    /// <summary>A candidate; ordered by (key, shard, row) only: the id rides along.</summary>
    private readonly record struct Entry(ulong Key, int Shard, int Row, string? Id) : IComparable<Entry>
    {
        public int CompareTo(Entry other)
        {
            var byKey = Key.CompareTo(other.Key);
            if (byKey != 0) return byKey;
            var byShard = Shard.CompareTo(other.Shard);
            return byShard != 0 ? byShard : Row.CompareTo(other.Row);
        }
    }
}
