using System.Runtime.CompilerServices;
using System.Text;
using Sylvan.Data.Csv;

namespace Curation.Pipelines.IO.Readers;

/// <summary>
/// Reads delimited text with a header row — <c>.csv</c> (delimiter told from the header: <c>,</c> <c>;</c> tab or
/// <c>|</c>) and <c>.tsv</c> (tab), gzip or zstd compressed too — through Sylvan.Data.Csv (RFC 4180: quoted fields hold
/// delimiters, quotes and line breaks). Each data row is a record at position = its 0-based row number (the header is
/// not a row; a quoted line break does not start one). The text and id come from the columns <see cref="Spec.InputSpec.TextField"/>
/// and <see cref="Spec.InputSpec.IdField"/>; every other column kept by <c>fields</c> / <c>dropFields</c> is a string
/// field (an empty value is null).
/// </summary>
/// <remarks>
/// A row with more fields than the header (a quote left open or a delimiter in an unquoted value, usually) is
/// <c>malformed_csv</c>; one that lacks the text or id column, or has an empty id, is <c>missing_text_field</c> /
/// <c>missing_id_field</c>; fewer fields than the header otherwise are empty values, as CSV writers leave them; a row
/// whose text, id or a kept field holds bytes that are not UTF-8 (decoded as U+FFFD) is <c>invalid_utf8</c>. Lines starting with <c>#</c> are data,
/// not comments. Quotes that break RFC 4180 are read as Python's csv module reads them (Sylvan's lax style: a stray
/// quote is text, text after a closing quote joins the value, a quote that never closes runs to the end of the object).
/// A row larger than <see cref="Spec.InputSpec.MaxRecordBytes"/> (the parser's buffer grows to that and no further)
/// ends the object with one record naming the row (the rows before it were yielded): the parser cannot find the next
/// row after it.
/// </remarks>
public sealed class CsvInputReader : IInputReader
{
    public static CsvInputReader Instance { get; } = new();

    public const string MalformedCsv = "malformed_csv";

    public IAsyncEnumerable<InputRecord> ReadAsync(Stream content, InputObject input, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(content);
        ArgumentNullException.ThrowIfNull(input);
        return Decompression.ReadSniffedAsync(content, input, ReadRowsAsync, cancellationToken);
    }

    private static char? DelimiterOf(string source)
    {
        var name = source.ToLowerInvariant();
        return name.EndsWith(".tsv", StringComparison.Ordinal) || name.Contains(".tsv.", StringComparison.Ordinal) ? '\t' : null;
    }

    /// <summary>
    /// The stream with its first 64 KiB read ahead, so that the text reader's first read holds the header row whole
    /// (Sylvan tells the delimiter from the first block it is given, and a decompression sniffer's 4-byte prefix made that
    /// block "text" or "\uFEFFid;": no delimiter, so ',' — an Excel "CSV UTF-8" export with semicolons, or any header
    /// whose first name is 4 characters or longer, was one column per row), after a UTF-8 byte order mark if there is one.
    /// </summary>
    private static async Task<Stream> WithHeaderReadAheadAsync(Stream stream, CancellationToken cancellationToken)
    {
        var head = new byte[64 * 1024];
        var read = await stream.ReadAtLeastAsync(head, head.Length, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
        var bom = head.AsSpan(0, read).StartsWith((ReadOnlySpan<byte>)[0xEF, 0xBB, 0xBF]) ? 3 : 0;
        return new PrefixedStream(head.AsMemory(bom, read - bom), stream);
    }

    private static async IAsyncEnumerable<InputRecord> ReadRowsAsync(Stream stream, InputObject input, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var spec = input.Spec;
        var maxChars = Math.Max(1024, spec.MaxRecordBytes);
        // Bytes that are not UTF-8 become U+FFFD, and a row holding one is quarantined as invalid_utf8 at its own row (a
        // strict decoder fails a whole 64 KiB block, losing the rows before the bad byte in it).
        await using var body = await WithHeaderReadAheadAsync(stream, cancellationToken).ConfigureAwait(false);
        using var text = new StreamReader(body, new UTF8Encoding(false, throwOnInvalidBytes: false), detectEncodingFromByteOrderMarks: false,
            bufferSize: 64 * 1024, leaveOpen: true);
        var options = new CsvDataReaderOptions
        {
            Delimiter = DelimiterOf(input.Source),
            Comment = '\0', // '#' is a comment by default: text data starts lines with it (Markdown headings, hashtags)
            // Quotes as Python's csv module reads them: a quote inside a value, or text after a closing quote ("AGENT" K is …,
            // a PyPI summary), is kept as text. Strict RFC 4180 parsing stopped the object there, losing every later row
            // (/usr/share/package-lists/pypi.tsv: 13,511 of its 878,005 rows read).
            CsvStyle = CsvStyle.Lax,
            BufferSize = Math.Min(64 * 1024, maxChars),
            MaxBufferSize = maxChars,
            OwnsReader = false,
        };
        CsvDataReader? csv = null;
        Exception? failure = null;
        try
        {
            csv = await CsvDataReader.CreateAsync(text, options, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (!ReaderText.IsRequestedCancellation(e, cancellationToken))
        {
            failure = e;
        }
        if (csv is null)
        {
            yield return InputRecord.Quarantine(0, QuarantineReasons.CorruptObject, $"{input.Source}: the header row cannot be read ({Describe(failure!)})");
            yield break;
        }
        await using (csv.ConfigureAwait(false))
        {
            var columns = Enumerable.Range(0, csv.FieldCount).Select(csv.GetName).ToArray();
            var textColumn = Array.IndexOf(columns, spec.TextField);
            var idColumn = spec.IdField is null ? -1 : Array.IndexOf(columns, spec.IdField);
            var kept = Enumerable.Range(0, columns.Length).Where(i => i != textColumn && i != idColumn && InputFields.Keeps(spec, columns[i])).ToArray();
            long row = -1;
            while (true)
            {
                bool more;
                try
                {
                    more = await csv.ReadAsync(cancellationToken).ConfigureAwait(false);
                }
                catch (Exception e) when (!ReaderText.IsRequestedCancellation(e, cancellationToken))
                {
                    failure = e;
                    more = false;
                }
                if (failure is not null)
                {
                    var (reason, what) = failure switch
                    {
                        CsvRecordTooLargeException => (QuarantineReasons.RecordTooLarge, $"a row over the limit of {ReaderText.Num(spec.MaxRecordBytes)} bytes"),
                        _ => (QuarantineReasons.CorruptObject, Describe(failure)),
                    };
                    yield return InputRecord.Quarantine(row + 1, reason,
                        $"{input.Source}: row {ReaderText.Num(row + 2)}: {what}; the rows after it cannot be found, so the rest of the object is not read");
                    yield break;
                }
                if (!more) yield break;
                row++;
                yield return ToRecord(csv, row, columns, textColumn, idColumn, kept, spec);
            }
        }
    }

    private static InputRecord ToRecord(CsvDataReader csv, long row, string[] columns, int textColumn, int idColumn, int[] kept, Spec.InputSpec spec)
    {
        string Where() => $"row {ReaderText.Num(row + 1)}";
        var fields = csv.RowFieldCount;
        if (fields > columns.Length)
            return InputRecord.Quarantine(row, MalformedCsv, $"{Where()}: {fields} fields, the header has {columns.Length} (a quote left open, or a delimiter in an unquoted value?)");
        if (textColumn < 0)
            return InputRecord.Quarantine(row, QuarantineReasons.MissingTextField, $"{Where()}: no column '{spec.TextField}' (columns: {ColumnList(columns)})");
        if (textColumn >= fields)
            return InputRecord.Quarantine(row, QuarantineReasons.MissingTextField, $"{Where()}: {fields} fields, so no '{spec.TextField}' (column {textColumn + 1})");
        // Bytes that were not UTF-8 were read as U+FFFD: a value kept with one is that row's invalid_utf8.
        InputRecord NotUtf8(int column) => InputRecord.Quarantine(row, QuarantineReasons.InvalidUtf8, $"{Where()}: field '{columns[column]}' holds bytes that are not UTF-8 (read as U+FFFD)");
        string? id = null;
        if (spec.IdField is not null)
        {
            if (idColumn < 0)
                return InputRecord.Quarantine(row, QuarantineReasons.MissingIdField, $"{Where()}: no column '{spec.IdField}' (columns: {ColumnList(columns)})");
            id = idColumn < fields ? csv.GetString(idColumn) : "";
            if (id.Length == 0) return InputRecord.Quarantine(row, QuarantineReasons.MissingIdField, $"{Where()}: field '{spec.IdField}' is {ReaderText.EmptyId}");
            if (id.Contains('\uFFFD', StringComparison.Ordinal)) return NotUtf8(idColumn);
        }
        var text = csv.GetString(textColumn);
        if (text.Contains('\uFFFD', StringComparison.Ordinal)) return NotUtf8(textColumn);
        var values = kept.Length == 0 ? null : new FieldValue[kept.Length];
        for (var k = 0; k < kept.Length; k++)
        {
            var value = kept[k] < fields ? csv.GetString(kept[k]) : "";
            if (value.Contains('\uFFFD', StringComparison.Ordinal)) return NotUtf8(kept[k]);
            values![k] = new FieldValue(columns[kept[k]], value.Length == 0 ? null : value);
        }
        return InputRecord.Document(row, id, text) with { Fields = values };
    }

    private static string ColumnList(string[] columns) =>
        columns.Length <= 12 ? string.Join(", ", columns) : string.Join(", ", columns.Take(12)) + $", … {columns.Length - 12} more";

    private static string Describe(Exception e) => e is CsvFormatException ? $"malformed CSV: {e.Message}" : ReaderText.Describe(e);
}
