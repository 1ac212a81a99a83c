using System.Runtime.Intrinsics;

namespace Curation.Pipelines.Semantic;

/// <summary>
/// Exact, order-free sums of unit-vector components. Each float component is rounded (to nearest, ties to even) to a
/// multiple of 2⁻³² and added as a 64-bit integer; integer addition is associative, so the total is bit-identical
/// however the vectors are split into shards, batches or threads and in whatever order partial sums are reduced.
/// The rounding (≤ 1.2·10⁻¹⁰ per component) is far below float precision of a centroid component (~4·10⁻⁹ at 0.05).
/// Range: components must lie in [−2, 2] (unit vectors do); a cluster may hold up to 2³⁰ vectors.
/// </summary>
internal static class FixedPoint
{
    public const double VectorScale = 4294967296.0; // 2^32
    public const double DistanceScale = 268435456.0; // 2^28: inertia, a sum of distances in [0, 2]

    /// <summary>sums[p] += round(x[p] × 2³²).</summary>
    public static void AddScaled(ReadOnlySpan<float> x, Span<long> sums)
    {
        var p = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            var scale = Vector512.Create(VectorScale);
            for (; p + 16 <= x.Length; p += 16)
            {
                var v = Vector512.Create(x.Slice(p, 16));
                var (lo, hi) = Vector512.Widen(v);
                var qlo = Vector512.ConvertToInt64(Vector512.Round(lo * scale));
                var qhi = Vector512.ConvertToInt64(Vector512.Round(hi * scale));
                (Vector512.Create((ReadOnlySpan<long>)sums.Slice(p, 8)) + qlo).CopyTo(sums.Slice(p, 8));
                (Vector512.Create((ReadOnlySpan<long>)sums.Slice(p + 8, 8)) + qhi).CopyTo(sums.Slice(p + 8, 8));
            }
        }
        for (; p < x.Length; p++) sums[p] += Quantize(x[p], VectorScale);
    }

    public static long Quantize(float value, double scale) => (long)Math.Round(value * scale, MidpointRounding.ToEven);

    public static void AddInto(ReadOnlySpan<long> source, Span<long> total)
    {
        for (var i = 0; i < source.Length; i++) total[i] += source[i];
    }
}
