using Curation.Grains.Placement;
using Curation.Pipelines.Execution;
using Orleans.Placement;

namespace Curation.Grains.Workers;

/// <summary>
/// Executes one task. Placed on the silo with the fewest activations so a phase's tasks spread over the cluster;
/// deactivates after its call, holding nothing between tasks.
/// </summary>
[ActivationCountBasedPlacement]
public sealed class StageTaskGrain(TaskRunner runner) : Grain, IStageTaskGrain
{
    public async Task<TaskStats> Run(TaskRef task, CancellationToken cancellationToken = default)
    {
        try { return await runner.RunAsync(task, cancellationToken); }
        finally { DeactivateOnIdle(); }
    }
}

/// <summary>Executes one task that needs the embed role; only silos with that role host it.</summary>
[EmbedSilosOnly]
[ActivationCountBasedPlacement]
public sealed class EmbedTaskGrain(TaskRunner runner) : Grain, IEmbedTaskGrain
{
    public async Task<TaskStats> Run(TaskRef task, CancellationToken cancellationToken = default)
    {
        try { return await runner.RunAsync(task, cancellationToken); }
        finally { DeactivateOnIdle(); }
    }
}
