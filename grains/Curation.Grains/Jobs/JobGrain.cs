using System.Diagnostics;
using Curation.Grains.Hosting;
using Curation.Pipelines.Execution;
using Curation.Pipelines.Spec;
using Curation.Pipelines.Stages;
using Curation.Pipelines.Storage;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Curation.Grains.Jobs;

/// <summary>
/// The coordinator of one job. Runs the job's phases in order; within a phase, dispatches every task to a
/// <see cref="IStageTaskGrain"/> (bounded in flight), retries tasks that fail (a lost silo, a transient error),
/// and records progress. All work and all outputs live in the object store; this grain holds only counters.
/// </summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001", Justification = "The run's token source lives as long as the activation; a grain is not disposed.")]
public sealed class JobGrain(
    [PersistentState(JobGrain.StateName, CurationSiloBuilderExtensions.StorageName)] IPersistentState<JobGrainState> state,
    IStoreResolver stores,
    IOptions<CurationExecutionOptions> options,
    ILogger<JobGrain> logger) : Grain, IJobGrain
{
    public const string StateName = "job";

    /// <summary>Samples kept in a job's throughput history; when full, every other one of the older half goes.</summary>
    public const int HistoryLimit = 720;

    private CancellationTokenSource? _cancellation;
    private Task? _run;
    private ObjectStoreMetrics.RetryScope? _coordinatorRetries;

    // The running phase's live progress: what its running tasks reported last (not stored; a resumed coordinator
    // starts without it and the workers' next reports fill it again).
    private readonly Dictionary<int, TaskProgressSample> _live = [];
    private readonly HashSet<int> _finished = [];
    private (int Index, int Stage, string Phase, Stopwatch Clock)? _livePhase;

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
        if (S.State == JobState.Completed || IsRunning) return Snapshot();
        S.SpecJson = spec.ToJson();
        S.Name = spec.Name;
        S.State = JobState.Running;
        S.Error = null;
        S.StartedAt = DateTimeOffset.UtcNow;
        S.CompletedAt = null;
        await state.WriteStateAsync();
        StartRun();
        return Snapshot();
    }

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

    /// <summary>Appends a throughput sample (the timer's tick while a run goes, and once when it ends).</summary>
    private void Sample()
    {
        var phases = S.Phases.Select(WithPace).ToArray();
        var running = _livePhase is { } live && live.Index < phases.Length ? $"{phases[live.Index].Stage} {phases[live.Index].Phase}" : null;
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
        if (_livePhase is { } live && task.JobId == this.GetPrimaryKeyString() && task.Stage == live.Stage && task.Phase == live.Phase
            && !_finished.Contains(task.Task))
            _live[task.Task] = progress;
        return Task.CompletedTask;
    }

    private async Task RunAsync(CancellationToken cancellationToken)
    {
        var jobId = this.GetPrimaryKeyString();
        IGrainTimer? history = null;
        try
        {
            await Task.Yield();
            // The coordinator's own store retries (plan, state, manifest); each task counts its own (innermost scope).
            _coordinatorRetries = ObjectStoreMetrics.BeginRetryScope();
            S.CoordinatorStoreRetries = 0;
            history = this.RegisterGrainTimer(_ => { Sample(); return Task.CompletedTask; },
                new GrainTimerCreationOptions(options.Value.HistoryInterval, options.Value.HistoryInterval) { Interleave = true });
            var spec = JobSpec.Parse(S.SpecJson!);
            var job = await Task.Run(() => JobContext.CreateOrLoadAsync(spec, stores, cancellationToken, Limits), cancellationToken);
            S.Shards = job.Plan.ShardCount;
            S.Output = $"{job.Output.Location.TrimEnd('/')}/{job.OutputLocation.Prefix.TrimEnd('/')}";
            S.Phases = job.Phases().Select(p => new PhaseProgress { Stage = p.Stage.Folder, Phase = p.Phase.Name, Total = p.Phase.TaskCount }).ToList();
            logger.LogInformation("Job {JobId}: {Shards} shards, {Objects} objects, {Bytes:N0} bytes", jobId, job.Plan.ShardCount, job.Plan.ObjectCount, job.Plan.TotalBytes);

            var index = 0;
            foreach (var (stage, phase) in job.Phases())
            {
                if (await stage.SkipsPhaseAsync(job, phase, cancellationToken))
                {
                    S.Phases[index] = S.Phases[index] with { Total = 0 }; // a converged group's remaining round: nothing dispatched
                    index++;
                    continue;
                }
                await RunPhaseAsync(jobId, stage.Index, phase, index++, cancellationToken);
                S.CoordinatorStoreRetries = _coordinatorRetries.Count;
                await state.WriteStateAsync(CancellationToken.None);
            }

            JobExecutor.SweepOrphanedTempFiles(job); // what killed attempts left on this machine goes now, not a day later
            var (manifest, _) = await job.Output.TryReadJsonAsync<Manifest>(job.ManifestKey, cancellationToken: cancellationToken);
            S.Accounting = manifest?.Accounting;
            S.Warnings = StoredWarnings(manifest?.Errors ?? []);
            S.State = JobState.Completed;
            logger.LogInformation("Job {JobId} completed: {Kept} of {In} documents kept", jobId, manifest?.Accounting.Kept, manifest?.Accounting.InputRecords);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            S.State = JobState.Cancelled;
            logger.LogInformation("Job {JobId} cancelled", jobId);
        }
        catch (Exception e)
        {
            S.State = JobState.Failed;
            S.Error = Limits.Truncate(Describe(e));
            logger.LogError(e, "Job {JobId} failed", jobId);
        }
        S.CompletedAt = DateTimeOffset.UtcNow;
        history?.Dispose();
        Sample();
        if (_coordinatorRetries is { } coordinator)
        {
            S.CoordinatorStoreRetries = coordinator.Count;
            coordinator.Dispose();
            _coordinatorRetries = null;
        }
        await state.WriteStateAsync(CancellationToken.None);   // the final state is written even when the run was cancelled
        CurationMetrics.JobsFinished.Add(1, new KeyValuePair<string, object?>("state", S.State.ToString()));
        MemoryTrim.Request(); // the job's plan, listings and spec copies are garbage now: give the memory back
        DelayDeactivation(TimeSpan.Zero);
    }

    private async Task RunPhaseAsync(string jobId, int stage, PhaseInfo phase, int progressIndex, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        _live.Clear();
        _finished.Clear();
        _livePhase = (progressIndex, stage, phase.Name, clock);
        try
        {
            await RunPhaseTasksAsync(jobId, stage, phase, progressIndex, clock, cancellationToken);
        }
        finally
        {
            _livePhase = null;
            _live.Clear();
            _finished.Clear();
        }
    }

    private async Task RunPhaseTasksAsync(string jobId, int stage, PhaseInfo phase, int progressIndex, Stopwatch clock, CancellationToken cancellationToken)
    {
        var limit = options.Value.MaxTasksInFlight;
        using var throttle = new SemaphoreSlim(limit, limit);
        // The first task that fails for good stops the rest of the phase: the job fails as a whole, resumably.
        using var phaseCancellation = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var stageTag = new KeyValuePair<string, object?>("stage", S.Phases[progressIndex].Stage);
        CurationMetrics.TasksQueued.Add(phase.TaskCount);
        var tasks = Enumerable.Range(0, phase.TaskCount).Select(async task =>
        {
            try
            {
                await throttle.WaitAsync(phaseCancellation.Token);
            }
            finally
            {
                CurationMetrics.TasksQueued.Add(-1);
            }
            CurationMetrics.TasksInFlight.Add(1);
            try
            {
                var stats = await RunTaskWithRetriesAsync(new TaskRef(jobId, stage, phase.Name, task), phase.RequiredRole, progressIndex, phaseCancellation.Token);
                // A task whose answer arrives after Cancel changes nothing: Cancel's status is the job's last word.
                cancellationToken.ThrowIfCancellationRequested();
                CurationMetrics.Documents.Add(stats.In, stageTag);
                CurationMetrics.TasksCompleted.Add(1, stageTag, new KeyValuePair<string, object?>("reused", stats.Reused));
                _finished.Add(task);
                _live.Remove(task);
                var p = S.Phases[progressIndex];
                S.Phases[progressIndex] = p with
                {
                    Done = p.Done + 1,
                    Reused = p.Reused + (stats.Reused ? 1 : 0),
                    DocumentsIn = p.DocumentsIn + stats.In,
                    BytesIn = p.BytesIn + stats.BytesIn,
                    TaskSeconds = p.TaskSeconds + stats.Seconds,
                    WallSeconds = clock.Elapsed.TotalSeconds,
                    StoreRetries = p.StoreRetries + stats.StoreRetries,
                };
                if (stats.StoreRetries > 0)
                    logger.LogInformation("Task {Task} retried {Retries} store operations after transient failures",
                        new TaskRef(jobId, stage, phase.Name, task), stats.StoreRetries);
            }
            catch (Exception) when (!cancellationToken.IsCancellationRequested)
            {
                phaseCancellation.Cancel();
                throw;
            }
            finally
            {
                CurationMetrics.TasksInFlight.Add(-1);
                throttle.Release();
            }
        }).ToList();
        try
        {
            await Task.WhenAll(tasks);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            // Report the task that failed, not the ones it cancelled.
            var cause = tasks.Select(t => t.Exception?.InnerException).FirstOrDefault(e => e is not null and not OperationCanceledException);
            if (cause is not null) System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(cause);
            throw;
        }
        S.Phases[progressIndex] = S.Phases[progressIndex] with { WallSeconds = clock.Elapsed.TotalSeconds };
    }

    /// <summary>
    /// Runs one task until it succeeds. A task that fails on its own is retried <see cref="CurationExecutionOptions.MaxTaskAttempts"/>
    /// times in all; a dispatch that failed because a silo died or cannot be reached costs no attempt: it is retried, with
    /// backoff, until the cluster's membership has decided about that silo, for at most
    /// <see cref="CurationExecutionOptions.SiloLossRetryTime"/> in a row.
    /// </summary>
    private async Task<TaskStats> RunTaskWithRetriesAsync(TaskRef task, string? requiredRole, int progressIndex, CancellationToken cancellationToken)
    {
        var o = options.Value;
        var attempt = 1;
        Stopwatch? unreachable = null;
        for (var call = 1; ; call++)
        {
            try
            {
                // A fresh grain key per call: a retry lands wherever placement puts it now, not on a dead activation.
                var key = $"{task.JobId}/{task.Stage}/{task.Phase}/{task.Task}/{call}";
                return requiredRole switch
                {
                    null => await GrainFactory.GetGrain<IStageTaskGrain>(key).Run(task, cancellationToken),
                    EmbedStage.RequiredRole => await GrainFactory.GetGrain<IEmbedTaskGrain>(key).Run(task, cancellationToken),
                    _ => throw new InvalidOperationException($"No task grain serves the role '{requiredRole}'."),
                };
            }
            catch (Exception e) when (!cancellationToken.IsCancellationRequested && SiloLoss.Is(e))
            {
                unreachable ??= Stopwatch.StartNew();
                if (unreachable.Elapsed >= o.SiloLossRetryTime)
                    throw new SiloLossTimeoutException(
                        $"Task {task} could not be run for {unreachable.Elapsed.TotalSeconds:F0} s because silos kept failing or could not be reached, " +
                        $"and the cluster's membership did not settle within {CurationExecutionOptions.Section}:SiloLossRetryTime " +
                        $"({o.SiloLossRetryTime}); check the silos and the membership store, then submit the job again to resume it: {Describe(e)}");
                logger.LogWarning("Task {Task}: a silo left the cluster or cannot be reached; dispatching again once membership decides ({Error})",
                    task, e.Message);
                S.Phases[progressIndex] = S.Phases[progressIndex] with { Retries = S.Phases[progressIndex].Retries + 1 };
                await Task.Delay(Backoff(o, call), cancellationToken);
            }
            catch (Exception e) when (!cancellationToken.IsCancellationRequested && e is not SiloLossTimeoutException)
            {
                unreachable = null;
                if (attempt >= o.MaxTaskAttempts)
                    throw new TaskFailedException(
                        $"Task {task} failed {attempt} time(s) on its own ({CurationExecutionOptions.Section}:MaxTaskAttempts = {o.MaxTaskAttempts}), " +
                        $"so another retry would not fix it: {Describe(e)}", e);
                logger.LogWarning("Task {Task} attempt {Attempt} failed, retrying: {Error}", task, attempt, e.Message);
                S.Phases[progressIndex] = S.Phases[progressIndex] with { Retries = S.Phases[progressIndex].Retries + 1 };
                await Task.Delay(o.RetryDelay * attempt, cancellationToken);
                attempt++;
            }
        }
    }

    /// <summary>Exponential backoff from <see cref="CurationExecutionOptions.RetryDelay"/>, at most <see cref="CurationExecutionOptions.MaxSiloLossBackoff"/>.</summary>
    private static TimeSpan Backoff(CurationExecutionOptions o, int call)
    {
        var delay = o.RetryDelay * Math.Pow(2, Math.Min(call - 1, 16));
        return delay > o.MaxSiloLossBackoff ? o.MaxSiloLossBackoff : delay;
    }

    private sealed class SiloLossTimeoutException(string message) : Exception(message);

    private sealed class TaskFailedException(string message, Exception inner) : Exception(message, inner);

    /// <summary>An exception's messages, outermost first, joined by " → " (a message repeated by its wrapper only once).</summary>
    internal static string Describe(Exception e)
    {
        if (e is TaskFailedException or SiloLossTimeoutException) return e.Message;
        var messages = new List<string>();
        for (var current = e; current is not null; current = current.InnerException)
            if (messages.Count == 0 || !messages[^1].Contains(current.Message, StringComparison.Ordinal)) messages.Add(current.Message);
        return string.Join(" → ", messages);
    }

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

    /// <summary>A phase with its pace: finished phases from their counters, the running one with its tasks' live reports.</summary>
    private PhaseProgress WithPace(PhaseProgress p, int index)
    {
        if (_livePhase is not { } live || live.Index != index)
        {
            var fraction = p.Total > 0 ? (double)p.Done / p.Total : 0;
            return p with { Fraction = fraction, DocumentsPerSecond = p.WallSeconds > 0 ? p.DocumentsIn / p.WallSeconds : 0 };
        }
        var wall = live.Clock.Elapsed.TotalSeconds;
        var running = _live.Values;
        var documents = p.DocumentsIn + running.Sum(r => r.Documents);
        var done = p.Total > 0 ? Math.Min(1, (p.Done + running.Sum(r => r.Fraction ?? 0)) / p.Total) : 0;
        return p with
        {
            WallSeconds = wall,
            InFlightDocuments = running.Sum(r => r.Documents),
            InFlightBytes = running.Sum(r => r.Bytes),
            Running = running.Count,
            Fraction = done,
            DocumentsPerSecond = wall > 0 ? documents / wall : 0,
            EtaSeconds = done is > 0 and < 1 && wall >= 1 ? wall * (1 - done) / done : null,
        };
    }

    private JobStatus Snapshot() => new()
    {
        JobId = this.GetPrimaryKeyString(), Name = S.Name, State = S.State, Error = S.Error, Phases = S.Phases.Select(WithPace).ToArray(),
        StartedAt = S.StartedAt, CompletedAt = S.CompletedAt, Output = S.Output, Accounting = S.Accounting,
        Warnings = S.Warnings.ToArray(), Shards = S.Shards,
        StoreRetries = S.Phases.Sum(p => p.StoreRetries) + Math.Max(S.CoordinatorStoreRetries, _coordinatorRetries?.Count ?? 0),
    };
}
