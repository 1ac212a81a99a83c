namespace Curation.Pipelines.Storage;

/// <summary>Base of the store's own errors; always names the store and the key.</summary>
public class ObjectStoreException(string store, string key, string message, Exception? inner = null)
    : IOException($"{store}/{key}: {message}", inner)
{
    public string Store { get; } = store;
    public string Key { get; } = key;
}

public sealed class ObjectNotFoundException(string store, string key, Exception? inner = null)
    : ObjectStoreException(store, key, "object does not exist", inner);

/// <summary>A create-only write met an existing object (409).</summary>
public sealed class ObjectAlreadyExistsException(string store, string key, Exception? inner = null)
    : ObjectStoreException(store, key, "object already exists (create-only write)", inner);

/// <summary>An If-Match write met a newer version (412), or the object vanished.</summary>
public sealed class ObjectModifiedException(string store, string key, string? expectedETag, Exception? inner = null)
    : ObjectStoreException(store, key, $"object changed since ETag {expectedETag ?? "(none)"} was read", inner);

/// <summary>
/// An operation kept failing with transient errors (503, timeouts, broken connections) until its retries ran out.
/// Names the store, the object and the operation; the last transient error is the inner exception. Not retried again
/// by the store layer: the task fails, and the job with it, resumably.
/// </summary>
public sealed class ObjectStoreUnavailableException(string store, string key, string operation, int attempts, Exception inner)
    : ObjectStoreException(store, key,
        $"{operation} failed after {attempts} attempt{(attempts == 1 ? "" : "s")} with transient errors (last: {ResilientObjectStore.Describe(inner)})", inner)
{
    public string Operation { get; } = operation;
    public int Attempts { get; } = attempts;
}
