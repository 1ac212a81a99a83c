using System.Buffers.Binary;
using Curation.Pipelines.IO;
using Curation.Pipelines.Storage;

namespace Curation.Pipelines.Stages;

/// <summary>
/// One shard's shingle sets (exact verify) as a row-addressable binary file: the sets back to back (sorted distinct
/// uint64 hashes, little-endian; empty for a document with no shingles), their offsets ((rows + 1) × int64), and a
/// footer (magic, version as int32; rows, start of the offsets as int64). A verify task reads the candidates' rows only.
/// </summary>
internal static class ShingleSetFile
{
    private const int Magic = 0x53484343; // "CCHS"
    private const int Version = 1;
    private const int FooterBytes = 24;

    /// <summary>Writes one set per row, in row order, into a spool file; <see cref="Writer.CommitOnceAsync"/> commits it create-once.</summary>
    internal sealed class Writer : IAsyncDisposable
    {
        private readonly SpoolFile _spool = SpoolFile.Create();
        private readonly BufferedStream _out;
        private readonly List<long> _offsets = [0];

        public Writer() => _out = new BufferedStream(_spool.Stream, 1 << 16);

        public void Add(ReadOnlySpan<ulong> hashes)
        {
            Span<byte> value = stackalloc byte[8];
            foreach (var hash in hashes)
            {
                BinaryPrimitives.WriteUInt64LittleEndian(value, hash);
                _out.Write(value);
            }
            _offsets.Add(_offsets[^1] + hashes.Length * 8L);
        }

        public async Task CommitOnceAsync(IObjectStore store, string key, CancellationToken cancellationToken)
        {
            var offsetsStart = _offsets[^1];
            var buffer = new byte[FooterBytes];
            foreach (var offset in _offsets)
            {
                BinaryPrimitives.WriteInt64LittleEndian(buffer, offset);
                _out.Write(buffer, 0, 8);
            }
            BinaryPrimitives.WriteInt32LittleEndian(buffer, Magic);
            BinaryPrimitives.WriteInt32LittleEndian(buffer.AsSpan(4), Version);
            BinaryPrimitives.WriteInt64LittleEndian(buffer.AsSpan(8), _offsets.Count - 1);
            BinaryPrimitives.WriteInt64LittleEndian(buffer.AsSpan(16), offsetsStart);
            _out.Write(buffer);
            await _out.FlushAsync(cancellationToken).ConfigureAwait(false);
            await _spool.CommitOnceAsync(store, key, cancellationToken).ConfigureAwait(false);
        }

        public ValueTask DisposeAsync() => _spool.DisposeAsync();
    }

    /// <summary>The stored sets (bytes as written) of the given rows; every row when <paramref name="rows"/> is null.</summary>
    public static async Task<Dictionary<long, byte[]>> ReadAsync(IObjectStore store, string key, IEnumerable<long>? rows, CancellationToken cancellationToken)
    {
        await using var input = await store.OpenReadAsync(key, cancellationToken).ConfigureAwait(false);
        var footer = new byte[FooterBytes];
        if (input.Length < FooterBytes) throw new InvalidDataException($"{key}: corrupt shingle-set file (shorter than its footer).");
        input.Position = input.Length - FooterBytes;
        await input.ReadExactlyAsync(footer, cancellationToken).ConfigureAwait(false);
        var (count, offsetsStart) = (BinaryPrimitives.ReadInt64LittleEndian(footer.AsSpan(8)), BinaryPrimitives.ReadInt64LittleEndian(footer.AsSpan(16)));
        if (BinaryPrimitives.ReadInt32LittleEndian(footer) != Magic || BinaryPrimitives.ReadInt32LittleEndian(footer.AsSpan(4)) != Version ||
            offsetsStart + (count + 1) * 8 + FooterBytes != input.Length)
            throw new InvalidDataException($"{key}: corrupt shingle-set file (not this version, or its footer does not match its length).");
        var wanted = (rows?.Order() ?? Enumerable.Range(0, (int)count).Select(r => (long)r)).ToList();
        foreach (var row in wanted)
            if ((ulong)row >= (ulong)count) throw new InvalidDataException($"{key}: row {row} is outside the file's {count} rows.");
        var offsets = await ByteRanges.ReadAsync(input, wanted.Select(row => (offsetsStart + row * 8, 16)).ToList(), cancellationToken).ConfigureAwait(false);
        var values = await ByteRanges.ReadAsync(input, offsets.Select(o => (BinaryPrimitives.ReadInt64LittleEndian(o),
            (int)(BinaryPrimitives.ReadInt64LittleEndian(o.AsSpan(8)) - BinaryPrimitives.ReadInt64LittleEndian(o)))).ToList(), cancellationToken).ConfigureAwait(false);
        var result = new Dictionary<long, byte[]>(wanted.Count);
        for (var i = 0; i < wanted.Count; i++) result[wanted[i]] = values[i];
        return result;
    }
}
