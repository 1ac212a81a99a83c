using System.Text;
using System.Text.Json;
using Curation.Pipelines.Execution;
using Curation.Pipelines.IO;
using Curation.Pipelines.Reports;
using Curation.Pipelines.Spec;
using Curation.Pipelines.Stages;
using Curation.Pipelines.Storage;
using Curation.Testing;
using Xunit.Abstractions;

namespace Curation.Pipelines.Tests.Execution;

/// <summary>
/// The manifest's bookkeeping, made cheap without changing a byte: the id index's bucket objects equal a plain sort of
/// every entry's JSON line (ids from several scripts, surrogate pairs and repeated ids included), and the report built from
/// the tallies the writing passes gathered equals the report built by reading every shard, whichever pass wrote the rows
/// (the output's deferred apply after exact_dedup, or the document pass right before the output).
/// </summary>
public sealed class ManifestBookkeepingTests(ITestOutputHelper log) : IDisposable
{
    private readonly TempDirectory _temp = new("manifest-bookkeeping");

    public void Dispose() => _temp.Dispose();

    private static readonly string[] Words = ["river", "bread", "東京", "図書館", "ข้าว", "ภูเขา", "𠮷野家", "ｆｕｌｌ", "model", "trail", "rain", "harbour"];

    private async Task<string> CorpusAsync(int seed)
    {
        var random = new Random(seed);
        var lines = new List<string>();
        for (var i = 0; i < 600; i++)
        {
            var text = string.Join(" ", Enumerable.Range(0, random.Next(6, 60)).Select(_ => Words[random.Next(Words.Length)]));
            // Ids whose UTF-16 order differs from their UTF-8 order (a surrogate pair against U+FF21), and repeated ids.
            var id = (i % 7) switch { 0 => $"𠮷{i:D4}", 1 => $"Ａ{i:D4}", 2 => $"dup{i % 5}", _ => $"d{i:D4}" };
            var language = (i % 3) switch { 0 => "en", 1 => "ja", _ => "" };
            lines.Add(JsonSerializer.Serialize(new { id, text, language }));
            if (i % 9 == 0) lines.Add(JsonSerializer.Serialize(new { id = $"copy{i}", text, language })); // an exact duplicate
        }
        var folder = _temp.Combine($"corpus-{seed}");
        Directory.CreateDirectory(folder);
        foreach (var part in lines.Chunk(lines.Count / 5 + 1).Select((chunk, i) => (chunk, i)))
            await File.WriteAllLinesAsync(Path.Combine(folder, $"part-{part.i}.jsonl"), part.chunk);
        return folder;
    }

    [Fact]
    public void An_index_line_is_the_serializers_line_byte_for_byte()
    {
        var line = new JsonSerializerOptions(CurationJson.Options) { WriteIndented = false };
        IdIndexEntry[] entries =
        [
            new("d1", "s3://bucket/a.jsonl", 0, "part-00000.parquet", null, null, null, null),
            new("\"quoted\" <b>&amp;</b> 'x' + \\ \t\n\u0001", "f/é.jsonl", long.MaxValue, "drops/part-00001.parquet", "exact_dedup", "duplicate",
                "of 東京 \ud83d\ude00", "𠮷twin"),
            new("ｆｕｌｌ", "", -1, null, "quality_filter", "low_quality", null, null),
            new("ข้าว", "x", 42, null, null, null, "detail only", null),
        ];
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        using var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = line.Encoder });
        foreach (var entry in entries)
        {
            buffer.ResetWrittenCount();
            json.Reset(buffer);
            IdIndex.WriteLine(json, entry);
            Assert.Equal(JsonSerializer.Serialize(entry, line), Encoding.UTF8.GetString(buffer.WrittenSpan));
        }
    }

    [Fact]
    public async Task Serialized_entries_cut_short_or_miscounted_fail_naming_the_object()
    {
        var corpus = await CorpusAsync(7);
        var spec = new JobSpec
        {
            Name = "entries",
            Inputs = [new InputSpec { Path = Path.Combine(corpus, "*.jsonl"), IdField = "id" }],
            Sharding = new ShardingSpec { TargetShardBytes = 12 * 1024 },
            Stages = [new ExactDedupStageSpec { Partitions = 3 }],
            Output = new OutputSpec { Path = "curated/entries" },
        };
        var stores = CurationStoreServiceCollectionExtensions.CreateResolver(new CurationStoreOptions { RootPath = _temp.Combine("data-entries") });
        using var services = StageServices.CreateDefault();
        await InProcessJob.RunAsync(spec, stores, services);
        var store = stores.DataStore;
        var location = StoreLocation.Parse(spec.Output.Path);
        var manifest = (await CuratedOutput.ReadAsync(store, "curated/entries")).Manifest;
        var (shard, drops) = (manifest.Shards[0], manifest.Drops[0]);
        Assert.True(drops.Rows > 0, "the first shard has no drops: the test needs both kinds of entry");

        using var entries = new MemoryStream();
        var count = await IdIndex.WriteShardEntriesAsync(entries, new MemoryStream(await store.ReadBytesAsync(location.KeyOf(shard.Key))), shard.Key,
            new MemoryStream(await store.ReadBytesAsync(location.KeyOf(drops.Key))), drops.Key);
        Assert.Equal(shard.Rows + drops.Rows, count);
        var bytes = entries.ToArray();

        // Whole, they make the index the published objects make.
        var whole = await IdIndex.WriteAsync(store, location, "whole", [shard], [drops], gathered: (_, _) => Task.FromResult<(byte[], string)?>((bytes, "whole.entries")));
        var read = await IdIndex.WriteAsync(store, location, "read", [shard], [drops]);
        Assert.Equal(read.Entries, whole.Entries);
        Assert.Equal(await store.ReadBytesAsync(location.KeyOf($"read/{IdIndex.BucketKey(0)}")), await store.ReadBytesAsync(location.KeyOf($"whole/{IdIndex.BucketKey(0)}")));

        var cut = await Assert.ThrowsAsync<InvalidDataException>(() => IdIndex.WriteAsync(store, location, "cut", [shard], [drops],
            gathered: (_, _) => Task.FromResult<(byte[], string)?>((bytes[..^3], "cut.entries"))));
        Assert.Contains("cut.entries", cut.Message);
        var (firstShard, firstDrops) = (shard with { Rows = shard.Rows + 1 }, drops);
        var miscounted = await Assert.ThrowsAsync<InvalidDataException>(() => IdIndex.WriteAsync(store, location, "miscounted", [firstShard], [firstDrops],
            gathered: (_, _) => Task.FromResult<(byte[], string)?>((bytes, "miscounted.entries"))));
        Assert.Contains("miscounted.entries", miscounted.Message);
    }

    [Fact]
    public async Task Manifest_and_report_json_carry_every_script_as_utf8_and_keep_html_characters_escaped()
    {
        // They were written with \uXXXX escapes for every non-ASCII character: '東京' read '\u6771\u4EAC' in a terminal.
        var folder = _temp.Combine("scripts");
        Directory.CreateDirectory(folder);
        await File.WriteAllLinesAsync(Path.Combine(folder, "東京-ข่าว.jsonl"),
        [
            JsonSerializer.Serialize(new { id = "東京<1>", text = "the first document about the river" }),
            JsonSerializer.Serialize(new { id = "東京<1>", text = "another document with the same id" }),
        ]);
        var spec = new JobSpec
        {
            Name = "scripts", Inputs = [new InputSpec { Path = Path.Combine(folder, "*.jsonl"), IdField = "id" }], Stages = [],
            Output = new OutputSpec { Path = "curated/scripts" },
        };
        var stores = CurationStoreServiceCollectionExtensions.CreateResolver(new CurationStoreOptions { RootPath = _temp.Combine("data-scripts") });
        using var services = StageServices.CreateDefault();
        await InProcessJob.RunAsync(spec, stores, services);

        var manifest = Encoding.UTF8.GetString(await stores.DataStore.ReadBytesAsync("curated/scripts/manifest.json"));
        var report = Encoding.UTF8.GetString(await stores.DataStore.ReadBytesAsync("curated/scripts/report.json"));
        // <, > and ' stay escaped (JSON pasted into HTML stays inert).
        Assert.Contains("(the first: \\u0027東京\\u003C1\\u003E\\u0027, 2 documents)", manifest, StringComparison.Ordinal);
        Assert.Contains("東京-ข่าว.jsonl", report, StringComparison.Ordinal);
        Assert.DoesNotContain("\\u6771", manifest + report, StringComparison.Ordinal);
        Assert.Equal("東京<1>", (await CuratedOutput.ReadAsync(stores.DataStore, "curated/scripts")).Manifest.IdIndex!.SharedIdExample);
    }

    public static TheoryData<string> Chains =>
        new() { "exact_dedup last", "document stages last", "near_dedup last", "line_dedup last", "read only", "near_dedup last, fusion off" };

    [Theory]
    [MemberData(nameof(Chains))]
    public async Task Id_index_and_report_equal_a_plain_rebuild_from_the_published_objects(string chain)
    {
        var seed = Environment.TickCount;
        log.WriteLine($"seed {seed}");
        var corpus = await CorpusAsync(seed);
        // The output applies exact_dedup's and near_dedup's decisions in its own pass; the fused document pass before the
        // output taps the rows, as do line_dedup's apply and the read as they write their shards; with fusion off nothing is
        // tapped: the manifest reads the shards for the report.
        List<StageSpec> stages = chain switch
        {
            "exact_dedup last" => [new NormalizeStageSpec(), new TokenizeStageSpec(), new ExactDedupStageSpec { Partitions = 3 }],
            "document stages last" => [new ExactDedupStageSpec { Partitions = 3 }, new TokenizeStageSpec(), new NormalizeStageSpec(),
                new LanguageStageSpec { MinScore = 0, LowAccuracy = true }],
            "line_dedup last" => [new ExactDedupStageSpec { Partitions = 3 }, new NormalizeStageSpec(), new TokenizeStageSpec(), new LineDedupStageSpec()],
            "read only" => [],
            _ => [new ExactDedupStageSpec { Partitions = 3 }, new NormalizeStageSpec(), new TokenizeStageSpec(), new NearDedupStageSpec()],
        };
        var fused = !chain.EndsWith("fusion off", StringComparison.Ordinal);
        var spec = new JobSpec
        {
            Name = "bookkeeping",
            Inputs = [new InputSpec { Path = Path.Combine(corpus, "*.jsonl"), IdField = "id" }],
            Sharding = new ShardingSpec { TargetShardBytes = 12 * 1024 },
            Stages = stages,
            Output = new OutputSpec { Path = "curated/bookkeeping" },
        };
        var root = _temp.Combine($"data-{chain.Replace(' ', '-')}");
        var stores = CurationStoreServiceCollectionExtensions.CreateResolver(new CurationStoreOptions { RootPath = root });
        using var services = StageServices.CreateDefault();
        using (FusedDocumentPass.Use(fused))
            await InProcessJob.RunAsync(spec, stores, services);
        var store = stores.DataStore;
        var location = StoreLocation.Parse(spec.Output.Path);
        var manifest = (await CuratedOutput.ReadAsync(store, "curated/bookkeeping")).Manifest;
        Assert.True(manifest.Shards.Count > 2, $"{manifest.Shards.Count} shards: too few to test the merge");

        // The id index: every entry's line, bucketed and sorted by (id, line) ordinally, as a plain in-memory rebuild makes it.
        var line = new JsonSerializerOptions(CurationJson.Options) { WriteIndented = false };
        var entries = new List<IdIndexEntry>();
        foreach (var shard in manifest.Shards)
        {
            await using var reader = await ParquetTableReader.OpenAsync(new MemoryStream(await store.ReadBytesAsync(location.KeyOf(shard.Key))));
            await foreach (var batch in reader.ReadAllAsync())
                for (var i = 0; i < batch.RowCount; i++)
                    entries.Add(new IdIndexEntry(batch.Ids[i], batch.Sources[i], batch.Positions[i], shard.Key, null, null, null, null));
        }
        foreach (var drops in manifest.Drops)
        {
            await using var reader = await ParquetTableReader.OpenAsync(new MemoryStream(await store.ReadBytesAsync(location.KeyOf(drops.Key))));
            await foreach (var batch in reader.ReadAllAsync()) entries.AddRange(IdIndex.DropEntries(batch, drops.Key));
        }
        var index = manifest.IdIndex!;
        Assert.Equal(entries.Count, index.Entries);
        // Ids held by more than one document: counted, the smallest named with its count, and a job warning says so.
        var shared = entries.GroupBy(e => e.Id).Where(g => g.Count() > 1).OrderBy(g => g.Key, StringComparer.Ordinal).ToList();
        Assert.NotEmpty(shared);
        Assert.Equal((shared.Count, shared[0].Key, shared[0].Count()), (index.SharedIds, index.SharedIdExample, index.SharedIdExampleCount));
        Assert.Contains(manifest.Errors, e => e.StartsWith($"{shared.Count:N0} document ids are held by more than one document (the first: '{shared[0].Key}', {shared[0].Count()} documents)", StringComparison.Ordinal));
        for (var b = 0; b < index.Buckets; b++)
        {
            var expected = entries.Where(e => IdIndex.BucketOf(e.Id, index.Buckets) == b)
                .Select(e => (e.Id, Line: JsonSerializer.Serialize(e, line)))
                .Order(Comparer<(string Id, string Line)>.Create((x, y) => string.CompareOrdinal(x.Id, y.Id) is var c and not 0 ? c : string.CompareOrdinal(x.Line, y.Line)))
                .Aggregate(new StringBuilder(), (text, e) => text.Append(e.Line).Append('\n')).ToString();
            var actual = Encoding.UTF8.GetString(await store.ReadBytesAsync(location.KeyOf($"{index.Folder}/{IdIndex.BucketKey(b)}")));
            Assert.Equal(expected, actual);
        }

        // The write tasks serialized every shard's entries (the manifest read none of the published objects for the index),
        // and an index built by reading those objects instead holds the same bytes.
        Assert.Equal(manifest.Shards.Count, Directory.EnumerateFiles(root, "*.entries", SearchOption.AllDirectories).Count());
        var reread = await IdIndex.WriteAsync(store, location, "reread-index", manifest.Shards, manifest.Drops);
        Assert.Equal(index, reread with { Folder = index.Folder });
        for (var b = 0; b < index.Buckets; b++)
            Assert.Equal(await store.ReadBytesAsync(location.KeyOf($"{index.Folder}/{IdIndex.BucketKey(b)}")),
                await store.ReadBytesAsync(location.KeyOf($"reread-index/{IdIndex.BucketKey(b)}")));

        // The report: the passes gathered every shard's tally (the manifest read none of the shards for it) unless no tapped
        // pass wrote the rows, and the report equals the one built by reading every shard.
        var tallies = Directory.EnumerateFiles(root, "*.json", SearchOption.AllDirectories)
            .Where(f => Path.GetFileName(Path.GetDirectoryName(f)) == "report" && Path.GetFileName(Path.GetDirectoryName(Path.GetDirectoryName(f)))!.EndsWith("-output", StringComparison.Ordinal))
            .ToList();
        Assert.Equal(fused ? manifest.Shards.Count : 0, tallies.Count);
        var rebuilt = await CorpusReport.BuildAsync(store, location, manifest, spec);
        if (chain == "read only") Assert.NotEmpty(rebuilt.LengthChars); // no tokenize stage: no token counts
        else Assert.Contains(rebuilt.Distributions, d => d.Id == "tokens");
        Assert.Contains(rebuilt.Languages, l => chain == "document stages last" || l.Language == "und"); // "" from the input
        if (chain == "document stages last") Assert.NotEmpty(rebuilt.LanguageScores); // the language stage's double column
        Assert.Equal(Encoding.UTF8.GetString(JsonSerializer.SerializeToUtf8Bytes(rebuilt, CurationJson.Readable)),
            Encoding.UTF8.GetString(await store.ReadBytesAsync(location.KeyOf(CorpusReport.JsonName))));
        Assert.Equal(CorpusReportHtml.Render(rebuilt), Encoding.UTF8.GetString(await store.ReadBytesAsync(location.KeyOf(CorpusReport.HtmlName))));
    }
}
