using System.Globalization;
using Curation.Grains;
using Curation.Grains.Hosting;
using Curation.Pipelines.Execution;
using Curation.Pipelines.Spec;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans.Serialization;

namespace Curation.Cluster.Tests;

/// <summary>Where the silos of a <see cref="ProcessCluster"/> keep data and grain state.</summary>
public sealed record StoreSettings(string Kind, string? RootPath = null, string? ConnectionString = null, string? ContainerName = null);

/// <summary>
/// A cluster of real <c>curate silo</c> processes on this machine, configured only through environment variables
/// (as deploy/ does), plus an Orleans client in the test process that submits and watches jobs.
/// </summary>
public sealed class ProcessCluster : IAsyncDisposable
{
    private readonly ClusterServices _services;
    private readonly CurationClusterOptions _options;
    private readonly Func<int, StoreSettings> _storeOf;
    private readonly Func<int, string[]> _roles;
    private readonly List<(ServiceProcess Process, int SiloPort, int GatewayPort)> _silos = [];
    private readonly List<string> _apiUrls = [];
    private readonly IDictionary<string, string> _extraEnvironment;
    private IHost? _client;

    /// <summary>The operator key every silo's API accepts.</summary>
    public const string OperatorKey = "cluster-test-operator-key-5d1c";

    private ProcessCluster(ClusterServices services, CurationClusterOptions options, Func<int, StoreSettings> storeOf, Func<int, string[]> roles,
        IDictionary<string, string>? extraEnvironment)
    {
        _extraEnvironment = extraEnvironment ?? new Dictionary<string, string>();
        _services = services;
        _options = options;
        _storeOf = storeOf;
        _roles = roles;
    }

    public IReadOnlyList<ServiceProcess> Silos => _silos.Select(s => s.Process).ToList();

    /// <summary>Silo i's REST API (each silo serves it on its own loopback port, with <see cref="OperatorKey"/>).</summary>
    public IReadOnlyList<string> ApiUrls => _apiUrls;

    public IClusterClient Client => _client?.Services.GetRequiredService<IClusterClient>() ?? throw new InvalidOperationException("No client yet.");

    /// <param name="storeOf">The store settings of silo i, when they differ per silo (each through its own proxy).</param>
    public static async Task<ProcessCluster> StartAsync(ClusterServices services, ClusteringKind clustering, StoreSettings store, int silos,
        Func<int, string[]>? roles = null, Func<int, StoreSettings>? storeOf = null, string? membershipConnectionString = null,
        IDictionary<string, string>? environment = null, bool fastFailureDetection = true)
    {
        var options = new CurationClusterOptions
        {
            Clustering = clustering,
            ConnectionString = membershipConnectionString ?? (clustering == ClusteringKind.Redis ? services.RedisEndpoint : services.StorageConnectionString),
            ClusterId = $"test-{Guid.NewGuid():N}",
            ServiceId = "curation-tests",
            AdvertisedAddress = "127.0.0.1",
            // A killed silo is declared dead within a few seconds instead of Orleans' production defaults. A test that
            // kills nothing may keep the defaults: on a loaded machine a starting silo can miss 2 probes of 2 s.
            ProbeTimeout = fastFailureDetection ? TimeSpan.FromSeconds(2) : null,
            MissedProbesLimit = fastFailureDetection ? 2 : null,
        };
        var cluster = new ProcessCluster(services, options, storeOf ?? (_ => store), roles ?? (_ => ["cpu"]), environment);
        try
        {
            for (var i = 0; i < silos; i++) await cluster.StartSiloAsync();
            await cluster.ConnectAsync();
            await cluster.WaitUntilActiveAsync(silos, TimeSpan.FromSeconds(60));
            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    /// <summary>Starts one more silo (a fresh process with fresh ports) and waits until its gateway answers.</summary>
    public async Task<ServiceProcess> StartSiloAsync()
    {
        var index = _silos.Count;
        var ports = ServiceProcess.FreePorts(3);
        var (siloPort, gatewayPort, apiPort) = (ports[0], ports[1], ports[2]);
        var store = _storeOf(index);
        var environment = new Dictionary<string, string>
        {
            ["Curation__Cluster__Clustering"] = _options.Clustering.ToString(),
            ["Curation__Cluster__ConnectionString"] = _options.ConnectionString!,
            ["Curation__Cluster__ClusterId"] = _options.ClusterId,
            ["Curation__Cluster__ServiceId"] = _options.ServiceId,
            ["Curation__Cluster__AdvertisedAddress"] = _options.AdvertisedAddress!,
            ["Curation__Api__Urls"] = $"http://127.0.0.1:{apiPort}", // every silo serves the API
            ["Curation__Api__Keys__0__Key"] = OperatorKey,
            ["Curation__Api__Keys__0__Role"] = "operator",
            ["Curation__Cluster__SiloPort"] = siloPort.ToString(CultureInfo.InvariantCulture),
            ["Curation__Cluster__GatewayPort"] = gatewayPort.ToString(CultureInfo.InvariantCulture),
            ["Curation__Store__Kind"] = store.Kind,
            ["Curation__Execution__RetryDelay"] = "00:00:00.200",
            ["Curation__Execution__ResumeScanInterval"] = "00:00:01",
            ["Curation__Execution__TaskSlots"] = "2",
            ["Logging__LogLevel__Default"] = "Warning",
            ["Logging__LogLevel__Curation"] = "Information",
            ["DOTNET_gcServer"] = "0",
        };
        if (_options.ProbeTimeout is { } probe) environment["Curation__Cluster__ProbeTimeout"] = probe.ToString();
        if (_options.MissedProbesLimit is { } missed) environment["Curation__Cluster__MissedProbesLimit"] = missed.ToString(CultureInfo.InvariantCulture);
        if (store.RootPath is not null) environment["Curation__Store__RootPath"] = store.RootPath;
        if (store.ConnectionString is not null) environment["Curation__Store__ConnectionString"] = store.ConnectionString;
        if (store.ContainerName is not null) environment["Curation__Store__ContainerName"] = store.ContainerName;
        foreach (var (k, v) in _extraEnvironment) environment[k] = v;
        var roles = _roles(index);
        for (var r = 0; r < roles.Length; r++) environment[$"Curation__Silo__Roles__{r}"] = roles[r];

        var process = ServiceProcess.Start($"silo-{index}", "dotnet", [_services.SiloExecutable, "silo"], environment);
        _silos.Add((process, siloPort, gatewayPort));
        _apiUrls.Add($"http://127.0.0.1:{apiPort}");
        await process.WaitForPortAsync(gatewayPort, TimeSpan.FromSeconds(60));
        return process;
    }

    private async Task ConnectAsync()
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Logging.ClearProviders();
        builder.UseOrleansClient(client =>
        {
            client.UseCurationClustering(_options);
            client.Services.AddSerializer(serializer => serializer.AddCurationTypes());
        });
        _client = builder.Build();
        await _client.StartAsync();
    }

    /// <summary>
    /// Waits until the membership lists <paramref name="silos"/> active silos: a gateway that answers is not yet a
    /// member every other silo knows, and a job submitted before that may run all its tasks on the silos it sees.
    /// </summary>
    public async Task WaitUntilActiveAsync(int silos, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        var seen = 0;
        while (true)
        {
            try
            {
                seen = (await Client.GetGrain<IManagementGrain>(0).GetHosts(onlyActive: true).WaitAsync(TimeSpan.FromSeconds(10))).Count;
                if (seen >= silos) return;
            }
            catch (Exception e) when (e is not OutOfMemoryException && DateTime.UtcNow < deadline)
            {
            }
            if (DateTime.UtcNow >= deadline)
                throw new TimeoutException($"{seen} of {silos} silos active after {timeout}.\n{Diagnostics()}");
            await Task.Delay(200);
        }
    }

    /// <summary>Every silo as the membership lists it, for a failure message.</summary>
    public async Task<string> MembershipAsync()
    {
        var hosts = await Client.GetGrain<IManagementGrain>(0).GetDetailedHosts(onlyActive: false);
        return string.Join(", ", hosts.Select(h => $"{h.SiloName} {h.SiloAddress} {h.Status}"));
    }

    public async Task<IJobGrain> SubmitAsync(JobSpec spec)
    {
        var job = Client.GetGrain<IJobGrain>(JobContext.JobIdOf(spec));
        await job.Submit(spec.ToJson());
        return job;
    }

    /// <summary>
    /// Polls until the job is final (or <paramref name="until"/> holds), riding over calls that fail while a killed
    /// silo is being declared dead.
    /// </summary>
    public async Task<JobStatus> WaitAsync(IJobGrain job, TimeSpan timeout, Func<JobStatus, bool>? until = null)
    {
        var deadline = DateTime.UtcNow + timeout;
        JobStatus? last = null;
        Exception? lastError = null;
        while (DateTime.UtcNow < deadline)
        {
            try
            {
                last = await job.GetStatus().WaitAsync(TimeSpan.FromSeconds(20));
                if ((until ?? (s => s.IsFinal))(last)) return last;
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                lastError = e;
            }
            await Task.Delay(100);
        }
        throw new TimeoutException($"Job still {last?.State} after {timeout}: " +
            $"{string.Join(", ", last?.Phases.Select(p => $"{p.Stage}/{p.Phase} {p.Done}/{p.Total}") ?? [])}; last error: {lastError?.Message}\n{Diagnostics()}");
    }

    /// <summary>Every silo's recent output, for a failure message.</summary>
    public string Diagnostics() => string.Join("\n", _silos.Select(s =>
    {
        var output = s.Process.Output();
        return $"--- {s.Process.Name} (pid {s.Process.Id}{(s.Process.HasExited ? ", exited" : "")}) ---\n{output[Math.Max(0, output.Length - 3000)..]}";
    }));

    /// <summary>SIGKILLs every silo: the whole cluster stops at once, mid-job.</summary>
    public void KillAll()
    {
        foreach (var (process, _, _) in _silos) process.Kill();
    }

    public async ValueTask DisposeAsync()
    {
        if (_client is not null)
        {
            try { await _client.StopAsync(TimeSpan.FromSeconds(5)); } catch (Exception e) when (e is not OutOfMemoryException) { }
            _client.Dispose();
        }
        foreach (var (process, _, _) in _silos) process.Dispose();
    }
}
