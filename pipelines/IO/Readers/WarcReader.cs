using System.Runtime.CompilerServices;
using System.Text;

namespace Curation.Pipelines.IO.Readers;

/// <summary>
/// Reads web archives: WARC 1.0 and 1.1 (<c>.warc</c>, and <c>.warc.gz</c> of one gzip member per record or one for the
/// whole file, read by <see cref="StrictGzipStream"/>), including WET files (<c>.warc.wet.gz</c>).
/// </summary>
/// <remarks>
/// <para>
/// <see cref="InputRecord.Position"/> is the 0-based number of the WARC record in the file, counting every record, and
/// details say "record N at offset M" (M: the byte offset of the record in the uncompressed WARC stream).
/// </para>
/// <para>
/// <c>response</c> records (HTTP) and <c>resource</c> records whose content type is HTML become documents: the text is
/// the HTML page, decoded by <see cref="HtmlText"/> (header charset, meta tag, UTF-8), to be turned into text by the
/// <c>extract</c> stage. <c>conversion</c> records (WET) are documents of their plain text (UTF-8). Each document has
/// the fields <c>url</c> (WARC-Target-URI), <c>warc_date</c>, <c>warc_record_id</c>, <c>content_type</c> (media type)
/// and <c>charset</c>. An HTTP response whose status is not 2xx (404 pages, redirects, 5xx error pages) is quarantined
/// as <c>http_status</c> with its status; other response and resource records are counted and quarantined as <c>not_html</c> with their
/// content type; <c>warcinfo</c>, <c>request</c>, <c>metadata</c>, <c>revisit</c> and <c>continuation</c> records
/// hold no document and are passed over (not records, like blank JSONL lines). An HTTP payload kept raw (chunked,
/// gzip, deflate, brotli) is decoded first (<see cref="HttpPayload"/>); one that cannot be → bad_http_body.
/// </para>
/// <para>
/// A page whose charset is unknown → unknown_charset; bytes that are not UTF-8 where UTF-8 is meant → invalid_utf8; a
/// block over <see cref="Spec.InputSpec.MaxRecordBytes"/> → record_too_large (skipped unread). A record that does not
/// start with a WARC version line or lacks a valid Content-Length, a block cut short, or a truncated or corrupt gzip
/// member ends the object with one corrupt_object record (the records before it were yielded).
/// </para>
/// </remarks>
public sealed class WarcReader(bool gzip) : IInputReader
{
    public static WarcReader Plain { get; } = new(false);
    public static WarcReader Gzip { get; } = new(true);

    public const string NotHtml = "not_html";

    /// <summary>An HTTP response whose status is not 2xx (a 404 page, a redirect, a server error): quarantined, never a document.</summary>
    public const string HttpStatus = "http_status";
    private const int MaxHeaderLine = 64 * 1024;

    public bool IsGzip { get; } = gzip;

    public async IAsyncEnumerable<InputRecord> ReadAsync(Stream content, InputObject input,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(content);
        ArgumentNullException.ThrowIfNull(input);
        var source = IsGzip ? new StrictGzipStream(content, leaveOpen: true) : content;
        var stream = new WarcByteStream(source);
        var maxBytes = input.Spec.MaxRecordBytes;
        long number = 0;
        try
        {
            while (true)
            {
                WarcHead? head = null;
                string? problem = null;
                byte[]? block = null;
                var offset = stream.Offset;
                try
                {
                    (head, problem) = await ReadHeadAsync(stream, cancellationToken).ConfigureAwait(false);
                    offset = head?.Offset ?? offset;
                    if (head is not null && problem is null)
                    {
                        var complete = head.Length > maxBytes
                            ? await stream.SkipAsync(head.Length, cancellationToken).ConfigureAwait(false)
                            : (block = await stream.ReadBlockAsync((int)head.Length, cancellationToken).ConfigureAwait(false)) is not null;
                        if (!complete)
                            problem = $"record {ReaderText.Num(number + 1)} at offset {ReaderText.Num(head.Offset)} is cut short: {ReaderText.Num(head.Length)} bytes announced";
                    }
                }
                catch (Exception e) when (!ReaderText.IsRequestedCancellation(e, cancellationToken))
                {
                    problem = JsonlReader.CorruptDetail(input.Source, number, e).Replace("line", "record", StringComparison.Ordinal);
                    problem = $"{problem} (offset {ReaderText.Num(stream.Offset)})";
                    head = null;
                }
                if (problem is not null)
                {
                    yield return InputRecord.Quarantine(number, QuarantineReasons.CorruptObject,
                        problem.StartsWith(input.Source, StringComparison.Ordinal) ? problem : $"{input.Source}: {problem}");
                    yield break;
                }
                if (head is null) yield break;   // end of the file
                var where = $"record {ReaderText.Num(number + 1)} at offset {ReaderText.Num(offset)}";
                var record = ToRecord(head, block, number, where, maxBytes, input.Spec);
                number++;
                if (record is { } r) yield return r;
            }
        }
        finally
        {
            if (IsGzip) await source.DisposeAsync().ConfigureAwait(false);
        }
    }

    private sealed record WarcHead(long Offset, string Version, Dictionary<string, string> Headers, long Length)
    {
        public string Type => Headers.GetValueOrDefault("warc-type", "").ToLowerInvariant();
        public string? Get(string name) => Headers.GetValueOrDefault(name);
    }

    /// <summary>The next record's version line and headers; (null, null) at the end of the file.</summary>
    private static async Task<(WarcHead? Head, string? Problem)> ReadHeadAsync(WarcByteStream stream, CancellationToken cancellationToken)
    {
        string? line;
        long offset;
        do
        {
            offset = stream.Offset;
            line = await stream.ReadLineAsync(MaxHeaderLine, cancellationToken).ConfigureAwait(false);
            if (line is null) return (null, null);
        } while (line.Length == 0);   // the blank lines after a block
        if (line is not ("WARC/1.0" or "WARC/1.1"))
            return (null, $"offset {ReaderText.Num(offset)}: not a WARC 1.0/1.1 record (starts with \"{(line.Length > 40 ? line[..40] + "…" : line)}\")");
        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        while (true)
        {
            var header = await stream.ReadLineAsync(MaxHeaderLine, cancellationToken).ConfigureAwait(false);
            if (header is null) return (null, $"offset {ReaderText.Num(offset)}: the record's headers are cut short");
            if (header.Length == 0) break;
            var colon = header.IndexOf(':');
            if (colon > 0) headers[header[..colon].Trim()] = header[(colon + 1)..].Trim();
        }
        if (!headers.TryGetValue("Content-Length", out var lengthText) || !long.TryParse(lengthText, out var length) || length < 0)
            return (null, $"offset {ReaderText.Num(offset)}: the record has no valid Content-Length");
        return (new WarcHead(offset, line, headers, length), null);
    }

    private static InputRecord? ToRecord(WarcHead head, byte[]? block, long number, string where, int maxBytes, Spec.InputSpec spec)
    {
        var type = head.Type;
        if (type is not ("response" or "resource" or "conversion")) return null;
        var url = head.Get("WARC-Target-URI");
        if (block is null)
            return InputRecord.Quarantine(number, QuarantineReasons.RecordTooLarge, $"{where} ({url}): {ReaderText.Num(head.Length)} bytes > limit {ReaderText.Num(maxBytes)}");

        ReadOnlySpan<byte> body = block;
        string? contentType = head.Get("Content-Type");
        if (type == "response" && MediaTypeIs(contentType, "application/http"))
        {
            var end = body.IndexOf("\r\n\r\n"u8);
            var skip = 4;
            if (end < 0) { end = body.IndexOf("\n\n"u8); skip = 2; }
            if (end < 0)
                return InputRecord.Quarantine(number, NotHtml, $"{where} ({url}): the HTTP response has no end of headers");
            var http = Encoding.Latin1.GetString(body[..end]);
            // A 404 page, a redirect's "Moved Permanently" or a 500 error page is not the page the URL names: never a document.
            if (HttpPayload.Status(http) is { } status && status.Code is < 200 or >= 300)
                return InputRecord.Quarantine(number, HttpStatus, $"{where} ({url}): HTTP {status.Code}{(status.Reason.Length > 0 ? " " + status.Reason : "")}" +
                    (status.Code is >= 300 and < 400 && HttpPayload.Header(http, "Location") is { } location ? $" to {location}" : "") + ", not a page");
            contentType = HttpPayload.Header(http, "Content-Type");
            body = body[(end + skip)..];
            if (HttpPayload.Header(http, "Transfer-Encoding") is not null || HttpPayload.Header(http, "Content-Encoding") is not null)
            {
                var (decoded, problem, detail) = HttpPayload.Decode(http, body.ToArray(), maxBytes);
                if (problem is not null) return InputRecord.Quarantine(number, problem, $"{where} ({url}): {detail}");
                body = decoded;
            }
        }
        var media = HtmlText.MediaType(contentType);
        string? text;
        string charset;
        if (type == "conversion")
        {
            var bad = ReaderText.FirstInvalidUtf8(body);
            if (bad >= 0)
                return InputRecord.Quarantine(number, QuarantineReasons.InvalidUtf8, $"{where} ({url}): invalid UTF-8 at byte {ReaderText.Num(bad)} of the text");
            text = Encoding.UTF8.GetString(body);
            charset = "utf-8";
            if (media.Length == 0) media = "text/plain";
        }
        else
        {
            if (!HtmlText.IsHtml(media))
                return InputRecord.Quarantine(number, NotHtml, $"{where} ({url}): {type} of content type '{(media.Length == 0 ? "none" : media)}', not HTML");
            string? problem, detail;
            (text, charset, problem, detail) = HtmlText.Decode(body, HtmlText.CharsetParameter(contentType));
            if (problem is not null) return InputRecord.Quarantine(number, problem, $"{where} ({url}): {detail}");
        }
        FieldValue[] fields =
        [
            new("url", url), new("warc_date", head.Get("WARC-Date")), new("warc_record_id", head.Get("WARC-Record-ID")),
            new(HtmlText.ContentTypeField, media), new("charset", charset),
        ];
        return HtmlText.Document(number, text!, fields, spec, $"{where} ({url})");
    }

    private static bool MediaTypeIs(string? contentType, string media) => HtmlText.MediaType(contentType) == media;
}

/// <summary>A stream read line by line (headers) and block by block (record contents), counting the bytes consumed.</summary>
internal sealed class WarcByteStream(Stream stream)
{
    private readonly byte[] _buffer = new byte[64 * 1024];
    private int _start, _end;

    public long Offset { get; private set; }

    private async Task<bool> FillAsync(CancellationToken cancellationToken)
    {
        if (_start > 0)
        {
            Buffer.BlockCopy(_buffer, _start, _buffer, 0, _end - _start);
            _end -= _start;
            _start = 0;
        }
        if (_end == _buffer.Length) return true;
        var read = await stream.ReadAsync(_buffer.AsMemory(_end), cancellationToken).ConfigureAwait(false);
        _end += read;
        return read > 0;
    }

    /// <summary>The next line without its line end (ISO-8859-1, as headers are), or null at the end of the stream.</summary>
    public async Task<string?> ReadLineAsync(int maxBytes, CancellationToken cancellationToken)
    {
        while (true)
        {
            var newline = _buffer.AsSpan(_start, _end - _start).IndexOf((byte)'\n');
            if (newline >= 0)
            {
                var line = _buffer.AsSpan(_start, newline);
                if (line.EndsWith("\r"u8)) line = line[..^1];
                var text = Encoding.Latin1.GetString(line);
                _start += newline + 1;
                Offset += newline + 1;
                return text;
            }
            if (_end - _start >= Math.Min(maxBytes, _buffer.Length)) throw new InvalidDataException($"a header line longer than {ReaderText.Num(Math.Min(maxBytes, _buffer.Length))} bytes");
            if (!await FillAsync(cancellationToken).ConfigureAwait(false))
            {
                if (_end == _start) return null;
                var rest = Encoding.Latin1.GetString(_buffer, _start, _end - _start);
                Offset += _end - _start;
                _start = _end;
                return rest;
            }
        }
    }

    /// <summary>The next <paramref name="length"/> bytes, or null when the stream ends first.</summary>
    public async Task<byte[]?> ReadBlockAsync(int length, CancellationToken cancellationToken)
    {
        var block = new byte[length];
        var filled = 0;
        while (filled < length)
        {
            if (_start == _end && !await FillAsync(cancellationToken).ConfigureAwait(false)) return null;
            var take = Math.Min(length - filled, _end - _start);
            Buffer.BlockCopy(_buffer, _start, block, filled, take);
            _start += take;
            filled += take;
            Offset += take;
        }
        return block;
    }

    /// <summary>Skips <paramref name="length"/> bytes (a block over the size limit), never holding them.</summary>
    public async Task<bool> SkipAsync(long length, CancellationToken cancellationToken)
    {
        while (length > 0)
        {
            if (_start == _end && !await FillAsync(cancellationToken).ConfigureAwait(false)) return false;
            var take = (int)Math.Min(length, _end - _start);
            _start += take;
            length -= take;
            Offset += take;
        }
        return true;
    }
}
