using Curation.Pipelines.Spec;
using Curation.Pipelines.Storage;

namespace Curation.Testing;

/// <summary>Opened by default; closed, every held call waits (cancellably) until it opens.</summary>
public sealed class StoreGate
{
    private volatile TaskCompletionSource _open = Opened();

    private static TaskCompletionSource Opened()
    {
        var open = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        open.SetResult();
        return open;
    }

    public void Close() => _open = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
    public void Open() => _open.TrySetResult();
    public Task WaitAsync(CancellationToken cancellationToken) => _open.Task.WaitAsync(cancellationToken);
}

/// <summary>A store call a <see cref="GatedResolver"/> may hold: a read or write of <paramref name="Key"/>, in the data store or an input.</summary>
public readonly record struct StoreCall(bool InDataStore, bool IsWrite, string Key);

/// <summary>
/// Holds the store calls <paramref name="holds"/> picks while <paramref name="gate"/> is closed: how a test keeps a run
/// "still going" at a chosen point without racing it (holding is cancellable, so cancelling the job still works).
/// Listing and metadata calls pass through.
/// </summary>
public sealed class GatedResolver(IStoreResolver inner, StoreGate gate, Func<StoreCall, bool> holds) : IStoreResolver
{
    private readonly IObjectStore _dataStore = new GatedStore(inner.DataStore, gate, holds, inDataStore: true);

    public IObjectStore DataStore => _dataStore;

    public IObjectStore Resolve(StoreLocation location) => location.Kind switch
    {
        StoreKind.DataStore => _dataStore,
        StoreKind.LocalFolder => new GatedStore(inner.Resolve(location), gate, holds, inDataStore: false),
        _ => inner.Resolve(location),
    };

    private sealed class GatedStore(IObjectStore inner, StoreGate gate, Func<StoreCall, bool> holds, bool inDataStore) : IObjectStore
    {
        public string Location => inner.Location;
        public Task<ObjectInfo?> GetInfoAsync(string key, CancellationToken cancellationToken = default) => inner.GetInfoAsync(key, cancellationToken);
        public IAsyncEnumerable<ObjectInfo> ListAsync(string prefix, CancellationToken cancellationToken = default) => inner.ListAsync(prefix, cancellationToken);

        public async Task<Stream> OpenReadAsync(string key, CancellationToken cancellationToken = default)
        {
            if (holds(new StoreCall(inDataStore, IsWrite: false, key))) await gate.WaitAsync(cancellationToken);
            return await inner.OpenReadAsync(key, cancellationToken);
        }

        public async Task<ObjectInfo> WriteAsync(string key, Func<Stream, CancellationToken, Task> produce, WriteCondition condition,
            CancellationToken cancellationToken = default)
        {
            if (holds(new StoreCall(inDataStore, IsWrite: true, key))) await gate.WaitAsync(cancellationToken);
            return await inner.WriteAsync(key, produce, condition, cancellationToken);
        }

        public Task<bool> DeleteAsync(string key, CancellationToken cancellationToken = default) => inner.DeleteAsync(key, cancellationToken);
    }
}
