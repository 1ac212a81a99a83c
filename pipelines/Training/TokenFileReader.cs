namespace Curation.Pipelines.Training;

/// <summary>
/// Reads a local token file written by the output: a Megatron pair (<c>part-00000.bin</c> / <c>.idx</c>, or their common
/// prefix) or a npy pair (<c>part-00000.tokens.npy</c> / <c>.offsets.npy</c>). Documents are read on demand.
/// </summary>
public sealed class TokenFileReader : IDisposable
{
    private readonly FileStream _tokens;
    private readonly long _dataOffset;
    private readonly long[] _starts;     // element offset of each document
    private readonly int[] _lengths;

    private TokenFileReader(string format, string tokensPath, TokenDType dtype, long dataOffset, long[] starts, int[] lengths)
    {
        Format = format;
        TokensPath = tokensPath;
        DType = dtype;
        _dataOffset = dataOffset;
        _starts = starts;
        _lengths = lengths;
        _tokens = File.OpenRead(tokensPath);
    }

    public string Format { get; }
    public string TokensPath { get; }
    public TokenDType DType { get; }
    public int Documents => _lengths.Length;
    public long Tokens => _lengths.Sum(l => (long)l);
    public IReadOnlyList<int> Lengths => _lengths;

    public static TokenFileReader Open(string path)
    {
        string Strip(string suffix) => path[..^suffix.Length];
        if (path.EndsWith(".tokens.npy", StringComparison.Ordinal) || path.EndsWith(".offsets.npy", StringComparison.Ordinal))
            return OpenNpy(path.EndsWith(".tokens.npy", StringComparison.Ordinal) ? Strip(".tokens.npy") : Strip(".offsets.npy"));
        var prefix = path.EndsWith(".bin", StringComparison.Ordinal) ? Strip(".bin") : path.EndsWith(".idx", StringComparison.Ordinal) ? Strip(".idx") : path;
        if (File.Exists(prefix + ".idx")) return OpenMegatron(prefix);
        if (File.Exists(prefix + ".tokens.npy")) return OpenNpy(prefix);
        throw new FileNotFoundException($"{path}: neither {prefix}.idx/.bin nor {prefix}.tokens.npy/.offsets.npy exist.");
    }

    private static TokenFileReader OpenMegatron(string prefix)
    {
        MegatronIndexContent index;
        using (var idx = File.OpenRead(prefix + ".idx")) index = MegatronIndex.Read(idx, prefix + ".idx");
        var size = index.DType.Size();
        var starts = index.Pointers.Select(p => p / size).ToArray();
        return new TokenFileReader("megatron", prefix + ".bin", index.DType, 0, starts, index.Lengths);
    }

    private static TokenFileReader OpenNpy(string prefix)
    {
        long[] offsets;
        using (var file = File.OpenRead(prefix + ".offsets.npy"))
        {
            var (descr, length, _) = NpyFile.ReadHeader(file, prefix + ".offsets.npy");
            if (descr != "<i8") throw new InvalidDataException($"{prefix}.offsets.npy holds {descr}, not <i8.");
            using var reader = new BinaryReader(file);
            offsets = new long[length];
            for (var i = 0; i < length; i++) offsets[i] = reader.ReadInt64();
        }
        TokenDType dtype;
        int dataOffset;
        using (var file = File.OpenRead(prefix + ".tokens.npy"))
        {
            var (descr, _, offset) = NpyFile.ReadHeader(file, prefix + ".tokens.npy");
            dtype = descr switch
            {
                "<u2" => TokenDType.UInt16,
                "<i4" => TokenDType.Int32,
                _ => throw new InvalidDataException($"{prefix}.tokens.npy holds {descr}, not <u2 or <i4."),
            };
            dataOffset = offset;
        }
        var lengths = new int[Math.Max(0, offsets.Length - 1)];
        for (var i = 0; i < lengths.Length; i++) lengths[i] = checked((int)(offsets[i + 1] - offsets[i]));
        return new TokenFileReader("npy", prefix + ".tokens.npy", dtype, dataOffset, offsets[..lengths.Length], lengths);
    }

    /// <summary>The token ids of one document (its end-of-document token included).</summary>
    public int[] ReadDocument(int document)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(document);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(document, Documents);
        var size = DType.Size();
        var bytes = new byte[_lengths[document] * size];
        _tokens.Position = _dataOffset + _starts[document] * size;
        _tokens.ReadExactly(bytes);
        var ids = new int[_lengths[document]];
        for (var i = 0; i < ids.Length; i++)
            ids[i] = DType == TokenDType.UInt16 ? BitConverter.ToUInt16(bytes, i * 2) : BitConverter.ToInt32(bytes, i * 4);
        return ids;
    }

    public void Dispose() => _tokens.Dispose();
}
