using System.Globalization;
using System.Text.RegularExpressions;
using Cronos;
using Curation.Pipelines.Execution;
using Curation.Pipelines.Spec;

namespace Curation.Grains;

/// <summary>
/// The rules of schedules, shared by the grain, the API and the CLI: what a valid schedule is (every error names its
/// field), when it fires (Cronos), and which job a tick runs.
/// </summary>
public static partial class ScheduleRules
{
    /// <summary>Runs kept in a schedule's history.</summary>
    public const int HistoryLength = 20;

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")]
    private static partial Regex IdPattern();

    public static bool IsValidId(string? id) => id is not null && IdPattern().IsMatch(id);

    /// <summary>Every problem of a schedule, each naming its field: <c>id</c>, <c>cron</c>, <c>timeZone</c>, <c>overlap</c>, <c>spec…</c>.</summary>
    public static IReadOnlyList<SpecError> Validate(string id, ScheduleDefinition definition, JobLimits? limits = null, string? dataStoreLocation = null)
    {
        var errors = new List<SpecError>();
        if (!IsValidId(id)) errors.Add(new SpecError("id", "must be 1-100 letters, digits, '.', '_' or '-', starting with a letter or digit"));
        if (CronProblem(definition.Cron) is { } cron) errors.Add(new SpecError("cron", cron));
        if (TimeZoneProblem(definition.TimeZone) is { } zone) errors.Add(new SpecError("timeZone", zone));
        if (!Enum.IsDefined(definition.Overlap)) errors.Add(new SpecError("overlap", "must be skip or queue"));
        try
        {
            var spec = JobSpec.Parse(definition.SpecJson);
            errors.AddRange(JobSpecValidator.Validate(spec, limits, dataStoreLocation).Select(e => e with { Field = "spec." + e.Field }));
            if (spec.RunKey is not null) errors.Add(new SpecError("spec.runKey", "is set by the schedule for each run: leave it out"));
        }
        catch (JobSpecException e)
        {
            errors.AddRange(e.Errors.Select(x => x with { Field = "spec" + (x.Field.StartsWith('$') ? x.Field[1..] : "." + x.Field) }));
        }
        return errors;
    }

    public static void ThrowIfInvalid(string id, ScheduleDefinition definition)
    {
        if (Validate(id, definition) is { Count: > 0 } errors) throw new JobSpecException(errors);
    }

    public static string? CronProblem(string? cron)
    {
        if (string.IsNullOrWhiteSpace(cron)) return "is required (five fields: minute hour day-of-month month day-of-week, e.g. \"*/15 * * * *\")";
        try
        {
            // Cron has no year: a date that matches recurs, so one occurrence after any fixed day means it fires.
            return ParseCron(cron).GetNextOccurrence(new DateTime(2000, 1, 1, 0, 0, 0, DateTimeKind.Utc)) is null
                ? $"'{cron.Trim()}' never fires: no date matches its day-of-month and month (such as 30 or 31 February)"
                : null;
        }
        catch (CronFormatException e)
        {
            return $"is not a cron expression of five fields (minute hour day-of-month month day-of-week): {e.Message}";
        }
    }

    public static string? TimeZoneProblem(string? timeZone)
    {
        if (string.IsNullOrWhiteSpace(timeZone)) return "is required (an IANA time zone such as UTC or Europe/Paris)";
        try
        {
            ParseTimeZone(timeZone);
            return null;
        }
        catch (Exception e) when (e is TimeZoneNotFoundException or InvalidTimeZoneException)
        {
            return $"'{timeZone}' is not a known IANA time zone (such as UTC or Europe/Paris)";
        }
    }

    public static CronExpression ParseCron(string cron) => CronExpression.Parse(cron.Trim(), CronFormat.Standard);

    public static TimeZoneInfo ParseTimeZone(string timeZone) =>
        timeZone.Trim() is "UTC" or "Etc/UTC" ? TimeZoneInfo.Utc : TimeZoneInfo.FindSystemTimeZoneById(timeZone.Trim());

    /// <summary>The first occurrence strictly after <paramref name="after"/>, or null when there is none.</summary>
    public static DateTimeOffset? NextAfter(string cron, string timeZone, DateTimeOffset after) =>
        ParseCron(cron).GetNextOccurrence(after.ToUniversalTime(), ParseTimeZone(timeZone), inclusive: false)?.ToUniversalTime();

    /// <summary>Occurrences in (<paramref name="after"/>, <paramref name="until"/>], oldest first, in UTC.</summary>
    public static IEnumerable<DateTimeOffset> Due(string cron, string timeZone, DateTimeOffset after, DateTimeOffset until) =>
        until <= after
            ? []
            : ParseCron(cron).GetOccurrences(after.UtcDateTime, until.UtcDateTime, ParseTimeZone(timeZone), fromInclusive: false, toInclusive: true)
                .Select(t => new DateTimeOffset(DateTime.SpecifyKind(t, DateTimeKind.Utc)));

    /// <summary>The run key of a tick: its UTC minute in ISO 8601 basic format (<c>20250101T0305Z</c>), safe in paths and ids.</summary>
    public static string RunKeyOf(DateTimeOffset tick) => tick.UtcDateTime.ToString("yyyyMMdd'T'HHmm'Z'", CultureInfo.InvariantCulture);

    /// <summary>The spec a tick runs: the schedule's spec as the run of the tick's run key (<see cref="JobSpec.ForRun"/>).</summary>
    public static JobSpec SpecForTick(JobSpec spec, DateTimeOffset tick) => spec.ForRun(RunKeyOf(tick));

    /// <summary>The job a tick of this spec runs: the same tick always gives the same job (so submitting it twice runs it once).</summary>
    public static string JobIdForTick(JobSpec spec, DateTimeOffset tick) => JobContext.JobIdOf(SpecForTick(spec, tick));
}
