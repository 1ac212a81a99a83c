using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using Curation.Pipelines.IO;
using Curation.Pipelines.Storage;

namespace Curation.Pipelines.Stages;

/// <summary>
/// One shard's MinHash signatures as a row-addressable binary file, so a task that needs a few rows (the candidates)
/// reads those rows and nothing else. Layout (little-endian):
/// <c>header</c> (magic, version, permutations, 0: 4 × int32), then one fixed-width record per row (1 when the row has a
/// signature, else 0, as int32; then the signature as <c>permutations</c> uint32, all zero for a document with no shingles), then the ids
/// (UTF-8, back to back), their offsets ((rows + 1) × int64, relative to the first id), and a footer (rows, start of
/// the ids, start of the offsets: 3 × int64).
/// </summary>
internal static class SignatureFile
{
    internal const int Magic = 0x47495343; // "CSIG"
    internal const int Version = 1;
    internal const int HeaderBytes = 16;
    internal const int FooterBytes = 24;

    internal static int RecordBytes(int permutations) => 4 + permutations * 4;
}

/// <summary>Writes a <see cref="SignatureFile"/> into a spool file row by row, then commits it create-once.</summary>
internal sealed class SignatureFileWriter : IAsyncDisposable
{
    private readonly SpoolFile _spool = SpoolFile.Create();
    private readonly BufferedStream _out;
    private readonly byte[] _record;
    private readonly MemoryStream _ids = new();
    private readonly List<long> _offsets = [0];
    private readonly int _permutations;

    public SignatureFileWriter(int permutations)
    {
        _permutations = permutations;
        _record = new byte[SignatureFile.RecordBytes(permutations)];
        _out = new BufferedStream(_spool.Stream, 1 << 16);
        Span<byte> header = stackalloc byte[SignatureFile.HeaderBytes];
        BinaryPrimitives.WriteInt32LittleEndian(header, SignatureFile.Magic);
        BinaryPrimitives.WriteInt32LittleEndian(header[4..], SignatureFile.Version);
        BinaryPrimitives.WriteInt32LittleEndian(header[8..], permutations);
        BinaryPrimitives.WriteInt32LittleEndian(header[12..], 0);
        _out.Write(header);
    }

    /// <summary>Appends the next row: its id and signature (empty when the document has no shingles).</summary>
    public void Add(string id, ReadOnlySpan<uint> signature)
    {
        if (signature.Length != 0 && signature.Length != _permutations)
            throw new ArgumentException($"a signature of {signature.Length} values where {_permutations} are expected", nameof(signature));
        BinaryPrimitives.WriteInt32LittleEndian(_record, signature.Length == 0 ? 0 : 1);
        var values = _record.AsSpan(4);
        if (signature.Length == 0) values.Clear();
        else if (BitConverter.IsLittleEndian) MemoryMarshal.AsBytes(signature).CopyTo(values);
        else for (var i = 0; i < signature.Length; i++) BinaryPrimitives.WriteUInt32LittleEndian(values[(i * 4)..], signature[i]);
        _out.Write(_record);
        Span<byte> buffer = stackalloc byte[256];
        var length = Encoding.UTF8.GetByteCount(id);
        var bytes = length <= buffer.Length ? buffer[..length] : new byte[length];
        Encoding.UTF8.GetBytes(id, bytes);
        _ids.Write(bytes);
        _offsets.Add(_ids.Length);
    }

    public long Rows => _offsets.Count - 1;

    public async Task CommitOnceAsync(IObjectStore store, string key, CancellationToken cancellationToken)
    {
        var idsStart = SignatureFile.HeaderBytes + Rows * SignatureFile.RecordBytes(_permutations);
        _ids.Position = 0;
        await _ids.CopyToAsync(_out, cancellationToken).ConfigureAwait(false);
        var offsetsStart = idsStart + _ids.Length;
        var eight = new byte[8];
        foreach (var offset in _offsets)
        {
            BinaryPrimitives.WriteInt64LittleEndian(eight, offset);
            _out.Write(eight);
        }
        var footer = new byte[SignatureFile.FooterBytes];
        BinaryPrimitives.WriteInt64LittleEndian(footer, Rows);
        BinaryPrimitives.WriteInt64LittleEndian(footer.AsSpan(8), idsStart);
        BinaryPrimitives.WriteInt64LittleEndian(footer.AsSpan(16), offsetsStart);
        _out.Write(footer);
        await _out.FlushAsync(cancellationToken).ConfigureAwait(false);
        await _spool.CommitOnceAsync(store, key, cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        await _ids.DisposeAsync().ConfigureAwait(false);
        await _spool.DisposeAsync().ConfigureAwait(false);
    }
}

/// <summary>Reads rows of a <see cref="SignatureFile"/>: any row by number (a seek each), or every row in order.</summary>
internal sealed class SignatureFileReader : IAsyncDisposable
{
    private readonly Stream _input;
    private readonly string _key;
    private readonly long _idsStart, _offsetsStart;

    private SignatureFileReader(Stream input, string key, int permutations, long rows, long idsStart, long offsetsStart) =>
        (_input, _key, Permutations, Rows, _idsStart, _offsetsStart) = (input, key, permutations, rows, idsStart, offsetsStart);

    public int Permutations { get; }

    public long Rows { get; }

    private int RecordBytes => SignatureFile.RecordBytes(Permutations);

    public static async Task<SignatureFileReader> OpenAsync(IObjectStore store, string key, CancellationToken cancellationToken)
    {
        var input = await store.OpenReadAsync(key, cancellationToken).ConfigureAwait(false);
        try
        {
            var header = new byte[SignatureFile.HeaderBytes];
            var footer = new byte[SignatureFile.FooterBytes];
            if (input.Length < header.Length + footer.Length) throw Corrupt(key, "shorter than its header and footer");
            await input.ReadExactlyAsync(header, cancellationToken).ConfigureAwait(false);
            input.Position = input.Length - footer.Length;
            await input.ReadExactlyAsync(footer, cancellationToken).ConfigureAwait(false);
            if (BinaryPrimitives.ReadInt32LittleEndian(header) != SignatureFile.Magic || BinaryPrimitives.ReadInt32LittleEndian(header.AsSpan(4)) != SignatureFile.Version)
                throw Corrupt(key, "not a signature file of this version");
            var permutations = BinaryPrimitives.ReadInt32LittleEndian(header.AsSpan(8));
            var (rows, idsStart, offsetsStart) = (BinaryPrimitives.ReadInt64LittleEndian(footer), BinaryPrimitives.ReadInt64LittleEndian(footer.AsSpan(8)),
                BinaryPrimitives.ReadInt64LittleEndian(footer.AsSpan(16)));
            if (idsStart != SignatureFile.HeaderBytes + rows * SignatureFile.RecordBytes(permutations) || offsetsStart + (rows + 1) * 8 + footer.Length != input.Length)
                throw Corrupt(key, "its footer does not match its length");
            return new SignatureFileReader(input, key, permutations, rows, idsStart, offsetsStart);
        }
        catch
        {
            await input.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private static InvalidDataException Corrupt(string key, string why) => new($"{key}: corrupt signature file ({why}).");

    private void CheckRow(long row)
    {
        if ((ulong)row >= (ulong)Rows) throw new InvalidDataException($"{_key}: row {row} is outside the file's {Rows} rows.");
    }

    /// <summary>The stored signature bytes of each of <paramref name="rows"/> (sorted; little-endian uint32s, empty when it has no shingles).</summary>
    public async Task<byte[][]> ReadSignaturesAsync(IReadOnlyList<long> rows, CancellationToken cancellationToken)
    {
        foreach (var row in rows) CheckRow(row);
        var records = await ByteRanges.ReadAsync(_input, rows.Select(row => (SignatureFile.HeaderBytes + row * RecordBytes, RecordBytes)).ToList(), cancellationToken)
            .ConfigureAwait(false);
        return Array.ConvertAll(records, record => BinaryPrimitives.ReadInt32LittleEndian(record) == 0 ? [] : record[4..]);
    }

    /// <summary>The ids of <paramref name="rows"/> (sorted).</summary>
    public async Task<string[]> ReadIdsAsync(IReadOnlyList<long> rows, CancellationToken cancellationToken)
    {
        foreach (var row in rows) CheckRow(row);
        var offsets = await ByteRanges.ReadAsync(_input, rows.Select(row => (_offsetsStart + row * 8, 16)).ToList(), cancellationToken).ConfigureAwait(false);
        var spans = offsets.Select(o => (Start: BinaryPrimitives.ReadInt64LittleEndian(o), End: BinaryPrimitives.ReadInt64LittleEndian(o.AsSpan(8)))).ToList();
        var bytes = await ByteRanges.ReadAsync(_input, spans.Select(s => (_idsStart + s.Start, (int)(s.End - s.Start))).ToList(), cancellationToken).ConfigureAwait(false);
        return Array.ConvertAll(bytes, Encoding.UTF8.GetString);
    }

    /// <summary>Every row in order: id and signature bytes (empty when it has no shingles).</summary>
    public async IAsyncEnumerable<(long Row, string Id, byte[] Signature)> ReadAllAsync(
        [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var tail = new byte[_input.Length - SignatureFile.FooterBytes - _idsStart];
        _input.Position = _idsStart;
        await _input.ReadExactlyAsync(tail, cancellationToken).ConfigureAwait(false);
        var offsets = MemoryMarshal.Cast<byte, long>(tail.AsSpan((int)(_offsetsStart - _idsStart))).ToArray();
        if (!BitConverter.IsLittleEndian) for (var i = 0; i < offsets.Length; i++) offsets[i] = BinaryPrimitives.ReverseEndianness(offsets[i]);
        _input.Position = SignatureFile.HeaderBytes;
        var record = new byte[RecordBytes];
        for (long row = 0; row < Rows; row++)
        {
            await _input.ReadExactlyAsync(record, cancellationToken).ConfigureAwait(false);
            var id = Encoding.UTF8.GetString(tail, (int)offsets[row], (int)(offsets[row + 1] - offsets[row]));
            yield return (row, id, BinaryPrimitives.ReadInt32LittleEndian(record) == 0 ? [] : record[4..]);
        }
    }

    public ValueTask DisposeAsync() => _input.DisposeAsync();
}
