using System.Buffers;
using System.IO.Compression;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using Curation.Pipelines.Model;
using Curation.Pipelines.Spec;

namespace Curation.Pipelines.IO;

/// <summary>
/// Curated shards as JSON Lines (<c>output.format</c> <c>jsonl</c>, <c>jsonl_zst</c> / <c>jsonl_gz</c>) for tools that want
/// JSONL: one object per document with the same columns, in the same order, as the Parquet shard (strings as strings,
/// integers and floats as numbers — a non-finite float as null — booleans, binary as base64). Text is written as UTF-8
/// as it is, as datatrove's and Hugging Face's JSONL writers write it: only what JSON requires is escaped (quote,
/// backslash, control characters) and what System.Text.Json's relaxed encoder always escapes (a few invisible and space
/// characters such as the no-break space, the BOM and the line separator, and characters beyond the Basic Multilingual
/// Plane, such as emoji, as a \uXXXX surrogate pair). Chinese, Thai or Arabic text stays readable and smaller.
/// </summary>
public static class JsonlShardFile
{
    /// <summary>
    /// The escaping described above: <see cref="System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping"/>,
    /// "unsafe" only for JSON embedded in HTML, which a shard file never is (the dashboard shows documents as text).
    /// </summary>
    private static readonly JsonWriterOptions WriterOptions = new()
    {
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    /// <summary>The shard file's extension for a format.</summary>
    public static string Extension(OutputFormat format) => format switch
    {
        OutputFormat.JsonlZst => ".jsonl.zst",
        OutputFormat.JsonlGz => ".jsonl.gz",
        OutputFormat.Jsonl => ".jsonl",
        _ => ".parquet",
    };

    /// <summary>Writes the rows of a Parquet shard as JSON Lines (compressed as the format says); returns how many.</summary>
    public static async Task<long> ConvertAsync(Stream parquet, Stream output, OutputFormat format, CancellationToken cancellationToken = default)
    {
        long rows = 0;
        await using (var compressed = Compress(output, format))
        {
            await using var reader = await ParquetTableReader.OpenAsync(parquet, cancellationToken).ConfigureAwait(false);
            var buffer = new ArrayBufferWriter<byte>(1 << 16);
            await using var json = new Utf8JsonWriter(buffer, WriterOptions);
            await foreach (var batch in reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
            {
                for (var row = 0; row < batch.RowCount; row++)
                {
                    json.WriteStartObject();
                    foreach (var column in batch.AllColumns) WriteValue(json, column, row);
                    json.WriteEndObject();
                    json.Flush();
                    json.Reset(); // one JSON value per line: the next row is a new root, not a second one after a comma
                    buffer.Write("\n"u8);
                    rows++;
                    if (buffer.WrittenCount < FlushBytes) continue;
                    await compressed.WriteAsync(buffer.WrittenMemory, cancellationToken).ConfigureAwait(false);
                    buffer.ResetWrittenCount();
                }
            }
            await compressed.WriteAsync(buffer.WrittenMemory, cancellationToken).ConfigureAwait(false);
        }
        return rows;
    }

    /// <summary>Lines are handed to the compressor in chunks of about this many bytes (a long document in one chunk of its own).</summary>
    private const int FlushBytes = 1 << 16;

    private static Stream Compress(Stream output, OutputFormat format) => format switch
    {
        OutputFormat.JsonlGz => new GZipStream(output, CompressionLevel.Optimal, leaveOpen: true),
        OutputFormat.JsonlZst => new ZstdSharp.CompressionStream(output, level: 3, leaveOpen: true),
        OutputFormat.Jsonl => new NonClosingStream(output),
        _ => throw new ArgumentOutOfRangeException(nameof(format), format, "Not a JSON Lines format."),
    };

    private static void WriteValue(Utf8JsonWriter json, Column column, int row)
    {
        json.WritePropertyName(column.Name);
        switch (column)
        {
            case Column<string> c when c.Name == Columns.Metadata && c[row] is { } raw: json.WriteRawValue(raw, skipInputValidation: true); break;
            case Column<string> c: json.WriteStringValue(c[row]); break;
            case Column<long?> c when c[row] is { } v: json.WriteNumberValue(v); break;
            case Column<double?> c when c[row] is { } v && double.IsFinite(v): json.WriteNumberValue(v); break;
            case Column<bool?> c when c[row] is { } v: json.WriteBooleanValue(v); break;
            case Column<long?> or Column<double?> or Column<bool?>: json.WriteNullValue(); break;
            case Column<long> c: json.WriteNumberValue(c[row]); break;
            case Column<int> c: json.WriteNumberValue(c[row]); break;
            case Column<bool> c: json.WriteBooleanValue(c[row]); break;
            case Column<double> c when double.IsFinite(c[row]): json.WriteNumberValue(c[row]); break;
            case Column<float> c when float.IsFinite(c[row]): json.WriteNumberValue(c[row]); break;
            case Column<double> or Column<float>: json.WriteNullValue(); break;
            case Column<byte[]> c: json.WriteBase64StringValue(c[row]); break;
            case Column<List<string?>?> or Column<List<long?>?> or Column<List<double?>?> or Column<List<bool?>?>:
                InputFields.WriteJson(json, column.Values[row]);
                break;
            default: throw new NotSupportedException($"Column '{column.Name}' of type {column.ElementType.Name} has no JSON form.");
        }
    }

    /// <summary>Id, source and text of a curated shard in either format, in file order (the API's document view).</summary>
    public static async IAsyncEnumerable<(string Id, string Source, string Text)> ReadDocumentsAsync(Stream content, string key,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await foreach (var (id, source, text, _) in ReadDocumentFieldsAsync(content, key, [], cancellationToken).ConfigureAwait(false))
            yield return (id, source, text);
    }

    /// <summary>
    /// The document <paramref name="id"/> of a shard, or null. A Parquet shard is searched by its id column alone, then
    /// only the row group holding the document has its source and text read (from the stream itself where it seeks: a
    /// local file, a ranged blob stream): the whole shard's text was read and decoded for every document looked up (a
    /// page of 20 drops read a 64 MiB shard 20 times). Other shards are scanned.
    /// </summary>
    public static async Task<(string Id, string Source, string Text)?> FindDocumentAsync(Stream content, string key, string id,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(content);
        if (!key.EndsWith(".parquet", StringComparison.OrdinalIgnoreCase))
        {
            await foreach (var document in ReadDocumentsAsync(content, key, cancellationToken).ConfigureAwait(false))
                if (document.Id == id) return document;
            return null;
        }
        await using var reader = await ParquetTableReader.OpenAsync(content, cancellationToken).ConfigureAwait(false);
        for (var group = 0; group < reader.RowGroupCount; group++)
        {
            var ids = (await reader.ReadRowGroupAsync(group, cancellationToken, [Columns.Id]).ConfigureAwait(false)).Ids;
            for (var row = 0; row < ids.Count; row++)
            {
                if (ids[row] != id) continue;
                var batch = await reader.ReadRowGroupAsync(group, cancellationToken, [Columns.Source, Columns.Text]).ConfigureAwait(false);
                return (id, batch.Sources[row], batch.Texts[row]);
            }
        }
        return null;
    }

    /// <summary>As <see cref="ReadDocumentsAsync"/>, with the named extra fields as text (null where the file or the document has none).</summary>
    public static async IAsyncEnumerable<(string Id, string Source, string Text, string?[] Fields)> ReadDocumentFieldsAsync(Stream content, string key,
        IReadOnlyList<string> fields, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        if (key.EndsWith(".parquet", StringComparison.OrdinalIgnoreCase))
        {
            await using var reader = await ParquetTableReader.OpenAsync(content, cancellationToken).ConfigureAwait(false);
            var present = fields.Where(f => reader.Schema.Any(c => c.Name == f)).ToArray();
            await foreach (var batch in reader.ReadColumnsAsync([Columns.Id, Columns.Text, Columns.Source, .. present], cancellationToken).ConfigureAwait(false))
            {
                var columns = fields.Select(f => batch.Find(f)).ToArray();
                for (var i = 0; i < batch.RowCount; i++)
                    yield return (batch.Ids[i], batch.Sources[i], batch.Texts[i],
                        columns.Select(c => c is null ? null : Convert.ToString(c.Values[i], System.Globalization.CultureInfo.InvariantCulture)).ToArray());
            }
            yield break;
        }
        Stream decompressed = key.EndsWith(".gz", StringComparison.OrdinalIgnoreCase)
            ? new GZipStream(content, CompressionMode.Decompress, leaveOpen: true)
            : key.EndsWith(".zst", StringComparison.OrdinalIgnoreCase)
                ? new ZstdSharp.DecompressionStream(content, leaveOpen: true)
                : new NonClosingStream(content);
        await using (decompressed)
        {
            using var lines = new StreamReader(decompressed, Encoding.UTF8);
            while (await lines.ReadLineAsync(cancellationToken).ConfigureAwait(false) is { } line)
            {
                if (line.Length == 0) continue;
                using var document = JsonDocument.Parse(line);
                var root = document.RootElement;
                var values = fields.Select(f => root.TryGetProperty(f, out var v) && v.ValueKind != JsonValueKind.Null
                    ? (v.ValueKind == JsonValueKind.String ? v.GetString() : v.GetRawText()) : null).ToArray();
                yield return (root.GetProperty(Columns.Id).GetString()!, root.GetProperty(Columns.Source).GetString()!, root.GetProperty(Columns.Text).GetString()!, values);
            }
        }
    }
}
