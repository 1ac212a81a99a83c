namespace Curation.Pipelines.IO.Readers;

/// <summary>
/// Reads an HTML file (<c>.html</c>, <c>.htm</c>; gzip or zstd compressed too, told by its first bytes) as one document at position 0: the page decoded by
/// <see cref="HtmlText"/> (byte order mark, meta charset, else UTF-8), with the fields <c>content_type</c> and
/// <c>charset</c>; the <c>extract</c> stage turns it into text. Over <see cref="Spec.InputSpec.MaxRecordBytes"/> →
/// record_too_large (read just past the limit); an unknown charset → unknown_charset; bad UTF-8 → invalid_utf8; a read
/// failure → corrupt_object naming the object.
/// </summary>
public sealed class HtmlFileReader : IInputReader
{
    public static HtmlFileReader Instance { get; } = new();

    public IAsyncEnumerable<InputRecord> ReadAsync(Stream content, InputObject input, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(content);
        ArgumentNullException.ThrowIfNull(input);
        return Decompression.ReadSniffedAsync(content, input, (stream, read, ct) => TextInputReader.ReadWholeAsync(stream, read, bytes =>
        {
            var (text, charset, problem, detail) = HtmlText.Decode(bytes, null);
            return problem is not null
                ? InputRecord.Quarantine(0, problem, $"{input.Source}: {detail}")
                : HtmlText.Document(0, text!, [new(HtmlText.ContentTypeField, "text/html"), new("charset", charset)], input.Spec, input.Source);
        }, ct), cancellationToken);
    }
}
