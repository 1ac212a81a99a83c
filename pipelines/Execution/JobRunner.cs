using System.Diagnostics;
using System.Runtime.ExceptionServices;
using Curation.Pipelines.Storage;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Curation.Pipelines.Execution;

/// <summary>
/// Runs a job's phases in order, as every coordinator does (the job grain, the in-process runner, the benchmarks). Within
/// a phase it finds the tasks already committed (resume) and dispatches the others through an <see cref="ITaskDispatcher"/>,
/// at most <see cref="JobRunnerOptions.MaxTasksInFlight"/> at once; it retries a task that failed on its own up to
/// <see cref="JobRunnerOptions.MaxTaskAttempts"/> times and one whose worker was lost until
/// <see cref="JobRunnerOptions.WorkerLossRetryTime"/>; the first task that fails for good stops the phase and fails the
/// run (resumably: submit again). A converged phase (<see cref="Stages.PipelineStage.SkipsPhaseAsync"/>) is not dispatched.
/// It keeps each phase's counters (<see cref="PhaseTally"/>) and the running tasks' live progress.
/// </summary>
/// <remarks>
/// Its awaits keep the caller's scheduler (no <c>ConfigureAwait(false)</c>): a grain's runner and its observer then run on
/// the grain's turn. Its own state is locked, so a caller without a scheduler (tests, benchmarks) is safe too.
/// </remarks>
public sealed class JobRunner
{
    private readonly ITaskDispatcher _dispatcher;
    private readonly JobRunnerOptions _options;
    private readonly IJobRunObserver _observer;
    private readonly ILogger _logger;
    private readonly Lock _lock = new();
    private readonly PhaseTally[] _tallies;

    // The running phase's live progress: what its running tasks reported last (not stored; a resumed run starts without
    // it and the workers' next reports fill it again).
    private readonly Dictionary<int, TaskProgressSample> _live = [];
    private readonly HashSet<int> _finished = [];
    private (JobPhase Phase, Stopwatch Clock)? _running;

    public JobRunner(JobContext job, ITaskDispatcher dispatcher, JobRunnerOptions? options = null, IJobRunObserver? observer = null,
        ILogger? logger = null)
    {
        Job = job;
        _dispatcher = dispatcher;
        _options = options ?? new JobRunnerOptions();
        if (_options.Problems() is { Count: > 0 } problems) throw new ArgumentException(string.Join(" ", problems), nameof(options));
        _observer = observer ?? NoObserver.Instance;
        _logger = logger ?? NullLogger.Instance;
        Phases = job.Phases().Select((p, i) => new JobPhase(i, p.Stage, p.Phase)).ToArray();
        _tallies = Phases.Select(p => new PhaseTally { Stage = p.Stage.Folder, Phase = p.Info.Name, Total = p.Info.TaskCount }).ToArray();
    }

    public JobContext Job { get; }

    /// <summary>Every phase of the job, in the order they run.</summary>
    public IReadOnlyList<JobPhase> Phases { get; }

    /// <summary>The phases' counters now, in phase order.</summary>
    public IReadOnlyList<PhaseTally> Tallies
    {
        get { lock (_lock) return _tallies.ToArray(); }
    }

    /// <summary>The phase whose tasks are running now; null between phases.</summary>
    public JobPhase? Running
    {
        get { lock (_lock) return _running?.Phase; }
    }

    /// <summary>Each phase's pace now: the running one with its tasks' live reports.</summary>
    public IReadOnlyList<PhasePace> Pace()
    {
        lock (_lock)
            return _tallies.Select((tally, i) => _running is { } live && live.Phase.Index == i
                ? PhasePace.Of(tally, live.Clock.Elapsed.TotalSeconds, _live.Values.ToArray())
                : PhasePace.Of(tally)).ToArray();
    }

    /// <summary>
    /// Takes a running task's progress report; false (ignored) when it is not a task of the running phase or it has
    /// finished already (a late report must not count its documents twice).
    /// </summary>
    public bool ReportProgress(TaskRef task, TaskProgressSample progress)
    {
        lock (_lock)
        {
            if (_running is not { } live || task.JobId != Job.JobId || task.Stage != live.Phase.Stage.Index || task.Phase != live.Phase.Info.Name
                || _finished.Contains(task.Task)) return false;
            _live[task.Task] = progress;
            return true;
        }
    }

    /// <summary>Runs the job's phases in order (the first <paramref name="maxPhases"/> only: an interrupted run).</summary>
    public async Task RunAsync(CancellationToken cancellationToken = default, int? maxPhases = null)
    {
        foreach (var phase in Phases.Take(maxPhases ?? int.MaxValue))
        {
            if (await phase.Stage.SkipsPhaseAsync(Job, phase.Info, cancellationToken))
            {
                lock (_lock) _tallies[phase.Index] = _tallies[phase.Index] with { Total = 0 }; // a converged group's remaining round
                await _observer.PhaseEndedAsync(phase, skipped: true, cancellationToken);
                continue;
            }
            await RunPhaseAsync(phase, cancellationToken);
            await _observer.PhaseEndedAsync(phase, skipped: false, cancellationToken);
        }
    }

    /// <summary>
    /// After the last phase: removes the temp files dead writers left on this machine and reads the manifest the job
    /// wrote (null when it wrote none).
    /// </summary>
    public async Task<Manifest?> FinishAsync(CancellationToken cancellationToken = default)
    {
        JobExecutor.SweepOrphanedTempFiles(Job); // what killed attempts left on this machine goes now, not a day later
        var (manifest, _) = await Job.Output.TryReadJsonAsync<Manifest>(Job.ManifestKey, cancellationToken: cancellationToken);
        return manifest;
    }

    private async Task RunPhaseAsync(JobPhase phase, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        lock (_lock)
        {
            _live.Clear();
            _finished.Clear();
            _running = (phase, clock);
        }
        try
        {
            await RunPhaseTasksAsync(phase, clock, cancellationToken);
        }
        finally
        {
            lock (_lock)
            {
                _running = null;
                _live.Clear();
                _finished.Clear();
            }
        }
    }

    private async Task RunPhaseTasksAsync(JobPhase phase, Stopwatch clock, CancellationToken cancellationToken)
    {
        var committed = await JobExecutor.CommittedAsync(Job, phase.Stage.Index, phase.Info.Name, phase.Info.TaskCount, cancellationToken);
        var limit = _options.MaxTasksInFlight;
        using var throttle = new SemaphoreSlim(limit, limit);
        // The first task that fails for good stops the rest of the phase: the job fails as a whole, resumably.
        using var phaseCancellation = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        _observer.PhaseStarted(phase);
        var tasks = Enumerable.Range(0, phase.Info.TaskCount).Select(async task =>
        {
            try
            {
                await throttle.WaitAsync(phaseCancellation.Token);
            }
            finally
            {
                _observer.TaskDequeued(phase, task);
            }
            _observer.TaskStarted(phase, task);
            try
            {
                var stats = committed.Contains(task) ? await ReadCommittedAsync(phase, task, phaseCancellation.Token) : null;
                stats ??= await RunWithRetriesAsync(phase, task, phaseCancellation.Token);
                // A task whose answer arrives after cancellation changes nothing: the canceller's word is the last.
                cancellationToken.ThrowIfCancellationRequested();
                lock (_lock)
                {
                    _finished.Add(task);
                    _live.Remove(task);
                    _tallies[phase.Index] = _tallies[phase.Index].With(stats, clock.Elapsed.TotalSeconds);
                }
                _observer.TaskCompleted(phase, task, stats);
                if (stats.StoreRetries > 0)
                    _logger.LogInformation("Task {Task} retried {Retries} store operations after transient failures",
                        phase.Task(Job.JobId, task), stats.StoreRetries);
            }
            catch (Exception) when (!cancellationToken.IsCancellationRequested)
            {
                await phaseCancellation.CancelAsync();
                throw;
            }
            finally
            {
                _observer.TaskEnded(phase, task);
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
            if (cause is not null) ExceptionDispatchInfo.Throw(cause);
            throw;
        }
        lock (_lock) _tallies[phase.Index] = _tallies[phase.Index] with { WallSeconds = clock.Elapsed.TotalSeconds };
    }

    /// <summary>A listed task's committed stats; null (dispatch it: its worker finds the marker) when they cannot be read.</summary>
    private async Task<TaskStats?> ReadCommittedAsync(JobPhase phase, int task, CancellationToken cancellationToken)
    {
        try
        {
            return await JobExecutor.TryCommittedAsync(Job, phase.Stage.Index, phase.Info.Name, task, cancellationToken);
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested)
        {
            _logger.LogDebug("Task {Task}: its committed stats could not be read, dispatching it ({Error})", phase.Task(Job.JobId, task), e.Message);
            return null;
        }
    }

    /// <summary>
    /// Runs one task until it succeeds. A task that fails on its own is tried <see cref="JobRunnerOptions.MaxTaskAttempts"/>
    /// times in all; a dispatch that failed because its worker died or cannot be reached costs no attempt: it is dispatched
    /// again, with backoff, for at most <see cref="JobRunnerOptions.WorkerLossRetryTime"/> in a row.
    /// </summary>
    private async Task<TaskStats> RunWithRetriesAsync(JobPhase phase, int taskNumber, CancellationToken cancellationToken)
    {
        var o = _options;
        var task = phase.Task(Job.JobId, taskNumber);
        var attempt = 1;
        Stopwatch? unreachable = null;
        for (var call = 1; ; call++)
        {
            try
            {
                return await _dispatcher.RunAsync(task, phase.Info, call, cancellationToken);
            }
            catch (Exception e) when (!cancellationToken.IsCancellationRequested && e is not WorkerLossTimeoutException && _dispatcher.IsWorkerLoss(e))
            {
                unreachable ??= Stopwatch.StartNew();
                if (unreachable.Elapsed >= o.WorkerLossRetryTime)
                    throw new WorkerLossTimeoutException(
                        $"Task {task} could not be run for {unreachable.Elapsed.TotalSeconds:F0} s because silos kept failing or could not be reached, " +
                        $"and the cluster's membership did not settle within {o.Name(nameof(o.WorkerLossRetryTime))} " +
                        $"({o.WorkerLossRetryTime}); check the silos and the membership store, then submit the job again to resume it: {Describe(e)}");
                _logger.LogWarning("Task {Task}: a silo left the cluster or cannot be reached; dispatching again once membership decides ({Error})",
                    task, e.Message);
                Retried(phase, task, e, workerLost: true);
                await Task.Delay(Backoff(o, call), cancellationToken);
            }
            catch (Exception e) when (!cancellationToken.IsCancellationRequested && e is not WorkerLossTimeoutException)
            {
                unreachable = null;
                if (attempt >= o.MaxTaskAttempts)
                    throw new TaskFailedException(
                        $"Task {task} failed {attempt} time(s) on its own ({o.Name(nameof(o.MaxTaskAttempts))} = {o.MaxTaskAttempts}), " +
                        $"so another retry would not fix it: {Describe(e)}", e);
                _logger.LogWarning("Task {Task} attempt {Attempt} failed, retrying: {Error}", task, attempt, e.Message);
                Retried(phase, task, e, workerLost: false);
                await Task.Delay(o.RetryDelay * attempt, cancellationToken);
                attempt++;
            }
        }
    }

    private void Retried(JobPhase phase, TaskRef task, Exception error, bool workerLost)
    {
        lock (_lock) _tallies[phase.Index] = _tallies[phase.Index] with { Retries = _tallies[phase.Index].Retries + 1 };
        _observer.TaskRetrying(phase, task, error, workerLost);
    }

    /// <summary>Exponential backoff from <see cref="JobRunnerOptions.RetryDelay"/>, at most <see cref="JobRunnerOptions.MaxWorkerLossBackoff"/>.</summary>
    internal static TimeSpan Backoff(JobRunnerOptions o, int call)
    {
        var delay = o.RetryDelay * Math.Pow(2, Math.Min(call - 1, 16));
        return delay > o.MaxWorkerLossBackoff ? o.MaxWorkerLossBackoff : delay;
    }

    /// <summary>An exception's messages, outermost first, joined by " → " (a message repeated by its wrapper only once).</summary>
    public static string Describe(Exception e)
    {
        if (e is TaskFailedException or WorkerLossTimeoutException) return e.Message;
        var messages = new List<string>();
        for (var current = e; current is not null; current = current.InnerException)
            if (messages.Count == 0 || !messages[^1].Contains(current.Message, StringComparison.Ordinal)) messages.Add(current.Message);
        return string.Join(" → ", messages);
    }

    private sealed class NoObserver : IJobRunObserver
    {
        public static readonly NoObserver Instance = new();
    }
}

/// <summary>A task failed <see cref="JobRunnerOptions.MaxTaskAttempts"/> times on its own: the run fails, naming it.</summary>
public sealed class TaskFailedException(string message, Exception inner) : Exception(message, inner);

/// <summary>A task's workers kept being lost for <see cref="JobRunnerOptions.WorkerLossRetryTime"/>: the run fails, naming it.</summary>
public sealed class WorkerLossTimeoutException(string message) : Exception(message);

/// <summary>
/// What a host hears of a <see cref="JobRunner"/>'s run (metrics, persisting progress). Called on the runner's flow;
/// every member does nothing unless implemented.
/// </summary>
public interface IJobRunObserver
{
    /// <summary>A phase's tasks are about to be queued.</summary>
    void PhaseStarted(JobPhase phase) { }

    /// <summary>A task left the queue: it is dispatched now, or the phase was cancelled before it was.</summary>
    void TaskDequeued(JobPhase phase, int task) { }

    /// <summary>A task is dispatched (or its committed stats are read).</summary>
    void TaskStarted(JobPhase phase, int task) { }

    /// <summary>A task finished (<see cref="TaskStats.Reused"/> when it was found committed); its phase's tally counts it.</summary>
    void TaskCompleted(JobPhase phase, int task, TaskStats stats) { }

    /// <summary>A started task is no longer in flight (finished or failed).</summary>
    void TaskEnded(JobPhase phase, int task) { }

    /// <summary>A task's dispatch failed and will be retried (its phase's tally counts the retry).</summary>
    void TaskRetrying(JobPhase phase, TaskRef task, Exception error, bool workerLost) { }

    /// <summary>A phase ended: all its tasks finished, or it was <paramref name="skipped"/> (a converged round, not dispatched).</summary>
    ValueTask PhaseEndedAsync(JobPhase phase, bool skipped, CancellationToken cancellationToken) => ValueTask.CompletedTask;
}
