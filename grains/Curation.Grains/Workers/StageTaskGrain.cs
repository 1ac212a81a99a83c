using Curation.Pipelines.Execution;
using Microsoft.Extensions.Logging;
using Orleans.Placement;

namespace Curation.Grains.Workers;

/// <summary>
/// Executes one task. Placed on the silo with the fewest activations so a phase's tasks spread over the cluster;
/// deactivates after its call, holding nothing between tasks.
/// </summary>
[ActivationCountBasedPlacement]
public sealed class StageTaskGrain(JobContextCache jobs, TaskSlots slots, ILogger<StageTaskGrain> logger) : Grain, IStageTaskGrain
{
    public async Task<TaskStats> Run(TaskRef task, CancellationToken cancellationToken = default)
    {
        try
        {
            using var slot = await slots.AcquireAsync(cancellationToken);
            var job = await jobs.GetAsync(task.JobId, cancellationToken);
            // Off the grain's scheduler: task work is CPU and I/O heavy and must not hold the activation's turn.
            var stats = await Task.Run(() => JobExecutor.RunTaskAsync(job, task.Stage, task.Phase, task.Task, cancellationToken), cancellationToken);
            if (!stats.Reused) logger.LogDebug("Task {Task} done in {Seconds:0.00}s", task, stats.Seconds);
            return stats;
        }
        finally
        {
            DeactivateOnIdle();
        }
    }
}
