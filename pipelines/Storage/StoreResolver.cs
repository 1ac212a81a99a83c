using System.Collections.Concurrent;
using Curation.Pipelines.Spec;

namespace Curation.Pipelines.Storage;

/// <summary>Turns a spec location into the object store that holds it.</summary>
public interface IStoreResolver
{
    /// <summary>The cluster's own store: job work folders, grain state, relative output paths.</summary>
    IObjectStore DataStore { get; }

    IObjectStore Resolve(StoreLocation location);
}

/// <summary>
/// Resolves the data store, local folders (one store per root, cached) and Azure containers (when a blob service is
/// configured). One instance per process.
/// </summary>
public sealed class StoreResolver(
    IObjectStore dataStore,
    Func<string, IObjectStore> localFolderFactory,
    Func<string, IObjectStore>? azureContainerFactory = null) : IStoreResolver
{
    private readonly ConcurrentDictionary<(StoreKind, string), IObjectStore> _stores = new();

    public IObjectStore DataStore => dataStore;

    public IObjectStore Resolve(StoreLocation location) => location.Kind switch
    {
        StoreKind.DataStore => dataStore,
        StoreKind.LocalFolder => _stores.GetOrAdd((location.Kind, location.Root), key => localFolderFactory(key.Item2)),
        StoreKind.AzureBlob => azureContainerFactory is null
            ? throw new InvalidOperationException(
                $"{location}: no Azure Storage account is configured for az:// paths, so they can be neither read nor written: set " +
                $"{CurationStoreOptions.Section}:{nameof(CurationStoreOptions.ConnectionString)} (environment: " +
                $"{CurationStoreOptions.Section.Replace(":", "__", StringComparison.Ordinal)}__{nameof(CurationStoreOptions.ConnectionString)}) on every silo.")
            : _stores.GetOrAdd((location.Kind, location.Root), key => azureContainerFactory(key.Item2)),
        _ => throw new ArgumentOutOfRangeException(nameof(location)),
    };
}
