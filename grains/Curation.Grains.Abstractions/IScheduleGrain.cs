namespace Curation.Grains;

/// <summary>
/// A recurring job (key: schedule id): a job spec, a cron expression and a time zone. Fired by an Orleans reminder, so
/// it survives silo restarts; each cron tick runs the spec as its own job (<c>runKey</c> = the tick), recorded before it
/// is submitted, so a repeated or retried reminder never runs a tick twice.
/// </summary>
public interface IScheduleGrain : IGrainWithStringKey
{
    /// <summary>Creates the schedule or replaces its definition (ticks due before now are not fired afterwards).</summary>
    Task<ScheduleStatus> Put(ScheduleDefinition definition);

    /// <summary>The schedule with its next and last run; <see cref="ScheduleStatus.Exists"/> is false for an unknown id.</summary>
    Task<ScheduleStatus> Get();

    /// <summary>Stops firing (the reminder is removed); ticks while paused are not fired later.</summary>
    Task<ScheduleStatus> Pause();

    /// <summary>Fires again from the next tick after now.</summary>
    Task<ScheduleStatus> Resume();

    /// <summary>Removes the schedule and its reminder; runs it started keep going.</summary>
    Task Delete();

    /// <summary>
    /// Fires every tick due by now that has not been handled yet (what the reminder calls). Idempotent: calling it
    /// again, from anywhere, fires nothing twice.
    /// </summary>
    Task<ScheduleStatus> Tick();
}
