using Curation.Pipelines.Semantic;

namespace Curation.Bench;

/// <summary>
/// Deterministic synthetic embeddings with cluster structure, the shape k-means and SemDeDup see in a real corpus:
/// <c>centres</c> random unit directions, each vector one of them (chosen by a seeded hash of its row) plus isotropic
/// gaussian noise whose spread differs per centre (σ from 0.035 to 0.065 per component, so members lie at cosine
/// ≈ 0.6–0.85 from their centre), L2-normalised. Every row is a pure function of (seed, row): generation runs in
/// parallel and gives the same bits whatever the thread count.
/// </summary>
public static class ClusteredVectors
{
    public static float[] Generate(int count, int dimensions, int centres, int seed, int threads)
    {
        var centre = new float[(long)centres * dimensions];
        var sigma = new float[centres];
        for (var c = 0; c < centres; c++)
        {
            var random = For(seed, -1 - c);
            var row = centre.AsSpan(c * dimensions, dimensions);
            Gaussian(ref random, row, 1f);
            Normalize(row);
            sigma[c] = 0.035f + 0.03f * (float)random.NextDouble();
        }

        var values = new float[(long)count * dimensions];
        Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, t =>
        {
            var first = (int)((long)count * t / threads);
            var last = (int)((long)count * (t + 1) / threads);
            for (var i = first; i < last; i++)
            {
                var random = For(seed, i);
                var c = random.NextInt(centres);
                var row = values.AsSpan((int)((long)i * dimensions), dimensions);
                Gaussian(ref random, row, sigma[c]);
                var mean = centre.AsSpan(c * dimensions, dimensions);
                for (var p = 0; p < dimensions; p++) row[p] += mean[p];
                Normalize(row);
            }
        });
        return values;
    }

    /// <summary>
    /// One cluster as SemDeDup meets it: <paramref name="count"/> members around one centre (σ 0.05), of which every
    /// tenth is a near copy (σ 0.004, cosine ≈ 0.99) of a random earlier member, so M spans both ordinary members and
    /// duplicates.
    /// </summary>
    public static float[] OneCluster(int count, int dimensions, int seed)
    {
        var random = For(seed, int.MinValue);
        var centre = new float[dimensions];
        Gaussian(ref random, centre, 1f);
        Normalize(centre);
        var values = new float[(long)count * dimensions];
        for (var i = 0; i < count; i++)
        {
            var member = For(seed ^ 0x5EED, i);
            var row = values.AsSpan(i * dimensions, dimensions);
            var copyOf = i > 0 && i % 10 == 0 ? member.NextInt(i) : -1;
            Gaussian(ref member, row, copyOf < 0 ? 0.05f : 0.004f);
            ReadOnlySpan<float> around = copyOf < 0 ? centre : values.AsSpan(copyOf * dimensions, dimensions);
            for (var p = 0; p < dimensions; p++) row[p] += around[p];
            Normalize(row);
        }
        return values;
    }

    private static StableRandom For(int seed, long row) =>
        new(StableRandom.Mix((ulong)row * 0x9E3779B97F4A7C15UL ^ (ulong)(uint)seed * 0xD1B54A32D192ED03UL));

    /// <summary>Box–Muller pairs.</summary>
    private static void Gaussian(ref StableRandom random, Span<float> target, float sigma)
    {
        for (var p = 0; p < target.Length; p += 2)
        {
            var radius = sigma * (float)Math.Sqrt(-2.0 * Math.Log(1.0 - random.NextDouble())); // 1 − u lies in (0, 1]
            var (sin, cos) = MathF.SinCos(2f * MathF.PI * (float)random.NextDouble());
            target[p] = radius * cos;
            if (p + 1 < target.Length) target[p + 1] = radius * sin;
        }
    }

    private static void Normalize(Span<float> row)
    {
        var norm = MathF.Sqrt(System.Numerics.Tensors.TensorPrimitives.Dot<float>(row, row));
        System.Numerics.Tensors.TensorPrimitives.Divide(row, norm, row);
    }
}
