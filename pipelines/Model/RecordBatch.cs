using System.Collections;

namespace Curation.Pipelines.Model;

/// <summary>
/// A batch of rows held column by column: the unit every stage reads, transforms and writes (one Parquet row group).
/// Document batches carry the four core columns (<see cref="Columns"/>); stages append their own columns.
/// </summary>
public sealed class RecordBatch
{
    private readonly List<Column> _columns = [];

    /// <summary>An empty batch with the core document columns id, text, source, position.</summary>
    public static RecordBatch ForDocuments(int capacity = 0)
    {
        var batch = new RecordBatch();
        batch.Add(new Column<string>(Columns.Id, capacity));
        batch.Add(new Column<string>(Columns.Text, capacity));
        batch.Add(new Column<string>(Columns.Source, capacity));
        batch.Add(new Column<long>(Columns.Position, capacity));
        return batch;
    }

    /// <summary>An empty batch with the given schema.</summary>
    public static RecordBatch WithSchema(IEnumerable<ColumnSchema> schema, int capacity = 0)
    {
        var batch = new RecordBatch();
        foreach (var column in schema) batch.Add(Column.Create(column, capacity));
        return batch;
    }

    public Column<string> Ids => GetColumn<string>(Columns.Id);
    public Column<string> Texts => GetColumn<string>(Columns.Text);
    public Column<string> Sources => GetColumn<string>(Columns.Source);
    public Column<long> Positions => GetColumn<long>(Columns.Position);

    public IReadOnlyList<Column> AllColumns => _columns;

    public int RowCount => _columns.Count == 0 ? 0 : _columns[0].Count;

    /// <summary>Column names and types, in order: the schema of the Parquet file it is written to.</summary>
    public IReadOnlyList<ColumnSchema> Schema => _columns.Select(c => new ColumnSchema(c.Name, c.ElementType)).ToArray();

    public void AddDocument(string id, string text, string source, long position)
    {
        Ids.Add(id); Texts.Add(text); Sources.Add(source); Positions.Add(position);
    }

    /// <summary>Returns the column of that name, adding it (empty) when absent.</summary>
    public Column<T> GetOrAddColumn<T>(string name, int capacity = 0)
    {
        var existing = Find(name);
        if (existing is Column<T> typed) return typed;
        if (existing is not null) throw new InvalidOperationException($"Column '{name}' holds {existing.ElementType.Name}, not {typeof(T).Name}.");
        return Add(new Column<T>(name, capacity));
    }

    /// <summary>An empty column of that name, replacing (in place) any existing one: for stages that (re)compute a column.</summary>
    public Column<T> ResetColumn<T>(string name, int capacity = 0)
    {
        var fresh = new Column<T>(name, capacity);
        var index = _columns.FindIndex(c => c.Name == name);
        if (index < 0) _columns.Add(fresh);
        else _columns[index] = fresh;
        return fresh;
    }

    public Column<T> GetColumn<T>(string name) =>
        Find(name) as Column<T> ?? throw new KeyNotFoundException($"Column '{name}' of type {typeof(T).Name} is not in this batch.");

    public Column? Find(string name)
    {
        foreach (var column in _columns) if (column.Name == name) return column;
        return null;
    }

    public T Add<T>(T column) where T : Column
    {
        if (Find(column.Name) is not null) throw new InvalidOperationException($"Column '{column.Name}' is already in this batch.");
        _columns.Add(column);
        return column;
    }

    /// <summary>A new batch holding the given rows, in the given order, of every column.</summary>
    public RecordBatch Select(IReadOnlyList<int> rows)
    {
        var result = new RecordBatch();
        foreach (var column in _columns) column.CopyRowsTo(result.Add(column.EmptyLike(rows.Count)), rows);
        return result;
    }

    /// <summary>Checks every column has one value per row; writers call it before writing.</summary>
    public void Validate()
    {
        foreach (var column in _columns)
            if (column.Count != RowCount)
                throw new InvalidOperationException($"Column '{column.Name}' has {column.Count} values for {RowCount} rows.");
    }
}

/// <summary>Names of the core document columns.</summary>
public static class Columns
{
    public const string Id = "id";
    public const string Text = "text";
    public const string Source = "source";
    public const string Position = "position";

    /// <summary>Input fields kept as JSON (nested, mixed-type or untyped ones): a JSON object per row, or null.</summary>
    public const string Metadata = "metadata";

    public static readonly IReadOnlyList<ColumnSchema> Core =
    [
        new(Id, typeof(string)), new(Text, typeof(string)), new(Source, typeof(string)), new(Position, typeof(long)),
    ];
}

/// <param name="Type">
/// The element type: string, byte[], long, int, double, float, bool; nullable long, double, bool (passed-through input
/// fields); or a list of nullable string, long, double or bool (<c>List&lt;long?&gt;</c>: a passed-through Parquet list
/// column, written back as a Parquet LIST; a row's list may itself be null).
/// </param>
public sealed record ColumnSchema(string Name, Type Type)
{
    /// <summary>The list element types a column may hold (<see cref="Type"/> <c>List&lt;T&gt;</c> of these).</summary>
    public static readonly IReadOnlyList<Type> ListElements = [typeof(string), typeof(long?), typeof(double?), typeof(bool?)];

    /// <summary>The element type of a list column, or null for a column of single values.</summary>
    public static Type? ListElementOf(Type type) =>
        type.IsGenericType && type.GetGenericTypeDefinition() == typeof(List<>) && ListElements.Contains(type.GetGenericArguments()[0])
            ? type.GetGenericArguments()[0] : null;

    public override string ToString() => $"{Name}:{Type.Name}";
}

/// <summary>An untyped view of a column for schema-driven code (Parquet I/O, row selection).</summary>
public abstract class Column(string name)
{
    public string Name { get; } = name;
    public abstract Type ElementType { get; }
    public abstract int Count { get; }
    public abstract IList Values { get; }
    internal abstract Column EmptyLike(int capacity);
    internal abstract void CopyRowsTo(Column target, IReadOnlyList<int> rows);

    public static Column Create(ColumnSchema schema, int capacity = 0) => schema.Type switch
    {
        var t when t == typeof(string) => new Column<string>(schema.Name, capacity),
        var t when t == typeof(byte[]) => new Column<byte[]>(schema.Name, capacity),
        var t when t == typeof(long) => new Column<long>(schema.Name, capacity),
        var t when t == typeof(int) => new Column<int>(schema.Name, capacity),
        var t when t == typeof(double) => new Column<double>(schema.Name, capacity),
        var t when t == typeof(float) => new Column<float>(schema.Name, capacity),
        var t when t == typeof(bool) => new Column<bool>(schema.Name, capacity),
        var t when t == typeof(long?) => new Column<long?>(schema.Name, capacity),
        var t when t == typeof(double?) => new Column<double?>(schema.Name, capacity),
        var t when t == typeof(bool?) => new Column<bool?>(schema.Name, capacity),
        var t when t == typeof(List<string?>) => new Column<List<string?>?>(schema.Name, capacity),
        var t when t == typeof(List<long?>) => new Column<List<long?>?>(schema.Name, capacity),
        var t when t == typeof(List<double?>) => new Column<List<double?>?>(schema.Name, capacity),
        var t when t == typeof(List<bool?>) => new Column<List<bool?>?>(schema.Name, capacity),
        var t => throw new NotSupportedException($"Column '{schema.Name}' has unsupported type {t.Name}."),
    };
}

public sealed class Column<T>(string name, int capacity = 0) : Column(name)
{
    private readonly List<T> _values = new(capacity);

    /// <summary>
    /// For a string column read from Parquet: its values still as the UTF-8 bytes they were stored as (<see cref="Utf8Values"/>),
    /// decoded into <see cref="_values"/> on the first access that needs strings; null once decoded, and for every other column.
    /// </summary>
    private Utf8Values? _utf8;

    public override Type ElementType => typeof(T);
    public override int Count => _utf8?.Count ?? _values.Count;
    public override IList Values => List;

    public List<T> List
    {
        get
        {
            if (Volatile.Read(ref _utf8) is not null) Decode();
            return _values;
        }
    }

    public T this[int row] { get => List[row]; set => List[row] = value; }
    public void Add(T value) => List.Add(value);
    public void AddRange(IEnumerable<T> values) => List.AddRange(values);

    /// <summary>
    /// The value of one row, without decoding the rest of a string column still held as UTF-8 (that row's string is made
    /// on each call): for code that reads a few rows of a column, such as the ids of dropped rows.
    /// </summary>
    public T ValueAt(int row) => Volatile.Read(ref _utf8) is { } utf8 ? (T)(object)utf8.GetString(row)! : _values[row];

    /// <summary>The still-undecoded UTF-8 of a string column read from Parquet, or null (decoded, or never UTF-8).</summary>
    internal Utf8Values? Utf8 => _utf8;

    /// <summary>Makes an empty string column hold <paramref name="values"/> undecoded: they are decoded once, when first asked for as strings.</summary>
    internal void SetUtf8(Utf8Values values)
    {
        if (typeof(T) != typeof(string)) throw new InvalidOperationException($"Column '{Name}' holds {typeof(T).Name}: only a string column holds UTF-8.");
        if (Count != 0) throw new InvalidOperationException($"Column '{Name}' already holds values.");
        _utf8 = values;
    }

    /// <summary>Decodes once, even when several threads ask for the strings at the same time (a transform's parallel loop).</summary>
    private void Decode()
    {
        lock (_values)
        {
            if (_utf8 is not { } utf8) return;
            var strings = (List<string?>)(object)_values;
            strings.Capacity = Math.Max(strings.Capacity, utf8.Count);
            for (var row = 0; row < utf8.Count; row++) strings.Add(utf8.GetString(row));
            Volatile.Write(ref _utf8, null); // after the strings are in; the bytes are garbage once decoded
        }
    }

    internal override Column EmptyLike(int capacity) => new Column<T>(Name, _utf8 is null ? capacity : 0); // UTF-8 rows need no list

    internal override void CopyRowsTo(Column target, IReadOnlyList<int> rows)
    {
        var typed = (Column<T>)target;
        if (_utf8 is not null && typed.Count == 0)
        {
            typed._utf8 = _utf8.Select(rows); // still undecoded: a pass that only selects rows never makes their strings
            return;
        }
        var values = List;
        foreach (var row in rows) typed.List.Add(values[row]);
    }
}
