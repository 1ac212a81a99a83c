using System.Text.Json;
using Curation.Pipelines.Execution;
using Curation.Pipelines.Spec;
using Curation.Pipelines.Stages;
using Curation.Pipelines.Storage;
using Curation.Pipelines.Text;
using Curation.Testing;

namespace Curation.Pipelines.Tests.Stages;

/// <summary>URL normalisation and the url_filter stage: domain and substring blocklists over the <c>url</c> column.</summary>
public sealed class UrlFilterStageTests : IDisposable
{
    private readonly TempDirectory _temp = new("url-filter");

    public void Dispose() => _temp.Dispose();

    [Theory]
    [InlineData("HTTPS://Example.COM:443/a/b/?utm_source=x&id=7&fbclid=abc#top", "http://example.com/a/b?id=7")]
    [InlineData("http://example.com:80", "http://example.com/")]
    [InlineData("http://example.com/", "http://example.com/")]
    [InlineData("https://example.com/page?gclid=1&utm_medium=mail", "http://example.com/page")]
    [InlineData("http://example.com:8080/x", "http://example.com:8080/x")]
    [InlineData("http://Bücher.example/Ä", "http://xn--bcher-kva.example/%C3%84")]
    [InlineData("mailto:a@b.c", null)]
    [InlineData("not a url", null)]
    public void Normalises_scheme_host_ports_slash_fragment_and_tracking(string url, string? expected) =>
        Assert.Equal(expected, UrlNormalizer.Normalize(url));

    private async Task<CuratedOutput> RunAsync(string name, IEnumerable<object> documents, UrlFilterStageSpec filter)
    {
        var input = _temp.Combine($"in-{name}");
        Directory.CreateDirectory(input);
        File.WriteAllLines(Path.Combine(input, "part.jsonl"), documents.Select(d => JsonSerializer.Serialize(d)));
        var spec = new JobSpec
        {
            Name = "url", Inputs = [new InputSpec { Path = Path.Combine(input, "*.jsonl"), IdField = "id" }],
            Stages = [filter], Output = new OutputSpec { Path = "curated/url" },
        };
        Assert.Empty(JobSpecValidator.Validate(spec));
        using var services = StageServices.CreateDefault();
        var stores = CurationStoreServiceCollectionExtensions.CreateResolver(new CurationStoreOptions { RootPath = _temp.Combine($"store-{name}") });
        await InProcessJob.RunAsync(spec, stores, services);
        return await CuratedOutput.ReadAsync(stores.DataStore, "curated/url");
    }

    [Fact]
    public async Task Drops_blocked_domains_with_their_subdomains_and_blocked_substrings()
    {
        var domains = _temp.Combine("domains.txt");
        File.WriteAllLines(domains, ["# spam farms", "spam.example", "WWW.Casino.test", ""]);
        var substrings = _temp.Combine("substrings.txt");
        File.WriteAllLines(substrings, ["/adult/", "?affiliate="]);
        object[] documents =
        [
            new { id = "a", text = "kept text", url = "https://news.example/story" },
            new { id = "b", text = "spam text", url = "https://spam.example/page" },
            new { id = "c", text = "sub text", url = "http://www.shop.SPAM.example/x" },
            new { id = "d", text = "casino", url = "https://casino.test/" },
            new { id = "e", text = "lookalike", url = "https://notspam.example/" },
            new { id = "f", text = "path", url = "https://blog.example/ADULT/1" },
            new { id = "g", text = "query", url = "https://blog.example/p?affiliate=9" },
            new { id = "h", text = "no url", url = "" },
        ];
        var output = await RunAsync("mixed", documents, new UrlFilterStageSpec { DomainsPath = domains, SubstringsPath = substrings });
        Assert.Equal(["a", "e", "h"], output.KeptIds.Order(StringComparer.Ordinal));
        var reasons = output.Drops.ToDictionary(d => d.Id, d => d.Reason);
        Assert.Equal(UrlFilterTransform.BlockedDomain, reasons["b"]);
        Assert.Equal(UrlFilterTransform.BlockedDomain, reasons["c"]);
        Assert.Equal(UrlFilterTransform.BlockedDomain, reasons["d"]);
        Assert.Equal(UrlFilterTransform.BlockedSubstring, reasons["f"]);
        Assert.Equal(UrlFilterTransform.BlockedSubstring, reasons["g"]);
        Assert.Contains("spam.example", output.Drops.Single(d => d.Id == "c").Detail);
    }

    [Fact]
    public async Task Data_without_a_url_column_fails_naming_the_stage_and_the_column()
    {
        var domains = _temp.Combine("d.txt");
        File.WriteAllLines(domains, ["spam.example"]);
        var error = await Assert.ThrowsAnyAsync<Exception>(() =>
            RunAsync("no-url", [new { id = "a", text = "no url field here" }], new UrlFilterStageSpec { DomainsPath = domains }));
        Assert.Contains("url_filter needs a 'url' column", error.ToString());
    }

    [Fact]
    public void Validation_needs_a_list_and_absolute_paths()
    {
        var spec = new JobSpec
        {
            Name = "u", Inputs = [new InputSpec { Path = "in/*.jsonl" }], Output = new OutputSpec { Path = "out" },
            Stages = [new UrlFilterStageSpec(), new UrlFilterStageSpec { DomainsPath = "relative.txt" }],
        };
        var errors = JobSpecValidator.Validate(spec);
        Assert.Contains(errors, e => e.Field == "stages[0].domainsPath");
        Assert.Contains(errors, e => e.Field == "stages[1].domainsPath" && e.Message.Contains("absolute"));
    }
}
