using System.Buffers;
using System.Text;
using System.Text.Json;
using Curation.Pipelines.Model;
using Curation.Pipelines.Spec;

namespace Curation.Pipelines.IO;

/// <summary>
/// One input field of a record besides text and id (metadata passthrough). <see cref="Value"/> is null, a string, a
/// long, a double, a bool, a list (<c>List&lt;T?&gt;</c> of string, long, double or bool: a Parquet list of one
/// primitive) or <see cref="RawJson"/> (a nested object or array, as its JSON text).
/// </summary>
public readonly record struct FieldValue(string Name, object? Value)
{
    /// <summary>By value, lists (a Parquet list column's rows) element by element.</summary>
    public bool Equals(FieldValue other) =>
        Name == other.Name && (Equals(Value, other.Value)
                               || Value is System.Collections.IList a && other.Value is System.Collections.IList b && a.GetType() == b.GetType()
                               && a.Cast<object?>().SequenceEqual(b.Cast<object?>()));

    public override int GetHashCode() => HashCode.Combine(Name, Value is System.Collections.IList list ? list.Count : Value?.GetHashCode() ?? 0);
}

/// <summary>A nested value (object, array) kept as its JSON text.</summary>
public sealed record RawJson(string Json);

/// <summary>
/// Which input fields are kept (<see cref="InputSpec.Fields"/>, <see cref="InputSpec.DropFields"/>) and the rule that
/// turns them into columns: a field whose non-null values in the job's sample (<c>MetadataSampler</c>) all have
/// one type — string, integer (int64), number (a mix of integers and floats: double), boolean — becomes a nullable
/// column of that type; every other field (nested objects, arrays, mixed types, only nulls in the sample, names of the
/// core columns, the empty name) and every value that does not fit its column's type goes into the <c>metadata</c> column, one JSON
/// object per row (null when the row has none). The rule depends only on the job's input, never on sharding.
/// </summary>
public static class InputFields
{
    /// <summary>Whether a field other than text and id is kept under the spec.</summary>
    public static bool Keeps(InputSpec spec, string name) =>
        name != spec.TextField && name != spec.IdField && (spec.Fields is null || spec.Fields.Contains(name)) && spec.DropFields?.Contains(name) != true;

    /// <summary>Whether any field can be kept: false when <c>fields</c> is empty.</summary>
    public static bool KeepsAny(InputSpec spec) => spec.Fields is null || spec.Fields.Count > 0;

    /// <summary>Names a field can never take as a column of its own (they stay in <c>metadata</c>).</summary>
    private static readonly HashSet<string> Reserved = [Columns.Id, Columns.Text, Columns.Source, Columns.Position, Columns.Metadata];

    /// <summary>
    /// The columns after the core ones: the typed fields (ordinal name order) and the <c>metadata</c> column; none when
    /// no input keeps fields.
    /// </summary>
    public static IReadOnlyList<ColumnSchema> Schema(IEnumerable<FieldValue> sample, bool keepsAny, IReadOnlySet<string>? reserved = null)
    {
        if (!keepsAny) return [];
        var kinds = new SortedDictionary<string, Type?>(StringComparer.Ordinal);
        foreach (var field in sample)
        {
            // A field without a name (a CSV header ending in a delimiter, a JSON "" key) cannot be a column: Parquet finds a
            // column by its name, and the job failed writing its output ("'' does not exist in this file").
            if (field.Name.Length == 0 || Reserved.Contains(field.Name) || reserved?.Contains(field.Name) == true) continue;
            var kind = KindOf(field.Value);
            if (!kinds.TryGetValue(field.Name, out var seen)) kinds[field.Name] = kind;
            else if (kind is not null) kinds[field.Name] = Merge(seen, kind);
        }
        var columns = new List<ColumnSchema>();
        foreach (var (name, kind) in kinds)
            if (kind is not null && kind != typeof(RawJson)) columns.Add(new ColumnSchema(name, kind));
        columns.Add(new ColumnSchema(Columns.Metadata, typeof(string)));
        return columns;
    }

    private static Type? KindOf(object? value) => value switch
    {
        null => null,
        string => typeof(string),
        long => typeof(long?),
        double => typeof(double?),
        bool => typeof(bool?),
        List<string?> => typeof(List<string?>),
        List<long?> => typeof(List<long?>),
        List<double?> => typeof(List<double?>),
        List<bool?> => typeof(List<bool?>),
        _ => typeof(RawJson),
    };

    /// <summary>Integers and floats make a number column; any other pair of types is mixed (kept as JSON).</summary>
    private static Type Merge(Type? seen, Type kind)
    {
        if (seen is null || seen == kind) return kind;
        if ((seen == typeof(long?) && kind == typeof(double?)) || (seen == typeof(double?) && kind == typeof(long?))) return typeof(double?);
        if ((seen == typeof(List<long?>) && kind == typeof(List<double?>)) || (seen == typeof(List<double?>) && kind == typeof(List<long?>)))
            return typeof(List<double?>);
        return typeof(RawJson);
    }

    /// <summary>Writes a JSON value for a field value (the metadata column's members).</summary>
    public static void WriteJson(Utf8JsonWriter json, object? value)
    {
        switch (value)
        {
            case null: json.WriteNullValue(); break;
            case string s: json.WriteStringValue(s); break;
            case long l: json.WriteNumberValue(l); break;
            case double d when double.IsFinite(d): json.WriteNumberValue(d); break;
            case double: json.WriteNullValue(); break;
            case bool b: json.WriteBooleanValue(b); break;
            case RawJson raw: json.WriteRawValue(raw.Json, skipInputValidation: true); break;
            case List<string?> list: WriteArray(json, list); break;
            case List<long?> list: WriteArray(json, list); break;
            case List<double?> list: WriteArray(json, list); break;
            case List<bool?> list: WriteArray(json, list); break;
            default: throw new NotSupportedException($"A field value of type {value.GetType().Name} has no JSON form.");
        }
    }

    private static void WriteArray<T>(Utf8JsonWriter json, List<T> list)
    {
        json.WriteStartArray();
        foreach (var item in list) WriteJson(json, item);
        json.WriteEndArray();
    }
}

/// <summary>
/// Appends records' fields to the passthrough columns of a document batch (<see cref="InputFields.Schema"/>): a
/// typed column gets the value when it fits (an integer fits a number column), null otherwise; what does not fit and
/// every untyped field go into the row's <c>metadata</c> JSON object, in input order.
/// </summary>
public sealed class FieldColumns
{
    private readonly IReadOnlyList<ColumnSchema> _schema;
    private readonly Dictionary<string, int> _index;
    private readonly object?[] _row;
    private readonly ArrayBufferWriter<byte> _buffer = new();

    /// <summary>Text as it is (no \uXXXX escapes for non-ASCII letters), as the input had it.</summary>
    private static readonly JsonWriterOptions WriterOptions = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public FieldColumns(IReadOnlyList<ColumnSchema> schema)
    {
        _schema = schema;
        _index = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = 0; i < schema.Count; i++) _index[schema[i].Name] = i;
        _row = new object?[schema.Count];
    }

    public bool IsEmpty => _schema.Count == 0;

    /// <summary>Adds one row to <paramref name="batch"/>'s passthrough columns (which it must have).</summary>
    public void Add(RecordBatch batch, IReadOnlyList<FieldValue>? fields)
    {
        if (IsEmpty) return;
        Array.Clear(_row);
        Utf8JsonWriter? json = null;
        if (fields is not null)
            foreach (var field in fields)
            {
                if (field.Name != Columns.Metadata && _index.TryGetValue(field.Name, out var i) && Fits(_schema[i].Type, field.Value, out var typed))
                {
                    _row[i] = typed;
                    continue;
                }
                if (json is null)
                {
                    _buffer.ResetWrittenCount();
                    json = new Utf8JsonWriter(_buffer, WriterOptions);
                    json.WriteStartObject();
                }
                json.WritePropertyName(field.Name);
                InputFields.WriteJson(json, field.Value);
            }
        if (json is not null)
        {
            json.WriteEndObject();
            json.Flush();
            json.Dispose();
            _row[_index[Columns.Metadata]] = Encoding.UTF8.GetString(_buffer.WrittenSpan);
        }
        for (var i = 0; i < _schema.Count; i++)
        {
            var column = batch.Find(_schema[i].Name) ?? throw new InvalidOperationException($"The batch lacks passthrough column '{_schema[i].Name}'.");
            column.Values.Add(_row[i]);
        }
    }

    private static bool Fits(Type type, object? value, out object? typed)
    {
        typed = value;
        if (value is null) return true;
        if (type == typeof(string)) return value is string;
        if (type == typeof(long?)) return value is long;
        if (type == typeof(bool?)) return value is bool;
        if (type == typeof(double?))
        {
            if (value is long l) { typed = (double)l; return true; }
            return value is double;
        }
        if (type == typeof(List<double?>) && value is List<long?> integers)
        {
            typed = integers.Select(v => (double?)v).ToList();
            return true;
        }
        return value.GetType() == type; // a list of the column's element type
    }
}
