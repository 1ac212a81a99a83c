using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Curation.Grains;
using Curation.Silo.Api;

namespace Curation.Silo.Tests;

/// <summary>
/// Response headers (a strict CSP for the dashboard, nosniff, no framing, no-store on API data) and allowed roots
/// enforced on real paths: a symbolic link inside an allowed root that leads out of it is refused at submission
/// (400 naming the field, the path and the root) and, when a glob finds one, by the job when it opens it.
/// </summary>
public sealed class SecurityTests(ApiHostFixture fixture) : IClassFixture<ApiHostFixture>
{
    private TestApiHost Host => fixture.Host;

    [Fact]
    public async Task Every_response_carries_the_security_headers_and_api_data_is_not_stored()
    {
        using var client = Host.Client();
        foreach (var path in new[] { "/dashboard/", "/dashboard/app.js", "/api/jobs", "/healthz" })
        {
            using var response = await client.GetAsync(path);
            Assert.True(response.IsSuccessStatusCode, $"{path}: {response.StatusCode}");
            var csp = string.Join(" ", response.Headers.GetValues("Content-Security-Policy"));
            Assert.Contains("frame-ancestors 'none'", csp);
            Assert.Contains("script-src 'self'", csp);
            Assert.Contains("style-src 'self'", csp);
            Assert.DoesNotContain("unsafe-inline", csp);
            Assert.DoesNotContain("unsafe-eval", csp);
            Assert.Equal("nosniff", Assert.Single(response.Headers.GetValues("X-Content-Type-Options")));
            Assert.Equal("DENY", Assert.Single(response.Headers.GetValues("X-Frame-Options")));
            if (path.StartsWith("/api", StringComparison.Ordinal))
                Assert.True(response.Headers.CacheControl?.NoStore, $"{path}: Cache-Control {response.Headers.CacheControl}");
        }
        // Refusals too.
        using var anonymous = Host.Client(key: null);
        using var refused = await anonymous.GetAsync("/api/jobs");
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        Assert.Equal("nosniff", Assert.Single(refused.Headers.GetValues("X-Content-Type-Options")));
        Assert.True(refused.Headers.CacheControl?.NoStore);
    }

    /// <summary>A folder outside the allowed root holding a "secret" that reads as a valid JSONL corpus.</summary>
    private static string Outside()
    {
        var outside = Path.Combine(Path.GetTempPath(), "curation-tests", "outside-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(outside);
        File.WriteAllText(Path.Combine(outside, "secret.jsonl"), "{\"id\":\"secret\",\"text\":\"root:x:0:0:root:/root:/bin/bash is the secret line here\"}\n");
        return outside;
    }

    [Theory]
    [InlineData("folder-link")]
    [InlineData("file-link")]
    [InlineData("link-to-link")]
    [InlineData("output-link")]
    public async Task A_symbolic_link_leading_out_of_the_allowed_root_is_refused_at_submission(string kind)
    {
        var outside = Outside();
        var job = new SmallJob(fixture.Temp.Combine("links-" + kind), "links" + kind.Replace("-", ""), originals: 10, copies: 2, files: 1);
        var corpus = Path.Combine(job.Folder, "corpus", "*.jsonl");
        var spec = job.SpecJson();
        string field, named;
        switch (kind)
        {
            case "folder-link":
                Directory.CreateSymbolicLink(named = Path.Combine(job.Folder, "etclink"), outside);
                spec = spec.Replace(JsonSerializer.Serialize(corpus), JsonSerializer.Serialize(Path.Combine(named, "*.jsonl")));
                field = "inputs[0].path";
                break;
            case "file-link":
                File.CreateSymbolicLink(named = Path.Combine(job.Folder, "passwd.jsonl"), Path.Combine(outside, "secret.jsonl"));
                spec = spec.Replace(JsonSerializer.Serialize(corpus), JsonSerializer.Serialize(named));
                field = "inputs[0].path";
                break;
            case "link-to-link":
                File.CreateSymbolicLink(Path.Combine(job.Folder, "hop2"), Path.Combine(outside, "secret.jsonl"));
                File.CreateSymbolicLink(named = Path.Combine(job.Folder, "hop1.jsonl"), Path.Combine(job.Folder, "hop2"));
                spec = spec.Replace(JsonSerializer.Serialize(corpus), JsonSerializer.Serialize(named));
                field = "inputs[0].path";
                break;
            default:
                Directory.CreateSymbolicLink(named = Path.Combine(job.Folder, "outlink"), outside);
                spec = job.SpecJson(output: Path.Combine(named, "curated"));
                field = "output.path";
                break;
        }
        using var client = Host.Client();
        using var response = await client.PostAsync("/api/jobs", SmallJob.Body(spec));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var problem = (await response.Content.ReadFromJsonAsync<ValidationProblem>(TestApiHost.Json))!;
        var error = Assert.Single(problem.Errors, e => e.Field == field);
        Assert.Contains(named, error.Message);
        Assert.Contains(outside, error.Message);
        Assert.Contains(fixture.Temp.Path, error.Message); // the root
        Directory.Delete(outside, recursive: true);
    }

    [Fact]
    public async Task A_glob_that_meets_a_link_leading_out_fails_the_job_naming_it_and_never_reads_the_target()
    {
        var outside = Outside();
        var job = new SmallJob(fixture.Temp.Combine("glob-link"), "globlink", originals: 10, copies: 2, files: 1);
        var link = Path.Combine(job.Folder, "corpus", "zz-passwd.jsonl");
        File.CreateSymbolicLink(link, Path.Combine(outside, "secret.jsonl"));
        Directory.CreateSymbolicLink(Path.Combine(job.Folder, "corpus", "etc"), outside); // a folder link: not followed
        using var client = Host.Client();
        using var response = await client.PostAsync("/api/jobs", SmallJob.Body(job.SpecJson()));
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var result = (await response.Content.ReadFromJsonAsync<SubmitResult>(TestApiHost.Json))!;
        var view = await Host.WaitAsync(result.JobId);
        Assert.Equal(JobState.Failed, view.State);
        Assert.Contains(link, view.Error);
        Assert.Contains("outside the allowed roots", view.Error);
        Assert.Contains(fixture.Temp.Path, view.Error);
        Assert.False(Directory.Exists(Path.Combine(Host.DataRoot, "curated", "globlink")) &&
                     Directory.EnumerateFiles(Path.Combine(Host.DataRoot, "curated", "globlink")).Any());
        Directory.Delete(outside, recursive: true);
    }
}
