using System.IO.Compression;
using System.Text.Json;
using Curation.Pipelines.Execution;
using Curation.Pipelines.IO;
using Curation.Pipelines.Spec;
using Curation.Pipelines.Stages;
using Curation.Pipelines.Storage;
using Curation.Testing;

namespace Curation.Pipelines.Tests.Stages;

/// <summary><c>output.format</c> jsonl / jsonl_gz / jsonl_zst: the same rows and columns as the Parquet shards, readable by DuckDB.</summary>
public sealed class OutputFormatTests : IDisposable
{
    private readonly TempDirectory _temp = new("output-format");

    public void Dispose() => _temp.Dispose();

    [Theory]
    [InlineData(OutputFormat.JsonlGz, ".jsonl.gz")]
    [InlineData(OutputFormat.JsonlZst, ".jsonl.zst")]
    [InlineData(OutputFormat.Jsonl, ".jsonl")]
    public async Task Jsonl_shards_hold_the_parquet_shards_rows_and_columns(OutputFormat format, string extension)
    {
        var input = _temp.Combine("corpus");
        Directory.CreateDirectory(input);
        var corpus = new BigObjectCorpus(seed: 5);
        for (var i = 0; i < 4; i++) await File.WriteAllBytesAsync(Path.Combine(input, $"docs-{i}.jsonl"), corpus.Jsonl(60_000));

        JobSpec Spec(OutputFormat f) => new()
        {
            Name = "format",
            Inputs = [new InputSpec { Path = Path.Combine(input, "*.jsonl") }],
            Sharding = new ShardingSpec { TargetShardBytes = 64 * 1024 },
            Stages = [new NormalizeStageSpec(), new QualityFilterStageSpec { MinChars = 20, MinWords = 3 }, new ExactDedupStageSpec()],
            Output = new OutputSpec { Path = "curated/format", Format = f },
        };
        async Task<(IStoreResolver Stores, string Root, CuratedOutput? Output, Manifest Manifest)> RunAsync(string name, OutputFormat f)
        {
            var root = _temp.Combine(name);
            var stores = CurationStoreServiceCollectionExtensions.CreateResolver(new CurationStoreOptions { RootPath = root });
            using var services = StageServices.CreateDefault();
            await InProcessJob.RunAsync(Spec(f), stores, services);
            var (manifest, _) = await stores.DataStore.TryReadJsonAsync<Manifest>("curated/format/manifest.json", CurationJson.Options);
            return (stores, root, f == OutputFormat.Parquet ? await CuratedOutput.ReadAsync(stores.DataStore, "curated/format") : null, manifest!);
        }
        var parquet = await RunAsync("parquet", OutputFormat.Parquet);
        var jsonl = await RunAsync(format.ToString(), format);
        Assert.True(parquet.Manifest.Shards.Count > 1);
        Assert.Equal(parquet.Manifest.Shards.Count, jsonl.Manifest.Shards.Count);

        for (var s = 0; s < parquet.Manifest.Shards.Count; s++)
        {
            var shard = jsonl.Manifest.Shards[s];
            Assert.EndsWith(extension, shard.Key);
            var expected = new List<Dictionary<string, string>>();
            await using (var reader = await ParquetTableReader.OpenAsync(new MemoryStream(await parquet.Stores.DataStore.ReadBytesAsync("curated/format/" + parquet.Manifest.Shards[s].Key))))
                await foreach (var batch in reader.ReadAllAsync())
                    for (var i = 0; i < batch.RowCount; i++)
                        expected.Add(batch.AllColumns.ToDictionary(c => c.Name, c => JsonSerializer.Serialize(c.Values[i])));
            var bytes = await jsonl.Stores.DataStore.ReadBytesAsync("curated/format/" + shard.Key);
            var raw = Decompressed(format, bytes);
            var actual = new StreamReader(raw).ReadToEnd().Split('\n', StringSplitOptions.RemoveEmptyEntries)
                .Select(line => JsonDocument.Parse(line).RootElement.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetRawText())).ToList();
            Assert.Equal(shard.Rows, actual.Count);
            // The documents API's reader (id, source, text) sees the same documents.
            var viewed = new List<string>();
            await foreach (var (id, _, _) in JsonlShardFile.ReadDocumentsAsync(new MemoryStream(bytes), shard.Key)) viewed.Add(id);
            Assert.Equal(actual.Select(a => JsonDocument.Parse(a["id"]).RootElement.GetString()), viewed);
            Assert.Equal(expected.Count, actual.Count);
            for (var i = 0; i < expected.Count; i++)
            {
                Assert.Equal(expected[i].Keys, actual[i].Keys);
                foreach (var (column, value) in expected[i])
                    Assert.Equal(JsonDocument.Parse(value).RootElement.ToString(), JsonDocument.Parse(actual[i][column]).RootElement.ToString());
            }
        }

        // The id index names each kept document's record in its source, as for Parquet (it named the row in the shard:
        // `curate inspect document` said "record 17" of an HTML file, which has one).
        var location = StoreLocation.Parse("curated/format");
        foreach (var id in parquet.Output!.KeptIds.Take(50))
        {
            var fromParquet = await IdIndex.LookupAsync(parquet.Stores.DataStore, location, parquet.Manifest.IdIndex!, id);
            var fromJsonl = await IdIndex.LookupAsync(jsonl.Stores.DataStore, location, jsonl.Manifest.IdIndex!, id);
            Assert.Equal((fromParquet!.Source, fromParquet.Position), (fromJsonl!.Source, fromJsonl.Position));
        }

        var ids = DuckDbReference.Query($"SELECT id FROM read_json_auto('{Path.Combine(jsonl.Root, "curated", "format", "part-*" + extension)}') ORDER BY id");
        Assert.Equal(parquet.Output!.KeptIds.Order(StringComparer.Ordinal), ids[0].EnumerateArray().Select(r => r.GetProperty("id").GetString()!));
    }

    /// <summary>
    /// Real Chinese, Japanese, Korean and Thai text (the Debian FAQ's translations), plus Arabic, an emoji, markup and a
    /// control character: the JSONL shards carry the text as UTF-8 (not \uXXXX escapes), DuckDB and a JSON parser read
    /// back exactly the Parquet shard's text, and the file is smaller than its escaped form.
    /// </summary>
    [Theory]
    [InlineData(OutputFormat.JsonlGz)]
    [InlineData(OutputFormat.JsonlZst)]
    [InlineData(OutputFormat.Jsonl)]
    public async Task Jsonl_shards_write_every_script_as_utf8_text(OutputFormat format)
    {
        var input = _temp.Combine("multilingual");
        Directory.CreateDirectory(input);
        var folder = Path.Combine(RepositoryRoot.Get(), "tests", "data", "multilingual");
        var texts = File.ReadLines(Path.Combine(folder, "faq.jsonl")).Concat(File.ReadLines(Path.Combine(folder, "th.jsonl")))
            .Select(line => JsonDocument.Parse(line).RootElement.GetProperty("text").GetString()!)
            .Append("التعلم الآلي هو فرع من فروع الذكاء الاصطناعي يتيح للحواسيب أن تتعلم من البيانات 😀 and <script>alert('x')</script> & \"quoted\" \\ path\u0007")
            .ToArray();
        await File.WriteAllLinesAsync(Path.Combine(input, "docs.jsonl"),
            texts.Select((t, i) => JsonSerializer.Serialize(new { id = $"d{i:D3}", text = t })));
        var root = _temp.Combine("multilingual-" + format);
        var stores = CurationStoreServiceCollectionExtensions.CreateResolver(new CurationStoreOptions { RootPath = root });
        using (var services = StageServices.CreateDefault())
            await InProcessJob.RunAsync(new JobSpec
            {
                Name = "utf8",
                Inputs = [new InputSpec { Path = Path.Combine(input, "*.jsonl") }],
                Stages = [], // normalize would remove the control character
                Output = new OutputSpec { Path = "curated/utf8", Format = format },
            }, stores, services);
        var (manifest, _) = await stores.DataStore.TryReadJsonAsync<Manifest>("curated/utf8/manifest.json", CurationJson.Options);
        var shard = Assert.Single(manifest!.Shards);
        Assert.Equal((0, null), (manifest.IdIndex!.SharedIds, manifest.IdIndex.SharedIdExample)); // source#position ids: all unique, no warning
        Assert.Empty(manifest.Errors);
        var bytes = await stores.DataStore.ReadBytesAsync("curated/utf8/" + shard.Key);
        var raw = Decompressed(format, bytes);
        var content = new StreamReader(raw).ReadToEnd();
        var lines = content.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(texts.Length, lines.Length);

        var written = new Dictionary<string, string>();
        await foreach (var (id, _, text) in JsonlShardFile.ReadDocumentsAsync(new MemoryStream(bytes), shard.Key)) written[id] = text;
        var escaped = 0L;
        foreach (var line in lines)
        {
            var document = JsonDocument.Parse(line).RootElement;
            var text = document.GetProperty("text").GetString()!;
            Assert.Equal(written[document.GetProperty("id").GetString()!], text);
            // What is escaped is never text proper: no letter, mark, digit or punctuation of any script is a \uXXXX.
            foreach (System.Text.RegularExpressions.Match escape in System.Text.RegularExpressions.Regex.Matches(line, @"\\u([0-9A-F]{4})"))
            {
                var c = (char)Convert.ToInt32(escape.Groups[1].Value, 16);
                Assert.False(char.IsLetterOrDigit(c) || char.IsPunctuation(c) || char.GetUnicodeCategory(c) is System.Globalization.UnicodeCategory.NonSpacingMark
                    or System.Globalization.UnicodeCategory.SpacingCombiningMark, $"escaped U+{(int)c:X4} in {line[..Math.Min(80, line.Length)]}");
            }
            escaped += JsonSerializer.Serialize(document).Length;
        }
        Assert.Contains(texts[0][..9], content, StringComparison.Ordinal);   // 本 FAQ 文档是什么
        Assert.Contains(texts[150][..12], content, StringComparison.Ordinal); // Thai
        Assert.Contains("التعلم الآلي", content, StringComparison.Ordinal);
        Assert.Contains("<script>alert('x')</script> & ", content, StringComparison.Ordinal);
        Assert.Contains("\\uD83D\\uDE00", content, StringComparison.Ordinal); // beyond the BMP: a surrogate pair, as JSON allows
        Assert.Contains("\\u0007", content, StringComparison.Ordinal);
        Assert.True(content.Length * 2 < escaped, $"{content.Length:N0} characters written, {escaped:N0} when escaped");

        // DuckDB reads the same texts.
        var read = DuckDbReference.Query($"SELECT id, text FROM read_json_auto('{Path.Combine(root, "curated", "utf8", shard.Key)}') ORDER BY id")[0]
            .EnumerateArray().ToDictionary(r => r.GetProperty("id").GetString()!, r => r.GetProperty("text").GetString()!);
        Assert.Equal(written.OrderBy(p => p.Key, StringComparer.Ordinal), read.OrderBy(p => p.Key, StringComparer.Ordinal));
    }

    private static Stream Decompressed(OutputFormat format, byte[] bytes) => format switch
    {
        OutputFormat.JsonlGz => new GZipStream(new MemoryStream(bytes), CompressionMode.Decompress),
        OutputFormat.JsonlZst => new ZstdSharp.DecompressionStream(new MemoryStream(bytes)),
        _ => new MemoryStream(bytes),
    };
}
