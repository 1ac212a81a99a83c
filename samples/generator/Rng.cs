namespace Curation.SampleGenerator;

/// <summary>
/// SplitMix64: a tiny PRNG whose sequence is fixed by this code alone (System.Random's seeded sequence is an
/// implementation detail of the runtime), so the same seed gives the same corpus bytes on every .NET version.
/// </summary>
public sealed class Rng(ulong seed)
{
    private readonly ulong _seed = seed;
    private ulong _state = seed;

    public ulong NextUInt64()
    {
        var z = _state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>Uniform in [0, n) without modulo bias.</summary>
    public int Next(int n)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(n);
        var bound = (ulong)n;
        var limit = ulong.MaxValue - ulong.MaxValue % bound;
        ulong x;
        do { x = NextUInt64(); } while (x >= limit);
        return (int)(x % bound);
    }

    /// <summary>Uniform in [lo, hi] (inclusive).</summary>
    public int Between(int lo, int hi) => lo + Next(hi - lo + 1);

    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

    public bool Chance(double p) => NextDouble() < p;

    public T Pick<T>(IReadOnlyList<T> items) => items[Next(items.Count)];

    public void Shuffle<T>(IList<T> items)
    {
        for (var i = items.Count - 1; i > 0; i--)
        {
            var j = Next(i + 1);
            (items[i], items[j]) = (items[j], items[i]);
        }
    }

    /// <summary>
    /// An independent generator for one purpose, derived from the seed only (not from draws made so far), so adding
    /// draws in one part of the generator does not shift another.
    /// </summary>
    public Rng Fork(string purpose)
    {
        ulong h = 1469598103934665603UL;
        foreach (var c in purpose) { h ^= c; h *= 1099511628211UL; }
        return new Rng(_seed ^ h);
    }
}
