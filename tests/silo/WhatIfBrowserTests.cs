using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Curation.Grains;
using Curation.Pipelines.Stages;
using Curation.Silo.Api;
using Curation.Testing;
using Microsoft.Playwright;

namespace Curation.Silo.Tests;

/// <summary>
/// What-if thresholds in headless Chromium: the near_dedup curve with the run's threshold marked, the count at a new
/// threshold, and the operator's adjusted spec run as a new job whose drops equal that count; a viewer sees no action.
/// The job also identifies languages: the job view's and report.html's language charts (documents per language, score
/// histogram) render from its report.json, and the language stage's minScore is in the what-if panel.
/// </summary>
public sealed class WhatIfBrowserTests
{
    // A vertical marker line has an empty box, which Playwright counts as hidden: wait for it in the DOM.
    private static readonly LocatorWaitForOptions Attached = new() { State = WaitForSelectorState.Attached };

    [BrowserFact]
    public async Task An_operator_runs_the_adjusted_spec_and_its_drops_equal_the_what_if_count()
    {
        using var temp = new TempDirectory("whatif-browser");
        await using var host = await TestApiHost.StartAsync(temp.Combine("data"), temp.Path);
        var corpus = temp.Combine("corpus");
        NearDupCorpus.Generate(originals: 60, nearPerLevel: 3, chains: 3, levels: [0.6, 0.7, 0.75, 0.8, 0.9, 0.95]).WriteJsonl(corpus, files: 2);
        var spec = JsonSerializer.Serialize(new
        {
            name = "whatif", seed = 7,
            inputs = new[] { new { path = Path.Combine(corpus, "*.jsonl"), format = "jsonl", idField = "id" } },
            sharding = new { targetShardBytes = 16 * 1024 },
            stages = new object[] { new { type = "quality_filter", minChars = 20, minWords = 3 }, new { type = "near_dedup", partitions = 2, threshold = 0.7 },
                new { type = "language", minScore = 0.0, lowAccuracy = true } },
            output = new { path = "curated/whatif" },
        });
        string jobId;
        using (var op = host.Client())
        {
            var response = await op.PostAsync("/api/jobs", new StringContent(spec, System.Text.Encoding.UTF8, "application/json"));
            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
            jobId = (await response.Content.ReadFromJsonAsync<SubmitResult>(TestApiHost.Json))!.JobId;
            var view = await host.WaitAsync(jobId, TimeSpan.FromMinutes(4));
            Assert.True(view.State == JobState.Completed, view.Error);
        }

        using var playwright = await Playwright.CreateAsync();
        await using var browser = await Browser.LaunchAsync(playwright);
        var (page, dialogs, consoleErrors) = await Browser.OpenPageAsync(browser);
        await Browser.SignInAsync(page, host.Url, TestApiHost.OperatorKey, "operator");
        await page.Locator($"#jobs tbody tr[data-job='{jobId}']").ClickAsync();
        try
        {
            await page.Locator("#whatif-section").WaitForAsync(new LocatorWaitForOptions { Timeout = 60_000 });
        }
        catch (TimeoutException e)
        {
            // Say what the page showed: the job view's state and the what-if's last message (an API error lands there).
            throw new TimeoutException($"the what-if section stayed hidden: job view {await page.GetAttributeAsync("#job-detail", "data-job")} " +
                $"state {await page.GetAttributeAsync("#job-detail", "data-state")}, what-if message '{await page.TextContentAsync("#whatif-result")}', " +
                $"console errors: {string.Join(" | ", consoleErrors)}", e);
        }

        // The first threshold offered, quality_filter's minChars, is binned on log(1 + chars): its curve is drawn on a log axis.
        Assert.Equal("01-quality_filter|minChars", await page.InputValueAsync("#whatif-field"));
        await page.Locator("#whatif-curve[data-scale='log'] polyline").WaitForAsync();

        // The language charts of the job view: a bar per language of report.json (its documents in the tooltip) and the
        // score histogram's ten bins.
        JsonElement corpusReport;
        using (var op = host.Client()) corpusReport = await op.GetFromJsonAsync<JsonElement>($"/api/jobs/{jobId}/report.json", TestApiHost.Json);
        var languages = corpusReport.GetProperty("languages").EnumerateArray()
            .Select(l => (Code: l.GetProperty("language").GetString()!, Documents: l.GetProperty("documents").GetInt64())).Take(12).ToArray();
        Assert.NotEmpty(languages);
        await page.Locator("#languages rect").First.WaitForAsync();
        Assert.True(await page.IsVisibleAsync("#language-figure"));
        Assert.Equal(string.Join(" ", languages.Select(l => $"{l.Code}:{l.Documents}")), await page.GetAttributeAsync("#languages", "data-languages"));
        Assert.Equal(languages.Select(l => $"{l.Code}: {l.Documents:N0}"), await page.Locator("#languages rect title").AllTextContentsAsync());
        Assert.True(await page.IsVisibleAsync("#language-score-figure"));
        Assert.Equal(10, await page.Locator("#language-scores rect").CountAsync());
        var scores = corpusReport.GetProperty("languageScores").EnumerateArray().Select(b => b.GetProperty("count").GetInt64()).ToArray();
        Assert.Equal(corpusReport.GetProperty("languages").EnumerateArray().Sum(l => l.GetProperty("documents").GetInt64()), scores.Sum());

        // The language stage's minScore in the what-if panel: its curve and an exact count at 0.5, as the API gives it.
        await page.SelectOptionAsync("#whatif-field", new SelectOptionValue { Label = "03-language · minScore" });
        await page.Locator("#whatif-curve line.current[data-threshold='0']").WaitForAsync(Attached);
        await page.FillAsync("#whatif-threshold", "0.5");
        await page.ClickAsync("#whatif-form button[type='submit']");
        await page.Locator("#whatif-curve line.chosen[data-threshold='0.5']").WaitForAsync(Attached);
        Assert.Equal("linear", await page.GetAttributeAsync("#whatif-curve", "data-scale"));
        Assert.Equal("true", await page.GetAttributeAsync("#whatif-result", "data-exact"));
        using (var op = host.Client())
        {
            var language = await op.GetFromJsonAsync<WhatIf.Answer>($"/api/jobs/{jobId}/whatif?stage=language&field=minScore&threshold=0.5", TestApiHost.Json);
            Assert.Equal(language!.RemovedAtThreshold.ToString(), await page.GetAttributeAsync("#whatif-result", "data-removed"));
        }

        // report.html, opened from the job view: the per-language table and the score histogram, and the language distribution.
        var report = await page.RunAndWaitForPopupAsync(() => page.ClickAsync("#corpus-report"));
        await report.Locator("#languages table").WaitForAsync();
        Assert.Equal(corpusReport.GetProperty("languages").GetArrayLength() + 1, await report.Locator("#languages table tr").CountAsync());
        Assert.Equal(languages[0].Code, await report.Locator("#languages table tr:nth-child(2) td").First.TextContentAsync());
        Assert.Equal(10, await report.Locator("#languages svg rect").CountAsync());
        Assert.True(await report.Locator("#distributions #language svg rect").CountAsync() >= 1);
        Assert.True(await report.Locator("#distributions #measure-03-language-minScore svg rect").CountAsync() >= 1);
        await report.CloseAsync();

        await page.SelectOptionAsync("#whatif-field", new SelectOptionValue { Label = "02-near_dedup · threshold" });
        await page.Locator("#whatif-curve line.current[data-threshold='0.7']").WaitForAsync(Attached);
        await page.FillAsync("#whatif-threshold", "0.9");
        await page.ClickAsync("#whatif-form button[type='submit']");
        await page.Locator("#whatif-curve line.chosen[data-threshold='0.9']").WaitForAsync(Attached);
        var shown = long.Parse((await page.GetAttributeAsync("#whatif-result", "data-removed"))!, System.Globalization.CultureInfo.InvariantCulture);
        Assert.Equal("true", await page.GetAttributeAsync("#whatif-result", "data-exact"));
        var screenshot = Path.Combine(AppContext.BaseDirectory, "artifacts", "whatif.png");
        Directory.CreateDirectory(Path.GetDirectoryName(screenshot)!);
        await page.Locator("#whatif-section").ScreenshotAsync(new LocatorScreenshotOptions { Path = screenshot });

        await page.ClickAsync("#whatif-run");
        await page.Locator("#whatif-result[data-submitted]").WaitForAsync();
        var adjustedId = (await page.GetAttributeAsync("#whatif-result", "data-submitted"))!;
        Assert.NotEqual(jobId, adjustedId);
        var adjusted = await host.WaitAsync(adjustedId, TimeSpan.FromMinutes(4));
        Assert.True(adjusted.State == JobState.Completed, adjusted.Error);
        var rerun = adjusted.Stages.Single(s => s.Stage.EndsWith("near_dedup", StringComparison.Ordinal)).Dropped.Values.Sum();
        Assert.Equal(rerun, shown);
        Assert.EndsWith("curated/whatif-threshold-0.9", adjusted.Output);

        // A viewer reads the curve but gets no action control.
        var (viewerPage, viewerDialogs, viewerErrors) = await Browser.OpenPageAsync(browser);
        await Browser.SignInAsync(viewerPage, host.Url, TestApiHost.ViewerKey, "viewer");
        await viewerPage.Locator($"#jobs tbody tr[data-job='{jobId}']").ClickAsync();
        await viewerPage.Locator("#whatif-curve polyline").WaitForAsync(new LocatorWaitForOptions { Timeout = 60_000 });
        Assert.False(await viewerPage.IsVisibleAsync("#whatif-run"));
        using (var viewer = host.Client(TestApiHost.ViewerKey))
        {
            var answer = await viewer.GetFromJsonAsync<WhatIf.Answer>($"/api/jobs/{jobId}/whatif?stage=near_dedup&threshold=0.9", TestApiHost.Json);
            Assert.Equal(shown, answer!.RemovedAtThreshold);
            // The viewer may ask, but not submit the adjusted spec.
            var post = await viewer.PostAsync("/api/jobs", new StringContent(answer.AdjustedSpec!.Value.GetRawText(), System.Text.Encoding.UTF8, "application/json"));
            Assert.Equal(HttpStatusCode.Forbidden, post.StatusCode);
        }
        Assert.Empty(dialogs);
        Assert.Empty(viewerDialogs);
        Assert.Empty(consoleErrors);
        Assert.Empty(viewerErrors);
    }
}
