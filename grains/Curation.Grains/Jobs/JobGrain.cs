using Curation.Grains.Hosting;
using Curation.Pipelines.Execution;
using Curation.Pipelines.Spec;
using Curation.Pipelines.Storage;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Storage;

namespace Curation.Grains.Jobs;

/// <summary>
/// The coordinator of one job: a <see cref="JobRunner"/> (phase order, fan-out, retries, failure policy) whose tasks a
/// <see cref="GrainTaskDispatcher"/> sends to task grains; this grain persists its state after every phase, keeps the
/// throughput history and answers status calls. All work and all outputs live in the object store; it holds only counters.
/// </summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001", Justification = "The run's token source lives as long as the activation; a grain is not disposed.")]
public sealed class JobGrain(
    [PersistentState(JobGrain.StateName, CurationSiloBuilderExtensions.StorageName)] IPersistentState<JobGrainState> state,
    IStoreResolver stores,
    IJobRegistry registry,
    IOptions<CurationExecutionOptions> options,
    ILogger<JobGrain> logger) : Grain, IJobGrain, IJobRunObserver
{
    public const string StateName = "job";

    /// <summary>Samples kept in a job's throughput history; when full, every other one of the older half goes.</summary>
    public const int HistoryLimit = 720;

    private CancellationTokenSource? _cancellation;
    private Task? _run;
    private ObjectStoreMetrics.RetryScope? _coordinatorRetries;

    // This activation's run of the job: its phase order, fan-out, retries, counters and live progress.
    private JobRunner? _runner;

    private JobGrainState S => state.State;

    public async Task<JobStatus> Submit(string specJson)
    {
        var spec = JobSpec.Parse(specJson);
        JobSpecValidator.ThrowIfInvalid(spec, Limits, stores.DataStore.Location);
        var jobId = this.GetPrimaryKeyString();
        if (JobContext.JobIdOf(spec) != jobId)
            throw new ArgumentException($"Job id {jobId} does not match its spec (expected {JobContext.JobIdOf(spec)}).");

        // A run that has just ended (Failed, Cancelled) may still be saving its final state: let it finish first,
        // or a resubmission right after a failure would find it "running" and never resume.
        if (_run is { IsCompleted: false } && S.State != JobState.Running) await _run;
        if (IsRunning || S.State == JobState.Completed && !await OutputLostAsync(spec)) return Snapshot();
        S.SpecJson = spec.ToJson();
        S.Name = spec.Name;
        S.State = JobState.Running;
        S.Error = null;
        S.StartedAt = DateTimeOffset.UtcNow;
        S.CompletedAt = null;
        try
        {
            await state.WriteStateAsync();
        }
        catch (Exception e) when (IsStateConflict(e))
        {
            // Another coordinator (a second `curate run` of this job on the same data store) wrote the job's state first.
            S.State = JobState.Failed;
            S.Error = AnotherCoordinator;
            logger.LogWarning("Job {JobId}: {Error}", jobId, S.Error);
            return Snapshot();
        }
        StartRun();
        return Snapshot();
    }

    /// <summary>
    /// A completed job whose output manifest is gone (deleted, moved) runs again: its output stage writes the output anew
    /// from the stage outputs in the data store (a versioned corpus is not rewritten: a refresh is a new run key). A job
    /// whose own data is gone too runs from the start.
    /// </summary>
    private async Task<bool> OutputLostAsync(JobSpec spec)
    {
        if (spec.Output.Snapshots) return false;
        var jobId = this.GetPrimaryKeyString();
        string? lost;
        try
        {
            lost = await Task.Run(() => JobExecutor.ForgetLostOutputAsync(spec, stores));
        }
        catch (Exception e) when (e is ObjectNotFoundException or InvalidOperationException)
        {
            lost = $"the job's data in {stores.DataStore.Location} ({e.Message})";
        }
        catch (Exception e)
        {
            // The store could not say (unreachable): the job is shown as completed, as before this check existed.
            logger.LogWarning("Job {JobId}: whether its output is still there could not be checked ({Error})", jobId, e.Message);
            return false;
        }
        if (lost is null) return false;
        logger.LogWarning("Job {JobId} had completed, but {Lost} is gone: running it again to write its output", jobId, lost);
        return true;
    }

    private const string AnotherCoordinator =
        "another coordinator is running this job on the same data store (a second `curate run` of it, or another cluster sharing the store) " +
        "and changed its state: this run stopped and left the job to it; run it again once that one ends to see its result";

    public Task<JobStatus> GetStatus()
    {
        // A running job whose coordinator was lost (silo failure, restart) resumes on the next call.
        if (S.State == JobState.Running && !IsRunning) StartRun();
        return Task.FromResult(Snapshot());
    }

    public async Task<JobStatus> Cancel()
    {
        if (S.State is JobState.Running or JobState.Pending)
        {
            _cancellation?.Cancel();
            if (_run is not null) await _run.ConfigureAwait(true);
            if (S.State != JobState.Completed)
            {
                S.State = JobState.Cancelled;
                S.CompletedAt = DateTimeOffset.UtcNow;
                await state.WriteStateAsync();
            }
        }
        return Snapshot();
    }

    private bool IsRunning => _run is { IsCompleted: false };

    private void StartRun()
    {
        _cancellation = new CancellationTokenSource();
        DelayDeactivation(TimeSpan.FromDays(7));
        _run = RunAsync(_cancellation.Token);
    }

    public Task<IReadOnlyList<ThroughputSample>> GetHistory() => Task.FromResult<IReadOnlyList<ThroughputSample>>(S.History.ToArray());

    /// <summary>Appends a throughput sample (once when a run starts, the timer's tick while it goes, and once when it ends).</summary>
    private void Sample()
    {
        var phases = PhasesWithPace();
        var running = _runner?.Running is { } live ? $"{live.Stage.Folder} {live.Info.Name}" : null;
        S.History.Add(new ThroughputSample { At = DateTimeOffset.UtcNow, Documents = phases.Sum(p => p.DocumentsIn + p.InFlightDocuments), Phase = running });
        if (S.History.Count > HistoryLimit)
        {
            // Thin the older half (every other sample goes): recent minutes stay at full resolution, a long job's start coarser.
            var half = S.History.Count / 2;
            S.History = S.History.Take(half).Where((_, i) => i % 2 == 0).Concat(S.History.Skip(half)).ToList();
        }
    }

    public Task ReportProgress(TaskRef task, TaskProgressSample progress)
    {
        _runner?.ReportProgress(task, progress);
        return Task.CompletedTask;
    }

    private async Task RunAsync(CancellationToken cancellationToken)
    {
        var jobId = this.GetPrimaryKeyString();
        IGrainTimer? history = null;
        var conflict = false;
        try
        {
            await Task.Yield();
            _runner = null; // until this run's plan is loaded, status shows the stored phases
            // The coordinator's own store retries (plan, state, manifest); each task counts its own (innermost scope).
            _coordinatorRetries = ObjectStoreMetrics.BeginRetryScope();
            S.CoordinatorStoreRetries = 0;
            // A run's history starts with where it starts from (0, or what a resumed run has done), so even a job faster
            // than one timer tick has a start and an end to draw a rate from.
            Sample();
            history = this.RegisterGrainTimer(_ => { Sample(); return Task.CompletedTask; },
                new GrainTimerCreationOptions(options.Value.HistoryInterval, options.Value.HistoryInterval) { Interleave = true });
            var spec = JobSpec.Parse(S.SpecJson!);
            // Another job still writing this output folder refuses this run before anything is planned.
            await OutputClaim.ClaimAsync(spec, jobId, stores,
                async (other, ct) => (await registry.GetAsync(other, ct))?.State.State == JobState.Running, cancellationToken);
            var job = await Task.Run(() => JobContext.CreateOrLoadAsync(spec, stores, cancellationToken, Limits), cancellationToken);
            S.Shards = job.Plan.ShardCount;
            S.Output = $"{job.Output.Location.TrimEnd('/')}/{job.OutputLocation.Prefix.TrimEnd('/')}";
            var runner = new JobRunner(job, new GrainTaskDispatcher(GrainFactory), options.Value.ForRunner(), this, logger);
            _runner = runner;
            S.Phases = Progress(runner.Tallies);
            logger.LogInformation("Job {JobId}: {Shards} shards, {Objects} objects, {Bytes:N0} bytes", jobId, job.Plan.ShardCount, job.Plan.ObjectCount, job.Plan.TotalBytes);

            await runner.RunAsync(cancellationToken);

            var manifest = await runner.FinishAsync(cancellationToken);
            S.Accounting = manifest?.Accounting;
            S.Snapshot = manifest?.Snapshot is { } snapshot ? PublishedSnapshot.Of(snapshot) : null;
            S.Warnings = StoredWarnings(manifest?.Errors ?? []);
            S.State = JobState.Completed;
            logger.LogInformation("Job {JobId} completed: {Kept} of {In} documents kept", jobId, manifest?.Accounting.Kept, manifest?.Accounting.InputRecords);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            S.State = JobState.Cancelled;
            logger.LogInformation("Job {JobId} cancelled", jobId);
        }
        catch (Exception e) when (IsStateConflict(e))
        {
            // Another coordinator wrote this job's state since this one read it: a second `curate run` of the same job, or
            // another cluster, on the same data store. The state's ETag kept it from being overwritten; this run stops and
            // leaves the job to the other, whose state stays as written (not overwritten with this run's failure below).
            conflict = true;
            S.State = JobState.Failed;
            S.Error = AnotherCoordinator;
            logger.LogWarning("Job {JobId}: {Error}", jobId, S.Error);
        }
        catch (Exception e)
        {
            S.State = JobState.Failed;
            S.Error = Limits.Truncate(JobRunner.Describe(e));
            // A spec that planning finds wrong (an input that matches nothing) is the submitter's to fix, and its state
            // says so: no stack trace in the silo's error log.
            if (e is JobSpecException) logger.LogInformation("Job {JobId} failed: {Error}", jobId, e.Message);
            else logger.LogError(e, "Job {JobId} failed", jobId);
        }
        if (_runner is { } ran) S.Phases = Progress(ran.Tallies);
        S.CompletedAt = DateTimeOffset.UtcNow;
        history?.Dispose();
        Sample();
        if (_coordinatorRetries is { } coordinator)
        {
            S.CoordinatorStoreRetries = coordinator.Count;
            coordinator.Dispose();
            _coordinatorRetries = null;
        }
        if (!conflict) await state.WriteStateAsync(CancellationToken.None);   // the final state is written even when the run was cancelled
        CurationMetrics.JobsFinished.Add(1, new KeyValuePair<string, object?>("state", S.State.ToString()));
        MemoryTrim.Request(); // the job's plan, listings and spec copies are garbage now: give the memory back
        DelayDeactivation(TimeSpan.Zero);
    }

    private static bool IsStateConflict(Exception? e)
    {
        for (; e is not null; e = e.InnerException)
            if (e is InconsistentStateException) return true;
        return false;
    }

    // What the runner reports: the cluster's task metrics, and the job's state written after every phase that ran.
    void IJobRunObserver.PhaseStarted(JobPhase phase) => CurationMetrics.TasksQueued.Add(phase.Info.TaskCount);

    void IJobRunObserver.TaskDequeued(JobPhase phase, int task) => CurationMetrics.TasksQueued.Add(-1);

    void IJobRunObserver.TaskStarted(JobPhase phase, int task) => CurationMetrics.TasksInFlight.Add(1);

    void IJobRunObserver.TaskCompleted(JobPhase phase, int task, TaskStats stats)
    {
        var stageTag = new KeyValuePair<string, object?>("stage", phase.Stage.Folder);
        CurationMetrics.Documents.Add(stats.In, stageTag);
        CurationMetrics.TasksCompleted.Add(1, stageTag, new KeyValuePair<string, object?>("reused", stats.Reused));
    }

    void IJobRunObserver.TaskEnded(JobPhase phase, int task) => CurationMetrics.TasksInFlight.Add(-1);

    async ValueTask IJobRunObserver.PhaseEndedAsync(JobPhase phase, bool skipped, CancellationToken cancellationToken)
    {
        S.Phases = Progress(_runner!.Tallies);
        if (skipped) return; // a converged group's remaining round: nothing dispatched, nothing to save
        S.CoordinatorStoreRetries = _coordinatorRetries?.Count ?? 0;
        await state.WriteStateAsync(CancellationToken.None);
    }

    private static List<PhaseProgress> Progress(IReadOnlyList<PhaseTally> tallies) => tallies.Select(t => new PhaseProgress
    {
        Stage = t.Stage, Phase = t.Phase, Total = t.Total, Done = t.Done, Reused = t.Reused, DocumentsIn = t.DocumentsIn, BytesIn = t.BytesIn,
        TaskSeconds = t.TaskSeconds, WallSeconds = t.WallSeconds, Retries = t.Retries, StoreRetries = t.StoreRetries, Fused = t.Fused,
    }).ToList();

    /// <summary>Configured limits (<c>Curation:Limits</c>); the defaults where a host registers none.</summary>
    private JobLimits Limits => ServiceProvider.GetService<IOptions<JobLimits>>()?.Value ?? JobLimits.Default;

    /// <summary>What the job's state keeps of the manifest's errors: a bounded number, each of bounded length (the manifest has them all).</summary>
    private List<string> StoredWarnings(IReadOnlyList<string> errors)
    {
        const int kept = 100;
        var warnings = errors.Take(kept).Select(Limits.Truncate).ToList();
        if (errors.Count > kept) warnings.Add($"… and {errors.Count - kept:N0} more (see the manifest's errors)");
        return warnings;
    }

    /// <summary>
    /// The phases with their pace: during a run, the runner's counters with the running phase's live reports; otherwise
    /// the stored counters.
    /// </summary>
    private PhaseProgress[] PhasesWithPace()
    {
        if (_runner is not { } runner) return S.Phases.Select(p => WithPace(p, PhasePace.Of(Tally(p)))).ToArray();
        var pace = runner.Pace();
        return Progress(runner.Tallies).Select((p, i) => WithPace(p, pace[i])).ToArray();
    }

    private static PhaseProgress WithPace(PhaseProgress p, PhasePace pace) => p with
    {
        WallSeconds = pace.WallSeconds,
        InFlightDocuments = pace.InFlightDocuments,
        InFlightBytes = pace.InFlightBytes,
        Running = pace.Running,
        Fraction = pace.Fraction,
        DocumentsPerSecond = pace.DocumentsPerSecond,
        EtaSeconds = pace.EtaSeconds,
    };

    private static PhaseTally Tally(PhaseProgress p) => new()
    {
        Stage = p.Stage, Phase = p.Phase, Total = p.Total, Done = p.Done, Reused = p.Reused, DocumentsIn = p.DocumentsIn, BytesIn = p.BytesIn,
        TaskSeconds = p.TaskSeconds, WallSeconds = p.WallSeconds, Retries = p.Retries, StoreRetries = p.StoreRetries, Fused = p.Fused,
    };

    private JobStatus Snapshot() => new()
    {
        JobId = this.GetPrimaryKeyString(), Name = S.Name, State = S.State, Error = S.Error, Phases = PhasesWithPace(),
        StartedAt = S.StartedAt, CompletedAt = S.CompletedAt, Output = S.Output, Accounting = S.Accounting,
        Warnings = S.Warnings.ToArray(), Shards = S.Shards, Snapshot = S.Snapshot,
        StoreRetries = S.Phases.Sum(p => p.StoreRetries) + Math.Max(S.CoordinatorStoreRetries, _coordinatorRetries?.Count ?? 0),
    };
}
