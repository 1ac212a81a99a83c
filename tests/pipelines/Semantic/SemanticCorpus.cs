using Curation.Pipelines.Semantic;

namespace Curation.Pipelines.Tests.Semantic;

/// <summary>Seeded synthetic embeddings on the unit sphere.</summary>
internal static class SemanticCorpus
{
    public static double Gaussian(ref StableRandom random)
    {
        var u1 = 1.0 - random.NextDouble();
        var u2 = random.NextDouble();
        return Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
    }

    public static void Normalize(Span<float> v)
    {
        var s = 0.0;
        foreach (var x in v) s += (double)x * x;
        var inv = 1 / Math.Sqrt(s);
        for (var i = 0; i < v.Length; i++) v[i] = (float)(v[i] * inv);
    }

    public static float[] RandomUnit(ref StableRandom random, int dimensions)
    {
        var v = new float[dimensions];
        for (var p = 0; p < dimensions; p++) v[p] = (float)Gaussian(ref random);
        Normalize(v);
        return v;
    }

    public static float[] RandomUnitRows(int count, int dimensions, ulong seed)
    {
        var random = new StableRandom(seed);
        var rows = new float[count * dimensions];
        for (var i = 0; i < count; i++) RandomUnit(ref random, dimensions).CopyTo(rows.AsSpan(i * dimensions));
        return rows;
    }

    /// <summary>normalize(centre + noise · u) for a random unit u: cosine ≈ 1 / (1 + noise²) between two such members.</summary>
    public static float[] Near(ref StableRandom random, ReadOnlySpan<float> centre, double noise)
    {
        var u = RandomUnit(ref random, centre.Length);
        var v = new float[centre.Length];
        for (var p = 0; p < v.Length; p++) v[p] = (float)(centre[p] + noise * u[p]);
        Normalize(v);
        return v;
    }

    /// <summary>
    /// Groups of near duplicates (2–7 members around a random centre, noise per group in [minNoise, maxNoise]) and
    /// singletons, shuffled; ids "doc-#####" in a second, independent shuffle so id order says nothing about groups.
    /// </summary>
    public static (float[] Vectors, string[] Ids, int[] Group) Planted(int groups, int singles, int dimensions, ulong seed,
        double minNoise = 0.05, double maxNoise = 0.35)
    {
        var random = new StableRandom(seed);
        var rows = new List<(float[] Vector, int Group)>();
        for (var g = 0; g < groups; g++)
        {
            var centre = RandomUnit(ref random, dimensions);
            var noise = minNoise + (maxNoise - minNoise) * random.NextDouble();
            var size = 2 + random.NextInt(6);
            for (var m = 0; m < size; m++) rows.Add((Near(ref random, centre, noise), g));
        }
        for (var s = 0; s < singles; s++) rows.Add((RandomUnit(ref random, dimensions), -1));
        Shuffle(rows, ref random);
        var idNumbers = Enumerable.Range(0, rows.Count).ToList();
        Shuffle(idNumbers, ref random);
        var vectors = new float[rows.Count * dimensions];
        for (var i = 0; i < rows.Count; i++) rows[i].Vector.CopyTo(vectors.AsSpan(i * dimensions));
        return (vectors, idNumbers.Select(n => $"doc-{n:D5}").ToArray(), rows.Select(r => r.Group).ToArray());
    }

    public static void Shuffle<T>(IList<T> list, ref StableRandom random)
    {
        for (var i = list.Count - 1; i > 0; i--)
        {
            var j = random.NextInt(i + 1);
            (list[i], list[j]) = (list[j], list[i]);
        }
    }

    public static ReadOnlySpan<float> Row(float[] vectors, int dimensions, int index) => vectors.AsSpan(index * dimensions, dimensions);

    /// <summary>Rows gathered by index.</summary>
    public static float[] Gather(float[] vectors, int dimensions, IReadOnlyList<int> indexes)
    {
        var result = new float[indexes.Count * dimensions];
        for (var i = 0; i < indexes.Count; i++) Row(vectors, dimensions, indexes[i]).CopyTo(result.AsSpan(i * dimensions));
        return result;
    }
}
