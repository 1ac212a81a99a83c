using System.IO.Hashing;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Curation.Pipelines.NearDup;

/// <summary>
/// MinHash signatures and LSH band keys. A shingle's 64-bit hash is folded to 32 bits (high XOR low) and each of the
/// <c>bands × rows</c> permutations is <c>fmix32(x XOR s_i)</c> — MurmurHash3's 32-bit finaliser, a bijection with
/// full avalanche, keyed by a per-permutation word s_i drawn from the job seed (SplitMix64). A signature holds, per
/// permutation, the minimum over the document's shingles (32-bit values, as datatrove and datasketch keep). The
/// permutations are evaluated eight (or sixteen) at a time in SIMD lanes; every lane does the same integer arithmetic,
/// so a signature is bit-identical on every machine.
/// </summary>
public sealed class MinHasher
{
    private readonly uint[] _keys; // padded to a multiple of 16 lanes

    public MinHasher(int bands, int rows, long seed)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(bands, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(rows, 1);
        (Bands, Rows) = (bands, rows);
        _keys = new uint[(Permutations + 15) / 16 * 16];
        var state = unchecked((ulong)seed) ^ 0x6E6561725F647570UL; // "near_dup"
        for (var i = 0; i < _keys.Length; i++) _keys[i] = (uint)SplitMix64(ref state);
    }

    public int Bands { get; }
    public int Rows { get; }
    public int Permutations => Bands * Rows;

    /// <summary>The Jaccard similarity at which a pair becomes a candidate with probability ≈ ½: (1/b)^(1/r).</summary>
    public static double Threshold(int bands, int rows) => Math.Pow(1.0 / bands, 1.0 / rows);

    /// <summary>Probability that a pair of Jaccard similarity <paramref name="jaccard"/> shares at least one band: 1 − (1 − j^r)^b.</summary>
    public static double CandidateProbability(double jaccard, int bands, int rows) => 1 - Math.Pow(1 - Math.Pow(jaccard, rows), bands);

    /// <summary>The signature of a set of shingle hashes (repeats do not matter). An empty set gives all ones.</summary>
    public void Signature(ReadOnlySpan<ulong> shingles, Span<uint> signature)
    {
        if (signature.Length != Permutations) throw new ArgumentException($"signature needs {Permutations} values", nameof(signature));
        var folded = shingles.Length <= 1024 ? stackalloc uint[shingles.Length] : new uint[shingles.Length];
        for (var i = 0; i < shingles.Length; i++) folded[i] = (uint)shingles[i] ^ (uint)(shingles[i] >> 32);

        Span<uint> padded = stackalloc uint[_keys.Length];
        if (Vector512.IsHardwareAccelerated) Compute512(folded, padded);
        else Compute256(folded, padded);
        padded[..Permutations].CopyTo(signature);
    }

    private void Compute256(ReadOnlySpan<uint> folded, Span<uint> result)
    {
        ref var keys = ref MemoryMarshal.GetArrayDataReference(_keys);
        for (var block = 0; block < _keys.Length; block += 16)
        {
            // Two vectors per pass over the shingles: two independent dependency chains.
            var k0 = Vector256.LoadUnsafe(ref keys, (nuint)block);
            var k1 = Vector256.LoadUnsafe(ref keys, (nuint)block + 8);
            var m0 = Vector256<uint>.AllBitsSet;
            var m1 = Vector256<uint>.AllBitsSet;
            foreach (var x in folded)
            {
                var v = Vector256.Create(x);
                m0 = Vector256.Min(m0, Mix(v ^ k0));
                m1 = Vector256.Min(m1, Mix(v ^ k1));
            }
            m0.StoreUnsafe(ref MemoryMarshal.GetReference(result), (nuint)block);
            m1.StoreUnsafe(ref MemoryMarshal.GetReference(result), (nuint)block + 8);
        }
    }

    private void Compute512(ReadOnlySpan<uint> folded, Span<uint> result)
    {
        ref var keys = ref MemoryMarshal.GetArrayDataReference(_keys);
        var block = 0;
        for (; block + 32 <= _keys.Length; block += 32)
        {
            var k0 = Vector512.LoadUnsafe(ref keys, (nuint)block);
            var k1 = Vector512.LoadUnsafe(ref keys, (nuint)block + 16);
            var m0 = Vector512<uint>.AllBitsSet;
            var m1 = Vector512<uint>.AllBitsSet;
            foreach (var x in folded)
            {
                var v = Vector512.Create(x);
                m0 = Vector512.Min(m0, Mix(v ^ k0));
                m1 = Vector512.Min(m1, Mix(v ^ k1));
            }
            m0.StoreUnsafe(ref MemoryMarshal.GetReference(result), (nuint)block);
            m1.StoreUnsafe(ref MemoryMarshal.GetReference(result), (nuint)block + 16);
        }
        for (; block < _keys.Length; block += 16)
        {
            var k = Vector512.LoadUnsafe(ref keys, (nuint)block);
            var m = Vector512<uint>.AllBitsSet;
            foreach (var x in folded) m = Vector512.Min(m, Mix(Vector512.Create(x) ^ k));
            m.StoreUnsafe(ref MemoryMarshal.GetReference(result), (nuint)block);
        }
    }

    /// <summary>MurmurHash3 fmix32 on every lane.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<uint> Mix(Vector256<uint> h)
    {
        h ^= Vector256.ShiftRightLogical(h, 16);
        h *= 0x85EBCA6Bu;
        h ^= Vector256.ShiftRightLogical(h, 13);
        h *= 0xC2B2AE35u;
        return h ^ Vector256.ShiftRightLogical(h, 16);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<uint> Mix(Vector512<uint> h)
    {
        h ^= Vector512.ShiftRightLogical(h, 16);
        h *= 0x85EBCA6Bu;
        h ^= Vector512.ShiftRightLogical(h, 13);
        h *= 0xC2B2AE35u;
        return h ^ Vector512.ShiftRightLogical(h, 16);
    }

    /// <summary>The scalar definition of one permutation (tests compare the SIMD paths with it).</summary>
    public uint Permute(int permutation, ulong shingle)
    {
        var h = ((uint)shingle ^ (uint)(shingle >> 32)) ^ _keys[permutation];
        h ^= h >> 16;
        h *= 0x85EBCA6Bu;
        h ^= h >> 13;
        h *= 0xC2B2AE35u;
        return h ^ (h >> 16);
    }

    /// <summary>The LSH key of each band: XxHash64 of its <c>rows</c> values (little-endian), seeded with the band number.</summary>
    public void BandKeys(ReadOnlySpan<uint> signature, Span<ulong> keys)
    {
        for (var band = 0; band < Bands; band++)
        {
            var values = signature.Slice(band * Rows, Rows);
            keys[band] = BitConverter.IsLittleEndian
                ? XxHash64.HashToUInt64(MemoryMarshal.AsBytes(values), band)
                : XxHash64.HashToUInt64(LittleEndianBytes(values), band);
        }
    }

    private static byte[] LittleEndianBytes(ReadOnlySpan<uint> values)
    {
        var bytes = new byte[values.Length * 4];
        for (var i = 0; i < values.Length; i++) System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(i * 4), values[i]);
        return bytes;
    }

    /// <summary>Estimated Jaccard similarity: the share of permutations whose minima agree.</summary>
    public static double Estimate(ReadOnlySpan<uint> a, ReadOnlySpan<uint> b)
    {
        if (a.Length != b.Length || a.Length == 0) throw new ArgumentException("signatures of different lengths");
        var equal = 0;
        var i = 0;
        for (; i + Vector256<uint>.Count <= a.Length; i += Vector256<uint>.Count)
            equal += BitOperations.PopCount(Vector256.Equals(Vector256.Create(a.Slice(i, 8)), Vector256.Create(b.Slice(i, 8))).ExtractMostSignificantBits());
        for (; i < a.Length; i++) if (a[i] == b[i]) equal++;
        return equal / (double)a.Length;
    }

    /// <summary>Exact Jaccard similarity of two sorted, distinct hash sets.</summary>
    public static double Exact(ReadOnlySpan<ulong> a, ReadOnlySpan<ulong> b)
    {
        if (a.Length == 0 && b.Length == 0) return 1;
        int i = 0, j = 0, common = 0;
        while (i < a.Length && j < b.Length)
        {
            if (a[i] == b[j]) { common++; i++; j++; }
            else if (a[i] < b[j]) i++;
            else j++;
        }
        return common / (double)(a.Length + b.Length - common);
    }

    /// <summary>Signature ↔ bytes (little-endian), as the signature files store them.</summary>
    public static byte[] ToBytes(ReadOnlySpan<uint> values)
    {
        var bytes = new byte[values.Length * 4];
        for (var i = 0; i < values.Length; i++) System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(i * 4), values[i]);
        return bytes;
    }

    public static uint[] FromBytes(ReadOnlySpan<byte> bytes)
    {
        var values = new uint[bytes.Length / 4];
        for (var i = 0; i < values.Length; i++) values[i] = System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(bytes[(i * 4)..]);
        return values;
    }

    public static byte[] ToBytes(ReadOnlySpan<ulong> values)
    {
        var bytes = new byte[values.Length * 8];
        for (var i = 0; i < values.Length; i++) System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(i * 8), values[i]);
        return bytes;
    }

    public static ulong[] HashesFromBytes(ReadOnlySpan<byte> bytes)
    {
        var values = new ulong[bytes.Length / 8];
        for (var i = 0; i < values.Length; i++) values[i] = System.Buffers.Binary.BinaryPrimitives.ReadUInt64LittleEndian(bytes[(i * 8)..]);
        return values;
    }

    internal static ulong SplitMix64(ref ulong state)
    {
        var z = state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
