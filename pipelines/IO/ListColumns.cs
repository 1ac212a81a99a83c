using Parquet;
using Parquet.Data;
using Parquet.Schema;

namespace Curation.Pipelines.IO;

/// <summary>
/// Parquet LIST columns of one primitive (string, int64, double, bool) with their definition and repetition levels
/// written and read explicitly, so a null list, an empty list and a null element stay three different things (as
/// DuckDB, pyarrow and HF datasets read them). Written lists and elements are both optional: definition level 0 = null
/// list, 1 = empty list, 2 = null element, 3 = a value; repetition level 0 starts a row's list. Read lists may come from
/// other writers with a required list or required elements: the levels are taken from the element field.
/// </summary>
internal static class ListColumns
{
    public const string ElementName = "element";

    private const int NullList = 0, EmptyList = 1, NullElement = 2, Value = 3;

    /// <summary>The list column type (<c>List&lt;T?&gt;</c>) for a list's element field, or null when it is not one we hold.</summary>
    public static Type? ElementType(DataField item)
    {
        if (item.MaxRepetitionLevel != 1) return null;
        var type = Nullable.GetUnderlyingType(item.ClrType) ?? item.ClrType;
        return type switch
        {
            _ when type == typeof(ReadOnlyMemory<char>) || type == typeof(string) => typeof(List<string?>),
            _ when type == typeof(long) => typeof(List<long?>),
            _ when type == typeof(double) => typeof(List<double?>),
            _ when type == typeof(bool) => typeof(List<bool?>),
            _ => null,
        };
    }

    public static async Task WriteAsync<T, TValue>(ParquetRowGroupWriter rowGroup, DataField element, List<List<T>?> rows, Func<T, TValue> value,
        CancellationToken cancellationToken) where TValue : struct
    {
        var levels = 0;
        var count = 0;
        foreach (var list in rows)
        {
            levels += list is null || list.Count == 0 ? 1 : list.Count;
            if (list is not null) foreach (var item in list) if (item is not null) count++;
        }
        var values = new TValue[count];
        var definitions = new int[levels];
        var repetitions = new int[levels];
        int level = 0, v = 0;
        foreach (var list in rows)
        {
            if (list is null || list.Count == 0)
            {
                definitions[level++] = list is null ? NullList : EmptyList;
                continue;
            }
            for (var i = 0; i < list.Count; i++)
            {
                repetitions[level] = i == 0 ? 0 : 1;
                if (list[i] is { } item)
                {
                    definitions[level] = Value;
                    values[v++] = value(item);
                }
                else definitions[level] = NullElement;
                level++;
            }
        }
        await rowGroup.WriteAllPartsAsync<TValue>(element, values, definitions, repetitions, cancellationToken).ConfigureAwait(false);
    }

    public static async Task<List<TItem>?[]> ReadAsync<TValue, TItem>(ParquetRowGroupReader rowGroup, DataField element, int rows,
        Func<TValue, TItem> item, CancellationToken cancellationToken) where TValue : struct
    {
        var raw = await rowGroup.ReadRawColumnDataBaseAsync(element, cancellationToken).ConfigureAwait(false);
        try
        {
            var values = ((RawColumnData<TValue>)raw).Values;
            var definitions = raw.DefinitionLevels;
            var repetitions = raw.RepetitionLevels;
            // The levels of this file's layout: a value at the maximum, a null element one below (optional elements only),
            // an empty list below that, a null list below that (optional lists only).
            var value = element.MaxDefinitionLevel;
            var nullElement = element.IsNullable ? value - 1 : -1;
            var emptyList = value - 1 - (element.IsNullable ? 1 : 0);
            var result = new List<TItem>?[rows];
            int row = -1, v = 0;
            for (var level = 0; level < definitions.Length; level++)
            {
                if (repetitions[level] == 0) row++;
                if (row >= rows) throw new InvalidDataException($"List column '{element.Path}' holds more than its row group's {rows} rows.");
                var d = definitions[level];
                if (d == value) (result[row] ??= []).Add(item(values[v++]));
                else if (d == nullElement) (result[row] ??= []).Add(default!);
                else if (d == emptyList) result[row] = [];
                else result[row] = null;
            }
            if (row != rows - 1) throw new InvalidDataException($"List column '{element.Path}' holds {row + 1} rows; its row group has {rows}.");
            return result;
        }
        finally
        {
            (raw as IDisposable)?.Dispose();
        }
    }
}
