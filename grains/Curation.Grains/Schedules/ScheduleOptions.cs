using Microsoft.Extensions.Options;

namespace Curation.Grains.Schedules;

/// <summary>Configuration section <c>Curation:Schedules</c>.</summary>
public sealed class ScheduleOptions
{
    public const string Section = "Curation:Schedules";

    /// <summary>
    /// Period of each schedule's reminder: how often it checks for due ticks (and for a queued tick whose predecessor
    /// ended). Cron has minute resolution, so a minute is enough; it must not be below Orleans'
    /// <c>ReminderOptions.MinimumReminderPeriod</c> (one minute unless configured).
    /// </summary>
    public TimeSpan CheckPeriod { get; set; } = TimeSpan.FromMinutes(1);
}

public sealed class ScheduleOptionsValidator : IValidateOptions<ScheduleOptions>
{
    public ValidateOptionsResult Validate(string? name, ScheduleOptions options) => options.CheckPeriod <= TimeSpan.Zero
        ? ValidateOptionsResult.Fail($"{ScheduleOptions.Section}:CheckPeriod must be positive.")
        : ValidateOptionsResult.Success;
}

/// <summary>
/// The clock schedules read "now" from (<see cref="TimeProvider.System"/> unless a test registers a fake one). Its own
/// type, so that replacing it never changes the clock Orleans itself runs on (membership, reminders, timers).
/// </summary>
public sealed class ScheduleClock(TimeProvider time)
{
    public TimeProvider Time { get; } = time;

    public DateTimeOffset UtcNow => Time.GetUtcNow();
}
