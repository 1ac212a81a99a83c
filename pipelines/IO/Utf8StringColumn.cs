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
/// byte-array twin (<see cref="ReadAsync"/>): Parquet.Net's own string read decodes each value into a char array and
/// copies that into a string.
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
    /// The values of the string column <paramref name="field"/> of a row group (null where stored as null): each value's
    /// UTF-8 bytes once, decoded into its string (invalid sequences replaced, as Parquet.Net's own decoder does).
    /// </summary>
    public static async Task<string?[]> ReadAsync(ParquetRowGroupReader rowGroup, DataField field, int rows, CancellationToken cancellationToken)
    {
        var twin = TwinOf(field);
        var values = new ReadOnlyMemory<byte>[rows];
        var levels = twin.MaxDefinitionLevel > 0 ? new int[rows] : null;
        await rowGroup.ReadRawAsync<ReadOnlyMemory<byte>>(twin, values, levels, null, cancellationToken).ConfigureAwait(false);
        var strings = new string?[rows];
        var next = 0; // values holds the non-null values only, in order
        for (var i = 0; i < rows; i++)
        {
            if (levels is not null && levels[i] < twin.MaxDefinitionLevel) continue;
            strings[i] = Encoding.UTF8.GetString(values[next].Span);
            values[next++] = default; // the bytes of a big value are garbage as soon as it is decoded
        }
        return strings;
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

    /// <summary>Writes <paramref name="values"/> (null where the field is nullable) from one pooled buffer of their UTF-8.</summary>
    public async Task WriteAsync(ParquetRowGroupWriter rowGroup, IReadOnlyList<string?> values, CancellationToken cancellationToken)
    {
        var total = 0L;
        var largest = 0;
        foreach (var value in values)
        {
            if (value is null) continue;
            var bytes = Encoding.UTF8.GetByteCount(value);
            Execution.LargeRecordRelease.Saw(bytes);
            total += bytes;
            largest = Math.Max(largest, bytes);
        }
        // The writer reads its options' codec when it starts the column chunk: switched for this chunk only.
        var codec = _options.CompressionMethod;
        if (largest >= UncompressedFrom) _options.CompressionMethod = CompressionMethod.None;
        try
        {
            await WriteAsync(rowGroup, values, total, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _options.CompressionMethod = codec;
        }
    }

    private async Task WriteAsync(ParquetRowGroupWriter rowGroup, IReadOnlyList<string?> values, long total, CancellationToken cancellationToken)
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
