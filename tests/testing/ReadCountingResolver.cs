using System.Collections.Concurrent;
using Curation.Pipelines.Spec;
using Curation.Pipelines.Storage;

namespace Curation.Testing;

/// <summary>
/// Records every object opened for reading in local-folder inputs (the corpus), so a test can tell what a run read;
/// the data store and other locations pass through untouched.
/// </summary>
public sealed class ReadCountingResolver(IStoreResolver inner) : IStoreResolver
{
    private readonly ConcurrentDictionary<string, IObjectStore> _stores = new();

    /// <summary>Keys opened for reading, in any order.</summary>
    public ConcurrentBag<string> Reads { get; } = [];

    /// <summary>Prefixes listed, in any order.</summary>
    public ConcurrentBag<string> Listings { get; } = [];

    public IObjectStore DataStore => inner.DataStore;

    public IObjectStore Resolve(StoreLocation location) => location.Kind == StoreKind.LocalFolder
        ? _stores.GetOrAdd(location.Root, _ => new CountingStore(inner.Resolve(location), Reads, Listings))
        : inner.Resolve(location);

    private sealed class CountingStore(IObjectStore inner, ConcurrentBag<string> reads, ConcurrentBag<string> listings) : IObjectStore
    {
        public string Location => inner.Location;
        public Task<ObjectInfo?> GetInfoAsync(string key, CancellationToken cancellationToken = default) => inner.GetInfoAsync(key, cancellationToken);
        public IAsyncEnumerable<ObjectInfo> ListAsync(string prefix, CancellationToken cancellationToken = default)
        {
            listings.Add(prefix);
            return inner.ListAsync(prefix, cancellationToken);
        }

        public Task<Stream> OpenReadAsync(string key, CancellationToken cancellationToken = default)
        {
            reads.Add(key);
            return inner.OpenReadAsync(key, cancellationToken);
        }

        public Task<ObjectInfo> WriteAsync(string key, Func<Stream, CancellationToken, Task> produce, WriteCondition condition,
            CancellationToken cancellationToken = default) => inner.WriteAsync(key, produce, condition, cancellationToken);

        public Task<bool> DeleteAsync(string key, CancellationToken cancellationToken = default) => inner.DeleteAsync(key, cancellationToken);
    }
}
