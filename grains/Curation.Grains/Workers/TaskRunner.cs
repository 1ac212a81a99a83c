using Curation.Grains.Hosting;
using Curation.Pipelines.Execution;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Curation.Grains.Workers;

/// <summary>
/// What every task grain does: take a slot on this silo, load the job (cached), run the task off the grain scheduler,
/// and tell the job's coordinator every <see cref="CurationExecutionOptions.ProgressInterval"/> how far it is.
/// </summary>
public sealed class TaskRunner(JobContextCache jobs, TaskSlots slots, StageServices services, IGrainFactory grains,
    IOptions<CurationExecutionOptions> options, ILogger<TaskRunner> logger)
{
    public async Task<TaskStats> RunAsync(TaskRef task, CancellationToken cancellationToken)
    {
        using var slot = await slots.AcquireAsync(cancellationToken).ConfigureAwait(false);
        var job = await jobs.GetAsync(task.JobId, cancellationToken).ConfigureAwait(false);
        using var progress = TaskProgress.Begin(); // before Task.Run: the task's flow inherits the scope
        using var reporting = new CancellationTokenSource();
        var reporter = ReportAsync(task, progress, reporting.Token);
        try
        {
            // Task work is CPU and I/O heavy: it must not hold the activation's turn on the grain scheduler.
            return await Task.Run(() => JobExecutor.RunTaskAsync(job, task.Stage, task.Phase, task.Task, services, cancellationToken), cancellationToken)
                .ConfigureAwait(false);
        }
        finally
        {
            await reporting.CancelAsync().ConfigureAwait(false);
            await reporter.ConfigureAwait(false);
        }
    }

    /// <summary>Sends the task's progress while it runs (one-way: a slow or lost coordinator never holds the task up).</summary>
    private async Task ReportAsync(TaskRef task, TaskProgress progress, CancellationToken cancellationToken)
    {
        var coordinator = grains.GetGrain<IJobGrain>(task.JobId);
        TaskProgressSample? last = null;
        try
        {
            while (true)
            {
                await Task.Delay(options.Value.ProgressInterval, cancellationToken).ConfigureAwait(false);
                var sample = progress.Sample();
                if (sample == last) continue;
                last = sample;
                try { await coordinator.ReportProgress(task, sample).ConfigureAwait(false); }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    logger.LogDebug("Task {Task}: progress report not delivered ({Error})", task, e.Message);
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }
}
