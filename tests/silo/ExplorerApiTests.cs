using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Curation.Grains;
using Curation.Pipelines;
using Curation.Pipelines.Execution;
using Curation.Pipelines.Spec;
using Curation.Pipelines.Storage;
using Curation.Silo.Api;
using Curation.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace Curation.Silo.Tests;

/// <summary>
/// The drop explorer's API on a planted chain: c is an exact copy of b, b a near duplicate of a. Looking up c names
/// exact_dedup and b, then near_dedup and a, and ends at a's text; every lookup goes through the output's id index.
/// </summary>
public sealed class ExplorerApiTests : IAsyncLifetime
{
    private readonly TempDirectory _temp = new("explorer");
    private TestApiHost _host = null!;

    public async Task InitializeAsync() => _host = await TestApiHost.StartAsync(_temp.Combine("data"), _temp.Path);

    public async Task DisposeAsync()
    {
        await _host.DisposeAsync();
        _temp.Dispose();
    }

    [Fact]
    public async Task A_copy_of_a_near_duplicate_is_followed_to_the_kept_document_and_drops_page_through()
    {
        var (a, b, lines, spec) = await PlantedChain.WriteAsync(_temp.Combine("corpus"));
        using var client = _host.Client();
        var response = await client.PostAsync("/api/jobs", SmallJob.Body(spec));
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var jobId = (await response.Content.ReadFromJsonAsync<SubmitResult>(TestApiHost.Json))!.JobId;
        var view = await _host.WaitAsync(jobId, TimeSpan.FromMinutes(4));
        Assert.True(view.State == JobState.Completed, view.Error);

        using var viewer = _host.Client(TestApiHost.ViewerKey);
        var fate = (await viewer.GetFromJsonAsync<DocumentFate>($"/api/jobs/{jobId}/documents/c-copy", TestApiHost.Json))!;
        Assert.Equal("dropped", fate.Fate);
        Assert.Equal(["c-copy", "b-near", "a-keep"], fate.Chain.Select(s => s.Id));
        Assert.Equal(("exact_duplicate", "b-near"), (fate.Chain[0].Reason, fate.Chain[0].Twin));
        Assert.Equal(("near_duplicate", "a-keep"), (fate.Chain[1].Reason, fate.Chain[1].Twin));
        // The similarity that decided the near duplicate, recomputed from the two texts as its stage saw them.
        Assert.Null(fate.Chain[0].Similarity);
        Assert.Matches(@"^Jaccard (0\.\d+|1) estimated \(\d+ MinHash permutations\), (0\.\d+|1) exact$", fate.Chain[1].Similarity);
        var estimated = double.Parse(fate.Chain[1].Similarity!.Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(estimated, JobSpec.Parse(spec).Stages.OfType<NearDedupStageSpec>().Single().Threshold, 1.0);
        // Dropped texts come from the job's working copy of the shard the dropping stage read: b beside a, diffable.
        Assert.Equal([b, b], fate.Chain.Take(2).Select(s => s.Text));
        Assert.Equal("kept", fate.Chain[2].Fate);
        Assert.Equal(a, fate.Chain[2].Text);

        // The document's text comes back as the JSON string it is: the API never turns it into markup.
        var hostile = (await viewer.GetFromJsonAsync<DocumentFate>($"/api/jobs/{jobId}/documents/d-hostile", TestApiHost.Json))!;
        Assert.Equal(PlantedChain.Hostile, Assert.Single(hostile.Chain).Text);
        Assert.Equal(HttpStatusCode.NotFound, (await viewer.GetAsync($"/api/jobs/{jobId}/documents/no-such-id")).StatusCode);
        // Every script comes back as UTF-8 text that curl shows as it is (not "\u672C\u6587…"), in the same JSON string.
        var raw = await viewer.GetStringAsync($"/api/jobs/{jobId}/documents/e-scripts");
        Assert.Contains(PlantedChain.Scripts, raw, StringComparison.Ordinal);
        Assert.Equal(PlantedChain.Scripts, JsonSerializer.Deserialize<DocumentFate>(raw, TestApiHost.Json)!.Chain.Single().Text);

        // The index lies with the output: its buckets hold every document once, kept and dropped.
        var store = _host.App.Services.GetRequiredService<IStoreResolver>();
        var location = StoreLocation.Parse("curated/explorer");
        var (manifest, _) = await store.Resolve(location).TryReadJsonAsync<Manifest>(location.KeyOf(Manifest.FileName), CurationJson.Options);
        Assert.Equal(lines.Count, manifest!.IdIndex!.Entries);

        // The corpus report travels with the output: report.json's books equal the manifest's, report.html escapes every document.
        var report = await viewer.GetFromJsonAsync<JsonElement>($"/api/jobs/{jobId}/report.json");
        Assert.Equal(lines.Count - 2, report.GetProperty("documents").GetInt64());
        Assert.Equal(manifest.Accounting.Stages.Count, report.GetProperty("books").GetArrayLength());
        Assert.Contains(report.GetProperty("dropped").EnumerateArray(), d => d.GetProperty("id").GetString() == "b-near" && d.GetProperty("twin").GetString() == "a-keep");
        var html = await viewer.GetStringAsync($"/api/jobs/{jobId}/report.html");
        foreach (var section in new[] { "funnel", "books", "length", "sources", "kept-samples", "dropped-samples" }) Assert.Contains($"<section id=\"{section}\">", html);
        Assert.DoesNotContain("<img", html);
        Assert.DoesNotContain("<script", html);
        Assert.DoesNotContain("http", html.Replace("http://www.w3.org/2000/svg", ""));

        // Drops page one at a time, filtered by stage, until the cursor ends.
        var seen = new List<string>();
        string? after = null;
        do
        {
            var page = (await viewer.GetFromJsonAsync<DropsPage>($"/api/jobs/{jobId}/drops?limit=1&after={after}", TestApiHost.Json))!;
            seen.AddRange(page.Drops.Select(d => d.Id));
            after = page.Next;
        } while (after is not null);
        Assert.Equal(["b-near", "c-copy"], seen.Order(StringComparer.Ordinal));
        var near = (await viewer.GetFromJsonAsync<DropsPage>($"/api/jobs/{jobId}/drops?reason=near_duplicate", TestApiHost.Json))!;
        Assert.Equal("b-near", Assert.Single(near.Drops).Id);

        // A cursor no page returned, or a limit below 1, is a 400 saying so (a negative file index was a 500, "zzz" restarted the listing).
        foreach (var query in new[] { "after=-1:0", "after=zzz", "after=7:0", "after=0:-3", "limit=0", "limit=-1" })
        {
            var refused = await viewer.GetAsync($"/api/jobs/{jobId}/drops?{query}");
            Assert.True(refused.StatusCode == HttpStatusCode.BadRequest, $"{query}: {refused.StatusCode}");
            var error = (await refused.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetString()!;
            Assert.StartsWith(query.Split('=')[0] + ":", error, StringComparison.Ordinal);
        }
    }
}

/// <summary>The planted chain: c an exact copy of b, b a near duplicate of a, a hostile document, 30 fillers; and its job spec.</summary>
public static class PlantedChain
{
    public const string Hostile = "Hostile <img src=x onerror=alert(1)> and </script><script>alert(2)</script> stays text in every view of it.";

    /// <summary>A document in several scripts, which the API answers as UTF-8 text, not as \u escapes.</summary>
    public const string Scripts = "本文档提供了关于 Debian 发行版的常见问题。เอกสารนี้ตอบคำถามที่พบบ่อยเกี่ยวกับเดเบียน وثيقة الأسئلة الشائعة عن دبيان Überblick";

    public static string Words(int seed, int count)
    {
        var random = new Random(seed);
        return string.Join(' ', Enumerable.Range(0, count).Select(_ => "w" + random.Next(100_000).ToString(System.Globalization.CultureInfo.InvariantCulture)));
    }

    public static async Task<(string A, string B, List<string> Lines, string Spec)> WriteAsync(string folder)
    {
        var a = Words(1, 120);
        var b = a + " tail";
        var corpus = Directory.CreateDirectory(folder).FullName;
        var lines = new List<string>
        {
            JsonSerializer.Serialize(new { id = "a-keep", text = a }),
            JsonSerializer.Serialize(new { id = "b-near", text = b }),
            JsonSerializer.Serialize(new { id = "c-copy", text = b }),
            JsonSerializer.Serialize(new { id = "d-hostile", text = Hostile }),
            JsonSerializer.Serialize(new { id = "e-scripts", text = Scripts }),
        };
        lines.AddRange(Enumerable.Range(0, 30).Select(i => JsonSerializer.Serialize(new { id = $"f-{i:D2}", text = Words(100 + i, 60) })));
        await File.WriteAllLinesAsync(Path.Combine(corpus, "part-0.jsonl"), lines.Take(17));
        await File.WriteAllLinesAsync(Path.Combine(corpus, "part-1.jsonl"), lines.Skip(17));
        var spec = JsonSerializer.Serialize(new
        {
            name = "explorer", seed = 7,
            inputs = new[] { new { path = Path.Combine(corpus, "*.jsonl"), format = "jsonl", idField = "id" } },
            sharding = new { targetShardBytes = 4096 },
            stages = new object[] { new { type = "normalize" }, new { type = "exact_dedup", partitions = 2 }, new { type = "near_dedup", partitions = 2 } },
            output = new { path = "curated/explorer" },
        });
        return (a, b, lines, spec);
    }
}
