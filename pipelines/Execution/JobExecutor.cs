using Curation.Pipelines.Stages;
using Curation.Pipelines.Storage;

namespace Curation.Pipelines.Execution;

/// <summary>
/// Runs one task exactly-once in effect: a task whose stats marker exists is not run again (resume, re-delivered
/// calls); otherwise the stage writes its outputs create-once and the marker is committed last.
/// </summary>
public static class JobExecutor
{
    public static async Task<TaskStats> RunTaskAsync(JobContext job, int stageIndex, string phase, int task, StageServices services,
        CancellationToken cancellationToken = default)
    {
        var stage = job.Stages[stageIndex];
        var markerKey = job.Layout.TaskStats(stage.Index, stage.Name, phase, task);
        var (done, _) = await job.Data.TryReadJsonAsync<TaskStats>(markerKey, cancellationToken: cancellationToken).ConfigureAwait(false);
        if (done is not null) return done with { Reused = true };

        var stats = await stage.RunAsync(new TaskContext(job, stage, phase, task, services), cancellationToken).ConfigureAwait(false);
        stats = stats with { Worker = services.Worker };
        try
        {
            await job.Data.WriteJsonAsync(markerKey, stats, WriteCondition.CreateOnly, cancellationToken: cancellationToken).ConfigureAwait(false);
            return stats;
        }
        catch (ObjectAlreadyExistsException)
        {
            // A duplicate of this call finished first; its outputs are the same, its stats are the record.
            var (winner, _) = await job.Data.TryReadJsonAsync<TaskStats>(markerKey, cancellationToken: cancellationToken).ConfigureAwait(false);
            return (winner ?? stats) with { Reused = true };
        }
    }
}
