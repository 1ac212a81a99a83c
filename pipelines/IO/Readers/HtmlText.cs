using System.Text;
using System.Text.RegularExpressions;
using UtfUnknown;

namespace Curation.Pipelines.IO.Readers;

/// <summary>
/// Decoding HTML bytes to a string: the charset of the HTTP Content-Type header, else a byte order mark, else a
/// <c>&lt;meta charset&gt;</c> / <c>&lt;meta http-equiv="Content-Type"&gt;</c> in the first 4 KiB, else UTF-8. Labels
/// follow the WHATWG Encoding standard's common aliases (latin1 and ascii mean windows-1252). A declared UTF-8 must be
/// strict. A page that declares nothing and is not UTF-8 (an old Latin-1 manual, a Shift_JIS or GBK page) is decoded as
/// a browser does, by guessing: the legacy charset <see cref="Guess"/> detects, else windows-1252, the WHATWG default.
/// </summary>
public static partial class HtmlText
{
    static HtmlText() => Encoding.RegisterProvider(CodePagesEncodingProvider.Instance);

    public const string UnknownCharset = "unknown_charset";

    /// <summary>Media types read as HTML.</summary>
    public static bool IsHtml(string? mediaType) => mediaType is "text/html" or "application/xhtml+xml";

    /// <summary>The media type of a Content-Type value, lower case, without parameters ("" when none).</summary>
    public static string MediaType(string? contentType) =>
        contentType is null ? "" : contentType.Split(';', 2)[0].Trim().ToLowerInvariant();

    /// <summary>The charset parameter of a Content-Type value, or null.</summary>
    public static string? CharsetParameter(string? contentType)
    {
        if (contentType is null) return null;
        var match = CharsetParameterPattern().Match(contentType);
        return match.Success ? match.Groups[1].Value.Trim().Trim('"', '\'') : null;
    }

    /// <summary>
    /// The text of <paramref name="bytes"/> and the charset used (its canonical name), or a problem
    /// (<see cref="UnknownCharset"/> or <see cref="QuarantineReasons.InvalidUtf8"/>) with a detail.
    /// </summary>
    public static (string? Text, string Charset, string? Problem, string? Detail) Decode(ReadOnlySpan<byte> bytes, string? headerCharset)
    {
        string? label = headerCharset;
        var start = 0;
        if (label is null)
        {
            if (bytes.StartsWith((ReadOnlySpan<byte>)[0xEF, 0xBB, 0xBF])) { label = "utf-8"; start = 3; }
            else if (bytes.StartsWith((ReadOnlySpan<byte>)[0xFF, 0xFE])) label = "utf-16le";
            else if (bytes.StartsWith((ReadOnlySpan<byte>)[0xFE, 0xFF])) label = "utf-16be";
            else label = MetaCharset(bytes[..Math.Min(bytes.Length, 4096)]);
        }
        var declared = label is not null;
        label ??= "utf-8";
        var encoding = EncodingOf(label);
        if (encoding is null) return (null, label, UnknownCharset, $"charset '{Clip(label)}' is not a known encoding");
        var body = bytes[start..];
        if (encoding.CodePage == Encoding.UTF8.CodePage)
        {
            if (body.StartsWith((ReadOnlySpan<byte>)[0xEF, 0xBB, 0xBF])) body = body[3..];
            var bad = ReaderText.FirstInvalidUtf8(body);
            if (bad >= 0 && !declared && Guess(body) is { } guessed) return (guessed.GetString(body), guessed.WebName, null, null);
            if (bad >= 0)
                return (null, "utf-8", QuarantineReasons.InvalidUtf8, $"invalid UTF-8 at byte {ReaderText.Num(bad)} of the body (0x{body[bad]:X2})");
            return (Encoding.UTF8.GetString(body), "utf-8", null, null);
        }
        return (encoding.GetString(body), encoding.WebName, null, null);
    }

    /// <summary>The column <c>extract</c> tells pages from plain text (WET) by: kept whatever <c>fields</c> says.</summary>
    public const string ContentTypeField = "content_type";

    /// <summary>
    /// A page (a WARC record, an HTML file) as a document with the columns <paramref name="spec"/> keeps (<c>fields</c>, <c>dropFields</c>; <c>content_type</c>
    /// always) and its id from the column <c>idField</c> names (<c>warc_record_id</c>, <c>url</c>), or
    /// <c>source#position</c> without one. A record without that column's value is quarantined as missing_id_field.
    /// </summary>
    public static InputRecord Document(long position, string text, FieldValue[] fields, Spec.InputSpec spec, string where)
    {
        string? id = null;
        if (spec.IdField is { } idField)
        {
            var at = Array.FindIndex(fields, f => f.Name == idField);
            if (at < 0)
                return InputRecord.Quarantine(position, QuarantineReasons.MissingIdField,
                    $"{where}: no field '{idField}' (a page has {string.Join(", ", fields.Select(f => f.Name))})");
            id = fields[at].Value as string;
            if (string.IsNullOrEmpty(id))
                return InputRecord.Quarantine(position, QuarantineReasons.MissingIdField, $"{where}: field '{idField}' is {ReaderText.EmptyId}");
        }
        var kept = Array.FindAll(fields, f => f.Name == ContentTypeField && f.Name != spec.IdField || InputFields.Keeps(spec, f.Name));
        return InputRecord.Document(position, id, text) with { Fields = kept };
    }

    /// <summary>How much of an undeclared page <see cref="Guess"/> reads: its start is as telling as the rest.</summary>
    private const int GuessBytes = 64 * 1024;

    /// <summary>
    /// The legacy charset of bytes that are not valid UTF-8: null when they are UTF-8 with some bad bytes (more valid
    /// multi-byte characters than invalid sequences: damaged UTF-8 is quarantined, not read as mojibake); else Mozilla's
    /// universal charset detector (uchardet, NuGet <c>UTF.Unknown</c>) when it is at least half sure and names a legacy
    /// charset .NET has; else windows-1252, the fallback the WHATWG HTML standard gives browsers. Deterministic: the
    /// same bytes always get the same answer.
    /// </summary>
    public static Encoding? Guess(ReadOnlySpan<byte> body)
    {
        var sample = body[..Math.Min(body.Length, GuessBytes)];
        if (IsDamagedUtf8(sample)) return null;
        var detected = CharsetDetector.DetectFromBytes(sample.ToArray()).Detected;
        var fallback = Encoding.GetEncoding("windows-1252");
        if (detected is not { Confidence: >= 0.5f, EncodingName: { } name }) return fallback;
        return EncodingOf(name) is { } encoding and not (UTF8Encoding or UnicodeEncoding or UTF32Encoding) ? encoding : fallback;
    }

    /// <summary>Whether <paramref name="bytes"/> hold more valid multi-byte UTF-8 characters than invalid sequences.</summary>
    private static bool IsDamagedUtf8(ReadOnlySpan<byte> bytes)
    {
        int valid = 0, invalid = 0;
        while (!bytes.IsEmpty)
        {
            var status = System.Text.Rune.DecodeFromUtf8(bytes, out var rune, out var consumed);
            if (status == System.Buffers.OperationStatus.Done) { if (rune.Value > 0x7F) valid++; }
            else if (status != System.Buffers.OperationStatus.NeedMoreData || consumed == bytes.Length) invalid++;
            bytes = bytes[Math.Max(consumed, 1)..];
        }
        return valid > invalid;
    }

    private static Encoding? EncodingOf(string label)
    {
        var name = label.Trim().ToLowerInvariant() switch
        {
            "utf8" or "unicode-1-1-utf-8" => "utf-8",
            "latin1" or "iso-8859-1" or "iso8859-1" or "l1" or "ascii" or "us-ascii" or "iso_8859-1" => "windows-1252",
            var other => other,
        };
        try
        {
            return Encoding.GetEncoding(name);
        }
        catch (ArgumentException)
        {
            return null;
        }
    }

    /// <summary>The charset a meta tag declares in the first bytes of a page (read as ASCII), or null.</summary>
    private static string? MetaCharset(ReadOnlySpan<byte> head)
    {
        var ascii = Encoding.Latin1.GetString(head);
        var match = MetaCharsetPattern().Match(ascii);
        return match.Success ? match.Groups[1].Value : null;
    }

    private static string Clip(string value) => value.Length > 40 ? value[..40] + "…" : value;

    [GeneratedRegex("""charset\s*=\s*["']?([^;"'\s]+)""", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex CharsetParameterPattern();

    [GeneratedRegex("""<meta[^>]+charset\s*=\s*["']?([A-Za-z0-9_:.\-]+)""", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex MetaCharsetPattern();
}
