using System.IO.Compression;
using System.Text;
using System.Text.Json;
using Curation.Pipelines.IO;
using Curation.Pipelines.Storage;
using Parquet;
using Parquet.Schema;

namespace Curation.Testing;

/// <summary>
/// Large single objects for split-on-read tests: JSONL lines of random words with exact duplicates (some across
/// objects), blank lines, malformed lines and a few CRLF endings, generated from a seed.
/// </summary>
public sealed class BigObjectCorpus(int seed)
{
    private readonly Random _random = new(seed);
    private readonly string[] _vocabulary = Enumerable.Range(0, 5_000).Select(i => $"w{i:x}{(char)('a' + i % 26)}").ToArray();
    private readonly List<string> _texts = [];

    public string Text()
    {
        // A copy of an earlier document now and then (exact_dedup has work across parts and objects).
        if (_texts.Count > 10 && _random.Next(10) == 0) return _texts[_random.Next(_texts.Count)];
        var text = string.Join(' ', Enumerable.Range(0, 20 + _random.Next(200)).Select(_ => _vocabulary[_random.Next(_vocabulary.Length)]));
        _texts.Add(text);
        return text;
    }

    /// <summary>JSONL lines up to about <paramref name="bytes"/> (UTF-8), with the odd blank, broken or CRLF line.</summary>
    public byte[] Jsonl(long bytes)
    {
        var output = new MemoryStream();
        using (var writer = new StreamWriter(output, new UTF8Encoding(false), leaveOpen: true))
        {
            var line = 0;
            while (output.Length + 4096 < bytes)
            {
                line++;
                switch (_random.Next(200))
                {
                    case 0: writer.Write("\n"); break;
                    case 1: writer.Write("{\"text\": \"broken line\n"); break;
                    case 2: writer.Write(JsonSerializer.Serialize(new { text = Text(), n = line }) + "\r\n"); break;
                    default: writer.Write(JsonSerializer.Serialize(new { text = Text(), n = line }) + "\n"); break;
                }
                if (line % 256 == 0) writer.Flush();
            }
        }
        return output.ToArray();
    }

    public static byte[] Gzip(byte[] data)
    {
        var output = new MemoryStream();
        using (var gzip = new GZipStream(output, CompressionLevel.Fastest, leaveOpen: true)) gzip.Write(data);
        return output.ToArray();
    }

    public static byte[] Zstd(byte[] data)
    {
        using var compressor = new ZstdSharp.Compressor(3);
        return compressor.Wrap(data).ToArray();
    }

    /// <summary>A Parquet file of <paramref name="groups"/> row groups of text (a null text now and then).</summary>
    public async Task<byte[]> ParquetAsync(int groups, int rowsPerGroup)
    {
        var text = new DataField<string>("text");
        var output = new MemoryStream();
        await using (var writer = await ParquetWriter.CreateAsync(new ParquetSchema(text), output))
        {
            for (var g = 0; g < groups; g++)
            {
                using var rowGroup = writer.CreateRowGroup();
                await rowGroup.WriteAsync(text, Enumerable.Range(0, rowsPerGroup).Select(_ => _random.Next(100) == 0 ? null : Text()).ToArray());
            }
        }
        return output.ToArray();
    }

    /// <summary>Every row of a job's curated shards (id, text, source, position), ordered by id: what splitting must not change.</summary>
    public static async Task<List<(string Id, string Text, string Source, long Position)>> ReadRowsAsync(IObjectStore store, string prefix, Curation.Pipelines.Execution.Manifest manifest)
    {
        var rows = new List<(string, string, string, long)>();
        foreach (var shard in manifest.Shards)
        {
            await using var reader = await ParquetTableReader.OpenAsync(new MemoryStream(await store.ReadBytesAsync(prefix.TrimEnd('/') + "/" + shard.Key)));
            await foreach (var b in reader.ReadAllAsync())
                for (var i = 0; i < b.RowCount; i++)
                    rows.Add((b.Ids[i], b.Texts[i], b.Sources[i], b.Positions[i]));
        }
        return rows.OrderBy(r => r.Item1, StringComparer.Ordinal).ToList();
    }
}
