namespace Curation.Grains.Schedules;

/// <summary>What a schedule persists (JSON in the data store, <c>state/schedule/{id}.json</c>): its definition and its cursor.</summary>
public sealed class ScheduleGrainState
{
    public string? SpecJson { get; set; }
    public string JobName { get; set; } = "";
    public string Cron { get; set; } = "";
    public string TimeZone { get; set; } = "UTC";
    public OverlapPolicy Overlap { get; set; }
    public bool Paused { get; set; }
    public DateTimeOffset? CreatedAt { get; set; }
    public DateTimeOffset? UpdatedAt { get; set; }

    /// <summary>
    /// The last cron occurrence handled (fired, queued or skipped), or the time the schedule was created or resumed:
    /// only occurrences after it are due. Written before the tick's job is submitted, so no tick is handled twice.
    /// </summary>
    public DateTimeOffset? Cursor { get; set; }

    /// <summary>Runs fired, newest first (the first is the last run).</summary>
    public List<ScheduledRun> Runs { get; set; } = [];

    public DateTimeOffset? QueuedTick { get; set; }
    public long SkippedTicks { get; set; }
    public DateTimeOffset? LastSkippedTick { get; set; }
}
