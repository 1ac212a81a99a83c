namespace Curation.Pipelines.Execution;

/// <summary>
/// Where a <see cref="JobRunner"/> sends a task: to a worker grain in a cluster, or to this process. Routing (which worker,
/// which silo role) is the dispatcher's business; the runner decides order, fan-out, retries and failure.
/// </summary>
public interface ITaskDispatcher
{
    /// <summary>Runs one task and returns its stats (committed by the worker, or found committed).</summary>
    /// <param name="call">1 for the first dispatch of this task in this run, then 2, 3… for each retry.</param>
    Task<TaskStats> RunAsync(TaskRef task, PhaseInfo phase, int call, CancellationToken cancellationToken);

    /// <summary>
    /// True when the dispatch failed because its worker died or could not be reached (not because the task failed):
    /// such a failure costs no attempt and is dispatched again until <see cref="JobRunnerOptions.WorkerLossRetryTime"/>.
    /// </summary>
    bool IsWorkerLoss(Exception error) => false;
}

/// <summary>Runs every task in this process, off the caller's thread (the in-process runner, tests, benchmarks).</summary>
public sealed class LocalTaskDispatcher(JobContext job, StageServices services) : ITaskDispatcher
{
    public Task<TaskStats> RunAsync(TaskRef task, PhaseInfo phase, int call, CancellationToken cancellationToken) =>
        Task.Run(() => JobExecutor.RunTaskAsync(job, task.Stage, task.Phase, task.Task, services, cancellationToken), cancellationToken);
}
