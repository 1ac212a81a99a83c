using Curation.Grains.Placement;
using Curation.Pipelines.Execution;
using Orleans.Placement;

namespace Curation.Grains.Workers;

/// <summary>
/// Executes one task. Placed at random: a phase dispatches its tasks in a burst, faster than load statistics
/// propagate, and random placement spreads a burst evenly where least-loaded placement piles it on one silo.
/// Deactivates after its call, holding nothing between tasks.
/// </summary>
[RandomPlacement]
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
[RandomPlacement]
public sealed class EmbedTaskGrain(TaskRunner runner) : Grain, IEmbedTaskGrain
{
    public async Task<TaskStats> Run(TaskRef task, CancellationToken cancellationToken = default)
    {
        try { return await runner.RunAsync(task, cancellationToken); }
        finally { DeactivateOnIdle(); }
    }
}
