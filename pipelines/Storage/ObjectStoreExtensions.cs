using System.Text.Json;

namespace Curation.Pipelines.Storage;

/// <summary>Small conveniences over <see cref="IObjectStore"/> used across stages, grains and the CLI.</summary>
public static class ObjectStoreExtensions
{
    public static Task<ObjectInfo> WriteBytesAsync(this IObjectStore store, string key, ReadOnlyMemory<byte> bytes,
        WriteCondition condition, CancellationToken cancellationToken = default)
        => store.WriteAsync(key, (s, ct) => s.WriteAsync(bytes, ct).AsTask(), condition, cancellationToken);

    public static async Task<byte[]> ReadBytesAsync(this IObjectStore store, string key, CancellationToken cancellationToken = default)
    {
        await using var stream = await store.OpenReadAsync(key, cancellationToken).ConfigureAwait(false);
        if (stream.CanSeek && stream.Length - stream.Position <= Array.MaxLength)
        {
            // One array of the object's size: no growing buffer and final copy.
            var bytes = new byte[stream.Length - stream.Position];
            await stream.ReadExactlyAsync(bytes, cancellationToken).ConfigureAwait(false);
            return bytes;
        }
        using var buffer = new MemoryStream();
        await stream.CopyToAsync(buffer, cancellationToken).ConfigureAwait(false);
        return buffer.ToArray();
    }

    public static Task<ObjectInfo> WriteJsonAsync<T>(this IObjectStore store, string key, T value, WriteCondition condition,
        JsonSerializerOptions? options = null, CancellationToken cancellationToken = default)
        => store.WriteBytesAsync(key, JsonSerializer.SerializeToUtf8Bytes(value, options ?? CurationJson.Options), condition, cancellationToken);

    /// <summary>Reads a JSON object, or default when it does not exist.</summary>
    public static async Task<(T? Value, ObjectInfo? Info)> TryReadJsonAsync<T>(this IObjectStore store, string key,
        JsonSerializerOptions? options = null, CancellationToken cancellationToken = default)
    {
        var info = await store.GetInfoAsync(key, cancellationToken).ConfigureAwait(false);
        if (info is null) return (default, null);
        try
        {
            var bytes = await store.ReadBytesAsync(key, cancellationToken).ConfigureAwait(false);
            return (JsonSerializer.Deserialize<T>(bytes, options ?? CurationJson.Options), info);
        }
        catch (ObjectNotFoundException)
        {
            return (default, null);
        }
    }

    /// <summary>
    /// <see cref="CreateOnceAsync(IObjectStore, string, Func{Stream, CancellationToken, Task}, CancellationToken)"/> of a
    /// finished local file (<see cref="IObjectStore.WriteFileAsync"/>: moved into place where the store can take it).
    /// </summary>
    public static async Task<ObjectInfo> CreateOnceAsync(this IObjectStore store, string key, ILocalFile file, CancellationToken cancellationToken = default)
    {
        try
        {
            return await store.WriteFileAsync(key, file, WriteCondition.CreateOnly, cancellationToken).ConfigureAwait(false);
        }
        catch (ObjectAlreadyExistsException)
        {
            return await store.GetInfoAsync(key, cancellationToken).ConfigureAwait(false)
                ?? throw new ObjectNotFoundException(store.Location, key);
        }
    }

    /// <summary>
    /// Create-once write that treats "already there" as success: stage outputs are deterministic, so an object
    /// left by an earlier attempt (or a concurrent duplicate of this call) already holds the same content.
    /// </summary>
    public static async Task<ObjectInfo> CreateOnceAsync(this IObjectStore store, string key,
        Func<Stream, CancellationToken, Task> produce, CancellationToken cancellationToken = default)
    {
        try
        {
            return await store.WriteAsync(key, produce, WriteCondition.CreateOnly, cancellationToken).ConfigureAwait(false);
        }
        catch (ObjectAlreadyExistsException)
        {
            return await store.GetInfoAsync(key, cancellationToken).ConfigureAwait(false)
                ?? throw new ObjectNotFoundException(store.Location, key);
        }
    }
}
