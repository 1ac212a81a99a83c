using System.Buffers;

namespace Curation.Pipelines.IO.Readers;

/// <summary>
/// Splits a stream holding one JSON array (<c>[{…}, {…}]</c>, as <c>json.dump</c> and many exports write a <c>.json</c>
/// file, indented or not) into its elements' bytes, through one pooled buffer, without parsing them: it follows only
/// strings (with their escapes) and bracket depth, so an element is everything between two commas (or the brackets) at
/// the array's own level, whitespace around it trimmed. An element longer than the limit is skipped to its end, counting
/// its bytes, and reported as too long, so memory is bounded by the limit, not by the file.
/// </summary>
/// <remarks>
/// The stream must start (after whitespace and a UTF-8 byte order mark) with <c>[</c>: <see cref="StartsWithArrayAsync"/>
/// tells. A stream that ends inside the array throws <see cref="FormatException"/>, as does anything but whitespace after
/// the closing bracket. Whether an element is a valid JSON object is for the caller (the JSON Lines record rules).
/// </remarks>
internal sealed class JsonArraySplitter : IRecordSplitter
{
    long IRecordSplitter.Index => ElementIndex;
    long IRecordSplitter.Read => ElementsRead;
    ReadOnlyMemory<byte> IRecordSplitter.Current => Element;
    long IRecordSplitter.Bytes => ElementBytes;

    private const int InitialBufferBytes = 64 * 1024;

    private readonly Stream _stream;
    private readonly int _maxElementBytes;
    private readonly int _capacityLimit;
    private byte[] _buffer;
    private int _start;  // first unconsumed byte
    private int _end;    // end of valid data
    private bool _eof;
    private long _consumed; // stream bytes before _buffer[0]
    private bool _begun;
    private bool _finished;
    private long _nextIndex;

    public JsonArraySplitter(Stream stream, int maxElementBytes)
    {
        _stream = stream;
        _maxElementBytes = Math.Max(1, maxElementBytes);
        _capacityLimit = (int)Math.Min(Array.MaxLength, _maxElementBytes + 1L);
        _buffer = ArrayPool<byte>.Shared.Rent(Math.Min(InitialBufferBytes, Math.Max(_capacityLimit, 16)));
    }

    /// <summary>0-based index of the current element.</summary>
    public long ElementIndex { get; private set; } = -1;

    /// <summary>Elements delimited so far.</summary>
    public long ElementsRead => _nextIndex;

    /// <summary>The current element's bytes; empty when <see cref="IsTooLong"/>. Valid until the next <see cref="MoveNextAsync"/>.</summary>
    public ReadOnlyMemory<byte> Element { get; private set; }

    /// <summary>The current element exceeded the limit and was skipped unread; <see cref="ElementBytes"/> says how long it was.</summary>
    public bool IsTooLong { get; private set; }

    /// <summary>Bytes of the current element.</summary>
    public long ElementBytes { get; private set; }

    /// <summary>
    /// Whether <paramref name="prefix"/>, the first bytes of a stream, starts (after a byte order mark and whitespace) with
    /// <c>[</c>; null when it holds only whitespace so far.
    /// </summary>
    public static bool? StartsWithArray(ReadOnlySpan<byte> prefix)
    {
        if (prefix.StartsWith((ReadOnlySpan<byte>)[0xEF, 0xBB, 0xBF])) prefix = prefix[3..];
        var first = prefix.IndexOfAnyExcept(" \t\r\n"u8);
        return first < 0 ? null : prefix[first] == (byte)'[';
    }

    /// <summary>Reads the first bytes of <paramref name="content"/> into a prefix (at most 64 KiB, up to the first non-blank byte) and says whether they open an array.</summary>
    public static async Task<(bool IsArray, byte[] Prefix)> StartsWithArrayAsync(Stream content, CancellationToken cancellationToken)
    {
        var prefix = new byte[4096];
        var length = 0;
        while (length < 64 * 1024)
        {
            if (length == prefix.Length) Array.Resize(ref prefix, prefix.Length * 2);
            var read = await content.ReadAsync(prefix.AsMemory(length), cancellationToken).ConfigureAwait(false);
            if (read == 0) break;
            length += read;
            if (StartsWithArray(prefix.AsSpan(0, length)) is not null && length >= 3) break;
        }
        Array.Resize(ref prefix, length);
        return (StartsWithArray(prefix) == true, prefix);
    }

    public async ValueTask<bool> MoveNextAsync(CancellationToken cancellationToken)
    {
        if (_finished) return false;
        if (!_begun)
        {
            await FillAtLeastAsync(3, cancellationToken).ConfigureAwait(false);
            if (_buffer.AsSpan(_start, _end - _start).StartsWith((ReadOnlySpan<byte>)[0xEF, 0xBB, 0xBF])) _start += 3;
            if (await NextNonBlankAsync(cancellationToken).ConfigureAwait(false) != '[') throw Malformed("does not start with '['");
            _start++;
            _begun = true;
            if (await NextNonBlankAsync(cancellationToken).ConfigureAwait(false) == ']') return await FinishAsync(cancellationToken).ConfigureAwait(false);
        }
        else
        {
            switch (await NextNonBlankAsync(cancellationToken).ConfigureAwait(false))
            {
                case ',': _start++; break;
                case ']': return await FinishAsync(cancellationToken).ConfigureAwait(false);
                case -1: throw Malformed("ends before its closing ']'");
                default: throw Malformed($"has no ',' between elements {ReaderText.Num(_nextIndex)} and {ReaderText.Num(_nextIndex + 1)}");
            }
        }
        if (await NextNonBlankAsync(cancellationToken).ConfigureAwait(false) is ']' or ',' or -1) throw Malformed($"has an empty element {ReaderText.Num(_nextIndex + 1)}");
        await ScanElementAsync(cancellationToken).ConfigureAwait(false);
        return true;
    }

    /// <summary>From the element's first byte to the ',' or ']' that ends it at depth 0 (not consumed), through strings and nesting.</summary>
    private async ValueTask ScanElementAsync(CancellationToken cancellationToken)
    {
        var depth = 0;
        var inString = false;
        var escaped = false;
        var scan = _start;
        long skipped = 0; // bytes of a too-long element already dropped from the buffer
        while (true)
        {
            for (; scan < _end; scan++)
            {
                var b = _buffer[scan];
                if (inString)
                {
                    if (escaped) escaped = false;
                    else if (b == '\\') escaped = true;
                    else if (b == '"') inString = false;
                    continue;
                }
                switch (b)
                {
                    case (byte)'"': inString = true; break;
                    case (byte)'{' or (byte)'[': depth++; break;
                    case (byte)'}' or (byte)']' when depth > 0: depth--; break;
                    case (byte)']' or (byte)',' when depth == 0:
                        SetElement(_start, scan, skipped);
                        _start = scan;
                        return;
                }
            }
            if (_eof) throw Malformed("ends before its closing ']'");
            if (skipped > 0 || scan - _start > _maxElementBytes)
            {
                // Too long: drop what is buffered, keep counting.
                skipped += scan - _start;
                _consumed += scan;
                _start = _end = scan = 0;
            }
            var offset = scan - _start;
            await FillAsync(cancellationToken).ConfigureAwait(false);
            scan = _start + offset;
        }
    }

    private void SetElement(int start, int end, long skipped)
    {
        while (end > start && _buffer[end - 1] is (byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n') end--;
        ElementIndex = _nextIndex++;
        ElementBytes = skipped + (end - start);
        IsTooLong = ElementBytes > _maxElementBytes;
        Element = IsTooLong ? ReadOnlyMemory<byte>.Empty : _buffer.AsMemory(start, end - start);
    }

    private async ValueTask<bool> FinishAsync(CancellationToken cancellationToken)
    {
        _start++; // the closing ']'
        _finished = true;
        Element = ReadOnlyMemory<byte>.Empty;
        if (await NextNonBlankAsync(cancellationToken).ConfigureAwait(false) != -1) throw Malformed("has data after its closing ']'");
        return false;
    }

    /// <summary>Skips whitespace; the next byte (not consumed), or -1 at the end of the stream.</summary>
    private async ValueTask<int> NextNonBlankAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            var found = _buffer.AsSpan(_start, _end - _start).IndexOfAnyExcept(" \t\r\n"u8);
            if (found >= 0)
            {
                _start += found;
                return _buffer[_start];
            }
            _start = _end;
            if (_eof) return -1;
            await FillAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    private async ValueTask FillAtLeastAsync(int bytes, CancellationToken cancellationToken)
    {
        while (_end - _start < bytes && !_eof) await FillAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Reads more: the unconsumed bytes move to the buffer's start, and the buffer doubles (up to the limit) when they fill it.</summary>
    private async ValueTask FillAsync(CancellationToken cancellationToken)
    {
        if (_start > 0)
        {
            _buffer.AsSpan(_start, _end - _start).CopyTo(_buffer);
            _consumed += _start;
            _end -= _start;
            _start = 0;
        }
        if (_end == _buffer.Length)
        {
            var grown = ArrayPool<byte>.Shared.Rent((int)Math.Min(Math.Max(_capacityLimit + 1L, _buffer.Length + 1L), _buffer.Length * 2L));
            _buffer.AsSpan(0, _end).CopyTo(grown);
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = grown;
        }
        var read = await _stream.ReadAsync(_buffer.AsMemory(_end), cancellationToken).ConfigureAwait(false);
        if (read == 0) _eof = true;
        else _end += read;
    }

    private FormatException Malformed(string problem) =>
        new($"the JSON array {problem} (at byte {ReaderText.Num(_consumed + _start)}, after {ReaderText.Num(_nextIndex)} elements)");

    public void Dispose()
    {
        ArrayPool<byte>.Shared.Return(_buffer);
        _buffer = [];
    }
}
