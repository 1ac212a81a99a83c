using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;

namespace Curation.Pipelines.IO.Readers;

/// <summary>
/// Reads JSON Lines, plain, gzip-compressed (<see cref="StrictGzipStream"/>: truncation and corruption are detected,
/// multi-member files are read whole) or zstd-compressed (ZstdSharp: every frame of a multi-frame file; a truncated
/// frame or bad data is detected), streaming through one pooled buffer. A whole object read as plain JSON Lines whose
/// first bytes are gzip or zstd is decompressed all the same (a compressed file named <c>.jsonl</c>), and one in UTF-16
/// or UTF-32 with a byte order mark (PowerShell 5's default) is read as UTF-8. An object that is
/// one JSON array instead (<c>[{…}, {…}]</c>, a <c>.json</c> as <c>json.dump</c> writes it) is read element by element
/// (<see cref="JsonArraySplitter"/>) under the same record rules, "element N" in place of "line N".
/// </summary>
/// <remarks>
/// <para>
/// One record per line; lines end at '\n' with an optional '\r' before it; a UTF-8 byte order mark at the start is
/// ignored. <see cref="InputRecord.Position"/> is the 0-based physical line number, and details say "line N" 1-based,
/// as editors count. Lines holding only whitespace are not records: they are skipped and not reported (JSONL writers
/// often end with one), so positions may have gaps.
/// </para>
/// <para>
/// Each other line is, in this order: longer than <see cref="Spec.InputSpec.MaxRecordBytes"/> → record_too_large
/// (skipped unread, never held in memory); not strict UTF-8 → invalid_utf8 (with the offset of the first bad byte);
/// not one JSON object (syntax error, another type, trailing data) → malformed_json (the parser's message); no text
/// field → missing_text_field (the fields it has are listed); a text that is not a string (null included) →
/// text_not_string; an id field configured and absent or null, or neither a string nor a number →
/// missing_id_field. A number id is kept as its JSON text (<c>123</c> → "123"). Only top-level fields are looked at;
/// when a field occurs twice, the last one counts (as in Python's json). Escaped lone surrogates (<c>"\ud800"</c>)
/// in the text or id are not valid Unicode: invalid_utf8.
/// </para>
/// <para>
/// A read failure of the object (truncated or corrupt gzip or zstd, I/O error) ends the object with one corrupt_object record
/// naming it and the last line read completely; the records before it were yielded normally.
/// </para>
/// </remarks>
public sealed class JsonlReader(StreamCompression compression) : IInputReader
{
    public static JsonlReader Plain { get; } = new(StreamCompression.None);
    public static JsonlReader Gzip { get; } = new(StreamCompression.Gzip);
    public static JsonlReader Zstd { get; } = new(StreamCompression.Zstd);

    public StreamCompression Compression { get; } = compression;

    public bool IsGzip => Compression == StreamCompression.Gzip;

    /// <summary>A compressed stream: it cannot be read from the middle, so it is never cut into byte ranges.</summary>
    public bool IsCompressed => Compression != StreamCompression.None;

    public async IAsyncEnumerable<InputRecord> ReadAsync(Stream content, InputObject input,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(content);
        ArgumentNullException.ThrowIfNull(input);
        var fields = new FieldNames(input.Spec.TextField, input.Spec.IdField, input.Spec);
        var maxBytes = input.Spec.MaxRecordBytes;
        var source = Decompression.Open(content, Compression);
        Stream? sniffed = null;
        try
        {
            // A JSON array instead of lines (json.dump's .json files): its elements are the records, by the same rules
            // ("element N" for "line N"). A whole plain object whose first bytes are gzip or zstd is read decompressed,
            // one in UTF-16 as UTF-8.
            var (opened, inflated, peekFailure) = await OpenAsync(source, maxBytes, input.Part, cancellationToken).ConfigureAwait(false);
            sniffed = inflated;
            if (peekFailure is not null)
            {
                yield return InputRecord.Quarantine(0, QuarantineReasons.CorruptObject, CorruptDetail(input.Source, 0, peekFailure));
                yield break;
            }
            var (splitter, unit) = opened!.Value;
            using var records = splitter;
            while (true)
            {
                bool more;
                Exception? failure = null;
                try
                {
                    more = await records.MoveNextAsync(cancellationToken).ConfigureAwait(false);
                }
                catch (Exception e) when (!ReaderText.IsRequestedCancellation(e, cancellationToken))
                {
                    failure = e;
                    more = false;
                }
                if (failure is not null)
                {
                    yield return InputRecord.Quarantine(records.Read, QuarantineReasons.CorruptObject, CorruptDetail(input.Source, records.Read, failure, unit));
                    yield break;
                }
                if (!more) yield break;

                if (records.IsTooLong)
                {
                    yield return InputRecord.Quarantine(records.Index, QuarantineReasons.RecordTooLarge,
                        $"{unit} {ReaderText.Num(records.Index + 1)}: {ReaderText.Num(records.Bytes)} bytes > limit {ReaderText.Num(maxBytes)}");
                    continue;
                }
                var record = ParseLine(records.Current.Span, records.Index, fields, unit);
                if (record is { } r) yield return r;
            }
        }
        finally
        {
            if (IsCompressed) await source.DisposeAsync().ConfigureAwait(false);
            if (sniffed is not null) await sniffed.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>
    /// The record splitter for the object (<see cref="RecordSplitters.OpenAsync"/>), or why its first bytes could not be
    /// read. A whole object (no byte part) is read through <c>Inflated</c>, which the caller disposes: decompressed when
    /// its first bytes are gzip or zstd, as UTF-8 when its text starts with a UTF-16 or UTF-32 byte order mark (a
    /// <c>.jsonl.gz</c> of UTF-16 text too).
    /// </summary>
    private static async Task<((IRecordSplitter Splitter, string Unit)? Opened, Stream? Inflated, Exception? Failure)> OpenAsync(Stream source, int maxBytes,
        ObjectPart? part, CancellationToken cancellationToken)
    {
        Stream? inflated = null;
        try
        {
            if (part is null)
            {
                (inflated, _) = await Decompression.SniffAsync(source, cancellationToken).ConfigureAwait(false);
                source = inflated;
            }
            return (await RecordSplitters.OpenAsync(source, maxBytes, part, cancellationToken).ConfigureAwait(false), inflated, null);
        }
        catch (Exception e) when (!ReaderText.IsRequestedCancellation(e, cancellationToken))
        {
            if (inflated is not null) await inflated.DisposeAsync().ConfigureAwait(false);
            return (null, null, e);
        }
    }

    internal static string CorruptDetail(string source, long linesRead, Exception failure, string unit = "line")
    {
        var where = linesRead == 0 ? $"before {unit} 1" : $"after {unit} {ReaderText.Num(linesRead)}";
        return failure switch
        {
            FormatException f => $"{source}: {f.Message}", // a JSON array that breaks off (JsonArraySplitter)
            _ when Decompression.Explain(failure) is { } stream => $"{source}: {stream.What} {where} ({stream.Message})",
            _ => $"{source}: read failed {where} ({ReaderText.Describe(failure)})",
        };
    }

    /// <summary>The field names as UTF-8, to compare with property names without decoding them.</summary>
    internal sealed class FieldNames(string textField, string? idField, Spec.InputSpec? keep = null)
    {
        /// <summary>The spec choosing the fields kept besides text and id (metadata passthrough); null: none kept.</summary>
        public Spec.InputSpec? Keep { get; } = keep is not null && InputFields.KeepsAny(keep) ? keep : null;

        public string Text { get; } = textField;
        public string? Id { get; } = idField;
        public byte[] TextUtf8 { get; } = Encoding.UTF8.GetBytes(textField);
        public byte[]? IdUtf8 { get; } = idField is null ? null : Encoding.UTF8.GetBytes(idField);

        private readonly List<(byte[] Utf8, string Name, bool Kept)> _names = [];

        /// <summary>
        /// The name of the property the reader is on, if <see cref="Keep"/> keeps it; null otherwise. Names seen before
        /// are matched as bytes, so a corpus' recurring field names are decoded once per object, not once per line.
        /// </summary>
        public string? KeptName(ref Utf8JsonReader reader)
        {
            foreach (var (utf8, name, kept) in _names)
                if (reader.ValueTextEquals(utf8)) return kept ? name : null;
            var decoded = reader.GetString()!;
            var keep = InputFields.Keeps(Keep!, decoded);
            if (_names.Count < 64) _names.Add((Encoding.UTF8.GetBytes(decoded), decoded, keep));
            return keep ? decoded : null;
        }
    }

    /// <summary>One line to a document, a quarantined record, or nothing (blank line).</summary>
    internal static InputRecord? ParseLine(ReadOnlySpan<byte> line, long index, FieldNames fields, string unit = "line")
    {
        if (ReaderText.IsBlank(line)) return null;
        var bad = ReaderText.FirstInvalidUtf8(line);
        if (bad >= 0)
            return InputRecord.Quarantine(index, QuarantineReasons.InvalidUtf8,
                $"{unit} {ReaderText.Num(index + 1)}: invalid UTF-8 at byte {ReaderText.Num(bad)} of the {unit} (0x{line[bad]:X2}) near {ReaderText.Excerpt(line, bad)}" +
                (index == 0 && (line.StartsWith((ReadOnlySpan<byte>)[0xFF, 0xFE]) || line.StartsWith((ReadOnlySpan<byte>)[0xFE, 0xFF]))
                    ? ": the object starts with a UTF-16 byte-order mark; JSON Lines are UTF-8 (convert it: iconv -f UTF-16 -t UTF-8)" : ""));

        string? text = null, id = null;
        List<FieldValue>? kept = null;
        JsonTokenType textType = JsonTokenType.None, idType = JsonTokenType.None;
        var reader = new Utf8JsonReader(line);
        try
        {
            reader.Read();
            if (reader.TokenType != JsonTokenType.StartObject)
                return InputRecord.Quarantine(index, QuarantineReasons.MalformedJson,
                    $"{unit} {ReaderText.Num(index + 1)}: a JSON {Describe(reader.TokenType)}, not an object: {ReaderText.Excerpt(line)}");
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var isText = reader.ValueTextEquals(fields.TextUtf8);
                var isId = fields.IdUtf8 is not null && reader.ValueTextEquals(fields.IdUtf8);
                var name = !isText && !isId && fields.Keep is not null ? fields.KeptName(ref reader) : null;
                reader.Read();
                if (name is not null)
                {
                    (kept ??= []).Add(new FieldValue(name, FieldValueOf(ref reader, line)));
                    continue;
                }
                if (isText)
                {
                    textType = reader.TokenType;
                    text = textType == JsonTokenType.String ? reader.GetString() : null;
                }
                if (isId)
                {
                    idType = reader.TokenType;
                    id = idType switch
                    {
                        JsonTokenType.String => reader.GetString(),
                        JsonTokenType.Number => Encoding.UTF8.GetString(reader.ValueSpan),
                        _ => null,
                    };
                }
                reader.Skip(); // past a nested object or array; no-op for other values
            }
            // Anything after the object but whitespace makes the reader throw.
            while (reader.Read()) { }
        }
        catch (JsonException e)
        {
            var position = e.BytePositionInLine ?? 0;
            return InputRecord.Quarantine(index, QuarantineReasons.MalformedJson,
                $"{unit} {ReaderText.Num(index + 1)}: {ParserMessage(e)} at byte {ReaderText.Num(position)}: {ReaderText.Excerpt(line, position)}");
        }
        catch (InvalidOperationException e)
        {
            // GetString on an escaped lone surrogate: the JSON is well-formed, the text is not valid Unicode.
            var field = textType == JsonTokenType.String && text is null ? fields.Text : fields.Id;
            return InputRecord.Quarantine(index, QuarantineReasons.InvalidUtf8,
                $"{unit} {ReaderText.Num(index + 1)}: field '{field}' is not valid Unicode ({e.Message})");
        }

        if (textType == JsonTokenType.None)
            return InputRecord.Quarantine(index, QuarantineReasons.MissingTextField,
                $"{unit} {ReaderText.Num(index + 1)}: no field '{fields.Text}' (fields: {ListFields(line)}){NestedHint(fields.Text, "text")}{ArrayHint(line)}");
        if (textType != JsonTokenType.String)
            return InputRecord.Quarantine(index, QuarantineReasons.TextNotString,
                $"{unit} {ReaderText.Num(index + 1)}: field '{fields.Text}' is {Article(textType)}, not a string");
        if (fields.Id is not null && id is null)
            return InputRecord.Quarantine(index, QuarantineReasons.MissingIdField, idType == JsonTokenType.None
                ? $"{unit} {ReaderText.Num(index + 1)}: no field '{fields.Id}' (fields: {ListFields(line)}){NestedHint(fields.Id, "id")}"
                : $"{unit} {ReaderText.Num(index + 1)}: field '{fields.Id}' is {Article(idType)}, not a string or number");
        if (id is { Length: 0 })
            return InputRecord.Quarantine(index, QuarantineReasons.MissingIdField, $"{unit} {ReaderText.Num(index + 1)}: field '{fields.Id}' is {ReaderText.EmptyId}");
        return InputRecord.Document(index, id, text!) with { Fields = kept };
    }

    /// <summary>The value the reader is on as a field value; a nested one is skipped past and kept as its JSON text.</summary>
    private static object? FieldValueOf(ref Utf8JsonReader reader, ReadOnlySpan<byte> line)
    {
        switch (reader.TokenType)
        {
            case JsonTokenType.String: return reader.GetString();
            case JsonTokenType.Number:
                if (reader.TryGetInt64(out var integer)) return integer;
                // An integer past int64 (a uint64 hash, a 128-bit id) is kept digit for digit, as the Parquet reader keeps a
                // uint64 past int64: as a double it lost its last digits (123456789012345678901234567890 → 1.2345678901234568E+29).
                if (reader.ValueSpan.IndexOfAny(".eE"u8) < 0) return new RawJson(Encoding.UTF8.GetString(reader.ValueSpan));
                return reader.TryGetDouble(out var number) && double.IsFinite(number) ? number : new RawJson(Encoding.UTF8.GetString(reader.ValueSpan));
            case JsonTokenType.True: return true;
            case JsonTokenType.False: return false;
            case JsonTokenType.Null: return null;
            default:
                var start = (int)reader.TokenStartIndex;
                reader.Skip();
                return new RawJson(Encoding.UTF8.GetString(line[start..(int)reader.BytesConsumed]));
        }
    }

    /// <summary>System.Text.Json's message without its "LineNumber: 0 | BytePositionInLine: n." tail (we say it ourselves).</summary>
    private static string ParserMessage(JsonException e)
    {
        var message = e.Message;
        var cut = message.IndexOf(" LineNumber:", StringComparison.Ordinal);
        if (cut > 0) message = message[..cut];
        message = message.TrimEnd('.', ' ');
        return message.Length > 120 ? message[..120] + "…" : message;
    }

    /// <summary>The object's top-level field names, for the detail of a missing field (error path only).</summary>
    /// <summary>For a dotted field name: fields are top-level names, not paths into nested objects; how to flatten the records.</summary>
    private static string NestedHint(string name, string flat)
    {
        var dot = name.IndexOf('.');
        return dot <= 0 || dot == name.Length - 1 ? ""
            : $"; fields are read at the top level only, so '{name}' is not a path into '{name[..dot]}': flatten the records first " +
              $"(jq -c '.{flat} = .{name}') and name '{flat}'";
    }

    /// <summary>
    /// For a record without the text field whose field holds an array of objects (a whole export as one object, such as
    /// <c>{"data": [{…}, …]}</c>): how to make its records JSON Lines. Fields are read at the top level only.
    /// </summary>
    private static string ArrayHint(ReadOnlySpan<byte> line)
    {
        try
        {
            var reader = new Utf8JsonReader(line);
            reader.Read();
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var name = reader.GetString() ?? "";
                reader.Read();
                if (reader.TokenType != JsonTokenType.StartArray) { reader.Skip(); continue; }
                long count = 0;
                var objects = true;
                while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                {
                    count++;
                    objects &= reader.TokenType == JsonTokenType.StartObject;
                    reader.Skip();
                }
                if (count == 0 || !objects) continue;
                var path = JsonSerializer.Serialize(name);
                return $"; its field {path} holds an array of {ReaderText.Num(count)} object{(count == 1 ? "" : "s")}, which are not read as records: " +
                       $"write them as JSON Lines first (jq -c '.[{path}][]' file.json > file.jsonl)";
            }
        }
        catch (JsonException)
        {
            // Not the record's problem to explain.
        }
        return "";
    }

    private static string ListFields(ReadOnlySpan<byte> line)
    {
        var names = new StringBuilder();
        var count = 0;
        try
        {
            var reader = new Utf8JsonReader(line);
            reader.Read();
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (count == 8 || names.Length > 80) { names.Append(", …"); break; }
                if (count++ > 0) names.Append(", ");
                var name = reader.GetString() ?? "";
                names.Append(name.Length > 40 ? name[..40] + "…" : name);
                reader.Read();
                reader.Skip();
            }
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            names.Append(" …"); // a name that is not valid Unicode; the line parsed before, so this is rare
        }
        return count == 0 ? "none" : names.ToString();
    }

    private static string Describe(JsonTokenType type) => type switch
    {
        JsonTokenType.StartArray => "array",
        JsonTokenType.String => "string",
        JsonTokenType.Number => "number",
        JsonTokenType.True or JsonTokenType.False => "boolean",
        JsonTokenType.Null => "null",
        _ => type.ToString(),
    };

    private static string Article(JsonTokenType type) => type switch
    {
        JsonTokenType.StartObject => "an object",
        JsonTokenType.StartArray => "an array",
        JsonTokenType.Number => "a number",
        JsonTokenType.True or JsonTokenType.False => "a boolean",
        JsonTokenType.Null => "null",
        _ => type.ToString(),
    };
}

/// <summary>How an input object's bytes are compressed (the whole stream, not per record as in a .warc.gz).</summary>
public enum StreamCompression { None, Gzip, Zstd }
