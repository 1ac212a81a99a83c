using Orleans.Concurrency;

namespace Curation.Grains;

/// <summary>
/// Coordinates one job (key: job id = spec name + spec hash). Plans shards, runs each stage's phases by fanning tasks
/// out to <see cref="IStageTaskGrain"/>s across the cluster, persists progress, and ends by committing the manifest.
/// </summary>
public interface IJobGrain : IGrainWithStringKey
{
    /// <summary>
    /// Starts the job from its spec (JSON), or resumes it: submitting the same spec again finds finished tasks in
    /// the store and skips them. Returns at once; the job runs in the background.
    /// </summary>
    Task<JobStatus> Submit(string specJson);

    /// <summary>Current state and per-phase progress. Also resumes a job whose coordinator was lost with its silo.</summary>
    Task<JobStatus> GetStatus();

    /// <summary>Stops dispatching, cancels running tasks, and leaves no manifest. Finished task outputs stay (resumable).</summary>
    Task<JobStatus> Cancel();

    /// <summary>
    /// A running task's progress (documents and bytes done, and expected), sent by its worker every few seconds. Live
    /// only: not stored, dropped when the task finishes, ignored for tasks the coordinator is not waiting for.
    /// </summary>
    /// <summary>The job's throughput history: one sample per <c>HistoryInterval</c> while it ran (bounded, oldest thinned first).</summary>
    Task<IReadOnlyList<ThroughputSample>> GetHistory();

    [OneWay]
    Task ReportProgress(Pipelines.Execution.TaskRef task, Pipelines.Execution.TaskProgressSample progress);
}

/// <summary>
/// Runs one task of one phase (key: job/stage/phase/task). Receives a reference, reads and writes the object store
/// directly, returns small stats. Re-delivery is harmless: finished tasks are found by their commit marker.
/// </summary>
public interface IStageTaskGrain : IGrainWithStringKey
{
    Task<Pipelines.Execution.TaskStats> Run(Pipelines.Execution.TaskRef task, CancellationToken cancellationToken = default);
}

/// <summary>
/// Runs one task that needs the <c>embed</c> role (the embed stage): placed only on silos that can embed — GPU silos
/// in a mixed cluster — and otherwise the same as <see cref="IStageTaskGrain"/>.
/// </summary>
public interface IEmbedTaskGrain : IGrainWithStringKey
{
    Task<Pipelines.Execution.TaskStats> Run(Pipelines.Execution.TaskRef task, CancellationToken cancellationToken = default);
}
