using System.Runtime.CompilerServices;

namespace Curation.Pipelines.IO.Readers;

/// <summary>
/// Reads an HTML file (<c>.html</c>, <c>.htm</c>) as one document at position 0: the page decoded by
/// <see cref="HtmlText"/> (byte order mark, meta charset, else UTF-8), with the fields <c>content_type</c> and
/// <c>charset</c>; the <c>extract</c> stage turns it into text. Over <see cref="Spec.InputSpec.MaxRecordBytes"/> →
/// record_too_large (read just past the limit); an unknown charset → unknown_charset; bad UTF-8 → invalid_utf8; a read
/// failure → corrupt_object naming the object.
/// </summary>
public sealed class HtmlFileReader : IInputReader
{
    public static HtmlFileReader Instance { get; } = new();

    public async IAsyncEnumerable<InputRecord> ReadAsync(Stream content, InputObject input,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(content);
        ArgumentNullException.ThrowIfNull(input);
        var maxBytes = Math.Max(1, input.Spec.MaxRecordBytes);
        var bytes = new MemoryStream();
        var buffer = new byte[64 * 1024];
        Exception? failure = null;
        try
        {
            int read;
            while (bytes.Length <= maxBytes && (read = await content.ReadAsync(buffer, cancellationToken).ConfigureAwait(false)) > 0)
                bytes.Write(buffer, 0, read);
        }
        catch (Exception e) when (!ReaderText.IsRequestedCancellation(e, cancellationToken))
        {
            failure = e;
        }
        if (failure is not null)
        {
            yield return InputRecord.Quarantine(0, QuarantineReasons.CorruptObject,
                $"{input.Source}: read failed after byte {ReaderText.Num(bytes.Length)} ({ReaderText.Describe(failure)})");
            yield break;
        }
        if (bytes.Length > maxBytes)
        {
            yield return InputRecord.Quarantine(0, QuarantineReasons.RecordTooLarge,
                $"{input.Source}: more than {ReaderText.Num(maxBytes)} bytes (the whole file is one document)");
            yield break;
        }
        var (text, charset, problem, detail) = HtmlText.Decode(bytes.GetBuffer().AsSpan(0, (int)bytes.Length), null);
        if (problem is not null)
        {
            yield return InputRecord.Quarantine(0, problem, $"{input.Source}: {detail}");
            yield break;
        }
        yield return InputRecord.Document(0, null, text!) with { Fields = [new("content_type", "text/html"), new("charset", charset)] };
    }
}
