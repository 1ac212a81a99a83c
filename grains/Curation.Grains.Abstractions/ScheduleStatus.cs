using System.Text.Json.Serialization;

namespace Curation.Grains;

/// <summary>What a schedule does when a tick comes while the run it started before is still going.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<OverlapPolicy>))]
public enum OverlapPolicy
{
    /// <summary>The tick is not run (counted as skipped).</summary>
    Skip,

    /// <summary>The tick waits and runs when the previous run ends; at most one tick waits, later ones are skipped.</summary>
    Queue,
}

/// <summary>A schedule as clients define it.</summary>
[GenerateSerializer, Immutable]
public sealed record ScheduleDefinition
{
    /// <summary>The job spec (JSON) each tick runs; the schedule sets its <c>runKey</c>, so the spec must not.</summary>
    [Id(0)] public required string SpecJson { get; init; }

    /// <summary>Cron expression, five fields (minute hour day-of-month month day-of-week), or a macro such as <c>@daily</c>.</summary>
    [Id(1)] public required string Cron { get; init; }

    /// <summary>IANA time zone the cron expression is read in (<c>Europe/Paris</c>); <c>UTC</c> by default.</summary>
    [Id(2)] public string TimeZone { get; init; } = "UTC";

    [Id(3)] public OverlapPolicy Overlap { get; init; } = OverlapPolicy.Skip;
}

/// <summary>One tick the schedule fired: its job and the job's state as last seen.</summary>
[GenerateSerializer, Immutable]
public sealed record ScheduledRun
{
    /// <summary>The cron occurrence (UTC) this run is for.</summary>
    [Id(0)] public DateTimeOffset Tick { get; init; }
    [Id(1)] public required string JobId { get; init; }
    /// <summary>When the schedule fired it (later than <see cref="Tick"/> when it waited in the queue).</summary>
    [Id(2)] public DateTimeOffset FiredAt { get; init; }
    /// <summary>The job's state; Pending until its submission is confirmed.</summary>
    [Id(3)] public JobState State { get; init; }
    /// <summary>The submission reached the job (recorded after the job grain accepted it).</summary>
    [Id(4)] public bool Submitted { get; init; }
    [Id(5)] public bool WasQueued { get; init; }
}

/// <summary>A schedule's definition and where it stands; small, safe to poll.</summary>
[GenerateSerializer, Immutable]
public sealed record ScheduleStatus
{
    [Id(0)] public required string Id { get; init; }
    [Id(1)] public bool Exists { get; init; }
    [Id(2)] public string JobName { get; init; } = "";
    [Id(3)] public string Cron { get; init; } = "";
    [Id(4)] public string TimeZone { get; init; } = "UTC";
    [Id(5)] public OverlapPolicy Overlap { get; init; }
    [Id(6)] public bool Paused { get; init; }
    /// <summary>The next cron occurrence after the last one handled (null when paused or the expression never fires again).</summary>
    [Id(7)] public DateTimeOffset? NextRun { get; init; }
    [Id(8)] public ScheduledRun? LastRun { get; init; }
    /// <summary>Ticks not run because a run was still going (skip) or one was already queued (queue).</summary>
    [Id(9)] public long SkippedTicks { get; init; }
    [Id(10)] public DateTimeOffset? LastSkippedTick { get; init; }
    /// <summary>The tick waiting for the current run to end (queue only).</summary>
    [Id(11)] public DateTimeOffset? QueuedTick { get; init; }
    [Id(12)] public DateTimeOffset? CreatedAt { get; init; }
    [Id(13)] public DateTimeOffset? UpdatedAt { get; init; }
    /// <summary>The last runs, newest first (at most <see cref="ScheduleRules.HistoryLength"/>).</summary>
    [Id(14)] public IReadOnlyList<ScheduledRun> Runs { get; init; } = [];
    /// <summary>The spec each tick runs (without its run key).</summary>
    [Id(15)] public string? SpecJson { get; init; }
}
