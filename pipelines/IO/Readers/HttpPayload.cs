using System.IO.Compression;
using System.Text;

namespace Curation.Pipelines.IO.Readers;

/// <summary>
/// The payload of an HTTP response as a WARC record may hold it raw (wget, Heritrix without decoding): chunked transfer
/// encoding removed, then gzip, deflate or brotli content encoding undone, the result bounded by the record size limit.
/// Common Crawl's records are already decoded and pass unchanged.
/// </summary>
internal static class HttpPayload
{
    public const string BadHttpBody = "bad_http_body";

    /// <summary>The decoded payload, or a problem (reason, detail).</summary>
    public static (byte[]? Body, string? Problem, string? Detail) Decode(string head, byte[] body, int maxBytes)
    {
        if (Header(head, "Transfer-Encoding") is { } transfer && transfer.Contains("chunked", StringComparison.OrdinalIgnoreCase))
        {
            var dechunked = Dechunk(body);
            if (dechunked is null) return (null, BadHttpBody, "malformed chunked transfer encoding");
            body = dechunked;
        }
        var encoding = Header(head, "Content-Encoding")?.Trim().ToLowerInvariant();
        if (encoding is null or "" or "identity" or "none") return (body, null, null);
        try
        {
            using var input = new MemoryStream(body);
            using Stream decoder = encoding switch
            {
                "gzip" or "x-gzip" => new StrictGzipStream(input),   // GZipStream would end a cut-short payload silently
                "deflate" => new ZLibStream(input, CompressionMode.Decompress),
                "br" => new BrotliStream(input, CompressionMode.Decompress),
                _ => throw new NotSupportedException($"content encoding '{encoding}' is not supported"),
            };
            var output = new MemoryStream();
            var buffer = new byte[64 * 1024];
            int read;
            while ((read = decoder.Read(buffer)) > 0)
            {
                output.Write(buffer, 0, read);
                if (output.Length > maxBytes)
                    return (null, QuarantineReasons.RecordTooLarge, $"the {encoding} payload inflates past the limit of {ReaderText.Num(maxBytes)} bytes");
            }
            return (output.ToArray(), null, null);
        }
        catch (Exception e) when (e is InvalidDataException or NotSupportedException or IOException)
        {
            return (null, BadHttpBody, $"{encoding} payload cannot be decoded ({e.Message})");
        }
    }

    /// <summary>The status code and reason phrase of an HTTP response head (<c>HTTP/1.1 404 Not Found</c>), or null when its first line is no status line.</summary>
    public static (int Code, string Reason)? Status(string head)
    {
        var line = head.AsSpan(0, head.IndexOfAny(['\r', '\n']) is var end and >= 0 ? end : head.Length);
        if (!line.StartsWith("HTTP/", StringComparison.OrdinalIgnoreCase)) return null;
        var space = line.IndexOf(' ');
        if (space < 0) return null;
        var rest = line[(space + 1)..].TrimStart(' ');
        if (rest.Length < 3 || !int.TryParse(rest[..3], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var code)
            || rest.Length > 3 && rest[3] != ' ') return null;
        return (code, rest[3..].Trim().ToString());
    }

    /// <summary>A header's value from an HTTP head (status line first), or null.</summary>
    public static string? Header(string head, string name)
    {
        foreach (var line in head.Split('\n').Skip(1))
        {
            var colon = line.IndexOf(':');
            if (colon > 0 && line[..colon].Trim().Equals(name, StringComparison.OrdinalIgnoreCase)) return line[(colon + 1)..].Trim();
        }
        return null;
    }

    /// <summary>Chunks ("size[;ext]\r\n data \r\n" … "0\r\n"); null when malformed.</summary>
    private static byte[]? Dechunk(byte[] body)
    {
        var output = new MemoryStream(body.Length);
        var at = 0;
        while (true)
        {
            var lineEnd = Array.IndexOf(body, (byte)'\n', at);
            if (lineEnd < 0) return null;
            var sizeText = Encoding.Latin1.GetString(body, at, lineEnd - at).Split(';')[0].Trim();
            if (!int.TryParse(sizeText, System.Globalization.NumberStyles.HexNumber, null, out var size) || size < 0) return null;
            at = lineEnd + 1;
            if (size == 0) return output.ToArray();
            if (at + size > body.Length) return null;
            output.Write(body, at, size);
            at += size;
            if (at < body.Length && body[at] == '\r') at++;
            if (at < body.Length && body[at] == '\n') at++;
        }
    }
}
