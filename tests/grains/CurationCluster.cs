using Curation.Grains.Hosting;
using Curation.Pipelines.Execution;
using Curation.Pipelines.Spec;
using Curation.Pipelines.Storage;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Serialization;
using Orleans.TestingHost;

namespace Curation.Grains.Tests;

/// <summary>An in-process Orleans test cluster of N silos running Curation over one shared data store.</summary>
public sealed class CurationCluster : IAsyncDisposable
{
    private CurationCluster(InProcessTestCluster cluster) => Cluster = cluster;

    public InProcessTestCluster Cluster { get; }

    public IClusterClient Client => Cluster.Client;

    /// <param name="roles">Roles of each silo by its name (the first silo is named "Silo_0"); null: the defaults.</param>
    /// <param name="silo">More configuration of every silo, after <c>AddCuration</c> (reminders, a fake schedule clock).</param>
    public static async Task<CurationCluster> StartAsync(short silos, Func<IStoreResolver> stores, Action<CurationExecutionOptions>? execution = null,
        Func<string, IEnumerable<string>?>? roles = null, Action<ISiloBuilder>? silo = null)
    {
        var builder = new InProcessTestClusterBuilder(silos);
        builder.ConfigureSilo((options, siloBuilder) =>
        {
            siloBuilder.Services.AddSingleton(_ => stores());
            siloBuilder.AddCuration(o =>
            {
                o.RetryDelay = TimeSpan.FromMilliseconds(200);
                o.ResumeScanInterval = TimeSpan.FromSeconds(1);
                execution?.Invoke(o);
            }, roles?.Invoke(options.SiloName));
            silo?.Invoke(siloBuilder);
        });
        builder.ConfigureClient(client => client.Services.AddSerializer(s => s.AddCurationTypes()));
        var cluster = builder.Build();
        await cluster.DeployAsync();
        return new CurationCluster(cluster);
    }

    /// <summary>Submits a job and waits until it is final; fails the test on timeout.</summary>
    public async Task<JobStatus> RunAsync(JobSpec spec, TimeSpan? timeout = null)
    {
        var job = Client.GetGrain<IJobGrain>(JobContext.JobIdOf(spec));
        await job.Submit(spec.ToJson());
        return await WaitAsync(job, timeout ?? TimeSpan.FromMinutes(6));
    }

    public static async Task<JobStatus> WaitAsync(IJobGrain job, TimeSpan timeout, Func<JobStatus, bool>? until = null)
    {
        using var deadline = new CancellationTokenSource(timeout);
        while (true)
        {
            var status = await job.GetStatus();
            if ((until ?? (s => s.IsFinal))(status)) return status;
            try { await Task.Delay(100, deadline.Token); }
            catch (OperationCanceledException) { throw new TimeoutException($"Job {status.JobId} still {status.State} after {timeout}: {string.Join(", ", status.Phases.Select(p => $"{p.Stage}/{p.Phase} {p.Done}/{p.Total}"))}"); }
        }
    }

    public async ValueTask DisposeAsync()
    {
        try { await Cluster.StopAllSilosAsync(); } catch { /* a killed silo may already be gone */ }
        await Cluster.DisposeAsync();
    }
}
