using System.Net;
using Azure.Data.Tables;
using Curation.Grains.Reminders;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using StackExchange.Redis;

namespace Curation.Grains.Hosting;

/// <summary>How silos find each other (membership) and keep reminders.</summary>
public enum ClusteringKind
{
    /// <summary>One machine, no external service: the embedded default (reminders in the data store).</summary>
    Localhost,

    /// <summary>Membership and reminders in Azure Table Storage (Azurite locally).</summary>
    AzureTable,

    /// <summary>Membership and reminders in Redis.</summary>
    Redis,
}

/// <summary>Configuration section <c>Curation:Cluster</c>: how this silo (or client) joins its cluster.</summary>
public sealed class CurationClusterOptions
{
    public const string Section = "Curation:Cluster";

    public ClusteringKind Clustering { get; set; } = ClusteringKind.Localhost;

    /// <summary>Azure Storage connection string (AzureTable) or Redis configuration string (Redis, e.g. <c>localhost:6379</c>).</summary>
    public string? ConnectionString { get; set; }

    public int SiloPort { get; set; } = 11111;
    public int GatewayPort { get; set; } = 30000;
    public string ClusterId { get; set; } = "curation";
    public string ServiceId { get; set; } = "curation";

    /// <summary>The address other silos reach this one at; null lets Orleans pick this host's address.</summary>
    public string? AdvertisedAddress { get; set; }

    /// <summary>Running in Kubernetes: pod name, namespace and address come from the pod (Orleans Kubernetes hosting).</summary>
    public bool Kubernetes { get; set; }

    /// <summary>How long one membership probe may take before it counts as missed (Orleans default when null).</summary>
    public TimeSpan? ProbeTimeout { get; set; }

    /// <summary>Missed probes after which a silo is suspected dead (Orleans default when null).</summary>
    public int? MissedProbesLimit { get; set; }
}

public sealed class CurationClusterOptionsValidator : IValidateOptions<CurationClusterOptions>
{
    public ValidateOptionsResult Validate(string? name, CurationClusterOptions options) => Problems(options) is { Count: > 0 } problems
        ? ValidateOptionsResult.Fail(problems)
        : ValidateOptionsResult.Success;

    public static List<string> Problems(CurationClusterOptions options)
    {
        var section = CurationClusterOptions.Section;
        var problems = new List<string>();
        if (options.Clustering != ClusteringKind.Localhost && string.IsNullOrWhiteSpace(options.ConnectionString))
            problems.Add($"{section}:ConnectionString is required when Clustering is {options.Clustering}.");
        if (options.SiloPort is < 1 or > 65535) problems.Add($"{section}:SiloPort {options.SiloPort} is not a TCP port.");
        if (options.GatewayPort is < 1 or > 65535) problems.Add($"{section}:GatewayPort {options.GatewayPort} is not a TCP port.");
        if (options.SiloPort == options.GatewayPort) problems.Add($"{section}:SiloPort and GatewayPort must differ.");
        if (string.IsNullOrWhiteSpace(options.ClusterId)) problems.Add($"{section}:ClusterId is required.");
        if (string.IsNullOrWhiteSpace(options.ServiceId)) problems.Add($"{section}:ServiceId is required.");
        if (options.AdvertisedAddress is { } address && !IPAddress.TryParse(address, out _))
            problems.Add($"{section}:AdvertisedAddress '{address}' is not an IP address.");
        if (options.Kubernetes && options.Clustering == ClusteringKind.Localhost)
            problems.Add($"{section}:Kubernetes needs AzureTable or Redis clustering.");
        if (options.ProbeTimeout is { } probe && probe <= TimeSpan.Zero) problems.Add($"{section}:ProbeTimeout must be positive.");
        if (options.MissedProbesLimit is < 1) problems.Add($"{section}:MissedProbesLimit must be at least 1.");
        return problems;
    }

    public static void ThrowIfInvalid(CurationClusterOptions options)
    {
        if (Problems(options) is { Count: > 0 } problems)
            throw new OptionsValidationException(CurationClusterOptions.Section, typeof(CurationClusterOptions), problems);
    }
}

public static class CurationClusteringExtensions
{
    /// <summary>
    /// Membership, endpoints and reminders for a silo: localhost (reminders in the data store), Azure Table or Redis — one
    /// switch in configuration, the same everywhere else.
    /// </summary>
    public static ISiloBuilder UseCurationClustering(this ISiloBuilder silo, CurationClusterOptions options)
    {
        CurationClusterOptionsValidator.ThrowIfInvalid(options);
        silo.Services.AddSingleton(Options.Create(options));
        switch (options.Clustering)
        {
            case ClusteringKind.Localhost:
                silo.UseLocalhostClustering(options.SiloPort, options.GatewayPort, serviceId: options.ServiceId, clusterId: options.ClusterId);
                // Reminders (schedules) in the data store: they survive a restart of the embedded silo.
                silo.UseObjectStoreReminderService();
                return silo;
            case ClusteringKind.AzureTable:
                silo.UseAzureStorageClustering(o => o.TableServiceClient = new TableServiceClient(options.ConnectionString));
                silo.UseAzureTableReminderService(o => o.TableServiceClient = new TableServiceClient(options.ConnectionString));
                break;
            case ClusteringKind.Redis:
                silo.UseRedisClustering(o => o.ConfigurationOptions = ConfigurationOptions.Parse(options.ConnectionString!));
                silo.UseRedisReminderService(o => o.ConfigurationOptions = ConfigurationOptions.Parse(options.ConnectionString!));
                break;
        }
        silo.Configure<ClusterOptions>(o => (o.ClusterId, o.ServiceId) = (options.ClusterId, options.ServiceId));
        if (options.Kubernetes) silo.UseKubernetesHosting();
        else if (options.AdvertisedAddress is { } address)
            silo.ConfigureEndpoints(IPAddress.Parse(address), options.SiloPort, options.GatewayPort, listenOnAnyHostAddress: true);
        else silo.ConfigureEndpoints(options.SiloPort, options.GatewayPort);
        silo.Configure<ClusterMembershipOptions>(o =>
        {
            if (options.ProbeTimeout is { } probe) o.ProbeTimeout = probe;
            if (options.MissedProbesLimit is { } missed) o.NumMissedProbesLimit = missed;
        });
        return silo;
    }

    /// <summary>The client side of <see cref="UseCurationClustering(ISiloBuilder, CurationClusterOptions)"/>: reach the cluster's gateways.</summary>
    public static IClientBuilder UseCurationClustering(this IClientBuilder client, CurationClusterOptions options)
    {
        CurationClusterOptionsValidator.ThrowIfInvalid(options);
        switch (options.Clustering)
        {
            case ClusteringKind.Localhost:
                client.UseLocalhostClustering(options.GatewayPort, options.ServiceId, options.ClusterId);
                return client;
            case ClusteringKind.AzureTable:
                client.UseAzureStorageClustering(o => o.TableServiceClient = new TableServiceClient(options.ConnectionString));
                break;
            case ClusteringKind.Redis:
                client.UseRedisClustering(o => o.ConfigurationOptions = ConfigurationOptions.Parse(options.ConnectionString!));
                break;
        }
        client.Configure<ClusterOptions>(o => (o.ClusterId, o.ServiceId) = (options.ClusterId, options.ServiceId));
        return client;
    }
}
