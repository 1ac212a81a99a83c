using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;
using Curation.Pipelines.Spec;
using Parquet;
using Parquet.Schema;

namespace Curation.Pipelines.IO.Readers;

/// <summary>
/// Reads documents from a Parquet file: the text column (<see cref="Spec.InputSpec.TextField"/>) and the optional id
/// column, one row group at a time through Parquet.Net's column API (a row group is the unit held in memory, never
/// the whole file). <see cref="InputRecord.Position"/> is the 0-based row number in the file, and details say
/// "row N" with the same number (as pandas and DuckDB count rows). A part of a split file reads its row groups only.
/// </summary>
/// <remarks>
/// <para>
/// The text column may be a string column or a plain binary one (BYTE_ARRAY without the UTF-8 annotation, as some
/// writers leave strings), which must then be strict UTF-8 (else invalid_utf8). Per row: a null text →
/// missing_text_field; a text over <see cref="Spec.InputSpec.MaxRecordBytes"/> (UTF-8) → record_too_large; a null
/// id → missing_id_field. Ids may be strings, binary (UTF-8) or any integer type, written in invariant culture.
/// String columns are decoded by Parquet.Net, which replaces invalid UTF-8 with U+FFFD rather than report it.
/// </para>
/// <para>
/// The whole object is one corrupt_object record (naming it) when it is not a Parquet file, when the text or id
/// column is missing (the available columns are listed), nested or repeated, or of another type; a row group that
/// cannot be read ends the object with one corrupt_object record saying which, after the rows before it.
/// A stream that cannot seek is first copied to a temporary file (deleted on close).
/// </para>
/// </remarks>
public sealed class ParquetInputReader : IInputReader
{
    public static ParquetInputReader Instance { get; } = new();

    private static readonly Type[] IntegerTypes =
        [typeof(long), typeof(int), typeof(short), typeof(sbyte), typeof(ulong), typeof(uint), typeof(ushort), typeof(byte)];

    public async IAsyncEnumerable<InputRecord> ReadAsync(Stream content, InputObject input,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(content);
        ArgumentNullException.ThrowIfNull(input);
        var spec = input.Spec;
        var maxBytes = spec.MaxRecordBytes;
        Stream? spooled = null;
        ParquetReader? reader = null;
        try
        {
            string? problem = null;
            var seekable = content;
            if (!content.CanSeek)
            {
                try
                {
                    spooled = await SpoolAsync(content, cancellationToken).ConfigureAwait(false);
                    seekable = spooled;
                }
                catch (Exception e) when (!ReaderText.IsRequestedCancellation(e, cancellationToken))
                {
                    problem = $"{input.Source}: read failed while copying it to a temporary file ({ReaderText.Describe(e)})";
                }
            }
            if (problem is null)
            {
                try
                {
                    reader = await ParquetReader.CreateAsync(seekable, ParquetTemporalText.ReaderOptions, leaveStreamOpen: true, cancellationToken: cancellationToken).ConfigureAwait(false);
                }
                catch (Exception e) when (!ReaderText.IsRequestedCancellation(e, cancellationToken))
                {
                    problem = $"{input.Source}: not a Parquet file ({ReaderText.Describe(e)})";
                }
            }
            DataField? textField = null, idField = null;
            ParquetFieldColumns? extra = null;
            if (reader is not null)
            {
                (textField, problem) = FindColumn(reader.Schema, spec.TextField, "text", input.Source, IsTextType);
                if (problem is null && spec.IdField is not null)
                    (idField, problem) = FindColumn(reader.Schema, spec.IdField, "id", input.Source, t => IsTextType(t) || IntegerTypes.Contains(t));
                if (problem is null) extra = ParquetFieldColumns.For(reader.Schema, spec);
            }
            if (problem is not null)
            {
                yield return InputRecord.Quarantine(0, QuarantineReasons.CorruptObject, problem);
                yield break;
            }

            // A part (PartUnit.RowGroups) reads its row groups only, numbering rows as the whole file does.
            var part = input.Part is { Unit: IO.PartUnit.RowGroups } p ? p : null;
            long firstRow = part?.FirstRecord ?? 0;
            var groupEnd = part is null ? reader!.RowGroupCount : (int)Math.Min(part.End, reader!.RowGroupCount);
            for (var group = (int)(part?.Start ?? 0); group < groupEnd; group++)
            {
                RowGroupColumns columns;
                IReadOnlyList<FieldValue>[]? fields = null;
                Exception? failure = null;
                try
                {
                    columns = await ReadRowGroupAsync(reader, group, textField!, idField, cancellationToken).ConfigureAwait(false);
                    if (extra is { IsEmpty: false }) fields = await extra.ReadAsync(reader, seekable, group, cancellationToken).ConfigureAwait(false);
                }
                catch (Exception e) when (!ReaderText.IsRequestedCancellation(e, cancellationToken))
                {
                    failure = e;
                    columns = default;
                }
                if (failure is not null)
                {
                    var rows = TryRowCount(reader, group);
                    yield return InputRecord.Quarantine(firstRow, QuarantineReasons.CorruptObject,
                        $"{input.Source}: row group {group + 1} of {reader.RowGroupCount}{rows} cannot be read, after row {ReaderText.Num(firstRow - 1)} ({ReaderText.Describe(failure)})");
                    yield break;
                }
                for (var i = 0; i < columns.Count; i++)
                {
                    var record = ToRecord(columns, i, firstRow + i, spec.TextField, spec.IdField, maxBytes);
                    yield return fields is null || record.IsQuarantined ? record : record with { Fields = fields[i] };
                }
                firstRow += columns.Count;
            }
        }
        finally
        {
            if (reader is not null) await reader.DisposeAsync().ConfigureAwait(false);
            if (spooled is not null) await spooled.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Type hints of the columns a Parquet object keeps (<see cref="ParquetFieldColumns.TypeHints"/>), from its footer.</summary>
    internal static async Task<IReadOnlyList<FieldValue>> TypeHintsAsync(Stream content, InputSpec spec, CancellationToken cancellationToken)
    {
        Stream? spooled = content.CanSeek ? null : await SpoolAsync(content, cancellationToken).ConfigureAwait(false);
        try
        {
            await using var reader = await ParquetReader.CreateAsync(spooled ?? content, ParquetTemporalText.ReaderOptions, leaveStreamOpen: true, cancellationToken: cancellationToken).ConfigureAwait(false);
            return ParquetFieldColumns.For(reader.Schema, spec).TypeHints().ToArray();
        }
        finally
        {
            if (spooled is not null) await spooled.DisposeAsync().ConfigureAwait(false);
        }
    }

    private static string TryRowCount(ParquetReader reader, int group)
    {
        try
        {
            long start = 0;
            for (var g = 0; g < group; g++) start += reader.RowGroups[g].RowCount;
            var count = reader.RowGroups[group].RowCount;
            return $" (rows {ReaderText.Num(start)}–{ReaderText.Num(start + count - 1)})";
        }
        catch (Exception)
        {
            return "";
        }
    }

    // Parquet.Net 6 describes string columns read from a file as ReadOnlyMemory<char> and binary ones as
    // ReadOnlyMemory<byte>; both still read into string[] / byte[][].
    private static bool IsStringType(Type type) => type == typeof(string) || type == typeof(ReadOnlyMemory<char>);
    private static bool IsBinaryType(Type type) => type == typeof(byte[]) || type == typeof(ReadOnlyMemory<byte>);
    private static bool IsTextType(Type type) => IsStringType(type) || IsBinaryType(type);

    private static string TypeName(Type type) =>
        IsStringType(type) ? "strings" : IsBinaryType(type) ? "binary" : type.Name;

    private static (DataField? Field, string? Problem) FindColumn(ParquetSchema schema, string name, string role, string source, Func<Type, bool> accepts)
    {
        var field = schema.Fields.FirstOrDefault(f => f.Name == name);
        if (field is null)
        {
            var names = string.Join(", ", schema.Fields.Take(12).Select(f => f.Name));
            if (schema.Fields.Count > 12) names += $", … ({schema.Fields.Count} in all)";
            return (null, $"{source}: no {role} column '{name}' (columns: {(names.Length == 0 ? "none" : names)})");
        }
        if (field is not DataField data || data.IsArray || data.MaxRepetitionLevel > 0)
            return (null, $"{source}: {role} column '{name}' is a nested or repeated field ({field.SchemaType}), not a plain column");
        var type = Nullable.GetUnderlyingType(data.ClrType) ?? data.ClrType;
        if (!accepts(type))
            return (null, $"{source}: {role} column '{name}' holds {TypeName(type)}, not " + (role == "text" ? "strings" : "strings or integers"));
        return (data, null);
    }

    /// <summary>One row group's text and id values (texts as strings, or UTF-8 bytes for a binary column).</summary>
    private readonly record struct RowGroupColumns(int Count, string?[]? Texts, byte[]?[]? TextBytes, string?[]? Ids, byte[]?[]? IdBytes);

    private static async Task<RowGroupColumns> ReadRowGroupAsync(ParquetReader reader, int group, DataField textField, DataField? idField, CancellationToken cancellationToken)
    {
        using var rowGroup = reader.OpenRowGroupReader(group);
        var rows = checked((int)rowGroup.RowCount);
        string?[]? texts = null, ids = null;
        byte[]?[]? textBytes = null, idBytes = null;
        if (IsStringType(ElementType(textField)))
        {
            texts = new string?[rows];
            await rowGroup.ReadAsync(textField, texts.AsMemory(), cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        else
        {
            textBytes = new byte[]?[rows];
            await rowGroup.ReadAsync(textField, textBytes.AsMemory(), cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        if (idField is not null)
        {
            var type = ElementType(idField);
            if (IsStringType(type))
            {
                ids = new string?[rows];
                await rowGroup.ReadAsync(idField, ids.AsMemory(), cancellationToken: cancellationToken).ConfigureAwait(false);
            }
            else if (IsBinaryType(type))
            {
                idBytes = new byte[]?[rows];
                await rowGroup.ReadAsync(idField, idBytes.AsMemory(), cancellationToken: cancellationToken).ConfigureAwait(false);
            }
            else
            {
                ids = type switch
                {
                    _ when type == typeof(long) => await ReadIntegersAsync<long>(rowGroup, idField, rows, cancellationToken).ConfigureAwait(false),
                    _ when type == typeof(int) => await ReadIntegersAsync<int>(rowGroup, idField, rows, cancellationToken).ConfigureAwait(false),
                    _ when type == typeof(short) => await ReadIntegersAsync<short>(rowGroup, idField, rows, cancellationToken).ConfigureAwait(false),
                    _ when type == typeof(sbyte) => await ReadIntegersAsync<sbyte>(rowGroup, idField, rows, cancellationToken).ConfigureAwait(false),
                    _ when type == typeof(ulong) => await ReadIntegersAsync<ulong>(rowGroup, idField, rows, cancellationToken).ConfigureAwait(false),
                    _ when type == typeof(uint) => await ReadIntegersAsync<uint>(rowGroup, idField, rows, cancellationToken).ConfigureAwait(false),
                    _ when type == typeof(ushort) => await ReadIntegersAsync<ushort>(rowGroup, idField, rows, cancellationToken).ConfigureAwait(false),
                    _ when type == typeof(byte) => await ReadIntegersAsync<byte>(rowGroup, idField, rows, cancellationToken).ConfigureAwait(false),
                    _ => throw new NotSupportedException($"id column of type {type.Name}"), // FindColumn admits only the types above
                };
            }
        }
        return new RowGroupColumns(rows, texts, textBytes, ids, idBytes);
    }

    private static async Task<string?[]> ReadIntegersAsync<T>(ParquetRowGroupReader rowGroup, DataField field, int rows, CancellationToken cancellationToken)
        where T : struct, IFormattable
    {
        var result = new string?[rows];
        if (field.IsNullable)
        {
            var values = new T?[rows];
            await rowGroup.ReadAsync<T>(field, values.AsMemory(), cancellationToken: cancellationToken).ConfigureAwait(false);
            for (var i = 0; i < rows; i++) result[i] = values[i]?.ToString(null, CultureInfo.InvariantCulture);
        }
        else
        {
            var values = new T[rows];
            await rowGroup.ReadAsync<T>(field, values.AsMemory(), cancellationToken: cancellationToken).ConfigureAwait(false);
            for (var i = 0; i < rows; i++) result[i] = values[i].ToString(null, CultureInfo.InvariantCulture);
        }
        return result;
    }

    private static Type ElementType(DataField field) => Nullable.GetUnderlyingType(field.ClrType) ?? field.ClrType;

    private static InputRecord ToRecord(RowGroupColumns columns, int i, long row, string textName, string? idName, int maxBytes)
    {
        string? text;
        if (columns.Texts is not null)
        {
            text = columns.Texts[i];
            if (text is null) return MissingText(row, textName);
            if (text.Length > maxBytes / 3 && (text.Length > maxBytes || Encoding.UTF8.GetByteCount(text) > maxBytes))
                return TooLarge(row, Encoding.UTF8.GetByteCount(text), maxBytes);
        }
        else
        {
            var bytes = columns.TextBytes![i];
            if (bytes is null) return MissingText(row, textName);
            if (bytes.Length > maxBytes) return TooLarge(row, bytes.Length, maxBytes);
            var bad = ReaderText.FirstInvalidUtf8(bytes);
            if (bad >= 0)
                return InputRecord.Quarantine(row, QuarantineReasons.InvalidUtf8,
                    $"row {ReaderText.Num(row)}: column '{textName}' has invalid UTF-8 at byte {ReaderText.Num(bad)} (0x{bytes[bad]:X2}) near {ReaderText.Excerpt(bytes, bad)}");
            text = Encoding.UTF8.GetString(bytes);
        }

        string? id = null;
        if (idName is not null)
        {
            if (columns.Ids is not null)
            {
                id = columns.Ids[i];
            }
            else if (columns.IdBytes![i] is { } idBytes)
            {
                var bad = ReaderText.FirstInvalidUtf8(idBytes);
                if (bad >= 0)
                    return InputRecord.Quarantine(row, QuarantineReasons.InvalidUtf8,
                        $"row {ReaderText.Num(row)}: id column '{idName}' has invalid UTF-8 at byte {ReaderText.Num(bad)} (0x{idBytes[bad]:X2})");
                id = Encoding.UTF8.GetString(idBytes);
            }
            if (id is null)
                return InputRecord.Quarantine(row, QuarantineReasons.MissingIdField, $"row {ReaderText.Num(row)}: id column '{idName}' is null");
            if (id.Length == 0)
                return InputRecord.Quarantine(row, QuarantineReasons.MissingIdField, $"row {ReaderText.Num(row)}: id column '{idName}' is {ReaderText.EmptyId}");
        }
        return InputRecord.Document(row, id, text);
    }

    private static InputRecord MissingText(long row, string textName) =>
        InputRecord.Quarantine(row, QuarantineReasons.MissingTextField, $"row {ReaderText.Num(row)}: text column '{textName}' is null");

    private static InputRecord TooLarge(long row, long bytes, int maxBytes) =>
        InputRecord.Quarantine(row, QuarantineReasons.RecordTooLarge, $"row {ReaderText.Num(row)}: {ReaderText.Num(bytes)} bytes > limit {ReaderText.Num(maxBytes)}");

    /// <summary>Copies a stream that cannot seek to a temporary file that deletes itself when closed.</summary>
    private static async Task<Stream> SpoolAsync(Stream content, CancellationToken cancellationToken)
    {
        var path = Path.Combine(Path.GetTempPath(), $"curation-input-{Guid.NewGuid():N}.parquet");
        var file = new FileStream(path, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, 64 * 1024,
            FileOptions.Asynchronous | FileOptions.DeleteOnClose);
        try
        {
            await content.CopyToAsync(file, 1024 * 1024, cancellationToken).ConfigureAwait(false);
            await file.FlushAsync(cancellationToken).ConfigureAwait(false);
            file.Position = 0;
            return file;
        }
        catch
        {
            await file.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }
}
