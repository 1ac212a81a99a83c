using System.Buffers.Binary;
using System.Text;

namespace Curation.Pipelines.Training;

/// <summary>
/// Megatron-LM's indexed dataset (megatron/core/datasets/indexed_dataset.py, "MMIDIDX" version 1), written from its
/// format description: the <c>.bin</c> holds every document's tokens back to back in the index's dtype; the
/// <c>.idx</c> is, little-endian: the 9 bytes <c>MMIDIDX\0\0</c>, version (uint64 = 1), dtype code (uint8: 8 uint16,
/// 4 int32), sequence count (uint64), document count (uint64, = sequences + 1), the sequence lengths (int32 each),
/// their byte offsets into the <c>.bin</c> (int64 each) and the document indices (int64: 0, 1, …, n — each document
/// is one sequence).
/// </summary>
public static class MegatronIndex
{
    public static ReadOnlySpan<byte> Magic => "MMIDIDX\0\0"u8;
    public const ulong Version = 1;

    public static void Write(Stream target, TokenDType dtype, IReadOnlyList<int> lengths)
    {
        using var writer = new BinaryWriter(target, Encoding.UTF8, leaveOpen: true);   // BinaryWriter is little-endian
        writer.Write(Magic);
        writer.Write(Version);
        writer.Write((byte)dtype);
        writer.Write((ulong)lengths.Count);
        writer.Write((ulong)lengths.Count + 1);
        foreach (var length in lengths) writer.Write(length);
        long pointer = 0;
        foreach (var length in lengths)
        {
            writer.Write(pointer);
            pointer += (long)length * dtype.Size();
        }
        for (long i = 0; i <= lengths.Count; i++) writer.Write(i);
    }

    /// <summary>Reads an index back: dtype, sequence lengths, pointers and document indices; throws naming what is wrong.</summary>
    public static MegatronIndexContent Read(Stream source, string name)
    {
        using var reader = new BinaryReader(source, Encoding.UTF8, leaveOpen: true);
        var magic = reader.ReadBytes(Magic.Length);
        if (!magic.AsSpan().SequenceEqual(Magic)) throw new InvalidDataException($"{name} is not a Megatron index (no MMIDIDX header).");
        var version = reader.ReadUInt64();
        if (version != Version) throw new InvalidDataException($"{name}: index version {version}, only {Version} is known.");
        var dtype = (TokenDType)reader.ReadByte();
        if (dtype is not (TokenDType.UInt16 or TokenDType.Int32)) throw new InvalidDataException($"{name}: dtype code {(byte)dtype} is not uint16 (8) or int32 (4).");
        var sequences = checked((int)reader.ReadUInt64());
        var documents = checked((int)reader.ReadUInt64());
        var lengths = new int[sequences];
        for (var i = 0; i < sequences; i++) lengths[i] = reader.ReadInt32();
        var pointers = new long[sequences];
        for (var i = 0; i < sequences; i++) pointers[i] = reader.ReadInt64();
        var documentIndices = new long[documents];
        for (var i = 0; i < documents; i++) documentIndices[i] = reader.ReadInt64();
        return new MegatronIndexContent(dtype, lengths, pointers, documentIndices);
    }
}

public sealed record MegatronIndexContent(TokenDType DType, int[] Lengths, long[] Pointers, long[] DocumentIndices)
{
    public long Tokens => Lengths.Sum(l => (long)l);
}

/// <summary>
/// NumPy's <c>.npy</c> format (version 1.0): the 6 bytes <c>\x93NUMPY</c>, version 1 0, a little-endian uint16 header
/// length and a Python-literal header dict padded with spaces and a newline so the data starts at a multiple of 64,
/// then the array's bytes. One-dimensional arrays only, as the token files need.
/// </summary>
public static class NpyFile
{
    public static void WriteHeader(Stream target, string descr, long length)
    {
        var dict = $"{{'descr': '{descr}', 'fortran_order': False, 'shape': ({length},), }}";
        var total = 10 + dict.Length + 1;
        var padded = (total + 63) / 64 * 64;
        var header = dict + new string(' ', padded - total) + "\n";
        Span<byte> prefix = stackalloc byte[10];
        prefix[0] = 0x93;
        "NUMPY"u8.CopyTo(prefix[1..]);
        prefix[6] = 1;
        prefix[7] = 0;
        BinaryPrimitives.WriteUInt16LittleEndian(prefix[8..], (ushort)header.Length);
        target.Write(prefix);
        target.Write(Encoding.ASCII.GetBytes(header));
    }

    /// <summary>Reads a 1-D header: the dtype string, the length and the offset of the data.</summary>
    public static (string Descr, long Length, int DataOffset) ReadHeader(Stream source, string name)
    {
        Span<byte> prefix = stackalloc byte[10];
        source.ReadExactly(prefix);
        if (prefix[0] != 0x93 || !prefix[1..6].SequenceEqual("NUMPY"u8) || prefix[6] != 1)
            throw new InvalidDataException($"{name} is not a version 1 .npy file.");
        var headerLength = BinaryPrimitives.ReadUInt16LittleEndian(prefix[8..]);
        var header = new byte[headerLength];
        source.ReadExactly(header);
        var text = Encoding.ASCII.GetString(header);
        var descr = Between(text, "'descr': '", "'", name);
        var shape = Between(text, "'shape': (", ",)", name);
        return (descr, long.Parse(shape, System.Globalization.CultureInfo.InvariantCulture), 10 + headerLength);
    }

    private static string Between(string text, string start, string end, string name)
    {
        var from = text.IndexOf(start, StringComparison.Ordinal);
        var to = from < 0 ? -1 : text.IndexOf(end, from + start.Length, StringComparison.Ordinal);
        if (to < 0) throw new InvalidDataException($"{name}: .npy header '{text.Trim()}' lacks {start.Trim()}…{end}.");
        return text[(from + start.Length)..to];
    }
}
