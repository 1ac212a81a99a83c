using System.Text.Json;
using Curation.Pipelines.Execution;
using Curation.Pipelines.Reports;
using Curation.Pipelines.Spec;
using Curation.Pipelines.Stages;
using Curation.Pipelines.Storage;
using Curation.Testing;
using Xunit.Abstractions;

namespace Curation.Pipelines.Tests.Stages;

/// <summary>
/// report.json / report.html carry the corpus' distributions: tokens, language and per-language breakdown (a <c>language</c>
/// field), every thresholded measure (quality, near-dup candidate similarity), component sizes; document text stays text.
/// </summary>
public sealed class CorpusReportDistributionsTests(ITestOutputHelper output) : IDisposable
{
    private readonly TempDirectory _temp = new("report-distributions");

    public void Dispose() => _temp.Dispose();

    private const string Hostile = "Hostile <img src=x onerror=alert(1)> and </script><script>alert(2)</script> stays text in the report always.";

    [Fact]
    public async Task The_report_holds_tokens_languages_thresholded_measures_and_component_sizes()
    {
        var seed = Environment.TickCount;
        output.WriteLine($"seed {seed}");
        var random = new Random(seed);
        var vocab = new Dictionary<string, string[]>
        {
            ["en"] = ["river", "bread", "model", "budget", "rain", "valley", "harbour", "library", "mountain", "trail"],
            ["ja"] = ["東京", "天気", "図書館", "山", "川", "パン", "予算", "雨", "港", "道"],
            ["th"] = ["ข้าว", "แม่น้ำ", "ภูเขา", "ฝน", "ห้องสมุด", "ขนมปัง", "งบประมาณ", "ท่าเรือ", "ทาง", "เมือง"],
        };
        var lines = new List<string>();
        for (var i = 0; i < 240; i++)
        {
            var language = vocab.Keys.ElementAt(i % 3);
            var words = Enumerable.Range(0, random.Next(3, 80)).Select(_ => vocab[language][random.Next(10)]);
            var text = string.Join(language == "en" ? " " : language == "ja" ? "" : " ", words);
            lines.Add(JsonSerializer.Serialize(new { id = $"d{i:D3}", text, language }));
            if (i % 20 == 0 && text.Length > 40) lines.Add(JsonSerializer.Serialize(new { id = $"d{i:D3}-near", text = text + " extra", language }));
        }
        lines.Add(JsonSerializer.Serialize(new { id = "hostile", text = Hostile, language = "en" }));
        var corpus = _temp.Combine("corpus");
        Directory.CreateDirectory(corpus);
        await File.WriteAllLinesAsync(Path.Combine(corpus, "part.jsonl"), lines);
        var spec = new JobSpec
        {
            Name = "report",
            Inputs = [new InputSpec { Path = Path.Combine(corpus, "*.jsonl"), IdField = "id" }],
            Sharding = new ShardingSpec { TargetShardBytes = 16 * 1024 },
            Stages = [new QualityFilterStageSpec { MinChars = 20, MinWords = 1 }, new TokenizeStageSpec(), new NearDedupStageSpec { Partitions = 2, Shingle = NearDedupShingle.Char }],
            Output = new OutputSpec { Path = "curated/report" },
        };
        using var services = StageServices.CreateDefault();
        var stores = CurationStoreServiceCollectionExtensions.CreateResolver(new CurationStoreOptions { RootPath = _temp.Combine("data") });
        await InProcessJob.RunAsync(spec, stores, services);
        var curated = await CuratedOutput.ReadAsync(stores.DataStore, spec.Output.Path);
        var (report, _) = await stores.DataStore.TryReadJsonAsync<CorpusReport>("curated/report/" + CorpusReport.JsonName, CurationJson.Options);

        var ids = report!.Distributions.Select(d => d.Id).ToList();
        output.WriteLine(string.Join(", ", ids));
        Assert.Contains("tokens", ids);
        Assert.Contains("language", ids);
        Assert.Contains("measure-01-quality_filter-minChars", ids);
        Assert.Contains("measure-03-near_dedup-threshold", ids);
        Assert.Contains("components-03-near_dedup", ids);
        Assert.Equal(curated.KeptIds.Count, report.Distributions.Single(d => d.Id == "tokens").Bars.Sum(b => b.Count));
        // Quality: the minChars histogram holds the documents every other check passes (each drop here fails one check).
        var quality = curated.Manifest.Accounting.Stages.Single(s => s.Stage == "01-quality_filter");
        Assert.Equal(quality.In - quality.Dropped.Where(d => d.Key != "too_short").Sum(d => d.Value), report.Distributions.Single(d => d.Id == "measure-01-quality_filter-minChars").Bars.Sum(b => b.Count));
        // Per language: the kept documents of each language, with mean lengths.
        var kept = curated.KeptIds.ToHashSet();
        var expected = lines.Select(l => JsonDocument.Parse(l).RootElement).Where(r => kept.Contains(r.GetProperty("id").GetString()!))
            .GroupBy(r => r.GetProperty("language").GetString()!).ToDictionary(g => g.Key, g => (long)g.Count());
        Assert.Equal(expected.OrderBy(e => e.Key), report.Languages.ToDictionary(l => l.Language, l => l.Documents).OrderBy(e => e.Key));
        Assert.All(report.Languages, l => Assert.True(l.MeanChars > 0 && l.MeanTokens > 0));

        var html = System.Text.Encoding.UTF8.GetString(await stores.DataStore.ReadBytesAsync("curated/report/" + CorpusReport.HtmlName));
        foreach (var id in new[] { "distributions", "languages", "tokens", "measure-01-quality_filter-minChars", "components-03-near_dedup" })
            Assert.Contains($"id=\"{id}\"", html);
        Assert.DoesNotContain("<img", html);
        Assert.DoesNotContain("<script", html);
    }
}
