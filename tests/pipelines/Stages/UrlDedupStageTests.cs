using System.Text.Json;
using Curation.Pipelines.Execution;
using Curation.Pipelines.IO;
using Curation.Pipelines.Spec;
using Curation.Pipelines.Stages;
using Curation.Pipelines.Storage;
using Curation.Pipelines.Text;
using Curation.Testing;

namespace Curation.Pipelines.Tests.Stages;

/// <summary>url_dedup: one document per normalised URL (the longest text, ties by the smallest id), on exact_dedup's shuffle.</summary>
public sealed class UrlDedupStageTests : IDisposable
{
    private readonly TempDirectory _temp = new("url-dedup");

    public void Dispose() => _temp.Dispose();

    [Theory]
    [InlineData("https://Example.COM/a/b", "http://example.com/a/b")]
    [InlineData("http://example.com/a/b/", "http://example.com/a/b")]
    [InlineData("http://EXAMPLE.com:80/a/b#section-2", "http://example.com/a/b")]
    [InlineData("https://example.com:443/a/b?utm_source=news&utm_medium=mail&utm_campaign=x", "http://example.com/a/b")]
    [InlineData("https://example.com/a/b?fbclid=IwAR0abc", "http://example.com/a/b")]
    [InlineData("https://example.com/a/b/?gclid=Cj0KCQ&page=2#top", "http://example.com/a/b?page=2")]
    [InlineData("https://example.com/a/b?page=2&UTM_Term=t", "http://example.com/a/b?page=2")]
    [InlineData("https://example.com:8443/a/b", "http://example.com:8443/a/b")]
    [InlineData("https://example.com", "http://example.com/")]
    public void Url_variants_normalise_to_one_form(string url, string expected) => Assert.Equal(expected, UrlNormalizer.Normalize(url));

    [Theory]
    [InlineData("http://example.com/a?page=2", "http://example.com/a?page=3")]
    [InlineData("http://example.com/a", "http://example.com/b")]
    [InlineData("http://example.com/a", "http://example.org/a")]
    [InlineData("http://example.com/A", "http://example.com/a")]
    public void Different_pages_stay_different(string a, string b) => Assert.NotEqual(UrlNormalizer.Normalize(a), UrlNormalizer.Normalize(b));

    private string WriteInput(string name, IEnumerable<object> documents, int files = 3)
    {
        var input = _temp.Combine($"in-{name}");
        Directory.CreateDirectory(input);
        var lines = documents.Select(d => JsonSerializer.Serialize(d)).ToList();
        for (var f = 0; f < files; f++) File.WriteAllLines(Path.Combine(input, $"part-{f}.jsonl"), lines.Where((_, i) => i % files == f));
        return input;
    }

    private async Task<(CuratedOutput Output, Dictionary<string, string?> NormalizedUrls)> RunAsync(string name, string input, UrlDedupStageSpec stage,
        long shardBytes = 1 << 30, int? maxPhases = null)
    {
        var spec = new JobSpec
        {
            Name = "url-dedup", Inputs = [new InputSpec { Path = Path.Combine(input, "*.jsonl"), IdField = "id" }],
            Sharding = new ShardingSpec { TargetShardBytes = shardBytes },
            Stages = [new NormalizeStageSpec(), stage], Output = new OutputSpec { Path = "curated/url" },
        };
        Assert.Empty(JobSpecValidator.Validate(spec));
        using var services = StageServices.CreateDefault();
        var stores = CurationStoreServiceCollectionExtensions.CreateResolver(new CurationStoreOptions { RootPath = _temp.Combine($"store-{name}") });
        if (maxPhases is { } stops)
            for (var stop = 1; stop <= stops; stop++) await InProcessJob.RunAsync(spec, stores, services, maxPhases: stop);
        await InProcessJob.RunAsync(spec, stores, services);
        var output = await CuratedOutput.ReadAsync(stores.DataStore, "curated/url");
        var urls = new Dictionary<string, string?>();
        foreach (var shard in output.Manifest.Shards)
        {
            await using var reader = await ParquetTableReader.OpenAsync(new MemoryStream(await stores.DataStore.ReadBytesAsync("curated/url/" + shard.Key)));
            await foreach (var batch in reader.ReadAllAsync())
                for (var i = 0; i < batch.RowCount; i++) urls[batch.Ids[i]] = batch.GetColumn<string>(UrlDedupKey.NormalizedUrlColumn)[i];
        }
        return (output, urls);
    }

    /// <summary>
    /// A generated corpus: 150 pages, many fetched several times under URL variants (scheme, host case, default port,
    /// trailing slash, fragment, tracking parameters) with texts of different lengths, some of equal length (ties by id),
    /// plus documents without a URL or with one that is no http(s) URL. Returns the documents and each one's page (or null).
    /// </summary>
    private static (List<object> Documents, Dictionary<string, (int? Page, string Text)> Truth) Generate(int seed)
    {
        var random = new Random(seed);
        string[] variants = ["https://{0}/p/{1}", "http://{0}/p/{1}/", "HTTPS://{2}/p/{1}#frag", "http://{0}:80/p/{1}?utm_source=feed&utm_medium=rss",
            "https://{0}:443/p/{1}?fbclid=xyz", "https://{0}/p/{1}/?gclid=abc#top"];
        var documents = new List<object>();
        var truth = new Dictionary<string, (int?, string)>();
        for (var d = 0; d < 600; d++)
        {
            var id = $"d{random.Next(100_000):D5}-{d:D4}";
            var page = random.Next(150);
            var host = $"site{page % 7}.example";
            var text = $"Page {page} copy {d}: " + string.Join(' ', Enumerable.Repeat("words", 5 + random.Next(4))); // few lengths, so ties happen
            string? url = random.Next(20) switch
            {
                0 => null,
                1 => "mailto:someone@example.org",
                _ => string.Format(System.Globalization.CultureInfo.InvariantCulture, variants[random.Next(variants.Length)], host, page, host.ToUpperInvariant()),
            };
            documents.Add(url is null ? new { id, text } : new { id, text, url });
            truth[id] = (url is null || url.StartsWith("mailto", StringComparison.Ordinal) ? null : page, text);
        }
        return (documents, truth);
    }

    [Fact]
    public async Task Keeps_the_longest_text_per_normalised_url_ties_by_id_the_same_on_one_and_three_shards()
    {
        var seed = Environment.TickCount;
        Console.WriteLine($"seed {seed}");
        var (documents, truth) = Generate(seed);
        var input = WriteInput("planted", documents);
        var (one, urls) = await RunAsync("one", input, new UrlDedupStageSpec { Partitions = 3 });
        var (many, _) = await RunAsync("many", input, new UrlDedupStageSpec { Partitions = 5 }, shardBytes: 4 * 1024);
        Assert.True(many.Manifest.Shards.Count >= 3, $"several shards ({many.Manifest.Shards.Count})");

        var keepers = truth.Where(t => t.Value.Page is not null).GroupBy(t => t.Value.Page)
            .ToDictionary(g => g.Key!.Value, g => g.OrderByDescending(m => m.Value.Text.Length).ThenBy(m => m.Key, StringComparer.Ordinal).First().Key);
        var expectedKept = truth.Where(t => t.Value.Page is null || keepers[t.Value.Page.Value] == t.Key).Select(t => t.Key).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(expectedKept, one.KeptIds.Order(StringComparer.Ordinal));
        var drops = one.Drops.ToDictionary(d => d.Id);
        foreach (var (id, (page, _)) in truth.Where(t => !expectedKept.Contains(t.Key)))
        {
            Assert.Equal(UrlDedupKey.DuplicateReason, drops[id].Reason);
            Assert.Equal(UrlDedupStageSpec.TypeName, drops[id].Stage);
            Assert.Equal(keepers[page!.Value], drops[id].TwinId);
        }
        foreach (var (id, (page, _)) in truth.Where(t => expectedKept.Contains(t.Key)))
            Assert.Equal(page is null ? null : $"http://site{page % 7}.example/p/{page}", urls[id]);
        Assert.Equal(truth.Count, one.KeptIds.Count + one.Drops.Count);

        Assert.Equal(one.KeptIds.Order(StringComparer.Ordinal), many.KeptIds.Order(StringComparer.Ordinal));
        Assert.Equal(one.Drops.Select(d => (d.Id, d.Reason, d.TwinId)).OrderBy(d => d.Id, StringComparer.Ordinal),
            many.Drops.Select(d => (d.Id, d.Reason, d.TwinId)).OrderBy(d => d.Id, StringComparer.Ordinal));
    }

    [Fact]
    public async Task Keep_none_drops_every_document_of_a_repeated_url_and_resume_gives_the_same_result()
    {
        var (documents, truth) = Generate(seed: 7);
        var input = WriteInput("none", documents);
        var (none, _) = await RunAsync("none", input, new UrlDedupStageSpec { Partitions = 3, Keep = DedupKeep.None }, shardBytes: 4 * 1024);
        var (resumed, _) = await RunAsync("none-resumed", input, new UrlDedupStageSpec { Partitions = 3, Keep = DedupKeep.None }, shardBytes: 4 * 1024, maxPhases: 4);
        var pages = truth.Where(t => t.Value.Page is not null).GroupBy(t => t.Value.Page!.Value).ToDictionary(g => g.Key, g => g.Count());
        var expectedKept = truth.Where(t => t.Value.Page is null || pages[t.Value.Page.Value] == 1).Select(t => t.Key).Order(StringComparer.Ordinal);
        Assert.Equal(expectedKept, none.KeptIds.Order(StringComparer.Ordinal));
        Assert.All(none.Drops, d => Assert.Equal(UrlDedupKey.DuplicateReason, d.Reason));
        Assert.Equal(none.ShardHashes.OrderBy(h => h.Key, StringComparer.Ordinal), resumed.ShardHashes.OrderBy(h => h.Key, StringComparer.Ordinal));
        Assert.Equal(none.Drops.Select(d => (d.Id, d.TwinId)).Order(), resumed.Drops.Select(d => (d.Id, d.TwinId)).Order());
    }

    [Fact]
    public async Task Data_without_a_url_column_fails_naming_the_stage_and_the_column()
    {
        var input = WriteInput("no-url", [new { id = "a", text = "a document without any url field" }, new { id = "b", text = "another one" }], files: 1);
        var error = await Assert.ThrowsAnyAsync<Exception>(() => RunAsync("no-url", input, new UrlDedupStageSpec { Partitions = 2 }));
        Assert.Contains("url_dedup needs a 'url' column", error.ToString());
    }

    [Fact]
    public void Validation_checks_partitions_and_default_keep_is_omitted_from_the_json()
    {
        var spec = new JobSpec
        {
            Name = "u", Inputs = [new InputSpec { Path = "in/*.jsonl" }], Output = new OutputSpec { Path = "out" },
            Stages = [new UrlDedupStageSpec { Partitions = 0 }],
        };
        Assert.Contains(JobSpecValidator.Validate(spec), e => e.Field == "stages[0].partitions");
        var json = JsonSerializer.Serialize<StageSpec>(new UrlDedupStageSpec(), CurationJson.Options);
        Assert.Contains("\"url_dedup\"", json);
        Assert.DoesNotContain("keep", json, StringComparison.OrdinalIgnoreCase);
        var none = (UrlDedupStageSpec)JsonSerializer.Deserialize<StageSpec>("""{ "type": "url_dedup", "keep": "none" }""", CurationJson.Options)!;
        Assert.Equal(DedupKeep.None, none.Keep);
    }
}
