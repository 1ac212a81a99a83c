using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using Curation.Silo.Api;

namespace Curation.Silo.Tests;

/// <summary>Schedules through the REST API and <c>curate schedule</c> (firing itself is tested on a fake clock in tests/grains).</summary>
public sealed class ScheduleApiTests(ApiHostFixture fixture) : IClassFixture<ApiHostFixture>
{
    private TestApiHost Host => fixture.Host;

    private string Body(string id, string name, string cron = "0 3 1 1 *", string timeZone = "Europe/Paris", string overlap = "queue",
        Action<JsonObject>? edit = null)
    {
        var job = new SmallJob(fixture.Temp.Combine("sched-" + name), name, originals: 10, copies: 2, files: 1);
        var body = new JsonObject
        {
            ["id"] = id, ["cron"] = cron, ["timeZone"] = timeZone, ["overlap"] = overlap, ["spec"] = JsonNode.Parse(job.SpecJson()),
        };
        edit?.Invoke(body);
        return body.ToJsonString();
    }

    private static async Task<List<string>> FieldsOf(HttpResponseMessage response)
    {
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var problem = (await response.Content.ReadFromJsonAsync<ValidationProblem>(TestApiHost.Json))!;
        return problem.Errors.Select(e => e.Field).ToList();
    }

    [Fact]
    public async Task Schedules_are_created_listed_paused_resumed_and_deleted_with_roles()
    {
        using var op = Host.Client();
        using var viewer = Host.Client(TestApiHost.ViewerKey);

        // 400 names the field.
        Assert.Equal(["cron"], await FieldsOf(await op.PostAsync("/api/schedules", SmallJob.Body(Body("bad", "bad1", cron: "99 * * * *")))));
        Assert.Equal(["timeZone"], await FieldsOf(await op.PostAsync("/api/schedules", SmallJob.Body(Body("bad", "bad2", timeZone: "Nowhere/Atlantis")))));
        Assert.Equal(["overlap"], await FieldsOf(await op.PostAsync("/api/schedules", SmallJob.Body(Body("bad", "bad3", overlap: "twice")))));
        Assert.Equal(["id"], await FieldsOf(await op.PostAsync("/api/schedules", SmallJob.Body(Body("no such id!", "bad4")))));
        Assert.Equal(["spec.output.path"], await FieldsOf(await op.PostAsync("/api/schedules",
            SmallJob.Body(Body("bad", "bad5", edit: b => b["spec"]!["output"]!["path"] = "state/evil")))));
        Assert.Equal(["spec.stages[1].minWords"], await FieldsOf(await op.PostAsync("/api/schedules",
            SmallJob.Body(Body("bad", "bad6", edit: b => b["spec"]!["stages"]![1]!["minWords"] = -1)))));
        Assert.Equal(["spec.runKey"], await FieldsOf(await op.PostAsync("/api/schedules",
            SmallJob.Body(Body("bad", "bad7", edit: b => b["spec"]!["runKey"] = "mine")))));
        Assert.Equal(["color"], await FieldsOf(await op.PostAsync("/api/schedules", SmallJob.Body(Body("bad", "bad8", edit: b => b["color"] = "red")))));
        Assert.Equal(HttpStatusCode.NotFound, (await viewer.GetAsync("/api/schedules/bad")).StatusCode);

        // Viewers read, operators change.
        Assert.Equal(HttpStatusCode.Forbidden, (await viewer.PostAsync("/api/schedules", SmallJob.Body(Body("nightly", "nightly")))).StatusCode);
        var created = await op.PostAsync("/api/schedules", SmallJob.Body(Body("nightly", "nightly")));
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        Assert.Equal("/api/schedules/nightly", created.Headers.Location?.ToString());
        var view = (await created.Content.ReadFromJsonAsync<ScheduleView>(TestApiHost.Json))!;
        Assert.Equal(("nightly", "0 3 1 1 *", "Europe/Paris", "queue", "active"), (view.Id, view.Cron, view.TimeZone, view.Overlap, view.State));
        // 03:00 on 1 January in Paris is 02:00 UTC.
        Assert.Equal(new TimeSpan(2, 0, 0), view.NextRun!.Value.UtcDateTime.TimeOfDay);
        Assert.Equal((1, 1), (view.NextRun.Value.UtcDateTime.Month, view.NextRun.Value.UtcDateTime.Day));
        Assert.Null(view.LastRun);

        var list = (await viewer.GetFromJsonAsync<ScheduleView[]>("/api/schedules", TestApiHost.Json))!;
        Assert.Contains(list, s => s.Id == "nightly" && s.JobName == "nightly");
        Assert.Equal("nightly", (await viewer.GetFromJsonAsync<ScheduleView>("/api/schedules/nightly", TestApiHost.Json))!.Id);

        Assert.Equal(HttpStatusCode.Forbidden, (await viewer.PostAsync("/api/schedules/nightly/pause", null)).StatusCode);
        var paused = (await (await op.PostAsync("/api/schedules/nightly/pause", null)).Content.ReadFromJsonAsync<ScheduleView>(TestApiHost.Json))!;
        Assert.Equal("paused", paused.State);
        Assert.Null(paused.NextRun);
        var resumed = (await (await op.PostAsync("/api/schedules/nightly/resume", null)).Content.ReadFromJsonAsync<ScheduleView>(TestApiHost.Json))!;
        Assert.Equal("active", resumed.State);
        Assert.NotNull(resumed.NextRun);

        // Posting the same id again replaces the definition (200).
        var updated = await op.PostAsync("/api/schedules", SmallJob.Body(Body("nightly", "nightly", cron: "*/10 * * * *", timeZone: "UTC", overlap: "skip")));
        Assert.Equal(HttpStatusCode.OK, updated.StatusCode);
        view = (await updated.Content.ReadFromJsonAsync<ScheduleView>(TestApiHost.Json))!;
        Assert.Equal(("*/10 * * * *", "UTC", "skip"), (view.Cron, view.TimeZone, view.Overlap));
        Assert.Equal(0, view.NextRun!.Value.Minute % 10);

        Assert.Equal(HttpStatusCode.Forbidden, (await viewer.DeleteAsync("/api/schedules/nightly")).StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, (await op.DeleteAsync("/api/schedules/nightly")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await viewer.GetAsync("/api/schedules/nightly")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await op.PostAsync("/api/schedules/nightly/pause", null)).StatusCode);
        Assert.DoesNotContain((await viewer.GetFromJsonAsync<ScheduleView[]>("/api/schedules", TestApiHost.Json))!, s => s.Id == "nightly");
    }

    [Fact]
    public async Task Curate_schedule_creates_lists_pauses_resumes_and_deletes()
    {
        var job = new SmallJob(fixture.Temp.Combine("sched-cli"), "schedcli", originals: 10, copies: 2, files: 1);
        var specFile = Path.Combine(job.Folder, "job.json");
        // Relative input paths are made absolute against the job file.
        await File.WriteAllTextAsync(specFile, job.SpecJson().Replace(JsonSerializer.Serialize(Path.Combine(job.Folder, "corpus", "*.jsonl")), "\"corpus/*.jsonl\""));
        var env = new Dictionary<string, string> { ["CURATION_URL"] = Host.Url, ["CURATION_API_KEY"] = TestApiHost.OperatorKey };

        var (code, output) = await CliTests.CurateAsync(job.Folder, env, "schedule", "create", "cli-nightly", specFile, "--cron", "30 2 * * *", "--tz", "Europe/Paris", "--overlap", "queue");
        Assert.True(code == 0, output);
        Assert.Contains("cli-nightly", output);
        Assert.Contains("active", output);
        using (var viewer = Host.Client(TestApiHost.ViewerKey))
        {
            var view = (await viewer.GetFromJsonAsync<ScheduleView>("/api/schedules/cli-nightly", TestApiHost.Json))!;
            Assert.Equal(Path.Combine(job.Folder, "corpus", "*.jsonl"), view.Spec!.Value.GetProperty("inputs")[0].GetProperty("path").GetString());
        }

        (code, output) = await CliTests.CurateAsync(job.Folder, env, "schedule", "list");
        Assert.True(code == 0, output);
        Assert.True(output.Contains("cli-nightly") && output.Contains("30 2 * * *"), output);
        (code, output) = await CliTests.CurateAsync(job.Folder, env, "schedule", "pause", "cli-nightly");
        Assert.True(code == 0, output);
        Assert.Contains("paused", output);
        (code, output) = await CliTests.CurateAsync(job.Folder, env, "schedule", "resume", "cli-nightly");
        Assert.True(code == 0, output);
        Assert.Contains("active", output);

        (code, output) = await CliTests.CurateAsync(job.Folder, env, "schedule", "create", "cli-bad", specFile, "--cron", "* * *", "--tz", "UTC");
        Assert.Equal(2, code);
        Assert.Contains("cron:", output);
        (code, output) = await CliTests.CurateAsync(job.Folder, env, "schedule", "delete", "cli-nightly", "--key", TestApiHost.ViewerKey);
        Assert.NotEqual(0, code);
        Assert.Contains("403", output);
        (code, output) = await CliTests.CurateAsync(job.Folder, env, "schedule", "delete", "cli-nightly");
        Assert.True(code == 0, output);
        (code, output) = await CliTests.CurateAsync(job.Folder, env, "schedule", "list");
        Assert.DoesNotContain("cli-nightly", output);
    }
}
