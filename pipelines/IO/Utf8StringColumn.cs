using System.Text;
using Curation.Pipelines.Model;
using Parquet;
using Parquet.Schema;

namespace Curation.Pipelines.IO;

/// <summary>
/// Writes a top-level string column as its UTF-8 bytes, so the file holds no min/max statistics for it. Parquet.Net 6.1
/// has no option to turn statistics off or truncate them: for a string column it puts the smallest and largest value,
/// whole, four times in the data page header and four times in the footer (an 8 MiB document made a 71 MiB shard and
/// ~0.8 GiB of peak memory). For byte-array values it computes none. The file's schema still declares the column a UTF-8
/// string (the writer was created with the string field), and PLAIN-encoded bytes are the same either way (a length,
/// then UTF-8), so every reader sees the same strings; the column chunk's statistics keep only the null count.
/// A column chunk holding a value of <see cref="UncompressedFrom"/> or more is written uncompressed (the codec is per
/// column chunk in Parquet): Parquet.Net's Snappy path copies a page 3–4 times each way (a growing stream and an array
/// of the compressed page, the pooled output), where an uncompressed page is copied once. Reading goes through the same
/// byte-array twin (<see cref="ReadAsync"/>) and keeps the values as their UTF-8 (<see cref="Utf8Values"/>), decoded only
/// when something asks for the strings: a pass that only selects rows or adds columns (the output's deferred apply, every
/// dedup's apply, the drops copy) writes the stored bytes back (<see cref="WriteAsync(ParquetRowGroupWriter, Column{string}, CancellationToken)"/>) without making a string.
/// </summary>
internal sealed class Utf8StringColumn
{
    /// <summary>The UTF-8 size of one value from which its column chunk is written without compression.</summary>
    public const int UncompressedFrom = 16 * 1024 * 1024;

    private readonly DataField _bytes;
    private readonly ParquetOptions _options;

    /// <summary>For <paramref name="field"/>, a string field of the writer's schema; <paramref name="options"/> are the writer's.</summary>
    public Utf8StringColumn(DataField field, ParquetOptions options)
    {
        _bytes = TwinOf(field);
        _options = options;
    }

    /// <summary>
    /// Parquet.Net checks a field by its path against the file's schema, and its levels from the field itself: a
    /// byte-array twin of the same name and nullability, attached to a schema of its own, writes and reads the same column.
    /// </summary>
    private static DataField TwinOf(DataField field)
    {
        var bytes = new DataField(field.Name, typeof(byte[]), isNullable: field.IsNullable);
        _ = new ParquetSchema(bytes);
        return bytes;
    }

    /// <summary>
    /// Reads the string column <paramref name="field"/> of a row group into <paramref name="target"/> as its UTF-8 bytes,
    /// undecoded (<see cref="Utf8Values"/>: decoded once, when something asks for the strings; invalid sequences replaced,
    /// as Parquet.Net's own decoder does); a null value becomes an empty one when <paramref name="nullAsEmpty"/>. A row
    /// group of over 2 GB of one column's text is decoded value by value at once.
    /// </summary>
    public static async Task ReadAsync(ParquetRowGroupReader rowGroup, DataField field, int rows, Column<string> target, bool nullAsEmpty,
        CancellationToken cancellationToken)
    {
        var twin = TwinOf(field);
        var values = new ReadOnlyMemory<byte>[rows];
        var levels = twin.MaxDefinitionLevel > 0 ? new int[rows] : null;
        await rowGroup.ReadRawAsync<ReadOnlyMemory<byte>>(twin, values, levels, null, cancellationToken).ConfigureAwait(false);
        foreach (var value in values) Execution.LargeRecordRelease.Saw(value.Length);
        if (Utf8Values.CopyOf(values, rows, levels, twin.MaxDefinitionLevel, nullAsEmpty) is { } utf8)
        {
            target.SetUtf8(utf8);
            return;
        }
        var strings = target.List;
        var next = 0; // values holds the non-null values only, in order
        for (var i = 0; i < rows; i++)
        {
            if (levels is not null && levels[i] < twin.MaxDefinitionLevel)
            {
                strings.Add(nullAsEmpty ? string.Empty : null!);
                continue;
            }
            strings.Add(Encoding.UTF8.GetString(values[next].Span));
            values[next++] = default; // the bytes of a big value are garbage as soon as it is decoded
        }
    }

    /// <summary>The UTF-8 bytes of a column's values: counted on its strings, or summed where it still holds the bytes it was read as.</summary>
    public static long Utf8Bytes(Column<string> column)
    {
        if (column.Utf8 is { } utf8) return utf8.TotalBytes();
        var total = 0L;
        foreach (var value in column.List) if (value is not null) total += Encoding.UTF8.GetByteCount(value);
        return total;
    }

    /// <summary>
    /// Replaces, in place, every string of <paramref name="batch"/>'s string and list-of-string columns by the string a reader
    /// of the stored file sees: a lone surrogate is stored as U+FFFD (UTF-8 has none). Valid text is left as it is (one
    /// vectorised scan for surrogates); for a pass that takes rows as they would be written instead of reading them back.
    /// </summary>
    public static void AsStored(RecordBatch batch)
    {
        foreach (var column in batch.AllColumns)
        {
            if (column is Column<string> strings)
            {
                if (strings.Utf8 is not null) continue; // still the stored bytes
                var list = strings.List;
                for (var i = 0; i < list.Count; i++) list[i] = AsStored(list[i]);
            }
            else if (column is Column<List<string?>?> lists)
            {
                foreach (var list in lists.List)
                    if (list is not null)
                        for (var i = 0; i < list.Count; i++) list[i] = AsStored(list[i]);
            }
        }
    }

    [return: System.Diagnostics.CodeAnalysis.NotNullIfNotNull(nameof(value))]
    private static string? AsStored(string? value) =>
        value is null || value.AsSpan().IndexOfAnyInRange('\uD800', '\uDFFF') < 0 ? value : Encoding.UTF8.GetString(Encoding.UTF8.GetBytes(value));

    /// <summary>
    /// Writes the values of <paramref name="column"/> (null where the field is nullable): the UTF-8 it was read as when it
    /// was never decoded, else its strings' UTF-8 from one pooled buffer.
    /// </summary>
    public async Task WriteAsync(ParquetRowGroupWriter rowGroup, Column<string> column, CancellationToken cancellationToken)
    {
        var utf8 = column.Utf8;
        var values = utf8 is null ? column.List : null;
        var total = 0L;
        var largest = 0;
        for (var i = 0; i < column.Count; i++)
        {
            int bytes;
            if (utf8 is not null) bytes = utf8.Span(i).Length;
            else if (values![i] is { } value) bytes = Encoding.UTF8.GetByteCount(value);
            else continue;
            Execution.LargeRecordRelease.Saw(bytes);
            total += bytes;
            largest = Math.Max(largest, bytes);
        }
        // The writer reads its options' codec when it starts the column chunk: switched for this chunk only.
        var codec = _options.CompressionMethod;
        if (largest >= UncompressedFrom) _options.CompressionMethod = CompressionMethod.None;
        try
        {
            if (utf8 is not null)
            {
                var slices = new ReadOnlyMemory<byte>?[utf8.Count];
                for (var i = 0; i < slices.Length; i++) slices[i] = utf8.Memory(i);
                await rowGroup.WriteAsync<ReadOnlyMemory<byte>>(_bytes, slices, cancellationToken: cancellationToken).ConfigureAwait(false);
            }
            else await WriteAsync(rowGroup, values!, total, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _options.CompressionMethod = codec;
        }
    }

    private async Task WriteAsync(ParquetRowGroupWriter rowGroup, List<string> values, long total, CancellationToken cancellationToken)
    {
        var slices = new ReadOnlyMemory<byte>?[values.Count];
        if (total > Array.MaxLength)
        {
            // Past one array's reach (a row group of over 2 GB of text): one array per value.
            for (var i = 0; i < slices.Length; i++) slices[i] = values[i] is { } value ? Encoding.UTF8.GetBytes(value) : null;
            await rowGroup.WriteAsync<ReadOnlyMemory<byte>>(_bytes, slices, cancellationToken: cancellationToken).ConfigureAwait(false);
            return;
        }
        var buffer = ScratchArray.Rent<byte>((int)Math.Max(1, total));
        try
        {
            var at = 0;
            for (var i = 0; i < slices.Length; i++)
            {
                if (values[i] is not { } value) continue;
                var length = Encoding.UTF8.GetBytes(value, buffer.AsSpan(at));
                slices[i] = buffer.AsMemory(at, length);
                at += length;
            }
            await rowGroup.WriteAsync<ReadOnlyMemory<byte>>(_bytes, slices, cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            ScratchArray.Return(buffer);
        }
    }
}
