using System.Runtime.CompilerServices;
using System.Text;

namespace Curation.Pipelines.IO.Readers;

/// <summary>
/// The stream compressions an input object may have — gzip (<see cref="StrictGzipStream"/>: truncation detected,
/// multi-member files read whole) and zstd (every frame; truncation detected) — opened by name (<c>.jsonl.gz</c>,
/// <c>.txt.zst</c>) or told by the object's first bytes, and their failures said in words; and text in UTF-16 or UTF-32
/// (told by its byte order mark), read as UTF-8.
/// </summary>
public static class Decompression
{
    /// <summary>The bytes that open a gzip member (RFC 1952: ID1 ID2 CM=deflate).</summary>
    private static ReadOnlySpan<byte> GzipMagic => [0x1F, 0x8B, 0x08];

    /// <summary>The bytes that open a zstd frame (RFC 8878: 0xFD2FB528 little-endian).</summary>
    private static ReadOnlySpan<byte> ZstdMagic => [0x28, 0xB5, 0x2F, 0xFD];

    /// <summary>A stream of <paramref name="content"/> decompressed as <paramref name="compression"/> says (<paramref name="content"/> itself for none); disposing it leaves <paramref name="content"/> open.</summary>
    public static Stream Open(Stream content, StreamCompression compression) => compression switch
    {
        StreamCompression.Gzip => new StrictGzipStream(content, leaveOpen: true),
        StreamCompression.Zstd => new ZstdSharp.DecompressionStream(content, checkEndOfStream: true, leaveOpen: true),
        _ => content,
    };

    /// <summary>
    /// The compression the first bytes of an object show. Neither magic can open text: <c>0x1F</c> is a control
    /// character and <c>0x28 0xB5</c> is not UTF-8, so text is never taken for a compressed stream.
    /// </summary>
    public static StreamCompression Detect(ReadOnlySpan<byte> head) =>
        head.StartsWith(GzipMagic) ? StreamCompression.Gzip : head.StartsWith(ZstdMagic) ? StreamCompression.Zstd : StreamCompression.None;

    /// <summary>
    /// <paramref name="content"/> decompressed when its first bytes are a gzip or zstd stream (a <c>.txt.gz</c>, or a
    /// compressed file whose name does not say so), and transcoded to UTF-8 when its text starts with a UTF-16 or UTF-32
    /// byte order mark (Windows tools write UTF-16: PowerShell 5's <c>Out-File</c>, Notepad's "Unicode"); else its bytes
    /// as they are. Reads at most 4 bytes ahead (8 when compressed). Dispose the stream returned: it never disposes
    /// <paramref name="content"/>. <c>Decoded</c>: the stream's bytes are not the object's (decompressed or transcoded),
    /// so the object's size says nothing about them.
    /// </summary>
    public static async Task<(Stream Stream, bool Decoded)> SniffAsync(Stream content, CancellationToken cancellationToken)
    {
        var head = await ReadHeadAsync(content, cancellationToken).ConfigureAwait(false);
        var found = Detect(head);
        var stream = content;
        if (found != StreamCompression.None)
        {
            stream = Open(new PrefixedStream(head, content), found);
            try
            {
                head = await ReadHeadAsync(stream, cancellationToken).ConfigureAwait(false);
            }
            catch
            {
                await stream.DisposeAsync().ConfigureAwait(false);
                throw;
            }
        }
        var (wide, bom) = WideEncodingOf(head);
        Stream result = new PrefixedStream(head.AsMemory(bom), stream, ownsInner: found != StreamCompression.None);
        if (wide is not null) result = Encoding.CreateTranscodingStream(result, wide, new UTF8Encoding(false), leaveOpen: false);
        return (result, found != StreamCompression.None || wide is not null);
    }

    /// <summary>Whether the first bytes are a UTF-16 or UTF-32 byte order mark: such text cannot be cut into byte ranges at its newlines.</summary>
    public static bool IsWideText(ReadOnlySpan<byte> head) => WideEncodingOf(head).Encoding is not null;

    /// <summary>The encoding a UTF-16/UTF-32 byte order mark names, and the mark's length; (null, 0) for anything else (UTF-8 included).</summary>
    private static (Encoding? Encoding, int Bom) WideEncodingOf(ReadOnlySpan<byte> head) => head switch
    {
        [0xFF, 0xFE, 0x00, 0x00, ..] => (new UTF32Encoding(bigEndian: false, byteOrderMark: false), 4),
        [0x00, 0x00, 0xFE, 0xFF, ..] => (new UTF32Encoding(bigEndian: true, byteOrderMark: false), 4),
        [0xFF, 0xFE, ..] => (new UnicodeEncoding(bigEndian: false, byteOrderMark: false), 2),
        [0xFE, 0xFF, ..] => (new UnicodeEncoding(bigEndian: true, byteOrderMark: false), 2),
        _ => (null, 0),
    };

    private static async Task<byte[]> ReadHeadAsync(Stream content, CancellationToken cancellationToken)
    {
        var head = new byte[ZstdMagic.Length];
        var length = 0;
        while (length < head.Length)
        {
            var read = await content.ReadAsync(head.AsMemory(length), cancellationToken).ConfigureAwait(false);
            if (read == 0) break;
            length += read;
        }
        return head[..length];
    }

    /// <summary>
    /// The records <paramref name="read"/> makes of a whole object (no byte part), decompressed first when its first
    /// bytes are gzip or zstd and read as UTF-8 when they are a UTF-16/UTF-32 byte order mark (<see cref="SniffAsync"/>);
    /// a byte part is read as it is (the planner cuts only uncompressed UTF-8 objects into byte ranges). A failure to
    /// read the first bytes is one corrupt_object record. <paramref name="read"/> gets the object with its size unknown (0)
    /// when the bytes were decoded, so no detail states the compressed size as the text's.
    /// </summary>
    public static async IAsyncEnumerable<InputRecord> ReadSniffedAsync(Stream content, InputObject input,
        Func<Stream, InputObject, CancellationToken, IAsyncEnumerable<InputRecord>> read, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(read);
        if (input.Part is not null)
        {
            await foreach (var record in read(content, input, cancellationToken).ConfigureAwait(false)) yield return record;
            yield break;
        }
        Stream? stream = null;
        var decoded = false;
        Exception? failure = null;
        try
        {
            (stream, decoded) = await SniffAsync(content, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (!ReaderText.IsRequestedCancellation(e, cancellationToken))
        {
            failure = e;
        }
        if (stream is null)
        {
            yield return InputRecord.Quarantine(0, QuarantineReasons.CorruptObject, $"{input.Source}: read failed before byte 1 ({ReaderText.Describe(failure!)})");
            yield break;
        }
        await using (stream.ConfigureAwait(false))
            await foreach (var record in read(stream, decoded ? input with { Size = 0 } : input, cancellationToken).ConfigureAwait(false)) yield return record;
    }

    /// <summary>A decompression failure in words (<c>truncated gzip stream</c>, <c>corrupt zstd stream</c>) and its message; null for any other failure.</summary>
    public static (string What, string Message)? Explain(Exception failure) => failure switch
    {
        GzipFormatException { Truncated: true } g => ("truncated gzip stream", g.Message),
        GzipFormatException g => ("corrupt gzip stream", g.Message),
        EndOfStreamException z when z.Source == "ZstdSharp" => ("truncated zstd stream", z.Message),
        ZstdSharp.ZstdException z => ("corrupt zstd stream", z.Message),
        _ => null,
    };
}
