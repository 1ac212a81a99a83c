using System.Text;
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
/// </summary>
internal sealed class Utf8StringColumn
{
    private readonly DataField _bytes;

    /// <summary>For <paramref name="field"/>, a string field of the writer's schema.</summary>
    public Utf8StringColumn(DataField field)
    {
        // Parquet.Net checks a written field by name against the file's schema, and its levels from the field itself:
        // a byte-array twin of the same name and nullability, attached to a schema of its own, writes the same column.
        _bytes = new DataField(field.Name, typeof(byte[]), isNullable: field.IsNullable);
        _ = new ParquetSchema(_bytes);
    }

    /// <summary>Writes <paramref name="values"/> (null where the field is nullable) from one pooled buffer of their UTF-8.</summary>
    public async Task WriteAsync(ParquetRowGroupWriter rowGroup, IReadOnlyList<string?> values, CancellationToken cancellationToken)
    {
        var total = 0L;
        foreach (var value in values)
        {
            if (value is null) continue;
            var bytes = Encoding.UTF8.GetByteCount(value);
            Execution.LargeRecordRelease.Saw(bytes);
            total += bytes;
        }
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
