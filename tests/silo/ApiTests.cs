using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Curation.Grains;
using Curation.Pipelines.Storage;
using Curation.Silo.Api;
using Curation.Testing;

namespace Curation.Silo.Tests;

/// <summary>One API host for the API tests (each test uses its own job names).</summary>
public sealed class ApiHostFixture : IAsyncLifetime
{
    public TempDirectory Temp { get; } = new("api");
    public TestApiHost Host { get; private set; } = null!;

    public async Task InitializeAsync() =>
        Host = await TestApiHost.StartAsync(Temp.Combine("data"), Temp.Path,
            new Dictionary<string, string?> { ["Curation:Execution:MaxTasksInFlight"] = "2", ["Curation:Execution:HistoryInterval"] = "00:00:00.200" });

    public async Task DisposeAsync()
    {
        await Host.DisposeAsync();
        Temp.Dispose();
    }
}

public sealed class ApiTests(ApiHostFixture fixture) : IClassFixture<ApiHostFixture>
{
    private TestApiHost Host => fixture.Host;

    private async Task<(string JobId, SmallJob Job)> SubmitAsync(string name, int originals = 40, int copies = 10, int files = 4, int shardBytes = 2048)
    {
        var job = new SmallJob(fixture.Temp.Combine(name), name, originals, copies, files);
        using var client = Host.Client();
        var response = await client.PostAsync("/api/jobs", SmallJob.Body(job.SpecJson(targetShardBytes: shardBytes)));
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var result = (await response.Content.ReadFromJsonAsync<SubmitResult>(TestApiHost.Json))!;
        Assert.Equal($"/api/jobs/{result.JobId}", response.Headers.Location?.ToString());
        return (result.JobId, job);
    }

    [Fact]
    public async Task The_report_carries_the_semantic_histograms_and_the_eps_the_dashboard_draws()
    {
        var job = new SmallJob(fixture.Temp.Combine("semantic"), "semantic", originals: 24, copies: 6, files: 2);
        using var client = Host.Client();
        var response = await client.PostAsync("/api/jobs", SmallJob.Body(job.SpecJson(semantic: true)));
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var jobId = (await response.Content.ReadFromJsonAsync<SubmitResult>(TestApiHost.Json))!.JobId;
        var view = await Host.WaitAsync(jobId, TimeSpan.FromMinutes(4));
        Assert.True(view.State == JobState.Completed, view.Error);

        using var viewer = Host.Client(TestApiHost.ViewerKey);
        var report = await viewer.GetFromJsonAsync<JsonElement>($"/api/jobs/{jobId}/report");
        var semantic = report.GetProperty("reports").GetProperty("05-semantic_dedup");
        Assert.Equal(0.05, semantic.GetProperty("eps").GetDouble());
        var histogram = semantic.GetProperty("maxSimilarityHistogram").EnumerateArray().ToList();
        Assert.Equal(50, histogram.Count);
        var unhealthy = semantic.GetProperty("unhealthy").EnumerateObject().Sum(p => p.Value.GetInt64());
        Assert.Equal(semantic.GetProperty("documents").GetInt64() - unhealthy, histogram.Sum(b => b.GetProperty("count").GetInt64()));
        Assert.NotEmpty(semantic.GetProperty("clusterSizes").GetProperty("buckets").EnumerateArray());
    }

    [Fact]
    public async Task The_snapshots_of_a_versioned_corpus_are_listed_and_a_plain_output_has_none()
    {
        var job = new SmallJob(fixture.Temp.Combine("snapshots"), "snapshots", originals: 10, copies: 2, files: 1);
        using var client = Host.Client();
        var response = await client.PostAsync("/api/jobs", SmallJob.Body(job.SpecJson(snapshots: true)));
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var jobId = (await response.Content.ReadFromJsonAsync<SubmitResult>(TestApiHost.Json))!.JobId;
        Assert.Equal(JobState.Completed, (await Host.WaitAsync(jobId)).State);

        using var viewer = Host.Client(TestApiHost.ViewerKey);
        var snapshots = await viewer.GetFromJsonAsync<JsonElement>($"/api/jobs/{jobId}/snapshots");
        var only = Assert.Single(snapshots.EnumerateArray());
        Assert.Equal(1, only.GetProperty("snapshot").GetInt32());
        Assert.True(only.GetProperty("isCurrent").GetBoolean());
        Assert.Equal(jobId, only.GetProperty("jobId").GetString());

        var (plainId, _) = await SubmitAsync("plain-output", originals: 5, copies: 1, files: 1);
        Assert.Equal(HttpStatusCode.NotFound, (await viewer.GetAsync($"/api/jobs/{plainId}/snapshots")).StatusCode);
    }

    [Fact]
    public async Task Submitted_job_completes_with_the_same_output_as_curate_run()
    {
        var (jobId, job) = await SubmitAsync("same");
        var view = await Host.WaitAsync(jobId);
        Assert.True(view.State == JobState.Completed, view.Error);
        Assert.NotEmpty(view.Stages);
        Assert.All(view.Stages, s => Assert.Equal(s.Total, s.Done));
        Assert.Equal(["in", "quality_filter", "exact", "kept"], view.Funnel.Select(f => f.Step));
        Assert.Equal(52, view.Funnel[0].Count);
        Assert.Equal(view.Accounting!.Kept, view.Funnel[^1].Count);
        Assert.Equal(1, view.Stages.Single(s => s.Stage.EndsWith("quality_filter", StringComparison.Ordinal)).Dropped["too_short"]);

        // The same spec through `curate run` (its own process, its own data store).
        var specFile = Path.Combine(job.Folder, "job.json");
        await File.WriteAllTextAsync(specFile, job.SpecJson());
        var runData = Path.Combine(job.Folder, "run-data");
        var curate = Path.Combine(AppContext.BaseDirectory, "curate.dll");
        var start = new ProcessStartInfo("dotnet", ["exec", curate, "run", specFile, "--data", runData])
        {
            RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = job.Folder,
        };
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        Assert.True(process.WaitForExit(TimeSpan.FromMinutes(2)), "curate run did not finish");
        Assert.True(process.ExitCode == 0, await output + await error);

        var api = await CuratedOutput.ReadAsync(new LocalFolderStore(Host.DataRoot), "curated/same");
        var cli = await CuratedOutput.ReadAsync(new LocalFolderStore(runData), "curated/same");
        Assert.Equal(cli.KeptIds, api.KeptIds);
        Assert.Equal(cli.ShardHashes, api.ShardHashes);
        Assert.Equal(cli.Drops, api.Drops);

        // Manifest, report, documents and the list.
        using var viewer = Host.Client(TestApiHost.ViewerKey);
        var manifest = await viewer.GetFromJsonAsync<JsonElement>($"/api/jobs/{jobId}/manifest");
        Assert.Equal(jobId, manifest.GetProperty("jobId").GetString());
        Assert.Equal(api.Manifest.Shards.Count, manifest.GetProperty("shards").GetArrayLength());
        var report = await viewer.GetFromJsonAsync<JsonElement>($"/api/jobs/{jobId}/report");
        Assert.Equal("Completed", report.GetProperty("job").GetProperty("state").GetString());
        var documents = await viewer.GetFromJsonAsync<DocumentView[]>($"/api/jobs/{jobId}/documents?limit=200", TestApiHost.Json);
        Assert.Contains(documents!, d => d.Text == SmallJob.ScriptText);
        var list = await viewer.GetFromJsonAsync<JobSummary[]>("/api/jobs", TestApiHost.Json);
        Assert.Contains(list!, j => j.JobId == jobId && j.State == JobState.Completed && j.Kept == view.Accounting.Kept);
    }

    [Fact]
    public async Task The_event_stream_pushes_the_job_until_it_is_final_and_the_stored_history_serves_its_throughput()
    {
        var (jobId, _) = await SubmitAsync("live", originals: 120, copies: 30, files: 6, shardBytes: 1024);
        using var viewer = Host.Client(TestApiHost.ViewerKey);
        using var response = await viewer.GetAsync($"/api/jobs/{jobId}/events", HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        var states = new List<JobState>();
        using (var reader = new StreamReader(await response.Content.ReadAsStreamAsync()))
        {
            // The stream ends by itself once the job is final.
            var read = Task.Run(async () =>
            {
                while (await reader.ReadLineAsync() is { } line)
                    if (line.StartsWith("data: ", StringComparison.Ordinal))
                        states.Add(JsonSerializer.Deserialize<JobView>(line[6..], TestApiHost.Json)!.State);
            });
            await read.WaitAsync(TimeSpan.FromMinutes(3));
        }
        Assert.True(states.Count >= 2, $"{states.Count} event(s): {string.Join(", ", states)}");
        Assert.Equal(JobState.Completed, states[^1]);
        Assert.All(states[..^1], s => Assert.Equal(JobState.Running, s));

        var history = (await viewer.GetFromJsonAsync<ThroughputSample[]>($"/api/jobs/{jobId}/history", TestApiHost.Json))!;
        Assert.True(history.Length >= 2, $"{history.Length} sample(s)");
        Assert.Equal(history.OrderBy(h => h.At), history);
        Assert.True(history.Zip(history.Skip(1)).All(p => p.First.Documents <= p.Second.Documents), "documents processed never go down");
        var view = (await viewer.GetFromJsonAsync<JobView>($"/api/jobs/{jobId}", TestApiHost.Json))!;
        Assert.Equal(view.Phases.Sum(p => p.DocumentsIn), history[^1].Documents);

        Assert.Equal(HttpStatusCode.NotFound, (await viewer.GetAsync("/api/jobs/no-such-job/history")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await viewer.GetAsync("/api/jobs/no-such-job/events")).StatusCode);
    }

    [Fact]
    public async Task Requests_without_a_key_get_401_and_the_wrong_role_gets_403()
    {
        using var anonymous = Host.Client(key: null);
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync("/api/jobs")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.PostAsync("/api/jobs", SmallJob.Body("{}"))).StatusCode);

        using var wrong = Host.Client("not-a-key-of-this-cluster-123456");
        var rejected = await wrong.GetAsync("/api/jobs");
        Assert.Equal(HttpStatusCode.Unauthorized, rejected.StatusCode);
        // A wrong key is told apart from no key (it said "an API key is required" for both).
        Assert.Equal("this API key is not one of the cluster's keys (Curation:Api:Keys)",
            (await rejected.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetString());
        Assert.StartsWith("an API key is required", (await (await anonymous.GetAsync("/api/jobs")).Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetString(),
            StringComparison.Ordinal);

        using var viewer = Host.Client(TestApiHost.ViewerKey);
        Assert.Equal(HttpStatusCode.OK, (await viewer.GetAsync("/api/jobs")).StatusCode);
        Assert.Equal("viewer", (await viewer.GetFromJsonAsync<JsonElement>("/api/me")).GetProperty("role").GetString());
        var job = new SmallJob(fixture.Temp.Combine("forbidden"), "forbidden");
        Assert.Equal(HttpStatusCode.Forbidden, (await viewer.PostAsync("/api/jobs", SmallJob.Body(job.SpecJson()))).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await viewer.PostAsync("/api/jobs/anything-1234/cancel", null)).StatusCode);

        using var bearer = Host.Client(key: null);
        bearer.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", TestApiHost.OperatorKey);
        Assert.Equal("operator", (await bearer.GetFromJsonAsync<JsonElement>("/api/me")).GetProperty("role").GetString());
        Assert.Equal(HttpStatusCode.NotFound, (await bearer.GetAsync("/api/jobs/no-such-job-0000")).StatusCode);

        // Neither the keys nor a rejected key ever reach the logs.
        var logs = string.Join("\n", Host.Logs.Lines);
        Assert.NotEmpty(Host.Logs.Lines);
        Assert.DoesNotContain(TestApiHost.OperatorKey, logs);
        Assert.DoesNotContain(TestApiHost.ViewerKey, logs);
        Assert.DoesNotContain("not-a-key-of-this-cluster-123456", logs);
    }

    [Fact]
    public async Task Invalid_spec_is_400_naming_the_field()
    {
        using var client = Host.Client();
        var job = new SmallJob(fixture.Temp.Combine("invalid"), "invalid");
        var spec = job.SpecJson().Replace("\"minWords\":3", "\"minWords\":-1");
        var response = await client.PostAsync("/api/jobs", SmallJob.Body(spec));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var problem = (await response.Content.ReadFromJsonAsync<ValidationProblem>(TestApiHost.Json))!;
        Assert.Contains(problem.Errors, e => e.Field == "stages[1].minWords");

        response = await client.PostAsync("/api/jobs", SmallJob.Body(job.SpecJson().Replace("\"seed\"", "\"seeed\"")));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("seeed", await response.Content.ReadAsStringAsync());

        response = await client.PostAsync("/api/jobs", SmallJob.Body("not json"));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);

        // A stage without its "type" (System.Text.Json throws NotSupportedException there) is a 400 too, naming the field.
        response = await client.PostAsync("/api/jobs", SmallJob.Body(job.SpecJson().Replace("\"type\":\"quality_filter\",", "")));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        problem = (await response.Content.ReadFromJsonAsync<ValidationProblem>(TestApiHost.Json))!;
        Assert.Contains(problem.Errors, e => e.Field == "stages[1].type" && e.Message.StartsWith("missing", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Requests_the_api_cannot_serve_are_answered_with_a_sentence_not_an_empty_body()
    {
        using var client = Host.Client();
        async Task<(HttpStatusCode Status, string Error)> SendAsync(HttpRequestMessage request)
        {
            var response = await client.SendAsync(request);
            var body = await response.Content.ReadFromJsonAsync<JsonElement>();
            return (response.StatusCode, body.GetProperty("error").GetString()!);
        }

        // curl --data @job.json sends a form content type: the answer says what to send instead.
        var job = new SmallJob(fixture.Temp.Combine("content-type"), "content-type");
        var (status, error) = await SendAsync(new HttpRequestMessage(HttpMethod.Post, "/api/jobs")
        {
            Content = new StringContent(job.SpecJson(), System.Text.Encoding.UTF8, "application/x-www-form-urlencoded"),
        });
        Assert.Equal(HttpStatusCode.UnsupportedMediaType, status);
        Assert.Contains("Content-Type: application/json", error);
        Assert.Contains("application/x-www-form-urlencoded", error);

        (status, error) = await SendAsync(new HttpRequestMessage(HttpMethod.Delete, "/api/jobs"));
        Assert.Equal(HttpStatusCode.MethodNotAllowed, status);
        Assert.Equal("DELETE /api/jobs: the method is not allowed here (allowed: GET, POST)", error);

        (status, error) = await SendAsync(new HttpRequestMessage(HttpMethod.Get, "/api/no-such-route"));
        Assert.Equal(HttpStatusCode.NotFound, status);
        Assert.Contains("GET /api/no-such-route: not found", error);

        // A query value of the wrong type names the parameter and the value, in the API's words.
        (status, error) = await SendAsync(new HttpRequestMessage(HttpMethod.Get, "/api/jobs/some-job/drops?limit=ten"));
        Assert.Equal((HttpStatusCode.BadRequest, "limit: 'ten' is not a whole number"), (status, error));
        (status, error) = await SendAsync(new HttpRequestMessage(HttpMethod.Get, "/api/jobs/some-job/whatif?stage=1&threshold=high"));
        Assert.Equal((HttpStatusCode.BadRequest, "threshold: 'high' is not a number"), (status, error));
    }

    [Theory]
    [InlineData("../outside", "output.path")]
    [InlineData("curated/../../outside", "output.path")]
    [InlineData("/etc/curation-output", "output.path")]
    [InlineData("{root}/allowed/../../escaped", "output.path")]
    [InlineData("state/job", "output.path")]
    [InlineData("INPUT:/etc/*.conf", "inputs[0].path")]
    public async Task Paths_out_of_the_store_roots_are_rejected(string path, string field)
    {
        using var client = Host.Client();
        var job = new SmallJob(fixture.Temp.Combine("traversal-" + Guid.NewGuid().ToString("N")[..6]), "traversal");
        var spec = job.SpecJson();
        spec = path.StartsWith("INPUT:", StringComparison.Ordinal)
            ? spec.Replace(JsonSerializer.Serialize(Path.Combine(job.Folder, "corpus", "*.jsonl")), JsonSerializer.Serialize(path["INPUT:".Length..]))
            : job.SpecJson(output: path.Replace("{root}", fixture.Temp.Path));
        var response = await client.PostAsync("/api/jobs", SmallJob.Body(spec));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var problem = (await response.Content.ReadFromJsonAsync<ValidationProblem>(TestApiHost.Json))!;
        Assert.Contains(problem.Errors, e => e.Field == field);
    }

    [Fact]
    public async Task Local_output_inside_an_allowed_root_is_accepted()
    {
        var job = new SmallJob(fixture.Temp.Combine("local-out"), "localout", originals: 10, copies: 2, files: 1);
        using var client = Host.Client();
        var response = await client.PostAsync("/api/jobs", SmallJob.Body(job.SpecJson(output: Path.Combine(job.Folder, "out"))));
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var result = (await response.Content.ReadFromJsonAsync<SubmitResult>(TestApiHost.Json))!;
        Assert.Equal(JobState.Completed, (await Host.WaitAsync(result.JobId)).State);
        Assert.True(File.Exists(Path.Combine(job.Folder, "out", "manifest.json")));
    }

    [Fact]
    public async Task Cancel_stops_the_job_and_leaves_no_manifest()
    {
        // Many small shards and two tasks in flight: the job runs for a while.
        var (jobId, job) = await SubmitAsync("cancel", originals: 600, copies: 100, files: 60, shardBytes: 1024);
        using var client = Host.Client();
        // Cancel once work is under way.
        for (var i = 0; i < 200; i++)
        {
            var running = (await client.GetFromJsonAsync<JobView>($"/api/jobs/{jobId}", TestApiHost.Json))!;
            if (running.Phases.Sum(p => p.Done) > 0 || running.State != JobState.Running) break;
            await Task.Delay(25);
        }
        var response = await client.PostAsync($"/api/jobs/{jobId}/cancel", null);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var cancelled = (await response.Content.ReadFromJsonAsync<JobView>(TestApiHost.Json))!;
        Assert.Equal(JobState.Cancelled, cancelled.State);

        await Task.Delay(1500);
        var later = (await client.GetFromJsonAsync<JobView>($"/api/jobs/{jobId}", TestApiHost.Json))!;
        Assert.Equal(JobState.Cancelled, later.State);
        Assert.Equal(cancelled.Phases.Sum(p => p.Done), later.Phases.Sum(p => p.Done));
        Assert.True(later.Phases.Sum(p => p.Done) < later.Phases.Sum(p => p.Total), "the job finished before it was cancelled");
        Assert.False(File.Exists(Path.Combine(Host.DataRoot, "curated", "cancel", "manifest.json")));
        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync($"/api/jobs/{jobId}/manifest")).StatusCode);
        Assert.NotNull(job);
    }

    [Fact]
    public async Task OpenApi_healthz_and_metrics_are_served_without_a_key()
    {
        var (jobId, _) = await SubmitAsync("metrics", originals: 10, copies: 2, files: 1);
        Assert.Equal(JobState.Completed, (await Host.WaitAsync(jobId)).State);

        using var anonymous = Host.Client(key: null);
        var openApi = await anonymous.GetStringAsync("/openapi/v1.json");
        Assert.Contains("/api/jobs/{id}/cancel", openApi);
        var health = await anonymous.GetFromJsonAsync<JsonElement>("/healthz");
        Assert.Equal("Healthy", health.GetProperty("status").GetString());
        var metrics = await anonymous.GetStringAsync("/metrics");
        Assert.Contains("curation_stage_documents", metrics);
        Assert.Contains("curation_tasks_queued", metrics);
        var dashboard = await anonymous.GetStringAsync("/dashboard/");
        Assert.Contains("<html", dashboard);

        using var viewer = Host.Client(TestApiHost.ViewerKey);
        var silos = await viewer.GetFromJsonAsync<SiloView[]>("/api/silos", TestApiHost.Json);
        var silo = Assert.Single(silos!);
        Assert.True(silo.Healthy);
        Assert.Contains("embed", silo.Roles);
    }
}

/// <summary>A job submitted to one host resumes on the next host over the same data store.</summary>
public sealed class RestartTests
{
    [Fact]
    public async Task Job_survives_a_host_restart_and_completes()
    {
        using var temp = new TempDirectory("restart");
        var job = new SmallJob(temp.Combine("job"), "restart", originals: 300, copies: 60, files: 30);
        string jobId;
        var limit = new Dictionary<string, string?> { ["Curation:Execution:MaxTasksInFlight"] = "1" };
        await using (var first = await TestApiHost.StartAsync(temp.Combine("data"), temp.Path, limit))
        {
            using var client = first.Client();
            var response = await client.PostAsync("/api/jobs", SmallJob.Body(job.SpecJson(targetShardBytes: 1024)));
            jobId = (await response.Content.ReadFromJsonAsync<SubmitResult>(TestApiHost.Json))!.JobId;
        }
        await using var second = await TestApiHost.StartAsync(temp.Combine("data"), temp.Path);
        var view = await second.WaitAsync(jobId);
        Assert.True(view.State == JobState.Completed, view.Error);
        Assert.True(File.Exists(Path.Combine(temp.Path, "data", "curated", "restart", "manifest.json")));
    }
}

/// <summary><c>curate submit | status | cancel</c> against a running host.</summary>
public sealed class CliTests(ApiHostFixture fixture) : IClassFixture<ApiHostFixture>
{
    internal static async Task<(int Code, string Output)> CurateAsync(string workingDirectory, IDictionary<string, string> environment, params string[] args)
    {
        var start = new ProcessStartInfo("dotnet", ["exec", Path.Combine(AppContext.BaseDirectory, "curate.dll"), .. args])
        {
            RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = workingDirectory,
        };
        foreach (var (k, v) in environment) start.Environment[k] = v;
        start.Environment["COLUMNS"] = "200";
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        Assert.True(process.WaitForExit(TimeSpan.FromMinutes(2)), "curate did not finish");
        return (process.ExitCode, await output + await error);
    }

    [Fact]
    public async Task Ctrl_c_while_following_a_submitted_job_stops_the_command_and_the_job_runs_on()
    {
        var seed = Random.Shared.Next(1_000_000);
        var delay = TimeSpan.FromMilliseconds(new Random(seed).Next(0, 1000));
        var job = new SmallJob(fixture.Temp.Combine("follow-interrupt"), "follow-interrupt", originals: 200, copies: 10, files: 2);
        var specFile = Path.Combine(job.Folder, "job.json");
        await File.WriteAllTextAsync(specFile, job.SpecJson(semantic: true));
        var env = new Dictionary<string, string> { ["CURATION_URL"] = fixture.Host.Url, ["CURATION_API_KEY"] = TestApiHost.OperatorKey };

        using var follow = new CurateProcess(job.Folder, env, "submit", specFile, "--follow");
        Assert.True(await follow.WaitForLineAsync(l => l.StartsWith("follow-interrupt-", StringComparison.Ordinal), TimeSpan.FromMinutes(1)), follow.Output);
        await Task.Delay(delay); // seed {seed}: a moment drawn at random while the job runs
        await follow.InterruptAsync();
        Assert.True(await follow.WaitForExitAsync(TimeSpan.FromSeconds(30)), follow.Output);
        var jobId = follow.Output.Split('\n')[0].Trim();
        Assert.True(follow.ExitCode == 130, $"seed {seed}, exit code {follow.ExitCode}:\n{follow.Output}");
        Assert.Contains($"Stopped following job {jobId}; it keeps running on the cluster (curate status {jobId} follows it again, curate cancel {jobId} stops it).",
            follow.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", follow.Output, StringComparison.Ordinal);
        Assert.Equal(JobState.Completed, (await fixture.Host.WaitAsync(jobId, TimeSpan.FromMinutes(4))).State);
    }

    [Fact]
    public async Task Submit_status_and_cancel_use_the_url_and_key_from_the_environment()
    {
        var job = new SmallJob(fixture.Temp.Combine("cli"), "cli", originals: 20, copies: 4, files: 2);
        var specFile = Path.Combine(job.Folder, "job.json");
        await File.WriteAllTextAsync(specFile, job.SpecJson());
        var env = new Dictionary<string, string> { ["CURATION_URL"] = fixture.Host.Url, ["CURATION_API_KEY"] = TestApiHost.OperatorKey };

        var (code, output) = await CurateAsync(job.Folder, env, "submit", specFile, "--follow");
        Assert.True(code == 0, output);
        Assert.Contains("Completed", output);
        var jobId = output.Split('\n')[0].Trim();
        Assert.StartsWith("cli-", jobId);

        (code, output) = await CurateAsync(job.Folder, env, "status");
        Assert.True(code == 0, output);
        Assert.Contains(jobId, output);
        (code, output) = await CurateAsync(job.Folder, env, "status", jobId);
        Assert.True(code == 0, output);

        // --run-key makes another job of the same spec, writing its own output (runs/{key}); the same key is that job again.
        (code, output) = await CurateAsync(job.Folder, env, "submit", specFile, "--run-key", "second", "--follow");
        Assert.True(code == 0, output);
        Assert.Contains("Completed", output);
        var keyed = output.Split('\n')[0].Trim();
        Assert.StartsWith("cli-", keyed);
        Assert.NotEqual(jobId, keyed);
        Assert.True(File.Exists(Path.Combine(fixture.Host.DataRoot, "curated", "cli", "runs", "second", "manifest.json")), output);
        (code, output) = await CurateAsync(job.Folder, env, "submit", specFile, "--run-key", "second");
        Assert.Equal((0, keyed), (code, output.Split('\n')[0].Trim()));

        // The viewer key may read but not cancel; a flag overrides the environment.
        (code, output) = await CurateAsync(job.Folder, env, "cancel", jobId, "--key", TestApiHost.ViewerKey);
        Assert.NotEqual(0, code);
        Assert.Contains("403", output);
        // An operator cancelling a job that already completed leaves it completed, and is told why nothing happened.
        (code, output) = await CurateAsync(job.Folder, env, "cancel", jobId);
        Assert.Equal(1, code);
        Assert.Contains($"Job {jobId}: Completed (it had already completed: there was nothing to cancel)", output);

        await File.WriteAllTextAsync(specFile, job.SpecJson().Replace("\"minWords\":3", "\"minWords\":-1"));
        (code, output) = await CurateAsync(job.Folder, env, "submit", specFile);
        Assert.Equal(2, code);
        Assert.Contains("stages[1].minWords", output);
    }
}

/// <summary><c>curate</c> given several silos' URLs rides over one that is gone, saying so in a sentence.</summary>
public sealed class CliFailoverTests(ApiHostFixture fixture) : IClassFixture<ApiHostFixture>
{
    [Fact]
    public async Task A_dead_url_in_the_list_is_reported_in_a_sentence_and_the_next_one_answers()
    {
        var job = new SmallJob(fixture.Temp.Combine("cli-failover"), "clifailover", originals: 10, copies: 2, files: 1);
        var specFile = Path.Combine(job.Folder, "job.json");
        await File.WriteAllTextAsync(specFile, job.SpecJson());
        var dead = $"http://127.0.0.1:{Curation.Grains.Hosting.LoopbackPorts.Free(1)[0]}";
        var env = new Dictionary<string, string> { ["CURATION_URL"] = $"{dead},{fixture.Host.Url}", ["CURATION_API_KEY"] = TestApiHost.OperatorKey };

        var (code, output) = await CliTests.CurateAsync(job.Folder, env, "submit", specFile, "--follow");
        Assert.True(code == 0, output);
        Assert.Contains("Completed", output);
        Assert.Contains($"silo at {dead}/ does not answer", output);
        Assert.DoesNotContain("left the cluster", output); // it was never reached: nothing has left
        Assert.DoesNotContain("   at ", output); // no stack trace

        // Only dead URLs: a sentence and exit code 2 after the (shortened) window, never a stack trace.
        env["CURATION_URL"] = dead;
        env["CURATION_RECONNECT_SECONDS"] = "2";
        (code, output) = await CliTests.CurateAsync(job.Folder, env, "status");
        Assert.Equal(2, code);
        Assert.Contains($"No silo answers at {dead}/ (last: Connection refused", output);
        Assert.Contains("is `curate silo` running there? Give its API URL with --url or $CURATION_URL", output);
        Assert.DoesNotContain("   at ", output);

        // Never reached, a schedule command (as every command) gives up after the first-contact window, not the whole one.
        env.Remove("CURATION_RECONNECT_SECONDS");
        var clock = System.Diagnostics.Stopwatch.StartNew();
        (code, output) = await CliTests.CurateAsync(job.Folder, env, "schedule", "list");
        Assert.Equal(2, code);
        Assert.Contains("No silo answers at", output);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(90), $"gave up after {clock.Elapsed}");
    }
}
