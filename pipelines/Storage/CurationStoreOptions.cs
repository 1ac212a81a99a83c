using Azure.Core.Pipeline;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Curation.Pipelines.Storage;

public enum DataStoreKind { LocalFolder, AzureBlob }

/// <summary>
/// Configuration section <c>Curation:Store</c>: where the cluster keeps job work folders, grain state and relative
/// outputs, plus the Azure account used for <c>az://</c> paths.
/// </summary>
public sealed class CurationStoreOptions
{
    public const string Section = "Curation:Store";

    public DataStoreKind Kind { get; set; } = DataStoreKind.LocalFolder;

    /// <summary>Local folder of the data store (Kind = LocalFolder).</summary>
    public string RootPath { get; set; } = "./data";

    /// <summary>Azure Storage connection string: the data store's (Kind = AzureBlob) and the one az:// paths use.</summary>
    public string? ConnectionString { get; set; }

    /// <summary>Container of the data store (Kind = AzureBlob).</summary>
    public string ContainerName { get; set; } = "curation";

    public ObjectStoreResilienceOptions Resilience { get; set; } = new();

    /// <summary>
    /// When not empty, the local folders that jobs name (inputs, outputs) must really lie inside these roots, symbolic
    /// links resolved: the silo host sets them from <c>Curation:Api:AllowedRoots</c>. The data store itself is not
    /// confined (it is the operator's own folder).
    /// </summary>
    public List<string> LocalRoots { get; set; } = [];

    /// <summary>
    /// HTTP transport of every Azure blob client (the data store and az:// paths): code only, never from
    /// configuration (a proxy, or a fault-injecting handler in tests). Null: the SDK's default.
    /// </summary>
    public HttpPipelineTransport? Transport { get; set; }
}

public sealed class CurationStoreOptionsValidator : IValidateOptions<CurationStoreOptions>
{
    public ValidateOptionsResult Validate(string? name, CurationStoreOptions options)
    {
        var failures = new List<string>();
        if (options.Kind == DataStoreKind.LocalFolder && string.IsNullOrWhiteSpace(options.RootPath))
            failures.Add($"{CurationStoreOptions.Section}:RootPath is required when Kind is LocalFolder.");
        else if (options.Kind == DataStoreKind.LocalFolder && File.Exists(Path.GetFullPath(options.RootPath)))
            failures.Add($"{CurationStoreOptions.Section}:RootPath '{Path.GetFullPath(options.RootPath)}' is a file: the data store is a folder (it is created when missing).");
        if (options.Kind == DataStoreKind.AzureBlob && string.IsNullOrWhiteSpace(options.ConnectionString))
            failures.Add($"{CurationStoreOptions.Section}:ConnectionString is required when Kind is AzureBlob.");
        if (options.Kind == DataStoreKind.AzureBlob && AzureBlobStoreOptionsValidator.ContainerNameProblem(options.ContainerName) is { } problem)
            failures.Add($"{CurationStoreOptions.Section}:ContainerName '{options.ContainerName}' {problem}.");
        var resilience = new ObjectStoreResilienceOptionsValidator().Validate(name, options.Resilience);
        if (resilience.Failed) failures.AddRange(resilience.Failures);
        return failures.Count > 0 ? ValidateOptionsResult.Fail(failures) : ValidateOptionsResult.Success;
    }
}

public static class CurationStoreServiceCollectionExtensions
{
    /// <summary>Registers the process's <see cref="IStoreResolver"/> built from <see cref="CurationStoreOptions"/>.</summary>
    public static IServiceCollection AddCurationStores(this IServiceCollection services, Action<CurationStoreOptions> configure)
    {
        services.AddOptions<CurationStoreOptions>().Configure(configure).ValidateOnStart();
        services.AddSingleton<IValidateOptions<CurationStoreOptions>, CurationStoreOptionsValidator>();
        services.AddSingleton<IStoreResolver>(sp => CreateResolver(sp.GetRequiredService<IOptions<CurationStoreOptions>>().Value));
        return services;
    }

    /// <summary>The resolver for a configuration, without DI (CLI, tests, benchmarks).</summary>
    public static IStoreResolver CreateResolver(CurationStoreOptions options)
    {
        new CurationStoreOptionsValidator().ThrowIfInvalid(options);
        Func<string, IObjectStore>? azure = string.IsNullOrWhiteSpace(options.ConnectionString)
            ? null
            : AzureBlobStore.CreateContainerStoreFactory(
                new AzureBlobStoreOptions { ConnectionString = options.ConnectionString, Transport = options.Transport }, options.Resilience);
        IObjectStore data = options.Kind == DataStoreKind.AzureBlob
            ? azure!(options.ContainerName)
            : LocalFolderStore.Create(Path.GetFullPath(options.RootPath), options.Resilience);
        var confinedTo = options.LocalRoots.Count > 0 ? new AllowedRoots(options.LocalRoots) : null;
        return new StoreResolver(data, root => LocalFolderStore.Create(root, options.Resilience, confinedTo), azure);
    }
}
