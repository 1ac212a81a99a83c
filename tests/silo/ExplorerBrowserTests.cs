using System.Net;
using System.Net.Http.Json;
using Curation.Grains;
using Curation.Silo.Api;
using Curation.Testing;
using Microsoft.Playwright;

namespace Curation.Silo.Tests;

/// <summary>The drop explorer in headless Chromium, as a viewer: the planted chain side by side, hostile text stays text.</summary>
public sealed class ExplorerBrowserTests
{
    [BrowserFact]
    public async Task A_viewer_follows_the_planted_chain_and_sees_hostile_text_as_text()
    {
        using var temp = new TempDirectory("explorer-browser");
        await using var host = await TestApiHost.StartAsync(temp.Combine("data"), temp.Path);
        var (_, b, _, spec) = await PlantedChain.WriteAsync(temp.Combine("corpus"));
        using (var op = host.Client())
        {
            var response = await op.PostAsync("/api/jobs", SmallJob.Body(spec));
            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
            var jobId = (await response.Content.ReadFromJsonAsync<SubmitResult>(TestApiHost.Json))!.JobId;
            var view = await host.WaitAsync(jobId, TimeSpan.FromMinutes(4));
            Assert.True(view.State == JobState.Completed, view.Error);
        }

        using var playwright = await Playwright.CreateAsync();
        await using var browser = await Browser.LaunchAsync(playwright);
        var (page, dialogs, consoleErrors) = await Browser.OpenPageAsync(browser);

        await Browser.SignInAsync(page, host.Url, TestApiHost.ViewerKey, "viewer");
        await page.Locator("#jobs tbody tr").First.ClickAsync();
        await page.Locator("#job-detail[data-state='Completed']").WaitForAsync(new LocatorWaitForOptions { Timeout = 60_000 });

        await page.FillAsync("#explorer-id", "c-copy");
        await page.ClickAsync("#explorer-form button[type='submit']");
        await page.Locator("#explorer-result .pair").Nth(1).WaitForAsync();
        Assert.Equal(3, await page.Locator("#explorer-result .chain li").CountAsync());
        Assert.Contains("exact hash", await page.Locator("#explorer-result .pair .similarity").First.TextContentAsync());
        // b beside a: b's extra word is the one highlighted; c beside b: nothing differs.
        Assert.Equal(["tail"], await page.Locator("#explorer-result .pair").Nth(1).Locator(".side").First.Locator("mark").AllTextContentsAsync());
        Assert.Equal(0, await page.Locator("#explorer-result .pair").First.Locator("mark").CountAsync());
        Assert.Equal(b, await page.Locator("#explorer-result .pair").First.Locator(".side .doc-full").First.TextContentAsync());
        // The README's picture (docs/explorer.png is this file, copied).
        var screenshot = Path.Combine(AppContext.BaseDirectory, "artifacts", "explorer.png");
        Directory.CreateDirectory(Path.GetDirectoryName(screenshot)!);
        await page.Locator("#job-detail").ScreenshotAsync(new LocatorScreenshotOptions { Path = screenshot });
        Assert.True(new FileInfo(screenshot).Length > 10_000);

        await page.FillAsync("#explorer-id", "d-hostile");
        await page.ClickAsync("#explorer-form button[type='submit']");
        var hostile = page.Locator("#explorer-result > .doc-full");
        await hostile.WaitForAsync();
        Assert.Equal(PlantedChain.Hostile, await hostile.TextContentAsync());
        Assert.Equal(0, await page.Locator("#explorer-result img, #explorer-result script").CountAsync());

        await page.ClickAsync("#explorer-list");
        await page.Locator("#explorer-drops tr[data-id='b-near']").WaitForAsync();
        Assert.Empty(dialogs);
        Assert.False(await page.IsVisibleAsync("#submit"));
        Assert.False(await page.IsVisibleAsync("#cancel"));
        Assert.Empty(consoleErrors);

        // report.html, opened from the dashboard's button, renders its sections with no script at all.
        var popup = await page.RunAndWaitForPopupAsync(() => page.ClickAsync("#corpus-report"));
        await popup.Locator("#dropped-samples").WaitForAsync();
        Assert.True(await popup.Locator("#length svg rect[width]:not([width='0'])").CountAsync() > 0, "the length distribution shows bars");
        Assert.Equal(["Funnel", "Books and drop reasons", "Length (characters)", "Distributions", "Per source", "Sample of kept documents", "Sample of dropped documents, per reason"],
            await popup.Locator("h2").AllTextContentsAsync());
        Assert.Equal(0, await popup.Locator("script, img").CountAsync());
        Assert.True(await popup.Locator("#components-03-near_dedup svg rect").CountAsync() > 0, "near-dup component sizes are drawn");
        Assert.True(await popup.Locator("#measure-03-near_dedup-threshold svg rect").CountAsync() > 0, "near-dup candidate similarity is drawn");
        var reportShot = Path.Combine(AppContext.BaseDirectory, "artifacts", "report.png");
        await popup.ScreenshotAsync(new PageScreenshotOptions { Path = reportShot, FullPage = true });
        Assert.True(new FileInfo(reportShot).Length > 10_000);
        Assert.Empty(dialogs);
    }
}
