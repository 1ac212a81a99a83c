using Curation.Grains.Jobs;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Curation.Grains.Hosting;

/// <summary>
/// Finds jobs whose persisted state says Running (through the <see cref="IJobRegistry"/>) and pings their coordinator,
/// which resumes them if its activation was lost (silo crash, whole-cluster restart). Idempotent, so every silo may run it.
/// </summary>
public sealed class ResumeRunningJobsService(
    IGrainFactory grains,
    IJobRegistry jobs,
    IOptions<CurationExecutionOptions> options,
    ILogger<ResumeRunningJobsService> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.ResumeScanInterval);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
            {
                try
                {
                    await foreach (var jobId in jobs.RunningJobIdsAsync(stoppingToken).ConfigureAwait(false))
                        await grains.GetGrain<IJobGrain>(jobId).GetStatus().ConfigureAwait(false);
                }
                catch (Exception e) when (!stoppingToken.IsCancellationRequested)
                {
                    logger.LogWarning(e, "Scan for running jobs failed; retrying next interval");
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // The host is stopping (a `curate run` whose job ended right after it started included): not a failure.
        }
    }
}
