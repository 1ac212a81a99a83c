using System.Buffers;
using System.Buffers.Binary;
using System.IO.Compression;
using System.IO.Hashing;

namespace Curation.Pipelines.IO.Readers;

/// <summary>A gzip stream that is truncated or corrupt; the message says which member and where.</summary>
public sealed class GzipFormatException(string message, bool truncated, int member, long compressedOffset, Exception? inner = null)
    : IOException(message, inner)
{
    /// <summary>The stream ended before the member did (header, deflate data or trailer cut short).</summary>
    public bool Truncated { get; } = truncated;

    /// <summary>1-based number of the gzip member the problem is in (multi-member files: <c>cat a.gz b.gz</c>).</summary>
    public int Member { get; } = member;

    /// <summary>Byte offset in the compressed stream where the problem was found.</summary>
    public long CompressedOffset { get; } = compressedOffset;
}

/// <summary>
/// Decompresses gzip (RFC 1952), all members of a multi-member file in turn, and verifies each member's trailer
/// (CRC-32 and length): a truncated or corrupt stream throws <see cref="GzipFormatException"/> instead of ending quietly.
/// </summary>
/// <remarks>
/// <para>
/// Why not <see cref="GZipStream"/>: on .NET 10 it returns end-of-stream without error when the input is cut short
/// (anywhere: in the deflate data, in the trailer, at half the file) unless the process-wide AppContext switch
/// <c>System.IO.Compression.UseStrictValidation</c> is set before first use; it silently ignores bytes after the last
/// member (a damaged header of a further member included); and it reports a CRC mismatch as "unsupported compression
/// method". Truncated uploads are the most common corrupt input, so this class checks for itself.
/// </para>
/// <para>
/// How: the gzip framing (header, trailer) is parsed here and each member's deflate data is inflated by a raw
/// <see cref="DeflateStream"/> (zlib, native speed) reading from an internal feed over this class's buffer. The
/// deflater reads ahead, so where its data ended is not reported; it must lie in the last chunk it was fed, and the
/// trailer is the 8 bytes there that equal the CRC-32 and length of what it produced (a chance match is 2^-64).
/// Chunks never run past a gzip magic, so that window cannot hold a later member's trailer. The deflater asking for
/// more input at the end of the stream means its data was incomplete: truncation.
/// </para>
/// <para>
/// Known blind spot (needs two independent corruptions): a member whose trailer is damaged, directly followed by an
/// exact copy of itself whose gzip magic is damaged too, is taken as intact and the copy is skipped. A stream cut
/// exactly between two members, or to zero bytes, is a valid gzip file and cannot be told from a whole one.
/// After the last member only zero padding may follow; anything else is reported as corrupt. An empty stream is an
/// empty file (no members).
/// </para>
/// </remarks>
public sealed class StrictGzipStream : Stream
{
    private const int BufferBytes = 64 * 1024;
    private static ReadOnlySpan<byte> GzipMagic => [0x1F, 0x8B, 0x08];
    private const byte FlagHeaderCrc = 0x02, FlagExtra = 0x04, FlagName = 0x08, FlagComment = 0x10, FlagReserved = 0xE0;

    private enum State { Header, Body, Done }

    private readonly Stream _inner;
    private readonly bool _leaveOpen;
    private readonly FeedStream _feed;
    private readonly Crc32 _crc = new();
    private byte[] _buffer;
    private int _pos, _end;
    private long _bufferOffset;       // compressed offset of _buffer[0]
    private bool _innerEof;
    private int _chunkStart, _chunkEnd; // the last bytes handed to the deflater
    private bool _feedHitEnd;
    private DeflateStream? _deflate;
    private State _state = State.Header;
    private int _member;              // 1-based number of the current member
    private long _memberStart;
    private long _memberBytes;
    private bool _disposed;
    private GzipFormatException? _failure;

    public StrictGzipStream(Stream compressed, bool leaveOpen = false)
    {
        ArgumentNullException.ThrowIfNull(compressed);
        if (!compressed.CanRead) throw new ArgumentException("The compressed stream must be readable.", nameof(compressed));
        _inner = compressed;
        _leaveOpen = leaveOpen;
        _buffer = ArrayPool<byte>.Shared.Rent(BufferBytes);
        _feed = new FeedStream(this);
    }

    /// <summary>Members read completely (and verified) so far.</summary>
    public int MembersRead { get; private set; }

    /// <summary>Decompressed bytes returned so far.</summary>
    public long BytesRead { get; private set; }

    /// <summary>Compressed bytes consumed so far (approximately: the decoder reads ahead within a member).</summary>
    public long CompressedPosition => _bufferOffset + _pos;

    public override bool CanRead => !_disposed;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public override void Flush() { }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override int Read(byte[] buffer, int offset, int count)
    {
        ValidateBufferArguments(buffer, offset, count);
#pragma warning disable CA2012 // useAsync: false completes synchronously; nothing is awaited
        return ReadCoreAsync(buffer.AsMemory(offset, count), useAsync: false, CancellationToken.None).GetAwaiter().GetResult();
#pragma warning restore CA2012
    }

    public override int Read(Span<byte> buffer)
    {
        var rented = ArrayPool<byte>.Shared.Rent(buffer.Length);
        try
        {
#pragma warning disable CA2012 // useAsync: false completes synchronously; nothing is awaited
            var read = ReadCoreAsync(rented.AsMemory(0, buffer.Length), useAsync: false, CancellationToken.None).GetAwaiter().GetResult();
#pragma warning restore CA2012
            rented.AsSpan(0, read).CopyTo(buffer);
            return read;
        }
        finally { ArrayPool<byte>.Shared.Return(rented); }
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
    {
        ValidateBufferArguments(buffer, offset, count);
        return ReadCoreAsync(buffer.AsMemory(offset, count), useAsync: true, cancellationToken).AsTask();
    }

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        ReadCoreAsync(buffer, useAsync: true, cancellationToken);

    private async ValueTask<int> ReadCoreAsync(Memory<byte> destination, bool useAsync, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_failure is not null) throw _failure; // the stream stays broken: reading on never yields more data
        if (destination.IsEmpty) return 0;
        try
        {
            return await ReadMembersAsync(destination, useAsync, cancellationToken).ConfigureAwait(false);
        }
        catch (GzipFormatException e)
        {
            _failure = e;
            throw;
        }
    }

    private async ValueTask<int> ReadMembersAsync(Memory<byte> destination, bool useAsync, CancellationToken cancellationToken)
    {
        while (true)
        {
            switch (_state)
            {
                case State.Done:
                    return 0;

                case State.Header:
                    if (!await EnsureAsync(_pos, _pos + 1, useAsync, cancellationToken).ConfigureAwait(false))
                    {
                        _state = State.Done;
                        return 0;
                    }
                    if (MembersRead > 0 && _buffer[_pos] != 0x1F)
                    {
                        await CheckTrailingPaddingAsync(useAsync, cancellationToken).ConfigureAwait(false);
                        _state = State.Done;
                        return 0;
                    }
                    await ReadHeaderAsync(useAsync, cancellationToken).ConfigureAwait(false);
                    _deflate = new DeflateStream(_feed, CompressionMode.Decompress, leaveOpen: true);
                    _crc.Reset();
                    _memberBytes = 0;
                    _feedHitEnd = false;
                    _chunkStart = _chunkEnd = _pos;
                    _state = State.Body;
                    break;

                case State.Body:
                    int read;
                    try
                    {
                        read = useAsync
                            ? await _deflate!.ReadAsync(destination, cancellationToken).ConfigureAwait(false)
                            : _deflate!.Read(destination.Span);
                    }
                    catch (InvalidDataException e)
                    {
                        // Also what strict validation (if someone set the AppContext switch) throws on truncation.
                        throw new GzipFormatException(
                            $"corrupt deflate data in gzip member {_member} (starting at compressed byte {ReaderText.Num(_memberStart)}) " +
                            $"after {ReaderText.Num(_memberBytes)} of its decompressed bytes (zlib via .NET: {e.Message})", _feedHitEnd, _member, CompressedPosition, e);
                    }
                    if (read > 0)
                    {
                        _crc.Append(destination.Span[..read]);
                        _memberBytes += read;
                        BytesRead += read;
                        return read;
                    }
                    if (_feedHitEnd)
                        throw new GzipFormatException(
                            $"gzip member {_member} (starting at compressed byte {ReaderText.Num(_memberStart)}) is cut short: " +
                            $"the stream ends at compressed byte {ReaderText.Num(CompressedPosition)} inside its deflate data, " +
                            $"after {ReaderText.Num(_memberBytes)} bytes of it",
                            truncated: true, _member, CompressedPosition);
                    await ReadTrailerAsync(useAsync, cancellationToken).ConfigureAwait(false);
                    await _deflate!.DisposeAsync().ConfigureAwait(false);
                    _deflate = null;
                    MembersRead++;
                    _state = State.Header;
                    break;
            }
        }
    }

    private async ValueTask ReadHeaderAsync(bool useAsync, CancellationToken cancellationToken)
    {
        _member = MembersRead + 1;
        _memberStart = CompressedPosition;
        if (!await EnsureAsync(_pos, _pos + 10, useAsync, cancellationToken).ConfigureAwait(false))
        {
            if (_buffer[_pos] != 0x1F || (_end - _pos > 1 && _buffer[_pos + 1] != 0x8B)) throw NotGzip();
            throw HeaderCutShort();
        }
        var header = _buffer.AsSpan(_pos, 10);
        if (header[0] != 0x1F || header[1] != 0x8B) throw NotGzip();
        if (header[2] != 8)
            throw new GzipFormatException($"gzip member {_member} at compressed byte {ReaderText.Num(_memberStart)} uses compression method {header[2]}, not deflate (8)",
                truncated: false, _member, _memberStart);
        var flags = header[3];
        if ((flags & FlagReserved) != 0)
            throw new GzipFormatException($"gzip member {_member} at compressed byte {ReaderText.Num(_memberStart)} has reserved header flags set (0x{flags:X2})",
                truncated: false, _member, _memberStart);
        _pos += 10;
        if ((flags & FlagExtra) != 0)
        {
            if (!await EnsureAsync(_pos, _pos + 2, useAsync, cancellationToken).ConfigureAwait(false)) throw HeaderCutShort();
            int extraLength = BinaryPrimitives.ReadUInt16LittleEndian(_buffer.AsSpan(_pos, 2));
            _pos += 2;
            await SkipAsync(extraLength, useAsync, cancellationToken).ConfigureAwait(false);
        }
        if ((flags & FlagName) != 0) await SkipZeroTerminatedAsync(useAsync, cancellationToken).ConfigureAwait(false);
        if ((flags & FlagComment) != 0) await SkipZeroTerminatedAsync(useAsync, cancellationToken).ConfigureAwait(false);
        if ((flags & FlagHeaderCrc) != 0) await SkipAsync(2, useAsync, cancellationToken).ConfigureAwait(false);
    }

    private GzipFormatException NotGzip()
    {
        var shown = Convert.ToHexString(_buffer, _pos, Math.Min(4, _end - _pos));
        return MembersRead == 0
            ? new GzipFormatException($"not a gzip stream: it starts with bytes 0x{shown}, not the gzip magic 0x1F8B", truncated: false, 1, _memberStart)
            : new GzipFormatException($"unexpected bytes 0x{shown} at compressed byte {ReaderText.Num(_memberStart)} after gzip member {MembersRead}: not a gzip header",
                truncated: false, _member, _memberStart);
    }

    private GzipFormatException HeaderCutShort() =>
        new($"gzip member {_member} is cut short in its header (starting at compressed byte {ReaderText.Num(_memberStart)}): " +
            $"the stream ends at compressed byte {ReaderText.Num(_bufferOffset + _end)}", truncated: true, _member, _bufferOffset + _end);

    private async ValueTask SkipAsync(int count, bool useAsync, CancellationToken cancellationToken)
    {
        while (count > 0)
        {
            if (!await EnsureAsync(_pos, _pos + 1, useAsync, cancellationToken).ConfigureAwait(false)) throw HeaderCutShort();
            var step = Math.Min(count, _end - _pos);
            _pos += step;
            count -= step;
        }
    }

    private async ValueTask SkipZeroTerminatedAsync(bool useAsync, CancellationToken cancellationToken)
    {
        while (true)
        {
            if (!await EnsureAsync(_pos, _pos + 1, useAsync, cancellationToken).ConfigureAwait(false)) throw HeaderCutShort();
            var zero = _buffer.AsSpan(_pos, _end - _pos).IndexOf((byte)0);
            if (zero >= 0) { _pos += zero + 1; return; }
            _pos = _end;
        }
    }

    /// <summary>Finds this member's trailer in the last chunk fed to the deflater (its data ended there) and checks it.</summary>
    private async ValueTask ReadTrailerAsync(bool useAsync, CancellationToken cancellationToken)
    {
        // The window: trailer starts from the chunk's start to its end, plus what follows a trailer (2 bytes) to choose among matches.
        await EnsureAsync(_chunkStart, _chunkEnd + 10, useAsync, cancellationToken).ConfigureAwait(false);
        Span<byte> expected = stackalloc byte[8];
        BinaryPrimitives.WriteUInt32LittleEndian(expected, _crc.GetCurrentHashAsUInt32());
        BinaryPrimitives.WriteUInt32LittleEndian(expected[4..], unchecked((uint)_memberBytes));
        var window = _buffer.AsSpan(_chunkStart, Math.Min(_end, _chunkEnd + 8) - _chunkStart);
        var chosen = ChooseTrailer(window, expected);
        if (chosen >= 0)
        {
            _pos = _chunkStart + chosen + 8;
            return;
        }
        var offset = _bufferOffset + _chunkEnd;
        // The window reaches the end of the stream: the trailer was due within it. Unless its last 4 bytes are the
        // right length (then a whole trailer is there and its CRC-32 is wrong), the stream was cut before it ended.
        var windowEndsStream = _innerEof && _end < _chunkEnd + 8;
        var lengthMatches = window.Length >= 8 && window[^4..].SequenceEqual(expected[4..]);
        if (windowEndsStream && !lengthMatches)
            throw new GzipFormatException(
                $"gzip member {_member} (starting at compressed byte {ReaderText.Num(_memberStart)}) is cut short: its deflate data is complete " +
                $"({ReaderText.Num(_memberBytes)} bytes) but the stream ends at compressed byte {ReaderText.Num(_bufferOffset + _end)} " +
                "without a matching CRC-32/length trailer", truncated: true, _member, _bufferOffset + _end);
        throw new GzipFormatException(
            $"gzip member {_member} (starting at compressed byte {ReaderText.Num(_memberStart)}) fails its check: no trailer near compressed byte " +
            $"{ReaderText.Num(offset)} matches the CRC-32 0x{_crc.GetCurrentHashAsUInt32():X8} and length {ReaderText.Num(_memberBytes)} " +
            "of its decompressed data (corrupt data)", truncated: false, _member, offset);
    }

    /// <summary>
    /// Where in <paramref name="window"/> the trailer starts, or -1: the first match, except that a trailer which
    /// overlaps itself (an empty member's is all zeros, and its deflate data ends with a zero) matches at up to 8
    /// places in a row; of those, the one followed by the end of the stream or a gzip magic is right, failing that
    /// one followed by zero padding, failing that the first (the header check then reports what follows it).
    /// </summary>
    private int ChooseTrailer(ReadOnlySpan<byte> window, ReadOnlySpan<byte> expected)
    {
        int first = -1, padded = -1;
        for (var from = 0; from <= window.Length - 8;)
        {
            var found = window[from..].IndexOf(expected);
            if (found < 0) break;
            var at = from + found;
            if (first >= 0 && at - first >= 8) break; // a separate, later match: not this member's trailer
            var next = _chunkStart + at + 8; // buffer index after the trailer
            if (next == _end && _innerEof) return at;
            if (next + 1 < _end && _buffer[next] == 0x1F && _buffer[next + 1] == 0x8B) return at;
            if (padded < 0 && next < _end && _buffer[next] == 0) padded = at;
            if (first < 0) first = at;
            from = at + 1;
        }
        return padded >= 0 ? padded : first;
    }

    /// <summary>After the last member only zero bytes (tape padding, which gzip(1) accepts) may follow.</summary>
    private async ValueTask CheckTrailingPaddingAsync(bool useAsync, CancellationToken cancellationToken)
    {
        _memberStart = CompressedPosition;
        while (await EnsureAsync(_pos, _pos + 1, useAsync, cancellationToken).ConfigureAwait(false))
        {
            var nonZero = _buffer.AsSpan(_pos, _end - _pos).IndexOfAnyExcept((byte)0);
            if (nonZero >= 0)
            {
                _pos += nonZero;
                _memberStart = CompressedPosition;
                _member = MembersRead + 1;
                throw NotGzip();
            }
            _pos = _end;
        }
    }

    /// <summary>
    /// Makes bytes up to buffer index <paramref name="until"/> available, keeping those from <paramref name="keepFrom"/>
    /// (indexes move when the buffer is compacted). False when the stream ends first.
    /// </summary>
    private async ValueTask<bool> EnsureAsync(int keepFrom, int until, bool useAsync, CancellationToken cancellationToken)
    {
        while (_end < until)
        {
            if (_innerEof) return false;
            if (until > _buffer.Length)
            {
                var keep = _end - keepFrom;
                var need = until - keepFrom;
                if (need > _buffer.Length)
                {
                    var bigger = ArrayPool<byte>.Shared.Rent(need);
                    _buffer.AsSpan(keepFrom, keep).CopyTo(bigger);
                    ArrayPool<byte>.Shared.Return(_buffer);
                    _buffer = bigger;
                }
                else
                {
                    _buffer.AsSpan(keepFrom, keep).CopyTo(_buffer);
                }
                _bufferOffset += keepFrom;
                _pos -= keepFrom;
                _chunkStart -= keepFrom;
                _chunkEnd -= keepFrom;
                _end = keep;
                until -= keepFrom;
                keepFrom = 0;
            }
            var read = useAsync
                ? await _inner.ReadAsync(_buffer.AsMemory(_end), cancellationToken).ConfigureAwait(false)
                : _inner.Read(_buffer, _end, _buffer.Length - _end);
            if (read == 0) _innerEof = true;
            else _end += read;
        }
        return true;
    }

    /// <summary>
    /// Hands the deflater the next buffered bytes, never past a gzip magic (1F 8B 08) after the first byte: the chunk
    /// in which its data ends then holds no later member's header, so no later member's trailer can be taken for this
    /// one's (a damaged trailer followed by a repeat of the member would otherwise be). Two bytes are held back until
    /// the end of the stream, so a magic split across reads is seen whole. Remembers the chunk; notes hitting the end.
    /// </summary>
    private async ValueTask<int> FeedAsync(Memory<byte> destination, bool useAsync, CancellationToken cancellationToken)
    {
        if (destination.IsEmpty) return 0;
        if (_end - _pos < 3 && !_innerEof)
        {
            if (_pos == _end)
            {
                _bufferOffset += _end;
                _pos = _end = 0;
            }
            await EnsureAsync(_pos, _pos + 3, useAsync, cancellationToken).ConfigureAwait(false);
        }
        var available = _end - _pos;
        if (available == 0)
        {
            _feedHitEnd = true;
            return 0;
        }
        var count = Math.Min(destination.Length, _innerEof ? available : Math.Max(1, available - 2));
        if (count > 1)
        {
            var magic = _buffer.AsSpan(_pos + 1, Math.Min(available - 1, count + 1)).IndexOf(GzipMagic);
            if (magic >= 0) count = Math.Min(count, magic + 1);
        }
        _buffer.AsSpan(_pos, count).CopyTo(destination.Span);
        _chunkStart = _pos;
        _pos += count;
        _chunkEnd = _pos;
        return count;
    }

    protected override void Dispose(bool disposing)
    {
        if (!_disposed && disposing)
        {
            _disposed = true;
            _deflate?.Dispose();
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = [];
            if (!_leaveOpen) _inner.Dispose();
        }
        base.Dispose(disposing);
    }

    public override async ValueTask DisposeAsync()
    {
        if (!_disposed)
        {
            _disposed = true;
            if (_deflate is not null) await _deflate.DisposeAsync().ConfigureAwait(false);
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = [];
            if (!_leaveOpen) await _inner.DisposeAsync().ConfigureAwait(false);
        }
        GC.SuppressFinalize(this);
    }

    /// <summary>The deflater's input: the owner's buffered compressed bytes.</summary>
    private sealed class FeedStream(StrictGzipStream owner) : Stream
    {
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override int Read(byte[] buffer, int offset, int count)
        {
            ValidateBufferArguments(buffer, offset, count);
#pragma warning disable CA2012 // useAsync: false completes synchronously; nothing is awaited
            return owner.FeedAsync(buffer.AsMemory(offset, count), useAsync: false, CancellationToken.None).GetAwaiter().GetResult();
#pragma warning restore CA2012
        }

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            owner.FeedAsync(buffer, useAsync: true, cancellationToken);

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        {
            ValidateBufferArguments(buffer, offset, count);
            return owner.FeedAsync(buffer.AsMemory(offset, count), useAsync: true, cancellationToken).AsTask();
        }
    }
}
