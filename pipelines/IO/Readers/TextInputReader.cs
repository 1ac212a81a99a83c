using System.Runtime.CompilerServices;
using System.Text;
using Curation.Pipelines.Spec;

namespace Curation.Pipelines.IO.Readers;

/// <summary>
/// Reads plain UTF-8 text (.txt, .md, and compressed as .txt.gz, .txt.zst…: an object whose first bytes are gzip or
/// zstd is decompressed, whatever its name) as documents, split as <see cref="InputSpec.TextDocuments"/> says. Documents
/// have no id (the consumer derives it from object + position). A UTF-8 byte order mark at the start is ignored.
/// </summary>
/// <remarks>
/// <list type="bullet">
/// <item><see cref="TextDocumentMode.File"/>: the object is one document at position 0, kept as it is (line breaks
/// included). An object over <see cref="InputSpec.MaxRecordBytes"/> is quarantined as record_too_large after reading
/// just past the limit (the rest is not read). An empty or whitespace-only object yields nothing.</item>
/// <item><see cref="TextDocumentMode.Line"/>: each line that is not whitespace-only is a document (its '\n' and a
/// '\r' before it removed); position = 0-based line number, as for JSONL.</item>
/// <item><see cref="TextDocumentMode.Paragraph"/>: documents are separated by one or more whitespace-only lines;
/// a paragraph's lines are joined with '\n' (so CRLF becomes LF); position = 0-based paragraph number.</item>
/// </list>
/// Bytes that are not strict UTF-8 quarantine the document as invalid_utf8 (with where the first bad byte is); a
/// document over the limit is record_too_large, never held whole. A read failure ends the object with one
/// corrupt_object record naming it and where reading stopped.
/// </remarks>
public sealed class TextInputReader : IInputReader
{
    public static TextInputReader Instance { get; } = new();

    public IAsyncEnumerable<InputRecord> ReadAsync(Stream content, InputObject input, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(content);
        ArgumentNullException.ThrowIfNull(input);
        return Decompression.ReadSniffedAsync(content, input, (stream, read, ct) => read.Spec.TextDocuments switch
        {
            TextDocumentMode.File => ReadFileAsync(stream, read, ct),
            TextDocumentMode.Line => ReadLinesAsync(stream, read, ct),
            TextDocumentMode.Paragraph => ReadParagraphsAsync(stream, read, ct),
            var mode => throw new ArgumentOutOfRangeException(nameof(input), mode, "Unknown text document mode."),
        }, cancellationToken);
    }

    private static IAsyncEnumerable<InputRecord> ReadFileAsync(Stream content, InputObject input, CancellationToken cancellationToken) =>
        ReadWholeAsync(content, input, bytes =>
        {
            if (bytes.StartsWith((ReadOnlySpan<byte>)[0xEF, 0xBB, 0xBF])) bytes = bytes[3..];
            return ReaderText.IsBlank(bytes) ? null : FileDocument(bytes, input.Source);
        }, cancellationToken);

    /// <summary>Turns a whole object's bytes (within the size limit) into its one record, or none.</summary>
    internal delegate InputRecord? WholeObject(ReadOnlySpan<byte> bytes);

    /// <summary>
    /// Reads an object that is one document (at most <see cref="InputSpec.MaxRecordBytes"/>, reading just past the limit
    /// to tell) and yields what <paramref name="toRecord"/> makes of its bytes; record_too_large or corrupt_object otherwise.
    /// </summary>
    internal static async IAsyncEnumerable<InputRecord> ReadWholeAsync(Stream content, InputObject input, WholeObject toRecord,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var maxBytes = Math.Max(1, input.Spec.MaxRecordBytes);
        // One byte past the limit tells "over the limit" without reading the rest.
        using var buffer = new ByteBuffer((int)Math.Min(Array.MaxLength, maxBytes + 1L));
        Exception? failure = null;
        try
        {
            // The listed size (when known and within the limit) sizes the buffer once; it is not trusted beyond that.
            var first = input.Size > 0 && input.Size <= maxBytes ? (int)input.Size + 1 : 64 * 1024;
            while (true)
            {
                var free = buffer.FreeSpace(buffer.Length == 0 ? first : 64 * 1024);
                if (free.IsEmpty) break;
                var read = await content.ReadAsync(free, cancellationToken).ConfigureAwait(false);
                if (read == 0) break;
                buffer.Advance(read);
            }
        }
        catch (Exception e) when (!ReaderText.IsRequestedCancellation(e, cancellationToken))
        {
            failure = e;
        }
        if (failure is not null)
        {
            yield return InputRecord.Quarantine(0, QuarantineReasons.CorruptObject,
                $"{input.Source}: read failed after byte {ReaderText.Num(buffer.Length)} ({ReaderText.Describe(failure)})");
            yield break;
        }

        var size = buffer.Length;
        if (size > maxBytes)
        {
            var sizeText = input.Size > maxBytes ? ReaderText.Num(input.Size) : "more than " + ReaderText.Num(maxBytes);
            yield return InputRecord.Quarantine(0, QuarantineReasons.RecordTooLarge,
                $"{input.Source}: {sizeText} bytes > limit {ReaderText.Num(maxBytes)} (the whole file is one document)");
            yield break;
        }
        if (toRecord(buffer.Span) is { } record) yield return record;
    }

    private static InputRecord FileDocument(ReadOnlySpan<byte> bytes, string source)
    {
        var bad = ReaderText.FirstInvalidUtf8(bytes);
        if (bad < 0) return InputRecord.Document(0, null, Encoding.UTF8.GetString(bytes));
        var line = bytes[..bad].Count((byte)'\n') + 1L;
        var lineStart = bytes[..bad].LastIndexOf((byte)'\n') + 1;
        return InputRecord.Quarantine(0, QuarantineReasons.InvalidUtf8,
            $"{source}: invalid UTF-8 at byte {ReaderText.Num(bad)} (line {ReaderText.Num(line)}, 0x{bytes[bad]:X2}) near {ReaderText.Excerpt(bytes[lineStart..], bad - lineStart)}");
    }

    private static async IAsyncEnumerable<InputRecord> ReadLinesAsync(Stream content, InputObject input,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var maxBytes = input.Spec.MaxRecordBytes;
        using var lines = new LineSplitter(content, maxBytes, input.Part);
        while (true)
        {
            bool more;
            Exception? failure = null;
            try { more = await lines.MoveNextAsync(cancellationToken).ConfigureAwait(false); }
            catch (Exception e) when (!ReaderText.IsRequestedCancellation(e, cancellationToken)) { failure = e; more = false; }
            if (failure is not null)
            {
                yield return InputRecord.Quarantine(lines.LinesRead, QuarantineReasons.CorruptObject, JsonlReader.CorruptDetail(input.Source, lines.LinesRead, failure));
                yield break;
            }
            if (!more) yield break;

            var number = ReaderText.Num(lines.LineIndex + 1);
            if (lines.IsTooLong)
            {
                yield return InputRecord.Quarantine(lines.LineIndex, QuarantineReasons.RecordTooLarge,
                    $"line {number}: {ReaderText.Num(lines.LineBytes)} bytes > limit {ReaderText.Num(maxBytes)}");
                continue;
            }
            var record = LineDocument(lines.Line.Span, lines.LineIndex, number);
            if (record is { } r) yield return r;
        }
    }

    private static InputRecord? LineDocument(ReadOnlySpan<byte> line, long index, string number)
    {
        if (ReaderText.IsBlank(line)) return null;
        var bad = ReaderText.FirstInvalidUtf8(line);
        return bad >= 0
            ? InputRecord.Quarantine(index, QuarantineReasons.InvalidUtf8,
                $"line {number}: invalid UTF-8 at byte {ReaderText.Num(bad)} of the line (0x{line[bad]:X2}) near {ReaderText.Excerpt(line, bad)}")
            : InputRecord.Document(index, null, Encoding.UTF8.GetString(line));
    }

    private static async IAsyncEnumerable<InputRecord> ReadParagraphsAsync(Stream content, InputObject input,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var maxBytes = Math.Max(1, input.Spec.MaxRecordBytes);
        using var lines = new LineSplitter(content, maxBytes);
        using var paragraph = new ParagraphBuilder(maxBytes);
        while (true)
        {
            bool more;
            Exception? failure = null;
            try { more = await lines.MoveNextAsync(cancellationToken).ConfigureAwait(false); }
            catch (Exception e) when (!ReaderText.IsRequestedCancellation(e, cancellationToken)) { failure = e; more = false; }
            if (failure is not null)
            {
                // The paragraph being read is incomplete: it is part of what the corrupt_object record reports lost.
                yield return InputRecord.Quarantine(paragraph.NextIndex, QuarantineReasons.CorruptObject,
                    JsonlReader.CorruptDetail(input.Source, lines.LinesRead, failure));
                yield break;
            }
            if (!more)
            {
                if (paragraph.IsOpen) yield return paragraph.Finish();
                yield break;
            }
            if (!lines.IsTooLong && ReaderText.IsBlank(lines.Line.Span))
            {
                if (paragraph.IsOpen) yield return paragraph.Finish();
                continue;
            }
            paragraph.AddLine(lines);
        }
    }

    /// <summary>Collects one paragraph's lines, joined with '\n', up to the limit; past it only counts bytes.</summary>
    private sealed class ParagraphBuilder(int maxBytes) : IDisposable
    {
        private readonly int _maxBytes = maxBytes;
        private readonly ByteBuffer _text = new(maxBytes);
        private long _bytes;
        private int _lines;
        private long _firstLine, _lastLine;
        private bool _tooLarge;
        private long _badLine = -1;
        private int _badOffset;
        private byte _badByte;

        public long NextIndex { get; private set; }
        public bool IsOpen => _lines > 0;

        public void AddLine(LineSplitter line)
        {
            if (_lines == 0)
            {
                _firstLine = line.LineIndex;
                _bytes = 0;
                _tooLarge = false;
                _badLine = -1;
                _text.Clear();
            }
            _lastLine = line.LineIndex;
            _bytes += (_lines > 0 ? 1 : 0) + line.LineBytes;
            _lines++;
            if (_tooLarge) return;
            if (line.IsTooLong || _bytes > _maxBytes)
            {
                _tooLarge = true;
                _text.Clear();
                return;
            }
            var span = line.Line.Span;
            if (_badLine < 0)
            {
                var bad = ReaderText.FirstInvalidUtf8(span);
                if (bad >= 0) { _badLine = line.LineIndex; _badOffset = bad; _badByte = span[bad]; }
            }
            if (_lines > 1) _text.TryAppend("\n"u8);
            _text.TryAppend(span); // fits: _bytes <= maxBytes
        }

        public InputRecord Finish()
        {
            var index = NextIndex++;
            var lines = _firstLine == _lastLine
                ? $"line {ReaderText.Num(_firstLine + 1)}"
                : $"lines {ReaderText.Num(_firstLine + 1)}–{ReaderText.Num(_lastLine + 1)}";
            _lines = 0;
            if (_tooLarge)
                return InputRecord.Quarantine(index, QuarantineReasons.RecordTooLarge,
                    $"paragraph {ReaderText.Num(index + 1)} ({lines}): {ReaderText.Num(_bytes)} bytes > limit {ReaderText.Num(_maxBytes)}");
            if (_badLine >= 0)
                return InputRecord.Quarantine(index, QuarantineReasons.InvalidUtf8,
                    $"paragraph {ReaderText.Num(index + 1)} ({lines}): invalid UTF-8 at byte {ReaderText.Num(_badOffset)} of line {ReaderText.Num(_badLine + 1)} (0x{_badByte:X2})");
            return InputRecord.Document(index, null, Encoding.UTF8.GetString(_text.Span));
        }

        public void Dispose() => _text.Dispose();
    }
}
