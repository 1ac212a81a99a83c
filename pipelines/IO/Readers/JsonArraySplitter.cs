using System.Buffers;

namespace Curation.Pipelines.IO.Readers;

/// <summary>
/// Splits a stream holding one JSON array (<c>[{…}, {…}]</c>, as <c>json.dump</c> and many exports write a <c>.json</c>
/// file, indented or not) into its elements' bytes, through one pooled buffer, without parsing them: it follows only
/// strings (with their escapes) and bracket depth, so an element is everything between two commas (or the brackets) at
/// the array's own level, whitespace around it trimmed. An element longer than the limit is skipped to its end, counting
/// its bytes, and reported as too long, so memory is bounded by the limit, not by the file.
/// With <see cref="JsonLayout.Sequence"/> the stream is JSON values one after another instead, each as many lines as it
/// likes (<c>jq</c> without <c>-c</c>, <c>json.dump(…, indent=2)</c> of one object): each value is an element.
/// </summary>
/// <remarks>
/// The stream must start (after whitespace and a UTF-8 byte order mark) with <c>[</c>, or be a sequence: <see cref="LayoutAsync"/>
/// tells. A stream that ends inside the array (or inside a value of a sequence) throws <see cref="FormatException"/>, as
/// does anything but whitespace after the closing bracket. Whether an element is a valid JSON object is for the caller
/// (the JSON Lines record rules).
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

    private readonly bool _sequence;

    public JsonArraySplitter(Stream stream, int maxElementBytes, JsonLayout layout = JsonLayout.Array)
    {
        _sequence = layout == JsonLayout.Sequence;
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
    /// How <paramref name="prefix"/>, the first bytes of a stream, lays out its JSON (after a byte order mark and
    /// whitespace): <c>[</c> opens an array; <c>{</c> alone on its line, the next line going on with a key or <c>}</c>,
    /// opens an object written over many lines, which no JSON Lines file holds (a sequence of such values, as <c>jq</c>
    /// and <c>json.dump(…, indent=…)</c> write them); anything else is lines. Null while the prefix cannot tell yet.
    /// </summary>
    public static JsonLayout? LayoutOf(ReadOnlySpan<byte> prefix, bool complete)
    {
        if (prefix.StartsWith(ByteOrderMark)) prefix = prefix[3..];
        var first = prefix.IndexOfAnyExcept(" \t\r\n"u8);
        if (first < 0) return complete ? JsonLayout.Lines : null;
        prefix = prefix[first..];
        if (prefix[0] == (byte)'[') return JsonLayout.Array;
        if (prefix[0] != (byte)'{') return JsonLayout.Lines;
        var end = prefix.IndexOf((byte)'\n');
        if (end < 0) return complete ? JsonLayout.Lines : null;
        if (prefix[1..end].IndexOfAnyExcept(" \t\r"u8) >= 0) return JsonLayout.Lines;
        // And the next line goes on with a key or closes it: a JSON Lines file whose first line is a broken "{" (its
        // next line a whole object) stays lines, so that one bad line does not take the file's records with it.
        var next = prefix[(end + 1)..].IndexOfAnyExcept(" \t\r\n"u8);
        if (next < 0) return complete ? JsonLayout.Lines : null;
        return prefix[end + 1 + next] is (byte)'"' or (byte)'}' ? JsonLayout.Sequence : JsonLayout.Lines;
    }

    /// <summary>Reads the first bytes of <paramref name="content"/> into a prefix (at most 64 KiB: up to the first non-blank byte, or the end of its line for a '{') and says how its JSON is laid out.</summary>
    public static async Task<(JsonLayout Layout, byte[] Prefix)> LayoutAsync(Stream content, CancellationToken cancellationToken)
    {
        var prefix = new byte[4096];
        var length = 0;
        while (length < 64 * 1024)
        {
            if (length == prefix.Length) Array.Resize(ref prefix, prefix.Length * 2);
            var read = await content.ReadAsync(prefix.AsMemory(length), cancellationToken).ConfigureAwait(false);
            if (read == 0) break;
            length += read;
            if (length >= 3 && LayoutOf(prefix.AsSpan(0, length), complete: false) is not null) break;
        }
        Array.Resize(ref prefix, length);
        return (LayoutOf(prefix, complete: true) ?? JsonLayout.Lines, prefix);
    }

    public async ValueTask<bool> MoveNextAsync(CancellationToken cancellationToken)
    {
        if (_finished) return false;
        if (_sequence) return await NextValueAsync(cancellationToken).ConfigureAwait(false);
        if (!_begun)
        {
            await SkipByteOrderMarkAsync(cancellationToken).ConfigureAwait(false);
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

    /// <summary>The next value of a sequence: whitespace between values, nothing else.</summary>
    private async ValueTask<bool> NextValueAsync(CancellationToken cancellationToken)
    {
        if (!_begun)
        {
            await SkipByteOrderMarkAsync(cancellationToken).ConfigureAwait(false);
            _begun = true;
        }
        if (await NextNonBlankAsync(cancellationToken).ConfigureAwait(false) == -1)
        {
            _finished = true;
            Element = ReadOnlyMemory<byte>.Empty;
            return false;
        }
        await ScanElementAsync(cancellationToken).ConfigureAwait(false);
        return true;
    }

    /// <summary>
    /// From the element's first byte to the ',' or ']' that ends it at depth 0 (not consumed), through strings and nesting;
    /// in a sequence, to the bracket that closes it (consumed) or, for a bare value, the whitespace after it.
    /// </summary>
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
                if (_sequence)
                {
                    var closes = b is (byte)'}' or (byte)']' && depth == 1;
                    if (closes || depth == 0 && b is (byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n' or (byte)'{' or (byte)'[' && scan > _start)
                    {
                        var end = closes ? scan + 1 : scan;
                        SetElement(_start, end, skipped);
                        _start = end;
                        return;
                    }
                }
                switch (b)
                {
                    case (byte)'"': inString = true; break;
                    case (byte)'{' or (byte)'[': depth++; break;
                    case (byte)'}' or (byte)']' when depth > 0: depth--; break;
                    case (byte)']' or (byte)',' when depth == 0 && !_sequence:
                        SetElement(_start, scan, skipped);
                        _start = scan;
                        return;
                }
            }
            if (_eof && _sequence && depth == 0 && !inString && scan > _start)
            {
                SetElement(_start, scan, skipped); // a bare value at the very end
                _start = scan;
                return;
            }
            if (_eof) throw Malformed(_sequence ? "ends inside a value" : "ends before its closing ']'");
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

    private static ReadOnlySpan<byte> ByteOrderMark => [0xEF, 0xBB, 0xBF];

    private async ValueTask SkipByteOrderMarkAsync(CancellationToken cancellationToken)
    {
        while (_end - _start < ByteOrderMark.Length && !_eof) await FillAsync(cancellationToken).ConfigureAwait(false);
        if (_buffer.AsSpan(_start, _end - _start).StartsWith(ByteOrderMark)) _start += ByteOrderMark.Length;
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

    private FormatException Malformed(string problem) => _sequence
        ? new($"the JSON text {problem} (at byte {ReaderText.Num(_consumed + _start)}, after {ReaderText.Num(_nextIndex)} values)")
        : new($"the JSON array {problem} (at byte {ReaderText.Num(_consumed + _start)}, after {ReaderText.Num(_nextIndex)} elements)");

    public void Dispose()
    {
        ArrayPool<byte>.Shared.Return(_buffer);
        _buffer = [];
    }
}

/// <summary>How a JSON object's records are laid out: one per line, the elements of one array, or values written over many lines one after another.</summary>
internal enum JsonLayout
{
    Lines,
    Array,
    Sequence,
}
