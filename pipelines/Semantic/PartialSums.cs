namespace Curation.Pipelines.Semantic;

/// <summary>
/// What one shard (or one batch of it) contributes to a Lloyd step: per cluster the exact fixed-point sum of its
/// assigned vectors and their count, plus the summed cosine distance (inertia). Sums are 64-bit integers
/// (components × 2³², distances × 2²⁸), so combining partials is exact and associative: any grouping, any order, any
/// number of silos or shards gives bit-identical totals. Size: k × d longs (3 MB at k = 1000, d = 384).
/// </summary>
public sealed class PartialSums
{
    public PartialSums(int clusters, int dimensions)
        : this(clusters, dimensions, new long[(long)clusters * dimensions], new long[clusters], 0, 0) { }

    /// <summary>Rebuilds partial sums from their parts (deserialisation).</summary>
    public PartialSums(int clusters, int dimensions, long[] sums, long[] counts, long inertiaFixed, long vectorCount)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(clusters);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(dimensions);
        if (sums.LongLength != (long)clusters * dimensions || counts.Length != clusters)
            throw new ArgumentException("Sums or counts do not match the cluster count and dimensions.");
        Clusters = clusters;
        Dimensions = dimensions;
        Sums = sums;
        Counts = counts;
        InertiaFixed = inertiaFixed;
        VectorCount = vectorCount;
    }

    public int Clusters { get; }
    public int Dimensions { get; }

    /// <summary>k × d component sums, each the sum of round(component × 2³²).</summary>
    public long[] Sums { get; }

    public long[] Counts { get; }

    /// <summary>Sum of round(distance × 2²⁸) over the vectors, distance = 1 − cosine to the assigned centroid.</summary>
    public long InertiaFixed { get; private set; }

    public long VectorCount { get; private set; }

    public double Inertia => InertiaFixed / FixedPoint.DistanceScale;

    internal void Add(int cluster, ReadOnlySpan<float> vector, float distance)
    {
        FixedPoint.AddScaled(vector, Sums.AsSpan(cluster * Dimensions, Dimensions));
        Counts[cluster]++;
        InertiaFixed += FixedPoint.Quantize(distance, FixedPoint.DistanceScale);
        VectorCount++;
    }

    /// <summary>Adds <paramref name="other"/> into this instance.</summary>
    public void AddFrom(PartialSums other)
    {
        if (other.Clusters != Clusters || other.Dimensions != Dimensions)
            throw new ArgumentException($"Partial sums for {other.Clusters}×{other.Dimensions} cannot join {Clusters}×{Dimensions}.");
        FixedPoint.AddInto(other.Sums, Sums);
        FixedPoint.AddInto(other.Counts, Counts);
        InertiaFixed += other.InertiaFixed;
        VectorCount += other.VectorCount;
    }

    /// <summary>The exact total of several partials (in any grouping or order: the result is the same).</summary>
    public static PartialSums Combine(IEnumerable<PartialSums> parts)
    {
        PartialSums? total = null;
        foreach (var part in parts)
        {
            total ??= new PartialSums(part.Clusters, part.Dimensions);
            total.AddFrom(part);
        }
        return total ?? throw new ArgumentException("No partial sums to combine.", nameof(parts));
    }
}
