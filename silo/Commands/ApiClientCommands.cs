using System.CommandLine;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Serialization;
using Curation.Grains;
using Curation.Pipelines.Spec;
using Curation.Silo.Api;
using Spectre.Console;

namespace Curation.Silo.Commands;

/// <summary>
/// <c>curate submit | status | cancel</c>: clients of a running host's REST API. The URL and key come from
/// <c>--url</c>/<c>--key</c> or <c>CURATION_URL</c>/<c>CURATION_API_KEY</c> (default URL http://localhost:5080).
/// </summary>
public static class ApiClientCommands
{
    public const string UrlVariable = "CURATION_URL";
    public const string KeyVariable = "CURATION_API_KEY";
    /// <summary>How long a request keeps trying the given silos before the command gives up (seconds; default 180).</summary>
    public const string ReconnectVariable = "CURATION_RECONNECT_SECONDS";

    internal static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { Converters = { new JsonStringEnumConverter() } };

    internal static Option<string?> UrlOption() => new("--url")
    {
        Description = $"Host URL, or several silos' URLs separated by commas: a request that finds its silo gone goes to the next " +
                      $"(default: ${UrlVariable}, else http://localhost:5080).",
    };
    internal static Option<string?> KeyOption() => new("--key") { Description = $"API key (default: ${KeyVariable})." };

    /// <summary>The spec's <c>runKey</c> for this run (<c>curate run</c>, <c>curate submit</c>).</summary>
    internal static Option<string?> RunKeyOption() => new("--run-key")
    {
        Description = "The spec's runKey for this run: a new value is a new job of the same spec (output.snapshots: the next refresh; " +
                      "any other output goes to {output.path}/runs/{key}); the same value resumes that job.",
    };

    public static Command Submit()
    {
        var file = new Argument<FileInfo>("job") { Description = "Job spec (JSON); relative paths (inputs, files stages read) are relative to this file." };
        var follow = new Option<bool>("--follow") { Description = "Show live progress until the job is final." };
        var (url, key, runKey) = (UrlOption(), KeyOption(), RunKeyOption());
        var command = new Command("submit", "Submit a job to a running host.") { file, follow, url, key, runKey };
        command.SetAction((parse, ct) => Guard(async () =>
        {
            var jobFile = parse.GetValue(file)!;
            var spec = await JobFile.ReadAsync(jobFile, ct);
            if (parse.GetValue(runKey) is { } run) spec = spec.ForRun(run);
            using var http = Client(parse.GetValue(url), parse.GetValue(key));
            using var response = await http.PostAsync("/api/jobs", new StringContent(spec.ToJson(), System.Text.Encoding.UTF8, "application/json"), ct);
            if (response.StatusCode == System.Net.HttpStatusCode.BadRequest)
            {
                var problem = await response.Content.ReadFromJsonAsync<ValidationProblem>(Json, ct);
                AnsiConsole.MarkupLine($"[red]{Markup.Escape(jobFile.FullName)}[/]:");
                foreach (var e in problem?.Errors ?? []) AnsiConsole.MarkupLine($"  [red]{Markup.Escape($"{e.Field}: {e.Message}")}[/]");
                return 2;
            }
            await EnsureSuccessAsync(response, ct);
            var result = (await response.Content.ReadFromJsonAsync<SubmitResult>(Json, ct))!;
            Console.WriteLine(result.JobId);
            return parse.GetValue(follow) ? await FollowAsync(http, result.JobId, ct) : 0;
        }));
        return command;
    }

    public static Command Status()
    {
        var id = new Argument<string?>("id") { Description = "Job id; without it, lists the jobs.", Arity = ArgumentArity.ZeroOrOne };
        var (url, key) = (UrlOption(), KeyOption());
        var command = new Command("status", "Show a job's live progress (or list the jobs) on a running host.") { id, url, key };
        command.SetAction((parse, ct) => Guard(async () =>
        {
            using var http = Client(parse.GetValue(url), parse.GetValue(key));
            if (parse.GetValue(id) is { } jobId) return await FollowAsync(http, jobId, ct);
            var jobs = await GetAsync<JobSummary[]>(http, "/api/jobs", ct);
            var table = new Table().Border(TableBorder.Rounded).AddColumn("job").AddColumn("state").AddColumn("tasks")
                .AddColumn(new TableColumn("in").RightAligned()).AddColumn(new TableColumn("kept").RightAligned()).AddColumn("started");
            foreach (var j in jobs)
                table.AddRow(Markup.Escape(j.JobId), j.State.ToString(), $"{j.TasksDone}/{j.TasksTotal}", $"{j.InputRecords:N0}", $"{j.Kept:N0}",
                    j.StartedAt?.ToLocalTime().ToString("u") ?? "");
            AnsiConsole.Write(table);
            return 0;
        }));
        return command;
    }

    public static Command Cancel()
    {
        var id = new Argument<string>("id") { Description = "Job id." };
        var (url, key) = (UrlOption(), KeyOption());
        var command = new Command("cancel", "Cancel a job on a running host (finished tasks stay: submitting again resumes).") { id, url, key };
        command.SetAction((parse, ct) => Guard(async () =>
        {
            using var http = Client(parse.GetValue(url), parse.GetValue(key));
            using var response = await http.PostAsync($"/api/jobs/{Uri.EscapeDataString(parse.GetValue(id)!)}/cancel", null, ct);
            await EnsureSuccessAsync(response, ct);
            var view = (await response.Content.ReadFromJsonAsync<JobView>(Json, ct))!;
            AnsiConsole.MarkupLine($"Job [bold]{Markup.Escape(view.JobId)}[/]: {view.State}" + view.State switch
            {
                // Cancel only stops a job that runs: one that ended is left as it ended, and said so.
                JobState.Completed or JobState.Failed => $" (it had already {view.State.ToString().ToLowerInvariant()}: there was nothing to cancel)",
                _ => "",
            });
            return view.State == JobState.Cancelled ? 0 : 1;
        }));
        return command;
    }

    private static async Task<int> FollowAsync(HttpClient http, string jobId, CancellationToken ct)
    {
        async Task<JobStatus> Poll()
        {
            var v = await GetAsync<JobView>(http, $"/api/jobs/{Uri.EscapeDataString(jobId)}", ct);
            return new JobStatus
            {
                JobId = v.JobId, Name = v.Name, State = v.State, Error = v.Error, Phases = v.Phases, StartedAt = v.StartedAt,
                CompletedAt = v.CompletedAt, Output = v.Output, Accounting = v.Accounting, Warnings = v.Warnings, Shards = v.Shards,
                Snapshot = v.Snapshot,
            };
        }
        JobStatus status;
        try
        {
            status = await JobStatusView.FollowAsync(Poll, TimeSpan.FromMilliseconds(500), ct);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            // Ctrl+C stops this command, not the job: it runs on the cluster.
            AnsiConsole.MarkupLine($"[yellow]Stopped following job {Markup.Escape(jobId)}; it keeps running on the cluster " +
                                   $"(curate status {Markup.Escape(jobId)} follows it again, curate cancel {Markup.Escape(jobId)} stops it).[/]");
            return 130;
        }
        JobStatusView.WriteSummary(status);
        return status.State == JobState.Completed ? 0 : 1;
    }

    internal static HttpClient Client(string? url, string? key)
    {
        url ??= Environment.GetEnvironmentVariable(UrlVariable) ?? "http://localhost:5080";
        key ??= Environment.GetEnvironmentVariable(KeyVariable);
        var urls = url.Split([',', ';', ' '], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(u => new Uri(u.EndsWith('/') ? u : u + "/")).ToList();
        // The failover handler bounds every request itself (per silo and over all of them).
        var window = int.TryParse(Environment.GetEnvironmentVariable(ReconnectVariable), out var seconds) && seconds > 0
            ? TimeSpan.FromSeconds(seconds) : TimeSpan.FromMinutes(3);
        var http = new HttpClient(new FailoverHandler(urls, Console.Error) { Window = window }) { BaseAddress = urls[0], Timeout = Timeout.InfiniteTimeSpan };
        if (!string.IsNullOrEmpty(key)) http.DefaultRequestHeaders.Add(ApiKeyAuthenticationHandler.HeaderName, key);
        return http;
    }

    internal static async Task<T> GetAsync<T>(HttpClient http, string path, CancellationToken ct)
    {
        using var response = await http.GetAsync(path, ct);
        await EnsureSuccessAsync(response, ct);
        return (await response.Content.ReadFromJsonAsync<T>(Json, ct))!;
    }

    internal static async Task EnsureSuccessAsync(HttpResponseMessage response, CancellationToken ct)
    {
        if (response.IsSuccessStatusCode) return;
        var body = await response.Content.ReadAsStringAsync(ct);
        var what = response.StatusCode switch
        {
            System.Net.HttpStatusCode.Unauthorized => "the API key was not accepted (set --key or $" + KeyVariable + ")",
            System.Net.HttpStatusCode.Forbidden => "this API key may not do that (an operator key is needed)",
            System.Net.HttpStatusCode.NotFound => "not found",
            _ => "the silo refused the request",
        };
        throw new HttpRequestException($"{what} ({(int)response.StatusCode} {response.ReasonPhrase}): {ErrorOf(body)}");
    }

    /// <summary>The sentence of an API error body (<c>{"error": …}</c> or a problem's title), else the body itself, shortened.</summary>
    internal static string ErrorOf(string body)
    {
        try
        {
            using var document = JsonDocument.Parse(body);
            foreach (var name in new[] { "error", "title", "detail" })
                if (document.RootElement.ValueKind == JsonValueKind.Object && document.RootElement.TryGetProperty(name, out var value) &&
                    value.ValueKind == JsonValueKind.String)
                    return value.GetString()!;
        }
        catch (JsonException) { }
        return body.Length > 500 ? body[..500] + "…" : body;
    }

    internal static async Task<int> Guard(Func<Task<int>> action)
    {
        try { return await action(); }
        catch (Exception e) when (e is HttpRequestException or JobSpecException or IOException)
        {
            AnsiConsole.MarkupLine($"[red]{Markup.Escape(e.Message)}[/]");
            return 2;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // Never a bare stack trace: one sentence, then the exception's own message.
            AnsiConsole.MarkupLine($"[red]{Markup.Escape($"curate failed unexpectedly ({e.GetType().Name}): {e.Message}")}[/]");
            return 2;
        }
    }
}
