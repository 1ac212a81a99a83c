using Curation.Pipelines.Execution;
using Curation.Pipelines.Stages;

namespace Curation.Grains.Jobs;

/// <summary>
/// Sends a job's tasks to task grains: a phase that needs a silo role goes to the grain placed on such silos, every other
/// to a stage task grain placed anywhere. A fresh grain key per call, so a retry lands wherever placement puts it now,
/// not on a dead activation.
/// </summary>
public sealed class GrainTaskDispatcher(IGrainFactory grains) : ITaskDispatcher
{
    public Task<TaskStats> RunAsync(TaskRef task, PhaseInfo phase, int call, CancellationToken cancellationToken)
    {
        var key = $"{task.JobId}/{task.Stage}/{task.Phase}/{task.Task}/{call}";
        return phase.RequiredRole switch
        {
            null => grains.GetGrain<IStageTaskGrain>(key).Run(task, cancellationToken),
            EmbedStage.RequiredRole => grains.GetGrain<IEmbedTaskGrain>(key).Run(task, cancellationToken),
            _ => throw new InvalidOperationException($"No task grain serves the role '{phase.RequiredRole}'."),
        };
    }

    /// <summary>A silo died or could not be reached: the call never ran, or ran on a silo that is gone.</summary>
    public bool IsWorkerLoss(Exception error) => SiloLoss.Is(error);
}
