using System.Text;
using Curation.Pipelines.Model;
using Parquet;
using Parquet.Schema;

namespace Curation.Pipelines.Stages;

/// <summary>
/// A shard's ids and texts, one row group at a time, each text as its UTF-8 bytes as Parquet stores them (no string per
/// document), for the hash phase, which hashes the bytes (<see cref="Utf8LineUnits"/>). Ids are decoded: the keep order
/// compares them as strings. Kept inside line_dedup: <see cref="IO.ParquetTableReader"/> decodes every string. A null
/// text (which the shard writers never store) reads as empty, as the table reader reads it.
/// </summary>
internal static class ShardTexts
{
    /// <summary>
    /// Calls <paramref name="process"/> with each row group's ids and texts; the texts' bytes are valid during the call
    /// only (they lie in the reader's page buffers).
    /// </summary>
    public static async Task ForEachRowGroupAsync(Stream input, string key, Action<string[], ReadOnlyMemory<byte>[]> process, CancellationToken cancellationToken)
    {
        await using var reader = await ParquetReader.CreateAsync(input, cancellationToken: cancellationToken).ConfigureAwait(false);
        var fields = reader.Schema.Fields.OfType<DataField>().ToArray();
        DataField Find(string name) => fields.FirstOrDefault(f => f.Name == name)
            ?? throw new InvalidDataException($"{key}: the shard has no '{name}' column.");
        var (idField, textField) = (Find(Columns.Id), Find(Columns.Text));
        for (var group = 0; group < reader.RowGroupCount; group++)
        {
            using var rowGroup = reader.OpenRowGroupReader(group);
            var rows = checked((int)rowGroup.RowCount);
            var ids = await ReadBytesAsync(rowGroup, idField, rows, cancellationToken).ConfigureAwait(false);
            var idStrings = new string[rows];
            for (var i = 0; i < rows; i++) idStrings[i] = Encoding.UTF8.GetString(ids[i].Span);
            var texts = await ReadBytesAsync(rowGroup, textField, rows, cancellationToken).ConfigureAwait(false);
            foreach (var text in texts) Execution.LargeRecordRelease.Saw(text.Length);
            process(idStrings, texts);
        }
    }

    /// <summary>
    /// The values of string column <paramref name="field"/> as UTF-8 bytes, read through a byte-array twin of the field
    /// (same name and nullability, in a schema of its own: Parquet.Net matches a column by path and reads its levels
    /// from the field); a null value is empty.
    /// </summary>
    private static async Task<ReadOnlyMemory<byte>[]> ReadBytesAsync(ParquetRowGroupReader rowGroup, DataField field, int rows, CancellationToken cancellationToken)
    {
        var twin = new DataField(field.Name, typeof(byte[]), isNullable: field.IsNullable);
        _ = new ParquetSchema(twin);
        var values = new ReadOnlyMemory<byte>[rows];
        var levels = twin.MaxDefinitionLevel > 0 ? new int[rows] : null;
        await rowGroup.ReadRawAsync<ReadOnlyMemory<byte>>(twin, values, levels, null, cancellationToken).ConfigureAwait(false);
        if (levels is null) return values;
        // values holds the non-null values first, in order: spread them to their rows from the end.
        var next = levels.Count(level => level >= twin.MaxDefinitionLevel) - 1;
        for (var i = rows - 1; i >= 0; i--) values[i] = levels[i] >= twin.MaxDefinitionLevel ? values[next--] : default;
        return values;
    }
}
