using System.IO.Hashing;
using System.Text;

namespace Curation.Pipelines.Semantic;

/// <summary>
/// SplitMix64: a tiny generator whose sequence is fixed by its definition (System.Random's is not promised across .NET
/// versions), so seeded choices (k-means++ picks, random SemDeDup order, samples) never change with the runtime.
/// </summary>
public struct StableRandom(ulong seed)
{
    private ulong _state = seed;

    public ulong NextUInt64() => Mix(_state += 0x9E3779B97F4A7C15UL);

    /// <summary>Uniform in [0, 1) with 53 random bits.</summary>
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

    /// <summary>Uniform in [0, bound) (multiply-shift; the bias is below 2⁻³²).</summary>
    public int NextInt(int bound)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(bound);
        return (int)(((UInt128)NextUInt64() * (ulong)bound) >> 64);
    }

    /// <summary>The SplitMix64 finaliser: a stateless 64-bit mixing function.</summary>
    public static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>A seeded 64-bit key of a document id (XxHash64 of its UTF-8 bytes): stable across machines and runs.</summary>
    public static ulong KeyOf(string documentId, ulong seed)
    {
        ArgumentNullException.ThrowIfNull(documentId);
        var max = Encoding.UTF8.GetMaxByteCount(documentId.Length);
        var buffer = max <= 512 ? stackalloc byte[max] : new byte[max];
        var written = Encoding.UTF8.GetBytes(documentId, buffer);
        return XxHash64.HashToUInt64(buffer[..written], unchecked((long)seed));
    }

    /// <summary>A seeded 64-bit key of a stable position (record number in stable document order).</summary>
    public static ulong KeyOf(ulong position, ulong seed) => Mix(position ^ Mix(seed + 0x9E3779B97F4A7C15UL));

    /// <summary>Maps a key to [0, 1).</summary>
    public static double Unit(ulong key) => (key >> 11) * (1.0 / (1UL << 53));
}
