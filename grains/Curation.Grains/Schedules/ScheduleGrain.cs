using Curation.Grains.Hosting;
using Curation.Pipelines.Spec;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Curation.Grains.Schedules;

/// <summary>
/// One schedule (key: schedule id). An Orleans reminder calls it every <see cref="ScheduleOptions.CheckPeriod"/>;
/// each call fires the cron occurrences due since the last one handled. A tick is written to the persisted state
/// (cursor and run record, ETag-conditional) before its job is submitted, and its job id is derived from the tick:
/// a duplicate or retried reminder, a second activation, or a restart finds the tick handled, or submits the same job
/// id again, which <see cref="IJobGrain.Submit"/> treats as the same job. No tick runs twice.
/// </summary>
public sealed class ScheduleGrain(
    [PersistentState(ScheduleGrain.StateName, CurationSiloBuilderExtensions.StorageName)] IPersistentState<ScheduleGrainState> state,
    ScheduleClock clock,
    IOptions<ScheduleOptions> options,
    ILogger<ScheduleGrain> logger) : Grain, IScheduleGrain, IRemindable
{
    public const string StateName = "schedule";
    public const string ReminderName = "cron";

    private ScheduleGrainState S => state.State;
    private bool Exists => state.RecordExists;
    private string Id => this.GetPrimaryKeyString();

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        // Self-healing: an active schedule always has its reminder (a reminder table that lost it gets it back as soon
        // as anything touches the schedule, e.g. the dashboard listing it).
        if (Exists && !S.Paused) await EnsureReminderAsync();
    }

    public async Task<ScheduleStatus> Put(ScheduleDefinition definition)
    {
        ScheduleRules.ThrowIfInvalid(Id, definition);
        var spec = JobSpec.Parse(definition.SpecJson);
        var now = clock.UtcNow;
        S.SpecJson = spec.ToJson();
        S.JobName = spec.Name;
        S.Cron = definition.Cron.Trim();
        S.TimeZone = definition.TimeZone.Trim();
        S.Overlap = definition.Overlap;
        S.CreatedAt ??= now;
        S.UpdatedAt = now;
        // Only occurrences after now are due under the new definition.
        S.Cursor = S.Cursor is { } cursor && cursor > now ? cursor : now;
        await state.WriteStateAsync();
        if (!S.Paused) await EnsureReminderAsync();
        logger.LogInformation("Schedule {Schedule}: {Cron} ({TimeZone}, overlap {Overlap}) runs {Job}", Id, S.Cron, S.TimeZone, S.Overlap, S.JobName);
        return await SnapshotAsync();
    }

    public Task<ScheduleStatus> Get() => SnapshotAsync();

    public async Task<ScheduleStatus> Pause()
    {
        if (!Exists) return await SnapshotAsync();
        if (!S.Paused)
        {
            S.Paused = true;
            S.UpdatedAt = clock.UtcNow;
            await state.WriteStateAsync();
        }
        await RemoveReminderAsync();
        return await SnapshotAsync();
    }

    public async Task<ScheduleStatus> Resume()
    {
        if (!Exists) return await SnapshotAsync();
        if (S.Paused)
        {
            var now = clock.UtcNow;
            S.Paused = false;
            S.UpdatedAt = now;
            // Ticks that came while paused are not fired.
            S.Cursor = S.Cursor is { } cursor && cursor > now ? cursor : now;
            await state.WriteStateAsync();
        }
        await EnsureReminderAsync();
        return await SnapshotAsync();
    }

    public async Task Delete()
    {
        await RemoveReminderAsync();
        if (Exists) await state.ClearStateAsync();
        logger.LogInformation("Schedule {Schedule} deleted", Id);
        DeactivateOnIdle();
    }

    public async Task<ScheduleStatus> Tick()
    {
        if (Exists && !S.Paused) await FireDueTicksAsync();
        return await SnapshotAsync();
    }

    async Task IRemindable.ReceiveReminder(string reminderName, TickStatus status)
    {
        if (reminderName != ReminderName) return;
        if (!Exists || S.Paused)
        {
            await RemoveReminderAsync(); // left over from a deleted or paused schedule
            return;
        }
        try
        {
            await FireDueTicksAsync();
        }
        catch (Exception e)
        {
            // The next reminder tick tries again: nothing was fired that is not recorded.
            logger.LogWarning(e, "Schedule {Schedule}: checking for due ticks failed; retrying at the next check", Id);
        }
    }

    private async Task FireDueTicksAsync()
    {
        var now = clock.UtcNow;
        var changed = false;
        ScheduledRun? submit = null;

        // The previous run: a submission not yet confirmed is submitted again (same job id: it runs once); otherwise
        // see whether its job is still going.
        var running = false;
        if (S.Runs.Count > 0 && S.Runs[0] is var last)
        {
            if (!last.Submitted)
            {
                submit = last;
                running = true;
            }
            else if (last.State is JobState.Running or JobState.Pending)
            {
                var job = await GrainFactory.GetGrain<IJobGrain>(last.JobId).GetStatus();
                if (job.State != last.State)
                {
                    S.Runs[0] = last with { State = job.State };
                    changed = true;
                }
                running = job.State == JobState.Running;
            }
        }

        // A queued tick runs as soon as the run before it has ended.
        if (!running && S.QueuedTick is { } queued)
        {
            submit = Record(queued, now, wasQueued: true);
            S.QueuedTick = null;
            running = true;
            changed = true;
        }

        foreach (var tick in ScheduleRules.Due(S.Cron, S.TimeZone, S.Cursor ?? now, now))
        {
            S.Cursor = tick;
            changed = true;
            if (!running)
            {
                submit = Record(tick, now, wasQueued: false);
                running = true;
            }
            else if (S.Overlap == OverlapPolicy.Queue && S.QueuedTick is null)
            {
                S.QueuedTick = tick;
                logger.LogInformation("Schedule {Schedule}: tick {Tick} queued behind {Job}", Id, tick, S.Runs[0].JobId);
            }
            else
            {
                S.SkippedTicks++;
                S.LastSkippedTick = tick;
                logger.LogInformation("Schedule {Schedule}: tick {Tick} skipped, {Job} is still running", Id, tick, S.Runs[0].JobId);
            }
        }

        // Recorded first, submitted second: a crash in between leaves an unconfirmed run that the next check submits
        // again under the same job id.
        if (changed) await state.WriteStateAsync();
        if (submit is not null) await SubmitAsync(submit);
    }

    private ScheduledRun Record(DateTimeOffset tick, DateTimeOffset now, bool wasQueued)
    {
        var run = new ScheduledRun
        {
            Tick = tick, JobId = ScheduleRules.JobIdForTick(JobSpec.Parse(S.SpecJson!), tick), FiredAt = now,
            State = JobState.Pending, Submitted = false, WasQueued = wasQueued,
        };
        S.Runs.Insert(0, run);
        if (S.Runs.Count > ScheduleRules.HistoryLength) S.Runs.RemoveRange(ScheduleRules.HistoryLength, S.Runs.Count - ScheduleRules.HistoryLength);
        return run;
    }

    private async Task SubmitAsync(ScheduledRun run)
    {
        var spec = ScheduleRules.SpecForTick(JobSpec.Parse(S.SpecJson!), run.Tick);
        JobState result;
        try
        {
            result = (await GrainFactory.GetGrain<IJobGrain>(run.JobId).Submit(spec.ToJson())).State;
            logger.LogInformation("Schedule {Schedule}: tick {Tick} submitted job {Job}", Id, run.Tick, run.JobId);
        }
        catch (Exception e) when (e is JobSpecException or ArgumentException)
        {
            // Not transient (the spec cannot run as it is): the run failed, later ticks go on.
            logger.LogError(e, "Schedule {Schedule}: tick {Tick}: job {Job} was refused", Id, run.Tick, run.JobId);
            result = JobState.Failed;
        }
        var index = S.Runs.FindIndex(r => r.JobId == run.JobId);
        if (index < 0) return;
        S.Runs[index] = S.Runs[index] with { Submitted = true, State = result };
        await state.WriteStateAsync();
    }

    private async Task EnsureReminderAsync()
    {
        if (await this.GetReminder(ReminderName) is null)
            await this.RegisterOrUpdateReminder(ReminderName, options.Value.CheckPeriod, options.Value.CheckPeriod);
    }

    private async Task RemoveReminderAsync()
    {
        if (await this.GetReminder(ReminderName) is { } reminder) await this.UnregisterReminder(reminder);
    }

    private async Task<ScheduleStatus> SnapshotAsync()
    {
        if (!Exists) return new ScheduleStatus { Id = Id };
        var runs = S.Runs.ToList();
        // Show the last run's job as it is now (not persisted here: the next check records it).
        if (runs.Count > 0 && runs[0] is { Submitted: true, State: JobState.Running or JobState.Pending } last)
            runs[0] = last with { State = (await GrainFactory.GetGrain<IJobGrain>(last.JobId).GetStatus()).State };
        return new ScheduleStatus
        {
            Id = Id, Exists = true, JobName = S.JobName, Cron = S.Cron, TimeZone = S.TimeZone, Overlap = S.Overlap, Paused = S.Paused,
            NextRun = S.Paused ? null : ScheduleRules.NextAfter(S.Cron, S.TimeZone, S.Cursor ?? clock.UtcNow),
            LastRun = runs.FirstOrDefault(), Runs = runs, SkippedTicks = S.SkippedTicks, LastSkippedTick = S.LastSkippedTick,
            QueuedTick = S.QueuedTick, CreatedAt = S.CreatedAt, UpdatedAt = S.UpdatedAt, SpecJson = S.SpecJson,
        };
    }
}
