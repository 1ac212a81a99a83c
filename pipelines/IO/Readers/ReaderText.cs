using System.Globalization;
using System.Text;

namespace Curation.Pipelines.IO.Readers;

/// <summary>Small helpers the readers share to write short, readable quarantine details.</summary>
internal static class ReaderText
{
    /// <summary>Longest excerpt of an offending record a detail quotes.</summary>
    public const int MaxExcerptChars = 60;

    private static readonly Encoding LenientUtf8 = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: false);

    /// <summary>A number with thousands separators, culture-independent: 52,428,800.</summary>
    /// <summary>
    /// Why an empty id is not one: <c>twin_id</c> "" means "no twin", lineage and the drop explorer look documents up by id,
    /// and the smallest-id keep rule would always keep it.
    /// </summary>
    public const string EmptyId = "an empty string: every document needs a non-empty id (leave idField out to number them as source#position)";

    public static string Num(long value) => value.ToString("N0", CultureInfo.InvariantCulture);

    /// <summary>True when the bytes are only JSON whitespace (space, tab, CR, LF) or empty.</summary>
    public static bool IsBlank(ReadOnlySpan<byte> bytes) => bytes.IndexOfAnyExcept(" \t\r\n"u8) < 0;

    /// <summary>Offset of the first byte of the first invalid UTF-8 sequence, or -1 when the bytes are valid UTF-8.</summary>
    public static int FirstInvalidUtf8(ReadOnlySpan<byte> bytes)
    {
        if (System.Text.Unicode.Utf8.IsValid(bytes)) return -1;
        var offset = 0;
        while (offset < bytes.Length)
        {
            var status = Rune.DecodeFromUtf8(bytes[offset..], out _, out var consumed);
            if (status != System.Buffers.OperationStatus.Done) return offset;
            offset += consumed;
        }
        return -1;
    }

    /// <summary>
    /// At most <see cref="MaxExcerptChars"/> characters of <paramref name="bytes"/> from about <paramref name="around"/>,
    /// decoded leniently, control characters escaped, quoted; "…" marks a cut.
    /// </summary>
    public static string Excerpt(ReadOnlySpan<byte> bytes, long around = 0)
    {
        var start = (int)Math.Clamp(around - 20, 0, bytes.Length);
        // Do not start inside a UTF-8 sequence.
        while (start > 0 && start < bytes.Length && (bytes[start] & 0xC0) == 0x80) start--;
        var take = Math.Min(bytes.Length - start, MaxExcerptChars * 4);
        var text = LenientUtf8.GetString(bytes.Slice(start, take));
        var builder = new StringBuilder(MaxExcerptChars + 8);
        builder.Append('"');
        if (start > 0) builder.Append('…');
        var written = 0;
        var cut = start + take < bytes.Length;
        foreach (var c in text)
        {
            if (written >= MaxExcerptChars) { cut = true; break; }
            if (c < ' ') builder.Append(c switch { '\t' => "\\t", '\r' => "\\r", '\n' => "\\n", _ => "\\u" + ((int)c).ToString("x4", CultureInfo.InvariantCulture) });
            else builder.Append(c);
            written++;
        }
        if (cut) builder.Append('…');
        builder.Append('"');
        return builder.ToString();
    }

    /// <summary>The exception's type and message on one line, at most ~200 characters (a decompression failure in words: <c>truncated gzip stream: …</c>).</summary>
    public static string Describe(Exception e)
    {
        if (Decompression.Explain(e) is { } stream) return $"{stream.What}: {stream.Message}";
        var message = e.Message.ReplaceLineEndings(" ");
        if (message.Length > 200) message = message[..200] + "…";
        return $"{e.GetType().Name}: {message}";
    }

    /// <summary>True for the one exception a reader lets through: cancellation that was asked for.</summary>
    public static bool IsRequestedCancellation(Exception e, CancellationToken cancellationToken) =>
        e is OperationCanceledException && cancellationToken.IsCancellationRequested;
}
