using Curation.Pipelines.Execution;

namespace Curation.Grains.Workers;

/// <summary>What every task grain does: take a slot on this silo, load the job (cached), run the task off the grain scheduler.</summary>
public sealed class TaskRunner(JobContextCache jobs, TaskSlots slots, StageServices services)
{
    public async Task<TaskStats> RunAsync(TaskRef task, CancellationToken cancellationToken)
    {
        using var slot = await slots.AcquireAsync(cancellationToken).ConfigureAwait(false);
        var job = await jobs.GetAsync(task.JobId, cancellationToken).ConfigureAwait(false);
        try
        {
            // Task work is CPU and I/O heavy: it must not hold the activation's turn on the grain scheduler.
            return await Task.Run(() => JobExecutor.RunTaskAsync(job, task.Stage, task.Phase, task.Task, services, cancellationToken), cancellationToken)
                .ConfigureAwait(false);
        }
        catch (Exception e) when (HasOwnType(e))
        {
            // The pure library's exception types (ObjectStoreException, AccountingException, …) have no Orleans codec, so
            // they cannot reach a coordinator on another silo: their messages do, exactly as the job will report them.
            throw new InvalidOperationException(Jobs.JobGrain.Describe(e));
        }
    }

    private static bool HasOwnType(Exception e)
    {
        for (Exception? current = e; current is not null; current = current.InnerException)
            if (current.GetType().Namespace?.StartsWith("Curation.", StringComparison.Ordinal) == true) return true;
        return false;
    }
}
