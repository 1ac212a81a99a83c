using System.Globalization;
using System.Text.Json;
using Curation.Pipelines.Spec;
using Parquet;
using Parquet.Schema;
using Parquet.Serialization;

namespace Curation.Pipelines.IO.Readers;

/// <summary>
/// The Parquet columns a job keeps besides text and id (metadata passthrough), read one row group at a time into each
/// row's <see cref="FieldValue"/>s. Flat columns keep their type family: strings (binary as base64), every integer
/// type as int64, float/double/decimal as double, booleans, dates and times as ISO 8601 strings the same on every machine
/// (<see cref="ParquetTemporalText"/>). Nested columns: lists of one primitive become list columns (<see cref="ListKind"/>); other nested columns (lists of structs, structs,
/// maps) are read through Parquet.Net's untyped deserializer and kept as JSON (<see cref="RawJson"/>).
/// </summary>
internal sealed class ParquetFieldColumns
{
    private readonly DataField[] _flat;
    private readonly (string Name, DataField Item)[] _lists;
    private readonly Field[] _nested;
    private readonly string[] _order;

    private ParquetFieldColumns(DataField[] flat, (string, DataField)[] lists, Field[] nested, string[] order)
    {
        _flat = flat;
        _lists = lists;
        _nested = nested;
        _order = order;
    }

    public bool IsEmpty => _order.Length == 0;

    private static readonly JsonSerializerOptions JsonOptions = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static ParquetFieldColumns For(ParquetSchema schema, InputSpec spec)
    {
        var flat = new List<DataField>();
        var lists = new List<(string, DataField)>();
        var nested = new List<Field>();
        var order = new List<string>();
        if (InputFields.KeepsAny(spec))
            foreach (var field in schema.Fields)
            {
                if (!InputFields.Keeps(spec, field.Name)) continue;
                order.Add(field.Name);
                if (field is DataField { IsArray: false, MaxRepetitionLevel: 0 } data) flat.Add(data);
                else if (field is ListField { Item: DataField item } && ListKind(item) is not null) lists.Add((field.Name, item));
                else nested.Add(field);
            }
        return new ParquetFieldColumns(flat.ToArray(), lists.ToArray(), nested.ToArray(), order.ToArray());
    }

    /// <summary>
    /// One value per kept column of the type it becomes (a typical value, not data): the type hints the job's column
    /// rule (<see cref="InputFields.Schema"/>) gets from a Parquet file's schema, even for columns whose sample is null.
    /// </summary>
    public IEnumerable<FieldValue> TypeHints()
    {
        foreach (var field in _flat)
            yield return new FieldValue(field.Name, ElementType(field) switch
            {
                _ when field is TimeDataField => "",
                var t when IsInteger(t) => 0L,
                var t when t == typeof(float) || t == typeof(double) || t == typeof(decimal) => 0.0,
                var t when t == typeof(bool) => false,
                _ => "",
            });
        foreach (var (name, item) in _lists)
            yield return new FieldValue(name, ListKind(item) switch
            {
                var t when t == typeof(List<long?>) => new List<long?>(),
                var t when t == typeof(List<double?>) => new List<double?>(),
                var t when t == typeof(List<bool?>) => new List<bool?>(),
                _ => new List<string?>(),
            });
        foreach (var field in _nested) yield return new FieldValue(field.Name, new RawJson("null"));
    }

    /// <summary>
    /// The list column a Parquet list of one primitive becomes (strings; every integer up to 32 bits and int64 as int64;
    /// float and double as double; booleans), or null when it stays JSON (other element types).
    /// </summary>
    private static Type? ListKind(DataField item)
    {
        if (item.MaxRepetitionLevel != 1) return null;
        var type = ElementType(item);
        return type switch
        {
            _ when type == typeof(string) => typeof(List<string?>),
            _ when IsInteger(type) && type != typeof(ulong) => typeof(List<long?>),
            _ when type == typeof(double) || type == typeof(float) => typeof(List<double?>),
            _ when type == typeof(bool) => typeof(List<bool?>),
            _ => null,
        };
    }

    private static async Task<object?[]> ReadListAsync(ParquetRowGroupReader rowGroup, DataField item, int rows, CancellationToken ct)
    {
        var type = Nullable.GetUnderlyingType(item.ClrType) ?? item.ClrType;
        object?[] Boxed<T>(List<T>?[] lists) => lists.Cast<object?>().ToArray();
        return type switch
        {
            _ when type == typeof(ReadOnlyMemory<char>) => Boxed(await ListColumns.ReadAsync<ReadOnlyMemory<char>, string?>(rowGroup, item, rows, v => v.ToString(), ct).ConfigureAwait(false)),
            _ when type == typeof(long) => Boxed(await ListColumns.ReadAsync<long, long?>(rowGroup, item, rows, v => v, ct).ConfigureAwait(false)),
            _ when type == typeof(int) => Boxed(await ListColumns.ReadAsync<int, long?>(rowGroup, item, rows, v => v, ct).ConfigureAwait(false)),
            _ when type == typeof(uint) => Boxed(await ListColumns.ReadAsync<uint, long?>(rowGroup, item, rows, v => v, ct).ConfigureAwait(false)),
            _ when type == typeof(short) => Boxed(await ListColumns.ReadAsync<short, long?>(rowGroup, item, rows, v => v, ct).ConfigureAwait(false)),
            _ when type == typeof(ushort) => Boxed(await ListColumns.ReadAsync<ushort, long?>(rowGroup, item, rows, v => v, ct).ConfigureAwait(false)),
            _ when type == typeof(sbyte) => Boxed(await ListColumns.ReadAsync<sbyte, long?>(rowGroup, item, rows, v => v, ct).ConfigureAwait(false)),
            _ when type == typeof(byte) => Boxed(await ListColumns.ReadAsync<byte, long?>(rowGroup, item, rows, v => v, ct).ConfigureAwait(false)),
            _ when type == typeof(double) => Boxed(await ListColumns.ReadAsync<double, double?>(rowGroup, item, rows, v => v, ct).ConfigureAwait(false)),
            _ when type == typeof(float) => Boxed(await ListColumns.ReadAsync<float, double?>(rowGroup, item, rows, v => v, ct).ConfigureAwait(false)),
            _ when type == typeof(bool) => Boxed(await ListColumns.ReadAsync<bool, bool?>(rowGroup, item, rows, v => v, ct).ConfigureAwait(false)),
            _ => throw new NotSupportedException($"list column '{item.Path}' of {type.Name} cannot be kept as a list"),
        };
    }

    /// <summary>Every row's kept fields in the row group, in the file's column order.</summary>
    public async Task<IReadOnlyList<FieldValue>[]> ReadAsync(ParquetReader reader, Stream file, int group, CancellationToken cancellationToken)
    {
        var columns = new Dictionary<string, object?[]>(StringComparer.Ordinal);
        int rows;
        using (var rowGroup = reader.OpenRowGroupReader(group))
        {
            rows = checked((int)rowGroup.RowCount);
            foreach (var field in _flat) columns[field.Name] = await ReadFlatAsync(rowGroup, field, rows, cancellationToken).ConfigureAwait(false);
            foreach (var (name, item) in _lists) columns[name] = await ReadListAsync(rowGroup, item, rows, cancellationToken).ConfigureAwait(false);
        }
        if (_nested.Length > 0)
        {
            var untyped = await ParquetSerializer.DeserializeUntypedAsync(file, ParquetTemporalText.ReaderOptions, group, cancellationToken).ConfigureAwait(false);
            foreach (var field in _nested)
            {
                var values = new object?[rows];
                for (var row = 0; row < rows && row < untyped.Data.Count; row++)
                    values[row] = untyped.Data[row].TryGetValue(field.Name, out var value) && value is not null
                        ? new RawJson(JsonSerializer.Serialize(Plain(value), JsonOptions))
                        : null;
                columns[field.Name] = values;
            }
        }
        var result = new IReadOnlyList<FieldValue>[rows];
        for (var row = 0; row < rows; row++)
        {
            var fields = new FieldValue[_order.Length];
            for (var i = 0; i < _order.Length; i++) fields[i] = new FieldValue(_order[i], columns[_order[i]][row]);
            result[row] = fields;
        }
        return result;
    }

    /// <summary>The deserializer's objects (dictionaries, lists, primitives) as plain JSON-serialisable values.</summary>
    private static object? Plain(object? value) => value switch
    {
        null => null,
        string or bool or long or int or short or sbyte or ulong or uint or ushort or byte or double or float or decimal => value,
        DateTime d => ParquetTemporalText.Timestamp(d, utc: d.Kind == DateTimeKind.Utc),
        DateTimeOffset d => ParquetTemporalText.Timestamp(d),
        DateOnly d => ParquetTemporalText.Date(d),
        TimeOnly t => ParquetTemporalText.Time(t),
        byte[] b => Convert.ToBase64String(b),
        System.Collections.IDictionary map => map.Keys.Cast<object>().ToDictionary(k => Convert.ToString(k, CultureInfo.InvariantCulture) ?? "", k => Plain(map[k])),
        System.Collections.IEnumerable list => list.Cast<object?>().Select(Plain).ToList(),
        _ => Convert.ToString(value, CultureInfo.InvariantCulture),
    };

    private static Type ElementType(DataField field)
    {
        var type = Nullable.GetUnderlyingType(field.ClrType) ?? field.ClrType;
        if (type == typeof(ReadOnlyMemory<char>)) return typeof(string);
        if (type == typeof(ReadOnlyMemory<byte>)) return typeof(byte[]);
        return type;
    }

    private static bool IsInteger(Type t) =>
        t == typeof(long) || t == typeof(ulong) || t == typeof(int) || t == typeof(short) || t == typeof(sbyte) || t == typeof(uint) || t == typeof(ushort) || t == typeof(byte);

    private static async Task<object?[]> ReadFlatAsync(ParquetRowGroupReader rowGroup, DataField field, int rows, CancellationToken ct)
    {
        var type = ElementType(field);
        if (type == typeof(string))
        {
            var strings = new string?[rows];
            await rowGroup.ReadAsync(field, strings.AsMemory(), cancellationToken: ct).ConfigureAwait(false);
            return strings;
        }
        if (type == typeof(byte[]))
        {
            var blobs = new byte[]?[rows];
            await rowGroup.ReadAsync(field, blobs.AsMemory(), cancellationToken: ct).ConfigureAwait(false);
            return blobs.Select(b => b is null ? null : (object)Convert.ToBase64String(b)).ToArray();
        }
        if (field is TimeDataField time)
            return type == typeof(int)
                ? await ReadAsync<int>(rowGroup, field, rows, v => ParquetTemporalText.TimeOfDay(time, v), ct).ConfigureAwait(false)
                : await ReadAsync<long>(rowGroup, field, rows, v => ParquetTemporalText.TimeOfDay(time, v), ct).ConfigureAwait(false);
        return type switch
        {
            _ when type == typeof(long) => await ReadAsync<long>(rowGroup, field, rows, v => v, ct).ConfigureAwait(false),
            _ when type == typeof(int) => await ReadAsync<int>(rowGroup, field, rows, v => (long)v, ct).ConfigureAwait(false),
            _ when type == typeof(short) => await ReadAsync<short>(rowGroup, field, rows, v => (long)v, ct).ConfigureAwait(false),
            _ when type == typeof(sbyte) => await ReadAsync<sbyte>(rowGroup, field, rows, v => (long)v, ct).ConfigureAwait(false),
            _ when type == typeof(byte) => await ReadAsync<byte>(rowGroup, field, rows, v => (long)v, ct).ConfigureAwait(false),
            _ when type == typeof(ushort) => await ReadAsync<ushort>(rowGroup, field, rows, v => (long)v, ct).ConfigureAwait(false),
            _ when type == typeof(uint) => await ReadAsync<uint>(rowGroup, field, rows, v => (long)v, ct).ConfigureAwait(false),
            // An unsigned 64-bit value past int64 does not fit the column: its JSON text goes to metadata.
            _ when type == typeof(ulong) => await ReadAsync<ulong>(rowGroup, field, rows, v => v <= long.MaxValue ? (long)v : new RawJson(v.ToString(CultureInfo.InvariantCulture)), ct).ConfigureAwait(false),
            _ when type == typeof(double) => await ReadAsync<double>(rowGroup, field, rows, v => v, ct).ConfigureAwait(false),
            _ when type == typeof(float) => await ReadAsync<float>(rowGroup, field, rows, v => (double)v, ct).ConfigureAwait(false),
            _ when type == typeof(decimal) => await ReadAsync<decimal>(rowGroup, field, rows, v => (double)v, ct).ConfigureAwait(false),
            _ when type == typeof(bool) => await ReadAsync<bool>(rowGroup, field, rows, v => v, ct).ConfigureAwait(false),
            _ when type == typeof(DateTime) => await ReadAsync<DateTime>(rowGroup, field, rows, v => ParquetTemporalText.Timestamp(v, ParquetTemporalText.IsUtc(field)), ct).ConfigureAwait(false),
            _ when type == typeof(DateTimeOffset) => await ReadAsync<DateTimeOffset>(rowGroup, field, rows, v => ParquetTemporalText.Timestamp(v), ct).ConfigureAwait(false),
            _ when type == typeof(DateOnly) => await ReadAsync<DateOnly>(rowGroup, field, rows, v => ParquetTemporalText.Date(v), ct).ConfigureAwait(false),
            _ when type == typeof(TimeOnly) => await ReadAsync<TimeOnly>(rowGroup, field, rows, v => ParquetTemporalText.Time(v), ct).ConfigureAwait(false),
            _ when type == typeof(TimeSpan) => await ReadAsync<TimeSpan>(rowGroup, field, rows, v => v.ToString("c", CultureInfo.InvariantCulture), ct).ConfigureAwait(false),
            _ when type == typeof(Guid) => await ReadAsync<Guid>(rowGroup, field, rows, v => v.ToString(), ct).ConfigureAwait(false),
            _ => throw new NotSupportedException($"column '{field.Name}' of type {type.Name} cannot be kept; leave it out with \"dropFields\""),
        };
    }

    private static async Task<object?[]> ReadAsync<T>(ParquetRowGroupReader rowGroup, DataField field, int rows, Func<T, object> convert, CancellationToken ct)
        where T : struct
    {
        var result = new object?[rows];
        if (field.IsNullable)
        {
            var values = new T?[rows];
            await rowGroup.ReadAsync<T>(field, values.AsMemory(), cancellationToken: ct).ConfigureAwait(false);
            for (var i = 0; i < rows; i++) result[i] = values[i] is { } v ? convert(v) : null;
        }
        else
        {
            var values = new T[rows];
            await rowGroup.ReadAsync<T>(field, values.AsMemory(), cancellationToken: ct).ConfigureAwait(false);
            for (var i = 0; i < rows; i++) result[i] = convert(values[i]);
        }
        return result;
    }
}
