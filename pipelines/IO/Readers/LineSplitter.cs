using System.Buffers;

namespace Curation.Pipelines.IO.Readers;

/// <summary>
/// Splits a byte stream into lines at '\n' (a trailing '\r' is stripped) through one pooled buffer, without ever holding
/// a line longer than the limit: such a line is skipped to its '\n', counting its bytes, and reported as too long.
/// A UTF-8 byte order mark at the very start is dropped. Read errors of the stream propagate to the caller.
/// </summary>
/// <remarks>
/// The buffer starts at 64 KiB and grows (doubling) only while a single line needs it, up to limit + 2 bytes, so memory
/// is bounded by the limit, not by the input. <see cref="Line"/> points into that buffer and is valid until the next
/// <see cref="MoveNextAsync"/>.
/// <para>
/// Given a byte part (<see cref="PartUnit.Bytes"/>), it yields exactly the lines that start inside [Start, End), numbered
/// from the part's <see cref="ObjectPart.FirstRecord"/>: it starts one byte before Start and skips to the first '\n'
/// (the line that crosses Start belongs to the part before), and stops at the first line starting at or after End, however
/// far a line that starts inside runs past End.
/// </para>
/// </remarks>
internal sealed class LineSplitter : IRecordSplitter
{
    long IRecordSplitter.Index => LineIndex;
    long IRecordSplitter.Read => LinesRead;
    ReadOnlyMemory<byte> IRecordSplitter.Current => Line;
    long IRecordSplitter.Bytes => LineBytes;

    private const int InitialBufferBytes = 64 * 1024;
    private const int PooledLimitBytes = 1024 * 1024;

    private readonly Stream _stream;
    private readonly int _maxLineBytes;
    private readonly int _capacityLimit;
    private byte[] _buffer;
    private bool _pooled;
    private int _start;   // first byte of the current (unread) line
    private int _scan;    // where the next '\n' search starts (bytes before it hold none)
    private int _end;     // end of valid data
    private bool _eof;
    private bool _bomChecked;
    private long _nextIndex;
    private long _consumed;       // stream bytes before _buffer[0]
    private readonly long _origin; // stream offset the splitter starts at (part start - 1, or 0)
    private readonly long _stopAt = long.MaxValue; // relative offset of the part's end
    private bool _positioned;
    private bool _skipPartial;

    public LineSplitter(Stream stream, int maxLineBytes, ObjectPart? part = null)
    {
        _stream = stream;
        if (part is { Unit: PartUnit.Bytes })
        {
            _origin = Math.Max(0, part.Start - 1);
            _stopAt = part.End - _origin;
            _skipPartial = part.Start > 0;
            _bomChecked = part.Start > 0; // a byte order mark can only be at the very start
            _nextIndex = part.FirstRecord;
        }
        _positioned = _origin == 0;
        _maxLineBytes = Math.Max(1, maxLineBytes);
        _capacityLimit = (int)Math.Min(Array.MaxLength, _maxLineBytes + 2L);
        _buffer = ArrayPool<byte>.Shared.Rent(Math.Min(InitialBufferBytes, Math.Max(_capacityLimit, 16)));
        _pooled = true;
    }

    /// <summary>0-based index of the current line (blank lines count).</summary>
    public long LineIndex { get; private set; } = -1;

    /// <summary>Lines delimited so far: after a read failure, the last line read completely is this one (1-based).</summary>
    public long LinesRead => _nextIndex;

    /// <summary>The current line without its terminator; empty when <see cref="IsTooLong"/>.</summary>
    public ReadOnlyMemory<byte> Line { get; private set; }

    /// <summary>The current line exceeded the limit and was skipped unread; <see cref="LineBytes"/> says how long it was.</summary>
    public bool IsTooLong { get; private set; }

    /// <summary>Bytes of the current line without its terminator.</summary>
    public long LineBytes { get; private set; }

    /// <summary>Offset in the stream where the current line starts (the object's offset for a part).</summary>
    public long LineStart { get; private set; }

    /// <summary>The largest buffer this splitter has held (for tests of the memory bound).</summary>
    public int BufferBytes => _buffer.Length;

    public async ValueTask<bool> MoveNextAsync(CancellationToken cancellationToken)
    {
        if (!_positioned)
        {
            await SeekAsync(cancellationToken).ConfigureAwait(false);
            _positioned = true;
        }
        if (_skipPartial)
        {
            _skipPartial = false;
            if (!await SkipPartialAsync(cancellationToken).ConfigureAwait(false)) return false;
        }
        if (!await NextLineAsync(cancellationToken).ConfigureAwait(false)) return false;
        if (LineStart - _origin >= _stopAt)
        {
            Line = ReadOnlyMemory<byte>.Empty;
            return false;
        }
        return true;
    }

    /// <summary>
    /// Past the line that crosses the part's start (it belongs to the part before): to the byte after the first '\n'.
    /// False when no line starts inside the part; then it stops at the part's end instead of reading a long line to its '\n'.
    /// </summary>
    private async ValueTask<bool> SkipPartialAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            var found = _buffer.AsSpan(_start, _end - _start).IndexOf((byte)'\n');
            if (found >= 0)
            {
                _start = _scan = _start + found + 1;
                return _consumed + _start < _stopAt;
            }
            if (_eof || _consumed + _end >= _stopAt) return false;
            _consumed += _end;
            _start = _scan = _end = 0;
            var read = await _stream.ReadAsync(_buffer.AsMemory(), cancellationToken).ConfigureAwait(false);
            if (read == 0) _eof = true;
            else _end = read;
        }
    }

    /// <summary>To the byte before the part's start: a seek, or reading past the bytes of a stream that cannot seek.</summary>
    private async ValueTask SeekAsync(CancellationToken cancellationToken)
    {
        if (_stream.CanSeek)
        {
            _stream.Seek(_origin, SeekOrigin.Begin);
            return;
        }
        var left = _origin;
        while (left > 0)
        {
            var read = await _stream.ReadAsync(_buffer.AsMemory(0, (int)Math.Min(_buffer.Length, left)), cancellationToken).ConfigureAwait(false);
            if (read == 0) break;
            left -= read;
        }
    }

    private async ValueTask<bool> NextLineAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            if (!_bomChecked)
            {
                if (_end - _start >= 3 || _eof)
                {
                    _bomChecked = true;
                    if (_buffer.AsSpan(_start, _end - _start).StartsWith((ReadOnlySpan<byte>)[0xEF, 0xBB, 0xBF])) _start = _scan = _start + 3;
                    continue;
                }
            }
            else
            {
                var found = _buffer.AsSpan(_scan, _end - _scan).IndexOf((byte)'\n');
                if (found >= 0)
                {
                    var newline = _scan + found;
                    SetLine(_start, newline);
                    _start = _scan = newline + 1;
                    return true;
                }
                _scan = _end;
                if (_eof)
                {
                    if (_start == _end) return false;
                    SetLine(_start, _end);
                    _start = _scan = _end;
                    return true;
                }
                if (_end - _start > _maxLineBytes + 1L)
                {
                    await SkipLongLineAsync(cancellationToken).ConfigureAwait(false);
                    return true;
                }
            }
            await FillAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    private void SetLine(int start, int end)
    {
        LineStart = StartOf(start);
        if (end > start && _buffer[end - 1] == (byte)'\r') end--;
        LineIndex = _nextIndex++;
        LineBytes = end - start;
        IsTooLong = LineBytes > _maxLineBytes;
        Line = IsTooLong ? ReadOnlyMemory<byte>.Empty : _buffer.AsMemory(start, end - start);
    }

    /// <summary>Stream offset of a line starting at <paramref name="start"/> in the buffer; the first line starts at 0, byte order mark or not.</summary>
    private long StartOf(int start) => _nextIndex == 0 && _origin == 0 ? 0 : _origin + _consumed + start;

    /// <summary>The buffered part of the line is already over the limit: count the rest up to '\n' through the buffer.</summary>
    private async ValueTask SkipLongLineAsync(CancellationToken cancellationToken)
    {
        long count = _end - _start;
        var last = _buffer[_end - 1];
        LineStart = StartOf(_start);
        _consumed += _end;
        _start = _scan = _end = 0;
        while (true)
        {
            var read = await _stream.ReadAsync(_buffer.AsMemory(), cancellationToken).ConfigureAwait(false);
            if (read == 0) { _eof = true; break; }
            var found = _buffer.AsSpan(0, read).IndexOf((byte)'\n');
            if (found >= 0)
            {
                count += found;
                if (found > 0) last = _buffer[found - 1];
                _start = _scan = found + 1;
                _end = read;
                break;
            }
            count += read;
            _consumed += read;
            last = _buffer[read - 1];
        }
        if (last == (byte)'\r') count--; // as SetLine does: a '\r' before '\n' (or at the very end) is no content
        LineIndex = _nextIndex++;
        LineBytes = count;
        IsTooLong = true;
        Line = ReadOnlyMemory<byte>.Empty;
    }

    private async ValueTask FillAsync(CancellationToken cancellationToken)
    {
        if (_start > 0)
        {
            var pending = _end - _start;
            _consumed += _start;
            _buffer.AsSpan(_start, pending).CopyTo(_buffer);
            _scan -= _start;
            _end = pending;
            _start = 0;
        }
        else if (_end == _buffer.Length)
        {
            Grow();
        }
        var read = await _stream.ReadAsync(_buffer.AsMemory(_end), cancellationToken).ConfigureAwait(false);
        if (read == 0) _eof = true;
        else _end += read;
    }

    private void Grow()
    {
        // Double, but jump straight to the cap when the next doubling would pass it (4 MiB → limit + 2, not 8 MiB → limit + 2).
        var doubled = _buffer.Length * 2L;
        var size = (int)(doubled * 2 > _capacityLimit ? _capacityLimit : doubled);
        if (size <= _buffer.Length) throw new InvalidOperationException("Line buffer cannot grow past its limit."); // unreachable: a full buffer at the cap holds a too-long line
        var pooled = size <= PooledLimitBytes;
        // Past 1 MiB allocate the exact size: the pool would round limit + 2 up to the next power of two.
        var bigger = pooled ? ArrayPool<byte>.Shared.Rent(size) : GC.AllocateUninitializedArray<byte>(size);
        _buffer.AsSpan(0, _end).CopyTo(bigger);
        if (_pooled) ArrayPool<byte>.Shared.Return(_buffer);
        _buffer = bigger;
        _pooled = pooled;
    }

    public void Dispose()
    {
        if (_pooled) ArrayPool<byte>.Shared.Return(_buffer);
        _pooled = false;
        _buffer = [];
        Line = ReadOnlyMemory<byte>.Empty;
    }
}
