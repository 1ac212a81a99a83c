using Curation.Pipelines.Model;
using Parquet;
using Parquet.Schema;

namespace Curation.Pipelines.IO;

/// <summary>
/// Writes <see cref="RecordBatch"/>es as Parquet row groups with the low-level column API
/// (the serializer is ~10x slower). Snappy unless told otherwise, one row group per batch written. String columns carry no min/max
/// statistics (<see cref="Utf8StringColumn"/>): a document's cost in the file is its compressed text, once. Every column is
/// PLAIN-encoded: Parquet.Net 6.1 tries a dictionary only for a string column given <c>EncodingHint.Dictionary</c> (none is),
/// and never for the byte-array twins the string columns are written through, so no value is hashed to decide.
/// </summary>
public sealed class ParquetTableWriter : IAsyncDisposable
{
    private readonly ParquetWriter _writer;
    private readonly DataField[] _fields;
    private readonly Utf8StringColumn?[] _strings;
    private readonly IReadOnlyList<ColumnSchema> _schema;

    private ParquetTableWriter(ParquetWriter writer, ParquetOptions options, DataField[] fields, IReadOnlyList<ColumnSchema> schema)
    {
        _writer = writer;
        _fields = fields;
        _strings = [.. schema.Select((c, i) => c.Type == typeof(string) ? new Utf8StringColumn(fields[i], options) : null)];
        _schema = schema;
    }

    /// <summary>What Parquet.Net's page stream pools may keep (each) once returned: a few ordinary pages' worth.</summary>
    internal const int PagePoolFreeBytes = 16 * 1024 * 1024;

    public long RowsWritten { get; private set; }

    /// <summary>Sets a key of the file's metadata; it is written with the footer when the writer is disposed.</summary>
    public void SetMetadata(string key, string value)
    {
        var metadata = _writer.CustomMetadata is null ? new Dictionary<string, string>() : new Dictionary<string, string>(_writer.CustomMetadata);
        metadata[key] = value;
        _writer.CustomMetadata = metadata;
    }

    public static Task<ParquetTableWriter> CreateAsync(Stream output, IReadOnlyList<ColumnSchema> schema,
        IReadOnlyDictionary<string, string>? metadata = null, CancellationToken cancellationToken = default) =>
        CreateAsync(output, schema, CompressionMethod.Snappy, metadata, cancellationToken);

    /// <summary>
    /// A writer whose column chunks use <paramref name="compression"/>: Snappy for what is published (and what is copied into
    /// the output byte for byte), or a job's intermediate codec (<see cref="Execution.ShardCompression"/>) for its own files.
    /// </summary>
    public static async Task<ParquetTableWriter> CreateAsync(Stream output, IReadOnlyList<ColumnSchema> schema, CompressionMethod compression,
        IReadOnlyDictionary<string, string>? metadata = null, CancellationToken cancellationToken = default)
    {
        var tops = schema.Select(ToField).ToArray();
        var fields = tops.Select(f => f is ListField list ? (DataField)list.Item : (DataField)f).ToArray();
        // Parquet.Net builds each page in a pooled stream and keeps returned buffers up to these totals for the life of the
        // process (its defaults 16 and 64 MiB): a big record's page buffer (its whole text) is left to the GC instead.
        var options = new ParquetOptions
        {
            CompressionMethod = compression,
            MaximumSmallPoolFreeBytes = PagePoolFreeBytes,
            MaximumLargePoolFreeBytes = PagePoolFreeBytes,
        };
        var writer = await ParquetWriter.CreateAsync(new ParquetSchema(tops), output, options, cancellationToken: cancellationToken)
            .ConfigureAwait(false);
        if (metadata is not null) writer.CustomMetadata = metadata.ToDictionary();
        return new ParquetTableWriter(writer, options, fields, schema);
    }

    /// <summary>Writes one batch as one row group; an empty batch writes nothing.</summary>
    public async Task WriteAsync(RecordBatch table, CancellationToken cancellationToken = default)
    {
        table.Validate();
        if (table.RowCount == 0) return;
        using var rowGroup = _writer.CreateRowGroup();
        for (var i = 0; i < _fields.Length; i++)
        {
            var column = table.Find(_schema[i].Name)
                ?? throw new InvalidOperationException($"Batch lacks column '{_schema[i].Name}' of the file's schema.");
            if (column.ElementType != _schema[i].Type)
                throw new InvalidOperationException($"Column '{column.Name}' holds {column.ElementType.Name}; the file expects {_schema[i].Type.Name}.");
            if (_strings[i] is { } strings) await strings.WriteAsync(rowGroup, (Column<string>)column, cancellationToken).ConfigureAwait(false);
            else await WriteColumnAsync(rowGroup, _fields[i], column, cancellationToken).ConfigureAwait(false);
        }
        RowsWritten += table.RowCount;
    }

    private static Task WriteColumnAsync(ParquetRowGroupWriter rowGroup, DataField field, Column column, CancellationToken ct) => column switch
    {
        Column<long> c => rowGroup.WriteAsync<long>(field, c.List.ToArray(), cancellationToken: ct),
        Column<int> c => rowGroup.WriteAsync<int>(field, c.List.ToArray(), cancellationToken: ct),
        Column<double> c => rowGroup.WriteAsync<double>(field, c.List.ToArray(), cancellationToken: ct),
        Column<float> c => rowGroup.WriteAsync<float>(field, c.List.ToArray(), cancellationToken: ct),
        Column<bool> c => rowGroup.WriteAsync<bool>(field, c.List.ToArray(), cancellationToken: ct),
        Column<byte[]> c => rowGroup.WriteAsync(field, c.List),
        Column<long?> c => rowGroup.WriteAsync<long>(field, c.List.ToArray(), cancellationToken: ct),
        Column<double?> c => rowGroup.WriteAsync<double>(field, c.List.ToArray(), cancellationToken: ct),
        Column<bool?> c => rowGroup.WriteAsync<bool>(field, c.List.ToArray(), cancellationToken: ct),
        Column<List<string?>?> c => ListColumns.WriteAsync(rowGroup, field, c.List, s => s.AsMemory(), ct),
        Column<List<long?>?> c => ListColumns.WriteAsync(rowGroup, field, c.List, v => v!.Value, ct),
        Column<List<double?>?> c => ListColumns.WriteAsync(rowGroup, field, c.List, v => v!.Value, ct),
        Column<List<bool?>?> c => ListColumns.WriteAsync(rowGroup, field, c.List, v => v!.Value, ct),
        _ => throw new NotSupportedException($"Column '{column.Name}' of type {column.ElementType.Name} cannot be written to Parquet."),
    };

    internal static Field ToField(ColumnSchema column) => column.Type switch
    {
        var t when ColumnSchema.ListElementOf(t) is { } element =>
            new ListField(column.Name, new DataField(ListColumns.ElementName, Nullable.GetUnderlyingType(element) ?? element, isNullable: true)),
        var t when t == typeof(string) => new DataField(column.Name, typeof(string), isNullable: true),
        var t when t == typeof(byte[]) => new DataField(column.Name, typeof(byte[]), isNullable: true),
        var t when t == typeof(long) || t == typeof(int) || t == typeof(double) || t == typeof(float) || t == typeof(bool)
            => new DataField(column.Name, t, isNullable: false),
        var t when Nullable.GetUnderlyingType(t) is { } value && (value == typeof(long) || value == typeof(double) || value == typeof(bool))
            => new DataField(column.Name, value, isNullable: true),
        _ => throw new NotSupportedException($"Column '{column.Name}' of type {column.Type.Name} cannot be written to Parquet."),
    };

    public async ValueTask DisposeAsync() => await _writer.DisposeAsync().ConfigureAwait(false);
}

/// <summary>Reads a Parquet file written by <see cref="ParquetTableWriter"/> back, row group by row group.</summary>
public sealed class ParquetTableReader : IAsyncDisposable
{
    private readonly ParquetReader _reader;
    private readonly (string Name, DataField Field, Type Type)[] _fields;
    private readonly MemoryStream? _buffered;

    private ParquetTableReader(ParquetReader reader, MemoryStream? buffered)
    {
        _reader = reader;
        _buffered = buffered;
        // Top-level columns: plain ones, and lists of one primitive (read into list columns by their element field).
        // Other nested columns (the output's embedding list of floats) are seen leaf by leaf, as their readers expect.
        _fields = reader.Schema.Fields.SelectMany(f => f switch
        {
            ListField { Item: DataField item } list when ListColumns.ElementType(item) is { } element => [(list.Name, item, element)],
            _ => LeavesOf(f).Select(data => (data.Name, data, ElementType(data))),
        }).ToArray();
    }

    public int RowGroupCount => _reader.RowGroupCount;

    public long RowCount => Enumerable.Range(0, _reader.RowGroupCount).Sum(i => (long)_reader.RowGroups[i].RowCount);

    public IReadOnlyDictionary<string, string> Metadata => _reader.CustomMetadata;

    public IReadOnlyList<ColumnSchema> Schema => _fields.Select(f => new ColumnSchema(f.Name, f.Type)).ToArray();

    /// <summary>
    /// Opens a Parquet file read in place where <paramref name="input"/> seeks (a local file, a ranged blob stream: only
    /// the column chunks asked for are read); a stream that cannot seek is read into memory first (a reader of objects
    /// that may be large spools them to disk before, as <c>ParquetInputReader</c> does).
    /// </summary>
    public static async Task<ParquetTableReader> OpenAsync(Stream input, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(input);
        MemoryStream? buffered = null;
        if (!input.CanSeek)
        {
            buffered = new MemoryStream();
            await input.CopyToAsync(buffered, cancellationToken).ConfigureAwait(false);
            buffered.Position = 0;
        }
        var reader = await ParquetReader.CreateAsync(buffered ?? input, cancellationToken: cancellationToken).ConfigureAwait(false);
        return new ParquetTableReader(reader, buffered);
    }

    /// <summary>All rows, one batch per row group; never more than one row group in memory.</summary>
    public async IAsyncEnumerable<RecordBatch> ReadAllAsync(
        [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        for (var i = 0; i < _reader.RowGroupCount; i++)
            yield return await ReadRowGroupAsync(i, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Only the named columns, one batch per row group: for readers that need ids but not texts, so a shard's text is
    /// not decoded just to learn its ids.
    /// </summary>
    public async IAsyncEnumerable<RecordBatch> ReadColumnsAsync(IReadOnlyCollection<string> columns,
        [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        for (var i = 0; i < _reader.RowGroupCount; i++)
            yield return await ReadRowGroupAsync(i, cancellationToken, columns).ConfigureAwait(false);
    }

    public async Task<RecordBatch> ReadRowGroupAsync(int index, CancellationToken cancellationToken = default, IReadOnlyCollection<string>? columns = null)
    {
        using var rowGroup = _reader.OpenRowGroupReader(index);
        var rows = checked((int)rowGroup.RowCount);
        var table = new RecordBatch();
        foreach (var (name, field, type) in _fields)
        {
            if (columns is not null && !columns.Contains(name)) continue;
            // A string column holds its rows' UTF-8 (no list of strings until it is decoded).
            var target = table.Add(Column.Create(new ColumnSchema(name, type), type == typeof(string) ? 0 : rows));
            await ReadColumnAsync(rowGroup, field, target, rows, cancellationToken).ConfigureAwait(false);
        }
        table.Validate();
        return table;
    }

    private static async Task ReadColumnAsync(ParquetRowGroupReader rowGroup, DataField field, Column target, int rows, CancellationToken ct)
    {
        switch (target)
        {
            case Column<string> c:
                // Kept as UTF-8 until asked for as strings. The core columns are never null; a passed-through input field may be.
                await Utf8StringColumn.ReadAsync(rowGroup, field, rows, c, nullAsEmpty: IsCore(field.Name), ct).ConfigureAwait(false);
                break;
            case Column<byte[]> c:
                var blobs = new byte[]?[rows];
                await rowGroup.ReadAsync(field, blobs.AsMemory(), cancellationToken: ct).ConfigureAwait(false);
                c.AddRange(blobs.Select(b => b ?? []));
                break;
            case Column<long> c: c.AddRange(await ReadValuesAsync<long>(rowGroup, field, rows, ct).ConfigureAwait(false)); break;
            case Column<int> c: c.AddRange(await ReadValuesAsync<int>(rowGroup, field, rows, ct).ConfigureAwait(false)); break;
            case Column<double> c: c.AddRange(await ReadValuesAsync<double>(rowGroup, field, rows, ct).ConfigureAwait(false)); break;
            case Column<float> c: c.AddRange(await ReadValuesAsync<float>(rowGroup, field, rows, ct).ConfigureAwait(false)); break;
            case Column<bool> c: c.AddRange(await ReadValuesAsync<bool>(rowGroup, field, rows, ct).ConfigureAwait(false)); break;
            case Column<long?> c: c.AddRange(await ReadNullableAsync<long>(rowGroup, field, rows, ct).ConfigureAwait(false)); break;
            case Column<double?> c: c.AddRange(await ReadNullableAsync<double>(rowGroup, field, rows, ct).ConfigureAwait(false)); break;
            case Column<bool?> c: c.AddRange(await ReadNullableAsync<bool>(rowGroup, field, rows, ct).ConfigureAwait(false)); break;
            case Column<List<string?>?> c: c.AddRange(await ListColumns.ReadAsync<ReadOnlyMemory<char>, string?>(rowGroup, field, rows, v => v.ToString(), ct).ConfigureAwait(false)); break;
            case Column<List<long?>?> c: c.AddRange(await ListColumns.ReadAsync<long, long?>(rowGroup, field, rows, v => v, ct).ConfigureAwait(false)); break;
            case Column<List<double?>?> c: c.AddRange(await ListColumns.ReadAsync<double, double?>(rowGroup, field, rows, v => v, ct).ConfigureAwait(false)); break;
            case Column<List<bool?>?> c: c.AddRange(await ListColumns.ReadAsync<bool, bool?>(rowGroup, field, rows, v => v, ct).ConfigureAwait(false)); break;
            default: throw new NotSupportedException($"Column '{field.Name}' has an unsupported type.");
        }
    }

    private static async Task<T[]> ReadValuesAsync<T>(ParquetRowGroupReader rowGroup, DataField field, int rows, CancellationToken ct)
        where T : struct
    {
        var values = new T[rows];
        await rowGroup.ReadAsync<T>(field, values.AsMemory(), cancellationToken: ct).ConfigureAwait(false);
        return values;
    }

    private static async Task<T?[]> ReadNullableAsync<T>(ParquetRowGroupReader rowGroup, DataField field, int rows, CancellationToken ct)
        where T : struct
    {
        var values = new T?[rows];
        await rowGroup.ReadAsync<T>(field, values.AsMemory(), cancellationToken: ct).ConfigureAwait(false);
        return values;
    }

    private static IEnumerable<DataField> LeavesOf(Field field) => field switch
    {
        DataField data => [data],
        ListField list => LeavesOf(list.Item),
        MapField map => LeavesOf(map.Key).Concat(LeavesOf(map.Value)),
        StructField s => s.Fields.SelectMany(LeavesOf),
        _ => [],
    };

    private static bool IsCore(string name) => name is Columns.Id or Columns.Text or Columns.Source;

    private static Type ElementType(DataField field)
    {
        var type = Nullable.GetUnderlyingType(field.ClrType) ?? field.ClrType;
        // Nullable numbers and booleans are passed-through input fields (ParquetTableWriter writes its own ones required).
        if (field.IsNullable && (type == typeof(long) || type == typeof(double) || type == typeof(bool)))
            return typeof(Nullable<>).MakeGenericType(type);
        // Parquet.Net 6 reports byte-array columns as memory types; our batches hold strings and byte arrays.
        if (type == typeof(ReadOnlyMemory<char>) || type == typeof(Memory<char>)) return typeof(string);
        if (type == typeof(ReadOnlyMemory<byte>) || type == typeof(Memory<byte>)) return typeof(byte[]);
        return type;
    }

    public async ValueTask DisposeAsync()
    {
        await _reader.DisposeAsync().ConfigureAwait(false);
        if (_buffered is not null) await _buffered.DisposeAsync().ConfigureAwait(false);
    }
}
