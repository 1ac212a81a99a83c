using Curation.Pipelines.IO;
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
        // Every store retry this task makes (its reads, writes, listings, the marker) counts towards the job's total.
        using var retries = ObjectStoreMetrics.BeginRetryScope();
        var stage = job.Stages[stageIndex];
        var markerKey = job.Layout.TaskStats(stage.Index, stage.Name, phase, task);
        var (done, _) = await job.Data.TryReadJsonAsync<TaskStats>(markerKey, cancellationToken: cancellationToken).ConfigureAwait(false);
        if (done is not null) return done with { Reused = true, StoreRetries = retries.Count };

        // A retried task's killed attempt may have left temp parts and spool files behind: clear what no live writer holds.
        SweepOrphanedTempFiles(job);

        var stats = await stage.RunAsync(new TaskContext(job, stage, phase, task, services), cancellationToken).ConfigureAwait(false);
        stats = stats with { Worker = services.Worker, StoreRetries = retries.Count };
        try
        {
            await job.Data.WriteJsonAsync(markerKey, stats, WriteCondition.CreateOnly, cancellationToken: cancellationToken).ConfigureAwait(false);
            return stats with { StoreRetries = retries.Count };
        }
        catch (ObjectAlreadyExistsException)
        {
            // A duplicate of this call finished first (or this call's own commit, whose answer was lost and retried);
            // its outputs are the same, its stats are the record.
            var (winner, _) = await job.Data.TryReadJsonAsync<TaskStats>(markerKey, cancellationToken: cancellationToken).ConfigureAwait(false);
            var own = winner is not null && winner.Worker == stats.Worker && winner.Seconds.Equals(stats.Seconds);
            return (winner ?? stats) with { Reused = !own, StoreRetries = retries.Count };
        }
    }

    /// <summary>
    /// Deletes temp files dead writers left on this machine: the data store's and a local output's <c>.tmp</c> parts and
    /// the spool folder. Runs when a task starts and when a job completes; live writers' files are locked and kept.
    /// </summary>
    public static int SweepOrphanedTempFiles(JobContext job)
    {
        var removed = OrphanedTempFiles.Sweep(job.Data) + SpoolFile.SweepOrphans();
        if (job.OutputLocation.Kind == Spec.StoreKind.LocalFolder) removed += OrphanedTempFiles.Sweep(job.Output);
        return removed;
    }
}
