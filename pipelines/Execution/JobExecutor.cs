using System.Globalization;
using Curation.Pipelines.IO;
using Curation.Pipelines.Spec;
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
        // What a task writes (drop details, reports, errors, the manifest) is formatted the same on every silo, whatever
        // its locale: set here, the culture flows into everything this task awaits and reverts when it returns.
        CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;
        // Every store retry this task makes (its reads, writes, listings, the marker) counts towards the job's total.
        using var retries = ObjectStoreMetrics.BeginRetryScope();
        var stage = job.Stages[stageIndex];
        var markerKey = job.Layout.TaskStats(stage.Index, stage.Name, phase, task);
        var (done, _) = await job.Data.TryReadJsonAsync<TaskStats>(markerKey, cancellationToken: cancellationToken).ConfigureAwait(false);
        if (done is not null) return done with { Reused = true, StoreRetries = retries.Count };

        // A retried task's killed attempt may have left temp parts and spool files behind: clear what no live writer holds.
        SweepOrphanedTempFiles(job);

        var clock = System.Diagnostics.Stopwatch.StartNew();
        // A task that handled a big record frees its copies before the next task makes its own (see LargeRecordRelease).
        using var largeRecords = LargeRecordRelease.Begin();
        var stats = await stage.RunAsync(new TaskContext(job, stage, phase, task, services), cancellationToken).ConfigureAwait(false);
        // The executor times every task; a stage that measures a part of its own (a fused pass's share) sets Seconds itself.
        stats = stats with
        {
            Worker = services.Worker,
            StoreRetries = retries.Count,
            Seconds = stats.Seconds > 0 ? stats.Seconds : clock.Elapsed.TotalSeconds,
        };
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
    /// The tasks of a phase whose commit markers exist (one listing): a runner reads their stats instead of dispatching
    /// them. Advisory: where the listing fails, none is taken as committed and each worker finds its marker itself.
    /// </summary>
    public static async Task<IReadOnlySet<int>> CommittedAsync(JobContext job, int stageIndex, string phase, int taskCount,
        CancellationToken cancellationToken = default)
    {
        var stage = job.Stages[stageIndex];
        var markers = Enumerable.Range(0, taskCount).ToDictionary(t => job.Layout.TaskStats(stage.Index, stage.Name, phase, t), StringComparer.Ordinal);
        var committed = new HashSet<int>();
        var prefix = $"{job.Layout.StageRoot(stage.Index, stage.Name)}_tasks/{phase}-";
        try
        {
            await foreach (var info in job.Data.ListAsync(prefix, cancellationToken).ConfigureAwait(false))
                if (markers.TryGetValue(info.Key, out var task)) committed.Add(task);
        }
        catch (Exception) when (!cancellationToken.IsCancellationRequested)
        {
            return new HashSet<int>();
        }
        return committed;
    }

    /// <summary>
    /// A completed job whose output manifest is gone (the output folder deleted or moved): forgets the output stage's
    /// commit markers, so that running the job again writes the output anew from its stages' outputs, which stay in the
    /// data store (create-once: output objects still there are kept). Returns where the manifest was, or null when it is
    /// there and nothing changed. A plain output's manifest key follows from the spec alone, so a job whose output is
    /// there (every resubmission of a completed job) costs one metadata read, not a read of its plan.
    /// </summary>
    /// <exception cref="InvalidOperationException">The manifest is gone and so is the job's plan (its data was wiped).</exception>
    public static async Task<string?> ForgetLostOutputAsync(JobSpec spec, IStoreResolver stores, CancellationToken cancellationToken = default)
    {
        var location = StoreLocation.Parse(spec.Output.Path);
        var store = stores.Resolve(location);
        var manifestKey = location.KeyOf(Manifest.FileName);
        if (await store.GetInfoAsync(manifestKey, cancellationToken).ConfigureAwait(false) is not null) return null;
        var job = await JobContext.LoadAsync(JobContext.JobIdOf(spec), stores, cancellationToken).ConfigureAwait(false);
        var output = job.Stages[^1];
        var markers = new List<string>();
        await foreach (var info in job.Data.ListAsync($"{job.Layout.StageRoot(output.Index, output.Name)}_tasks/", cancellationToken).ConfigureAwait(false))
            markers.Add(info.Key);
        foreach (var marker in markers) await job.Data.DeleteAsync(marker, cancellationToken).ConfigureAwait(false);
        return $"{store.Location.TrimEnd('/')}/{manifestKey}";
    }

    /// <summary>A task's committed stats (marked <see cref="TaskStats.Reused"/>), or null when it has not committed.</summary>
    public static async Task<TaskStats?> TryCommittedAsync(JobContext job, int stageIndex, string phase, int task,
        CancellationToken cancellationToken = default)
    {
        var stage = job.Stages[stageIndex];
        var (done, _) = await job.Data.TryReadJsonAsync<TaskStats>(job.Layout.TaskStats(stage.Index, stage.Name, phase, task),
            cancellationToken: cancellationToken).ConfigureAwait(false);
        return done is null ? null : done with { Reused = true, StoreRetries = 0 };
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
