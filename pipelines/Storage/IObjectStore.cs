namespace Curation.Pipelines.Storage;

/// <summary>
/// A flat key → bytes store: the source of truth for every stage output, manifest and piece of grain state.
/// Keys use '/' separators and never start with '/'. Every write is atomic: readers see the whole object or none.
/// </summary>
public interface IObjectStore
{
    /// <summary>Where this store points, for messages and logs (e.g. <c>file:///srv/data</c>, <c>az://curation</c>).</summary>
    string Location { get; }

    /// <summary>Metadata of one object, or null when it does not exist.</summary>
    Task<ObjectInfo?> GetInfoAsync(string key, CancellationToken cancellationToken = default);

    /// <summary>Every object whose key starts with <paramref name="prefix"/>, in ordinal key order.</summary>
    IAsyncEnumerable<ObjectInfo> ListAsync(string prefix, CancellationToken cancellationToken = default);

    /// <summary>
    /// Opens an object for streaming reads. The stream is seekable (Parquet reads its footer first).
    /// Throws <see cref="ObjectNotFoundException"/> when the key does not exist.
    /// </summary>
    Task<Stream> OpenReadAsync(string key, CancellationToken cancellationToken = default);

    /// <summary>
    /// Writes an object from a producer callback, atomically, under <paramref name="condition"/>.
    /// The callback may be invoked more than once when a transient failure forces a retry, so it must
    /// produce the same bytes each time. Throws <see cref="ObjectAlreadyExistsException"/> for a create-only
    /// write whose key exists and <see cref="ObjectModifiedException"/> when an If-Match ETag is stale.
    /// </summary>
    Task<ObjectInfo> WriteAsync(
        string key,
        Func<Stream, CancellationToken, Task> produce,
        WriteCondition condition,
        CancellationToken cancellationToken = default);

    /// <summary>
    /// <see cref="WriteAsync"/> of a finished local file, atomically, under <paramref name="condition"/>. By default the file
    /// is copied; a store that can take the file itself (a local folder store on the same file system) moves it into place.
    /// </summary>
    Task<ObjectInfo> WriteFileAsync(string key, ILocalFile file, WriteCondition condition, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(file);
        return WriteAsync(key, file.CopyToAsync, condition, cancellationToken);
    }

    /// <summary>Deletes an object; returns false when it did not exist.</summary>
    Task<bool> DeleteAsync(string key, CancellationToken cancellationToken = default);
}

/// <summary>What one object is: key, size in bytes, an opaque ETag for conditional updates, last change.</summary>
public sealed record ObjectInfo(string Key, long Size, string ETag, DateTimeOffset LastModified);

/// <summary>Preconditions of a write: the tool for idempotent, race-free commits.</summary>
public readonly record struct WriteCondition
{
    private WriteCondition(WriteConditionKind kind, string? etag) { Kind = kind; ETag = etag; }

    public WriteConditionKind Kind { get; }

    /// <summary>The ETag that must still match, for <see cref="WriteConditionKind.IfMatch"/>.</summary>
    public string? ETag { get; }

    /// <summary>Write whatever is there.</summary>
    public static WriteCondition Overwrite => new(WriteConditionKind.Overwrite, null);

    /// <summary>Create-only: fail when the key exists (HTTP 409 / If-None-Match: *).</summary>
    public static WriteCondition CreateOnly => new(WriteConditionKind.CreateOnly, null);

    /// <summary>Replace only the version we read (HTTP 412 when someone else wrote in between).</summary>
    public static WriteCondition IfMatch(string etag) => new(WriteConditionKind.IfMatch, etag);

    public override string ToString() => Kind == WriteConditionKind.IfMatch ? $"IfMatch({ETag})" : Kind.ToString();
}

public enum WriteConditionKind { Overwrite, CreateOnly, IfMatch }
