using System.Text.Json;
using Curation.Grains;
using Curation.Grains.Schedules;
using Curation.Pipelines.Spec;
using Curation.Pipelines.Storage;
using Microsoft.Extensions.Options;

namespace Curation.Silo.Api;

/// <summary>The REST API of schedules: create (or replace), list, get, pause, resume, delete.</summary>
public static class SchedulesApi
{
    private static readonly string[] Fields = ["id", "cron", "timeZone", "overlap", "spec"];

    public static void Map(WebApplication app)
    {
        var api = app.MapGroup("/api/schedules").RequireAuthorization(ApiRoles.CanRead).WithTags("schedules");
        api.MapPost("", PutAsync).RequireAuthorization(ApiRoles.CanOperate)
            .Accepts<ScheduleRequest>("application/json")
            .Produces<ScheduleView>(StatusCodes.Status201Created).Produces<ScheduleView>().Produces<ValidationProblem>(StatusCodes.Status400BadRequest)
            .WithSummary("Create a schedule, or replace the definition of an existing one (400 names every bad field).");
        api.MapGet("", ListAsync).Produces<ScheduleView[]>().WithSummary("Every schedule, with its next and last run.");
        api.MapGet("/{id}", GetAsync).Produces<ScheduleView>().Produces(StatusCodes.Status404NotFound)
            .WithSummary("A schedule: definition, state, next run, last runs, skipped and queued ticks.");
        api.MapPost("/{id}/pause", (string id, IGrainFactory grains, HttpContext http, ILoggerFactory logs) =>
                ChangeAsync(id, grains, http, logs, "paused", g => g.Pause()))
            .RequireAuthorization(ApiRoles.CanOperate).Produces<ScheduleView>().WithSummary("Stop firing (ticks while paused are not fired later).");
        api.MapPost("/{id}/resume", (string id, IGrainFactory grains, HttpContext http, ILoggerFactory logs) =>
                ChangeAsync(id, grains, http, logs, "resumed", g => g.Resume()))
            .RequireAuthorization(ApiRoles.CanOperate).Produces<ScheduleView>().WithSummary("Fire again from the next tick after now.");
        api.MapDelete("/{id}", DeleteAsync).RequireAuthorization(ApiRoles.CanOperate)
            .Produces(StatusCodes.Status204NoContent).Produces(StatusCodes.Status404NotFound)
            .WithSummary("Remove a schedule (runs it started keep going).");
    }

    private static async Task<IResult> PutAsync(HttpRequest request, IGrainFactory grains, IOptions<ApiOptions> options, IOptions<JobLimits> limits,
        IStoreResolver stores, ILoggerFactory logs)
    {
        JsonElement body;
        try
        {
            var (text, tooLarge) = await RequestBody.ReadAsync(request, limits.Value);
            if (text is null) return tooLarge!;
            body = JsonSerializer.Deserialize<JsonElement>(text);
        }
        catch (JsonException e)
        {
            return Invalid([new SpecError("$", e.Message)]);
        }
        if (body.ValueKind != JsonValueKind.Object) return Invalid([new SpecError("$", "must be an object: { id, cron, timeZone, overlap, spec }")]);

        var errors = new List<SpecError>();
        foreach (var property in body.EnumerateObject())
            if (!Fields.Contains(property.Name, StringComparer.Ordinal))
                errors.Add(new SpecError(property.Name, $"is not a schedule field ({string.Join(", ", Fields)})"));
        string? Text(string name, string? fallback)
        {
            if (!body.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null) return fallback;
            if (value.ValueKind == JsonValueKind.String) return value.GetString();
            errors.Add(new SpecError(name, "must be a string"));
            return null;
        }
        var id = Text("id", null) ?? "";
        var cron = Text("cron", null) ?? "";
        var timeZone = Text("timeZone", "UTC") ?? "";
        var overlapText = Text("overlap", "skip");
        OverlapPolicy overlap;
        switch (overlapText?.ToLowerInvariant())
        {
            case "skip": overlap = OverlapPolicy.Skip; break;
            case "queue": overlap = OverlapPolicy.Queue; break;
            default:
                overlap = OverlapPolicy.Skip;
                errors.Add(new SpecError("overlap", "must be skip or queue"));
                break;
        }
        string specJson = "";
        if (!body.TryGetProperty("spec", out var specElement) || specElement.ValueKind != JsonValueKind.Object)
            errors.Add(new SpecError("spec", "is required: the job spec (an object) each tick runs"));
        else specJson = specElement.GetRawText();

        var definition = new ScheduleDefinition { SpecJson = specJson, Cron = cron, TimeZone = timeZone, Overlap = overlap };
        if (specJson.Length > 0)
        {
            errors.AddRange(ScheduleRules.Validate(id, definition, limits.Value, stores.DataStore.Location));
            try
            {
                var spec = JobSpec.Parse(specJson);
                // A path the validator already refused (the store's own folders) is not reported twice.
                errors.AddRange(SubmissionPolicy.Check(spec, options.Value.AllowedRoots).Select(e => e with { Field = "spec." + e.Field })
                    .Where(e => errors.All(known => known.Field != e.Field)).ToList());
            }
            catch (JobSpecException) { /* reported by Validate */ }
        }
        else
        {
            if (!ScheduleRules.IsValidId(id)) errors.Add(new SpecError("id", "must be 1-100 letters, digits, '.', '_' or '-', starting with a letter or digit"));
            if (ScheduleRules.CronProblem(cron) is { } c) errors.Add(new SpecError("cron", c));
            if (ScheduleRules.TimeZoneProblem(timeZone) is { } z) errors.Add(new SpecError("timeZone", z));
        }
        errors = errors.Distinct().ToList();
        if (errors.Count > 0) return Invalid(errors);

        var grain = grains.GetGrain<IScheduleGrain>(id);
        var existed = (await ResilientGrainCalls.CallAsync(grain.Get)).Exists;
        var status = await ResilientGrainCalls.CallAsync(() => grain.Put(definition)); // Put is idempotent: the same definition again
        logs.CreateLogger("Curation.Api").LogInformation("Schedule {Schedule} {Action} by {Caller}: {Cron} {TimeZone}", id,
            existed ? "updated" : "created", request.HttpContext.User.Identity?.Name, status.Cron, status.TimeZone);
        var view = ScheduleView.Of(status);
        return existed ? Results.Ok(view) : Results.Created($"/api/schedules/{Uri.EscapeDataString(id)}", view);
    }

    private static async Task<IResult> ListAsync(IGrainFactory grains, IStoreResolver stores, CancellationToken cancellationToken)
    {
        var ids = await ScheduleRegistry.IdsAsync(stores.DataStore, cancellationToken);
        var statuses = await Task.WhenAll(ids.Select(id => ResilientGrainCalls.CallAsync(grains.GetGrain<IScheduleGrain>(id).Get)));
        return Results.Ok(statuses.Where(s => s.Exists).Select(ScheduleView.Of));
    }

    private static async Task<IResult> GetAsync(string id, IGrainFactory grains) =>
        await StatusAsync(id, grains) is { } status ? Results.Ok(ScheduleView.Of(status)) : NotFound(id);

    private static async Task<IResult> ChangeAsync(string id, IGrainFactory grains, HttpContext http, ILoggerFactory logs, string action,
        Func<IScheduleGrain, Task<ScheduleStatus>> change)
    {
        if (await StatusAsync(id, grains) is null) return NotFound(id);
        var status = await ResilientGrainCalls.CallAsync(() => change(grains.GetGrain<IScheduleGrain>(id)));
        logs.CreateLogger("Curation.Api").LogInformation("Schedule {Schedule} {Action} by {Caller}", id, action, http.User.Identity?.Name);
        return Results.Ok(ScheduleView.Of(status));
    }

    private static async Task<IResult> DeleteAsync(string id, IGrainFactory grains, HttpContext http, ILoggerFactory logs)
    {
        if (await StatusAsync(id, grains) is null) return NotFound(id);
        await ResilientGrainCalls.CallAsync(async () => { await grains.GetGrain<IScheduleGrain>(id).Delete(); return true; });
        logs.CreateLogger("Curation.Api").LogInformation("Schedule {Schedule} deleted by {Caller}", id, http.User.Identity?.Name);
        return Results.NoContent();
    }

    private static async Task<ScheduleStatus?> StatusAsync(string id, IGrainFactory grains)
    {
        if (!ScheduleRules.IsValidId(id)) return null;
        var status = await ResilientGrainCalls.CallAsync(grains.GetGrain<IScheduleGrain>(id).Get);
        return status.Exists ? status : null;
    }

    private static IResult Invalid(IEnumerable<SpecError> errors)
    {
        var list = errors.Select(e => new FieldError(e.Field, e.Message)).ToList();
        return Results.BadRequest(new ValidationProblem("invalid schedule: " + string.Join("; ", list.Select(e => $"{e.Field}: {e.Message}")), list));
    }

    private static IResult NotFound(string id) => Results.NotFound(new { error = $"no schedule {id}" });
}

/// <summary>The body of POST /api/schedules.</summary>
public sealed record ScheduleRequest(string Id, string Cron, string? TimeZone, string? Overlap, JsonElement Spec);

/// <summary>A schedule as the API shows it.</summary>
public sealed record ScheduleView
{
    public required string Id { get; init; }
    public string JobName { get; init; } = "";
    public string Cron { get; init; } = "";
    public string TimeZone { get; init; } = "UTC";
    /// <summary>skip | queue.</summary>
    public string Overlap { get; init; } = "skip";
    /// <summary>active | paused.</summary>
    public string State { get; init; } = "active";
    public DateTimeOffset? NextRun { get; init; }
    public ScheduledRun? LastRun { get; init; }
    public long SkippedTicks { get; init; }
    public DateTimeOffset? LastSkippedTick { get; init; }
    public DateTimeOffset? QueuedTick { get; init; }
    public DateTimeOffset? CreatedAt { get; init; }
    public DateTimeOffset? UpdatedAt { get; init; }
    public IReadOnlyList<ScheduledRun> Runs { get; init; } = [];
    public JsonElement? Spec { get; init; }

    public static ScheduleView Of(ScheduleStatus s) => new()
    {
        Id = s.Id, JobName = s.JobName, Cron = s.Cron, TimeZone = s.TimeZone, Overlap = s.Overlap.ToString().ToLowerInvariant(),
        State = s.Paused ? "paused" : "active", NextRun = s.NextRun, LastRun = s.LastRun, SkippedTicks = s.SkippedTicks,
        LastSkippedTick = s.LastSkippedTick, QueuedTick = s.QueuedTick, CreatedAt = s.CreatedAt, UpdatedAt = s.UpdatedAt, Runs = s.Runs,
        Spec = s.SpecJson is null ? null : JsonSerializer.Deserialize<JsonElement>(s.SpecJson),
    };
}
