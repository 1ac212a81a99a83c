using System.Text.Json;
using Curation.Grains.Jobs;
using Curation.Pipelines;
using Curation.Pipelines.Storage;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Curation.Grains.Hosting;

/// <summary>
/// Finds jobs whose persisted state says Running and pings their coordinator, which resumes them if its activation
/// was lost (silo crash, whole-cluster restart). Idempotent, so every silo may run it.
/// </summary>
public sealed class ResumeRunningJobsService(
    IGrainFactory grains,
    IStoreResolver stores,
    IOptions<CurationExecutionOptions> options,
    ILogger<ResumeRunningJobsService> logger) : BackgroundService
{
    public static string StatePrefix => $"state/{JobGrain.StateName}/";

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.ResumeScanInterval);
        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
        {
            try
            {
                await foreach (var jobId in RunningJobIdsAsync(stores.DataStore, stoppingToken).ConfigureAwait(false))
                    await grains.GetGrain<IJobGrain>(jobId).GetStatus().ConfigureAwait(false);
            }
            catch (Exception e) when (!stoppingToken.IsCancellationRequested)
            {
                logger.LogWarning(e, "Scan for running jobs failed; retrying next interval");
            }
        }
    }

    /// <summary>Ids of jobs whose stored state is Running.</summary>
    public static async IAsyncEnumerable<string> RunningJobIdsAsync(IObjectStore store,
        [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await foreach (var (jobId, state) in StoredJobsAsync(store, cancellationToken).ConfigureAwait(false))
            if (state.State == JobState.Running)
                yield return jobId;
    }

    /// <summary>
    /// Every job the cluster knows (the registry is the coordinators' persisted state in the data store), with that
    /// state as last written: after each phase and at the end.
    /// </summary>
    public static async IAsyncEnumerable<(string JobId, JobGrainState State)> StoredJobsAsync(IObjectStore store,
        [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await foreach (var info in store.ListAsync(StatePrefix, cancellationToken).ConfigureAwait(false))
        {
            if (!info.Key.EndsWith(".json", StringComparison.Ordinal)) continue;
            JobGrainState? state;
            try { state = JsonSerializer.Deserialize<JobGrainState>(await store.ReadBytesAsync(info.Key, cancellationToken).ConfigureAwait(false), CurationJson.Options); }
            catch (ObjectNotFoundException) { continue; }
            if (state is not null)
                yield return (Uri.UnescapeDataString(Path.GetFileNameWithoutExtension(info.Key)), state);
        }
    }
}
