using System.CommandLine;
using System.Net.Http.Json;
using System.Text.Json;
using Curation.Silo.Api;
using Spectre.Console;
using static Curation.Silo.Commands.ApiClientCommands;

namespace Curation.Silo.Commands;

/// <summary>
/// <c>curate schedule create | list | show | pause | resume | delete</c>: schedules on a running host, through its REST API
/// (URL and key as for <c>curate submit</c>).
/// </summary>
public static class ScheduleCommands
{
    public static Command Create()
    {
        var command = new Command("schedule", "Manage schedules (cron-driven recurring jobs) on a running host.");
        command.Subcommands.Add(CreateCommand());
        command.Subcommands.Add(List());
        command.Subcommands.Add(Show());
        command.Subcommands.Add(Change("pause", "Stop firing a schedule (ticks while paused are not fired later).", "pause"));
        command.Subcommands.Add(Change("resume", "Fire a paused schedule again, from the next tick after now.", "resume"));
        command.Subcommands.Add(Delete());
        return command;
    }

    private static Command CreateCommand()
    {
        var id = new Argument<string>("id") { Description = "Schedule id: letters, digits, '.', '_' or '-'." };
        var file = new Argument<FileInfo>("job") { Description = "Job spec (JSON) each tick runs; relative paths (inputs, files stages read) are relative to this file." };
        var cron = new Option<string>("--cron") { Description = "Cron expression, five fields: minute hour day-of-month month day-of-week (\"0 3 * * *\").", Required = true };
        var zone = new Option<string>("--tz") { Description = "IANA time zone the cron expression is read in (default UTC).", DefaultValueFactory = _ => "UTC" };
        var overlap = new Option<string>("--overlap") { Description = "When a tick comes while the previous run is still going: skip (default) or queue.", DefaultValueFactory = _ => "skip" };
        overlap.AcceptOnlyFromAmong("skip", "queue");
        var (url, key) = (UrlOption(), KeyOption());
        var command = new Command("create", "Create a schedule, or replace the definition of an existing one.") { id, file, cron, zone, overlap, url, key };
        command.SetAction((parse, ct) => Guard(async () =>
        {
            var jobFile = parse.GetValue(file)!;
            var spec = await JobFile.ReadAsync(jobFile, ct);
            var body = JsonSerializer.Serialize(new
            {
                id = parse.GetValue(id), cron = parse.GetValue(cron), timeZone = parse.GetValue(zone), overlap = parse.GetValue(overlap),
                spec = JsonSerializer.Deserialize<JsonElement>(spec.ToJson()),
            });
            using var http = Client(parse.GetValue(url), parse.GetValue(key));
            using var response = await http.PostAsync("/api/schedules", new StringContent(body, System.Text.Encoding.UTF8, "application/json"), ct);
            if (response.StatusCode == System.Net.HttpStatusCode.BadRequest)
            {
                var problem = await response.Content.ReadFromJsonAsync<ValidationProblem>(Json, ct);
                AnsiConsole.MarkupLine("[red]invalid schedule[/]:");
                foreach (var e in problem?.Errors ?? []) AnsiConsole.MarkupLine($"  [red]{Markup.Escape($"{e.Field}: {e.Message}")}[/]");
                return 2;
            }
            await EnsureSuccessAsync(response, ct);
            Write(((await response.Content.ReadFromJsonAsync<ScheduleView>(Json, ct))!));
            return 0;
        }));
        return command;
    }

    private static Command List()
    {
        var (url, key) = (UrlOption(), KeyOption());
        var command = new Command("list", "List the schedules with their next and last run.") { url, key };
        command.SetAction((parse, ct) => Guard(async () =>
        {
            using var http = Client(parse.GetValue(url), parse.GetValue(key));
            var schedules = await GetAsync<ScheduleView[]>(http, "/api/schedules", ct);
            // Plain aligned lines (not a table): never wrapped, easy to grep.
            string[] header = ["SCHEDULE", "CRON", "TIME ZONE", "STATE", "OVERLAP", "NEXT RUN", "SKIPPED", "LAST RUN"];
            var rows = schedules.Select(s => new[]
            {
                s.Id, s.Cron, s.TimeZone, s.State, s.Overlap, When(s.NextRun), $"{s.SkippedTicks:N0}",
                s.LastRun is { } r ? $"{When(r.Tick)} {r.JobId} {r.State}" : "",
            }).Prepend(header).ToList();
            var widths = Enumerable.Range(0, header.Length).Select(c => rows.Max(r => r[c].Length)).ToArray();
            foreach (var row in rows) Console.WriteLine(string.Join("  ", row.Select((cell, c) => cell.PadRight(widths[c]))).TrimEnd());
            return 0;
        }));
        return command;
    }

    private static Command Show()
    {
        var id = new Argument<string>("id") { Description = "Schedule id." };
        var (url, key) = (UrlOption(), KeyOption());
        var command = new Command("show", "Show a schedule and its last runs.") { id, url, key };
        command.SetAction((parse, ct) => Guard(async () =>
        {
            using var http = Client(parse.GetValue(url), parse.GetValue(key));
            Write(await GetAsync<ScheduleView>(http, $"/api/schedules/{Uri.EscapeDataString(parse.GetValue(id)!)}", ct));
            return 0;
        }));
        return command;
    }

    private static Command Change(string name, string description, string action)
    {
        var id = new Argument<string>("id") { Description = "Schedule id." };
        var (url, key) = (UrlOption(), KeyOption());
        var command = new Command(name, description) { id, url, key };
        command.SetAction((parse, ct) => Guard(async () =>
        {
            using var http = Client(parse.GetValue(url), parse.GetValue(key));
            using var response = await http.PostAsync($"/api/schedules/{Uri.EscapeDataString(parse.GetValue(id)!)}/{action}", null, ct);
            await EnsureSuccessAsync(response, ct);
            Write((await response.Content.ReadFromJsonAsync<ScheduleView>(Json, ct))!);
            return 0;
        }));
        return command;
    }

    private static Command Delete()
    {
        var id = new Argument<string>("id") { Description = "Schedule id." };
        var (url, key) = (UrlOption(), KeyOption());
        var command = new Command("delete", "Delete a schedule (runs it started keep going).") { id, url, key };
        command.SetAction((parse, ct) => Guard(async () =>
        {
            using var http = Client(parse.GetValue(url), parse.GetValue(key));
            using var response = await http.DeleteAsync($"/api/schedules/{Uri.EscapeDataString(parse.GetValue(id)!)}", ct);
            await EnsureSuccessAsync(response, ct);
            AnsiConsole.MarkupLine($"Schedule [bold]{Markup.Escape(parse.GetValue(id)!)}[/] deleted");
            return 0;
        }));
        return command;
    }

    private static string When(DateTimeOffset? time) => time?.ToUniversalTime().ToString("yyyy-MM-dd HH:mm'Z'", System.Globalization.CultureInfo.InvariantCulture) ?? "";

    private static void Write(ScheduleView s)
    {
        AnsiConsole.MarkupLine($"Schedule [bold]{Markup.Escape(s.Id)}[/]: {Markup.Escape(s.Cron)} ({Markup.Escape(s.TimeZone)}), {s.State}, overlap {s.Overlap}");
        AnsiConsole.MarkupLine($"  next run: {(s.NextRun is { } next ? When(next) : "none")}");
        if (s.QueuedTick is { } queued) AnsiConsole.MarkupLine($"  queued:   {When(queued)}");
        if (s.SkippedTicks > 0) AnsiConsole.MarkupLine($"  skipped:  {s.SkippedTicks:N0} (last {When(s.LastSkippedTick)})");
        foreach (var r in s.Runs)
            AnsiConsole.MarkupLine($"  {When(r.Tick)}  {Markup.Escape(r.JobId)}  {r.State}{(r.WasQueued ? " (queued)" : "")}");
    }
}
