using System.Collections;
using System.Linq.Expressions;
using System.Reflection;
using System.Text;
using Curation.Pipelines.Model;
using Curation.Pipelines.Storage;

namespace Curation.Pipelines.IO;

/// <summary>
/// Names the Parquet column of a shuffle row's field when it is not the field's name in snake_case. A shuffle table's
/// schema is declared once by a positional record (or record struct): one column per constructor parameter, in
/// parameter order, named by this attribute or the parameter's name in snake_case (<c>MaxSimilarity</c> is
/// <c>max_similarity</c>), typed by the parameter's type (see <see cref="ShuffleTable"/>).
/// </summary>
[AttributeUsage(AttributeTargets.Parameter)]
public sealed class ShuffleColumnAttribute(string name) : Attribute
{
    public string Name { get; } = name;
}

/// <summary>
/// How a row type maps to a shuffle table: declared once by a positional record (or record struct) <typeparamref name="TRow"/>:
/// one column per constructor parameter, in parameter order, named by <see cref="ShuffleColumnAttribute"/> or the
/// parameter's name in snake_case (<c>MaxSimilarity</c> is <c>max_similarity</c>), typed by the parameter's type.
/// Rows are moved in and out of <see cref="RecordBatch"/> columns by delegates compiled once per row type.
/// </summary>
internal static class ShuffleSchema<TRow>
{
    private static readonly ConstructorInfo Constructor = typeof(TRow).GetConstructors()
        .OrderByDescending(c => c.GetParameters().Length).FirstOrDefault()
        ?? throw new InvalidOperationException($"{typeof(TRow).Name} has no public constructor to read shuffle rows with.");

    /// <summary>Column names and types, in order: the Parquet schema of every file of this row type.</summary>
    public static IReadOnlyList<ColumnSchema> Columns { get; } = [.. Constructor.GetParameters().Select(p =>
        new ColumnSchema(p.GetCustomAttribute<ShuffleColumnAttribute>()?.Name ?? SnakeCase(p.Name!), p.ParameterType))];

    internal static readonly Func<Column[], int, TRow> Read = CompileRead();
    internal static readonly Action<Column[], TRow> Append = CompileAppend();

    /// <summary>The batch's columns of this schema, in schema order; fails naming <paramref name="objectName"/> and the column when one is missing or of another type.</summary>
    internal static Column[] Bind(RecordBatch batch, string objectName)
    {
        var bound = new Column[Columns.Count];
        for (var i = 0; i < bound.Length; i++)
        {
            var (name, type) = (Columns[i].Name, Columns[i].Type);
            var column = batch.Find(name);
            if (column is null && batch.RowCount == 0 && batch.AllColumns.Count == 0) column = Column.Create(Columns[i]);
            bound[i] = column switch
            {
                null => throw new InvalidDataException($"{objectName}: column '{name}' ({type.Name}) of {typeof(TRow).Name} is missing."),
                _ when column.ElementType != type => throw new InvalidDataException(
                    $"{objectName}: column '{name}' holds {column.ElementType.Name}; {typeof(TRow).Name} expects {type.Name}."),
                _ => column,
            };
        }
        return bound;
    }

    internal static string SnakeCase(string name)
    {
        var text = new StringBuilder(name.Length + 4);
        for (var i = 0; i < name.Length; i++)
        {
            if (char.IsUpper(name[i]) && i > 0) text.Append('_');
            text.Append(char.ToLowerInvariant(name[i]));
        }
        return text.ToString();
    }

    private static Func<Column[], int, TRow> CompileRead()
    {
        var (columns, row) = (Expression.Parameter(typeof(Column[]), "columns"), Expression.Parameter(typeof(int), "row"));
        var arguments = Constructor.GetParameters().Select((p, i) =>
        {
            var typed = Expression.Convert(Expression.ArrayIndex(columns, Expression.Constant(i)), typeof(Column<>).MakeGenericType(p.ParameterType));
            return (Expression)Expression.Property(typed, "Item", row);
        });
        return Expression.Lambda<Func<Column[], int, TRow>>(Expression.New(Constructor, arguments), columns, row).Compile();
    }

    private static Action<Column[], TRow> CompileAppend()
    {
        var (columns, value) = (Expression.Parameter(typeof(Column[]), "columns"), Expression.Parameter(typeof(TRow), "value"));
        var adds = Constructor.GetParameters().Select((p, i) =>
        {
            var property = typeof(TRow).GetProperty(p.Name!)
                ?? throw new InvalidOperationException($"{typeof(TRow).Name} has no property {p.Name} for its constructor parameter.");
            var columnType = typeof(Column<>).MakeGenericType(p.ParameterType);
            var typed = Expression.Convert(Expression.ArrayIndex(columns, Expression.Constant(i)), columnType);
            return (Expression)Expression.Call(typed, columnType.GetMethod(nameof(Column<int>.Add))!, Expression.Property(value, property));
        });
        return Expression.Lambda<Action<Column[], TRow>>(Expression.Block(adds), columns, value).Compile();
    }
}

/// <summary>
/// Rows of a shuffle table as records: a <see cref="RecordBatch"/> of the row type's columns
/// (what the Parquet helpers write) seen and filled row by row, instead of columns looked up by name.
/// </summary>
public sealed class ShuffleRows<TRow> : IReadOnlyList<TRow>
{
    private readonly Column[] _columns;

    /// <summary>An empty table of the row type's schema.</summary>
    public ShuffleRows(int capacity = 0)
    {
        Batch = RecordBatch.WithSchema(ShuffleSchema<TRow>.Columns, capacity);
        _columns = ShuffleSchema<TRow>.Bind(Batch, typeof(TRow).Name);
    }

    internal ShuffleRows(RecordBatch batch, string objectName) => (Batch, _columns) = (batch, ShuffleSchema<TRow>.Bind(batch, objectName));

    /// <summary>The columns, in the row type's order: what <see cref="ShuffleTable"/> writes.</summary>
    public RecordBatch Batch { get; }

    public int Count => Batch.RowCount;

    public TRow this[int index] => ShuffleSchema<TRow>.Read(_columns, index);

    public void Add(TRow row) => ShuffleSchema<TRow>.Append(_columns, row);

    public IEnumerator<TRow> GetEnumerator()
    {
        for (var i = 0; i < Count; i++) yield return this[i];
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}

/// <summary>
/// Reading and writing shuffle tables of typed rows through
/// <see cref="ParquetTableWriter"/>, <see cref="ParquetTableReader"/> and <see cref="RoutedTable"/>: create-once,
/// streamed a row group at a time, reading only the row type's columns.
/// </summary>
public static class ShuffleTable
{
    /// <summary>The columns of <typeparamref name="TRow"/>'s table, in order (see <see cref="ShuffleRows{TRow}"/>).</summary>
    public static IReadOnlyList<ColumnSchema> Schema<TRow>() => ShuffleSchema<TRow>.Columns;

    /// <summary>
    /// The rows of a batch read back from <paramref name="objectName"/> (its other columns are ignored); fails naming
    /// the object and the column when a column of the row type is missing or of another type.
    /// </summary>
    public static ShuffleRows<TRow> Rows<TRow>(RecordBatch batch, string objectName) => new(batch, objectName);

    /// <summary>Writes <paramref name="rows"/> as one row group and commits <paramref name="key"/> create-once.</summary>
    public static async Task WriteAsync<TRow>(IObjectStore store, string key, ShuffleRows<TRow> rows, IReadOnlyDictionary<string, string>? metadata,
        CancellationToken cancellationToken)
    {
        await using var spool = SpoolFile.Create();
        await using (var writer = await ParquetTableWriter.CreateAsync(spool.Stream, ShuffleSchema<TRow>.Columns, metadata, cancellationToken).ConfigureAwait(false))
            await writer.WriteAsync(rows.Batch, cancellationToken).ConfigureAwait(false);
        await spool.CommitOnceAsync(store, key, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The rows of <paramref name="key"/>, one row group at a time (bounded memory).</summary>
    public static async IAsyncEnumerable<ShuffleRows<TRow>> ReadAsync<TRow>(IObjectStore store, string key,
        [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await using var input = await store.OpenReadAsync(key, cancellationToken).ConfigureAwait(false);
        await using var reader = await ParquetTableReader.OpenAsync(input, cancellationToken).ConfigureAwait(false);
        await foreach (var batch in ReadAsync<TRow>(reader, key, cancellationToken).ConfigureAwait(false)) yield return batch;
    }

    /// <summary>The rows of an open reader (whose metadata the caller reads too), one row group at a time.</summary>
    public static async IAsyncEnumerable<ShuffleRows<TRow>> ReadAsync<TRow>(ParquetTableReader reader, string objectName,
        [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        CheckSchema<TRow>(reader, objectName);
        var names = ShuffleSchema<TRow>.Columns.Select(c => c.Name).ToHashSet();
        await foreach (var batch in reader.ReadColumnsAsync(names, cancellationToken).ConfigureAwait(false))
            yield return Rows<TRow>(batch, objectName);
    }

    /// <summary>A whole (small) table in memory, as a list of rows.</summary>
    public static async Task<List<TRow>> ReadAllAsync<TRow>(IObjectStore store, string key, CancellationToken cancellationToken)
    {
        var result = new List<TRow>();
        await foreach (var rows in ReadAsync<TRow>(store, key, cancellationToken).ConfigureAwait(false)) result.AddRange(rows);
        return result;
    }

    /// <summary>Every row group of routed table <paramref name="key"/> addressed to <paramref name="target"/>.</summary>
    public static async IAsyncEnumerable<ShuffleRows<TRow>> ReadRoutedAsync<TRow>(IObjectStore store, string key, int target,
        [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await foreach (var batch in RoutedTable.ReadAsync(store, key, target, cancellationToken).ConfigureAwait(false))
            yield return Rows<TRow>(batch, key);
    }

    /// <summary>Writes one row group per non-empty target (target order) as a <see cref="RoutedTable"/>, create-once.</summary>
    public static Task WriteRoutedAsync<TRow>(IObjectStore store, string key, IEnumerable<KeyValuePair<int, ShuffleRows<TRow>>> groups,
        CancellationToken cancellationToken) =>
        RoutedTable.WriteAsync(store, key, ShuffleSchema<TRow>.Columns,
            groups.Select(g => KeyValuePair.Create(g.Key, g.Value.Batch)), cancellationToken);

    /// <summary>Fails, naming the object and the column, when the file lacks a column of the row type or holds another type there.</summary>
    private static void CheckSchema<TRow>(ParquetTableReader reader, string objectName)
    {
        var file = reader.Schema.ToDictionary(c => c.Name, c => c.Type);
        foreach (var column in ShuffleSchema<TRow>.Columns)
        {
            if (!file.TryGetValue(column.Name, out var type))
                throw new InvalidDataException($"{objectName}: column '{column.Name}' ({column.Type.Name}) of {typeof(TRow).Name} is missing.");
            if (type != column.Type)
                throw new InvalidDataException($"{objectName}: column '{column.Name}' holds {type.Name}; {typeof(TRow).Name} expects {column.Type.Name}.");
        }
    }
}
