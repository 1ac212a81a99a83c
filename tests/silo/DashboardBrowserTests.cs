using System.Net.Http.Json;
using System.Text.Json;
using Curation.Grains;
using Curation.Silo.Api;
using Curation.Testing;
using Microsoft.Playwright;

namespace Curation.Silo.Tests;

/// <summary>
/// Runs only where Debian's chromium is installed, unless <c>CURATION_REQUIRE_BROWSER</c> is set (test.sh sets it):
/// then a missing browser fails the test instead of skipping it.
/// </summary>
public sealed class BrowserFactAttribute : FactAttribute
{
    public const string RequireVariable = "CURATION_REQUIRE_BROWSER";

    public BrowserFactAttribute()
    {
        if (Browser.ExecutablePath is null && string.IsNullOrEmpty(Environment.GetEnvironmentVariable(RequireVariable)))
            Skip = $"Chromium is not installed (apt-get install chromium); set {RequireVariable}=1 to make this a failure.";
    }
}

public static class Browser
{
    /// <summary>The Chromium binary itself (Debian's /usr/bin/chromium is a wrapper script around it).</summary>
    public static string? ExecutablePath =>
        new[] { Environment.GetEnvironmentVariable("CURATION_CHROMIUM"), "/usr/lib/chromium/chromium", "/usr/bin/chromium", "/usr/bin/chromium-browser" }
            .FirstOrDefault(p => !string.IsNullOrEmpty(p) && File.Exists(p));

    public static async Task<IBrowser> LaunchAsync(IPlaywright playwright) =>
        await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = ExecutablePath ?? throw new InvalidOperationException(
                "Chromium is required for the dashboard test but is not installed: apt-get install -y chromium (test.sh does this)."),
            Headless = true,
            Args = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
        });

    /// <summary>Opens the dashboard, uses <paramref name="key"/> and waits until the page shows its <paramref name="role"/>.</summary>
    public static async Task SignInAsync(IPage page, string url, string key, string role)
    {
        await page.GotoAsync(url + "/dashboard/");
        await page.FillAsync("#api-key", key);
        await page.ClickAsync("#save-key");
        await page.Locator("#role", new PageLocatorOptions { HasTextString = role }).WaitForAsync();
    }

    /// <summary>A 1500×1100 page that records every dialog (dismissed: a script that ran) and console error.</summary>
    public static async Task<(IPage Page, List<string> Dialogs, List<string> ConsoleErrors)> OpenPageAsync(IBrowser browser)
    {
        var page = await browser.NewPageAsync(new BrowserNewPageOptions { ViewportSize = new ViewportSize { Width = 1500, Height = 1100 } });
        var dialogs = new List<string>();
        page.Dialog += (_, dialog) => { dialogs.Add(dialog.Message); _ = dialog.DismissAsync(); };
        var consoleErrors = new List<string>();
        page.Console += (_, m) => { if (m.Type == "error") consoleErrors.Add($"{m.Text} ({m.Location})"); };
        return (page, dialogs, consoleErrors);
    }
}

/// <summary>The dashboard in headless Chromium: an operator submits a job and watches it complete; a viewer only reads.</summary>
public sealed class DashboardBrowserTests
{
    [BrowserFact]
    public async Task Operator_submits_a_job_from_the_dashboard_and_watches_it_complete()
    {
        using var temp = new TempDirectory("dashboard");
        var samples = Path.Combine(RepositoryRoot.Get(), "samples");
        await using var host = await TestApiHost.StartAsync(temp.Combine("data"), temp.Path,
            new Dictionary<string, string?> { ["Curation:Api:AllowedRoots:1"] = samples });
        var small = new SmallJob(temp.Combine("small"), "dashboard", originals: 20, copies: 5, files: 1);
        // The demo corpus without its embedding stages (seconds on a CPU; the funnel shows in → filtered → exact → near → kept), after a small corpus holding a <script> document (first,
        // so it lands in the first shard the dashboard samples).
        var spec = JsonSerializer.Serialize(new
        {
            name = "dashboard-demo",
            seed = 42,
            inputs = new object[]
            {
                new { path = Path.Combine(small.Folder, "corpus", "*.jsonl"), format = "jsonl", idField = "id" },
                new { path = Path.Combine(samples, "corpus", "*.jsonl"), format = "jsonl", idField = "id" },
            },
            sharding = new { targetShardBytes = 524288 },
            stages = new object[]
            {
                new { type = "normalize" },
                new { type = "quality_filter", minChars = 50, maxChars = 100000, minWords = 8 },
                new { type = "exact_dedup", partitions = 4 },
                new { type = "near_dedup", partitions = 4 },
            },
            output = new { path = "curated/dashboard-demo" },
        }, new JsonSerializerOptions { WriteIndented = true });

        using var playwright = await Playwright.CreateAsync();
        await using var browser = await Browser.LaunchAsync(playwright);
        var (page, dialogs, consoleErrors) = await Browser.OpenPageAsync(browser);

        await page.GotoAsync(host.Url + "/dashboard/");
        await page.FillAsync("#api-key", TestApiHost.OperatorKey);
        await page.ClickAsync("#save-key");
        await page.Locator("#role", new PageLocatorOptions { HasTextString = "operator" }).WaitForAsync();
        Assert.True(await page.IsVisibleAsync("#submit"));

        await page.FillAsync("#spec", spec);
        await page.ClickAsync("#submit");
        await page.Locator("#job-detail[data-state='Completed']").WaitForAsync(new LocatorWaitForOptions { Timeout = 120_000 });
        var jobId = await page.GetAttributeAsync("#job-detail", "data-job");
        Assert.StartsWith("dashboard-demo-", jobId);

        // The job's views came pushed by its event stream, and the throughput chart draws the stored history.
        Assert.True(int.Parse(await page.GetAttributeAsync("#job-detail", "data-events") ?? "0") >= 1, "no view came by the event stream");
        await page.Locator("#throughput text", new PageLocatorOptions { HasTextString = "of the job's history" }).WaitForAsync();

        // The funnel on the page equals the API's.
        using var client = host.Client(TestApiHost.ViewerKey);
        var view = (await client.GetFromJsonAsync<JobView>($"/api/jobs/{jobId}", TestApiHost.Json))!;
        Assert.Equal(JobState.Completed, view.State);
        await page.Locator("#funnel g[data-step='kept']").WaitForAsync();
        var shown = await page.EvalOnSelectorAllAsync<string[][]>("#funnel g[data-step]",
            "gs => gs.map(g => [g.getAttribute('data-step'), g.getAttribute('data-count'), g.querySelector('text.count').textContent])");
        Assert.Equal(view.Funnel.Select(f => f.Step), shown.Select(s => s[0]));
        Assert.Equal(view.Funnel.Select(f => f.Count.ToString()), shown.Select(s => s[1]));
        Assert.Equal(view.Funnel.Select(f => f.Count.ToString("N0", System.Globalization.CultureInfo.GetCultureInfo("en-US"))), shown.Select(s => s[2]));
        Assert.Equal(2000 + 27, view.Funnel[0].Count);

        // The <script> document is shown as text: no script element, no dialog.
        var cell = page.Locator("#documents tr[data-id='doc-script'] .doc-text");
        await cell.WaitForAsync();
        Assert.Equal(SmallJob.ScriptText, await cell.TextContentAsync());
        Assert.Equal(0, await page.Locator("#documents script").CountAsync());
        Assert.Empty(dialogs);

        // A schedule shows in the Schedules panel with its next run; the operator pauses it from there.
        using (var op = host.Client())
        {
            var body = JsonSerializer.Serialize(new
            {
                id = "nightly-demo", cron = "0 3 * * *", timeZone = "Europe/Paris", overlap = "skip",
                spec = JsonSerializer.Deserialize<JsonElement>(spec.Replace("\"dashboard-demo\"", "\"nightly-demo\"").Replace("curated/dashboard-demo", "curated/nightly"))
            });
            var created = await op.PostAsync("/api/schedules", SmallJob.Body(body));
            Assert.Equal(System.Net.HttpStatusCode.Created, created.StatusCode);
        }
        var scheduleRow = page.Locator("#schedules tr[data-schedule='nightly-demo'][data-state='active']");
        await scheduleRow.WaitForAsync();
        Assert.Equal("0 3 * * *", await scheduleRow.Locator(".cron").TextContentAsync());
        Assert.False(string.IsNullOrWhiteSpace(await scheduleRow.Locator(".next-run").TextContentAsync()));
        await scheduleRow.Locator("button.pause").ClickAsync();
        await page.Locator("#schedules tr[data-schedule='nightly-demo'][data-state='paused']").WaitForAsync();
        Assert.True(await page.IsVisibleAsync("#schedules tr[data-schedule='nightly-demo'] button.resume"));

        var screenshot = Path.Combine(AppContext.BaseDirectory, "artifacts", "dashboard.png");
        Directory.CreateDirectory(Path.GetDirectoryName(screenshot)!);
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = screenshot, FullPage = false });
        Assert.True(new FileInfo(screenshot).Length > 10_000);

        // The README's pictures of the demo job (docs/demo-explorer.png and docs/demo-report.png are these files, copied):
        // the explorer on one of the demo corpus' near duplicates, with the Jaccard that decided it, and its report.html.
        string nearId;
        using (var op = host.Client())
        {
            var drops = await op.GetFromJsonAsync<DropsPage>($"/api/jobs/{jobId}/drops?reason=near_duplicate&limit=1", TestApiHost.Json);
            nearId = drops!.Drops[0].Id;
        }
        await page.FillAsync("#explorer-id", nearId);
        await page.ClickAsync("#explorer-form button[type='submit']");
        await page.Locator("#explorer-result .pair").First.WaitForAsync();
        Assert.Contains("Jaccard", await page.Locator("#explorer-result .pair .similarity").First.TextContentAsync());
        var demoExplorer = Path.Combine(AppContext.BaseDirectory, "artifacts", "demo-explorer.png");
        await page.Locator("#job-detail").ScreenshotAsync(new LocatorScreenshotOptions { Path = demoExplorer });
        Assert.True(new FileInfo(demoExplorer).Length > 10_000);
        var report = await page.RunAndWaitForPopupAsync(() => page.ClickAsync("#corpus-report"));
        await report.Locator("#dropped-samples").WaitForAsync();
        Assert.Equal(0, await report.Locator("script, img").CountAsync());
        var demoReport = Path.Combine(AppContext.BaseDirectory, "artifacts", "demo-report.png");
        await report.ScreenshotAsync(new PageScreenshotOptions { Path = demoReport, FullPage = true });
        Assert.True(new FileInfo(demoReport).Length > 10_000);
        await report.CloseAsync();

        // A viewer sees the same job but no submit or cancel controls.
        var viewerPage = await browser.NewPageAsync();
        await viewerPage.GotoAsync(host.Url + "/dashboard/");
        await viewerPage.FillAsync("#api-key", TestApiHost.ViewerKey);
        await viewerPage.ClickAsync("#save-key");
        await viewerPage.Locator("#role", new PageLocatorOptions { HasTextString = "viewer" }).WaitForAsync();
        await viewerPage.Locator($"#jobs tr[data-job='{jobId}']").WaitForAsync();
        Assert.False(await viewerPage.IsVisibleAsync("#submit"));
        Assert.False(await viewerPage.IsVisibleAsync("#cancel"));
        await viewerPage.Locator("#schedules tr[data-schedule='nightly-demo'][data-state='paused']").WaitForAsync();
        Assert.False(await viewerPage.IsVisibleAsync("#schedules tr[data-schedule='nightly-demo'] button.resume"));
        Assert.Empty(consoleErrors);
    }
}
