using System.Text.Json;
using Curation.Pipelines;
using Curation.Pipelines.Storage;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Orleans.Runtime.Hosting;
using Orleans.Storage;

namespace Curation.Grains.Storage;

/// <summary>
/// Grain state kept in the object store (invariant: the store is the source of truth), one JSON object per grain
/// under <c>{prefix}{stateName}/{grain key}.json</c>, with ETag-conditional writes so a stale activation cannot
/// overwrite a newer state.
/// </summary>
public sealed class ObjectStoreGrainStorage(string name, IObjectStore store, ObjectStoreGrainStorageOptions options) : IGrainStorage
{
    public string Name => name;

    public string KeyOf(string stateName, GrainId grainId) =>
        $"{options.KeyPrefix}{stateName}/{Uri.EscapeDataString(grainId.Key.ToString()!)}.json";

    public async Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        var key = KeyOf(stateName, grainId);
        var info = await store.GetInfoAsync(key).ConfigureAwait(false);
        if (info is null)
        {
            grainState.State = Activator.CreateInstance<T>();
            grainState.ETag = null;
            grainState.RecordExists = false;
            return;
        }
        var bytes = await store.ReadBytesAsync(key).ConfigureAwait(false);
        grainState.State = JsonSerializer.Deserialize<T>(bytes, CurationJson.Options) ?? Activator.CreateInstance<T>();
        grainState.ETag = info.ETag;
        grainState.RecordExists = true;
    }

    public async Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        var key = KeyOf(stateName, grainId);
        var condition = grainState.ETag is null ? WriteCondition.CreateOnly : WriteCondition.IfMatch(grainState.ETag);
        var bytes = JsonSerializer.SerializeToUtf8Bytes(grainState.State, CurationJson.Options);
        try
        {
            var info = await store.WriteBytesAsync(key, bytes, condition).ConfigureAwait(false);
            grainState.ETag = info.ETag;
            grainState.RecordExists = true;
        }
        catch (Exception e) when (e is ObjectAlreadyExistsException or ObjectModifiedException)
        {
            // A retried write whose first attempt was applied but whose answer was lost (a 503 or a timeout after the
            // server committed) meets its own version: the stored bytes are exactly ours, so the write did happen.
            if (await TryReadOwnWriteAsync(key, bytes).ConfigureAwait(false) is { } own)
            {
                grainState.ETag = own.ETag;
                grainState.RecordExists = true;
                return;
            }
            throw new InconsistentStateException($"State {key} was changed by another activation: {e.Message}", grainState.ETag, e);
        }
    }

    private async Task<ObjectInfo?> TryReadOwnWriteAsync(string key, byte[] written)
    {
        var info = await store.GetInfoAsync(key).ConfigureAwait(false);
        if (info is null || info.Size != written.Length) return null;
        try
        {
            var stored = await store.ReadBytesAsync(key).ConfigureAwait(false);
            // Still the version the info describes? Compare again after reading, so the ETag goes with these bytes.
            var after = await store.GetInfoAsync(key).ConfigureAwait(false);
            return stored.AsSpan().SequenceEqual(written) && after?.ETag == info.ETag ? info : null;
        }
        catch (ObjectNotFoundException)
        {
            return null;
        }
    }

    public async Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        await store.DeleteAsync(KeyOf(stateName, grainId)).ConfigureAwait(false);
        grainState.ETag = null;
        grainState.RecordExists = false;
        grainState.State = Activator.CreateInstance<T>();
    }
}

public sealed class ObjectStoreGrainStorageOptions
{
    /// <summary>Key prefix of grain state objects in the data store.</summary>
    public string KeyPrefix { get; set; } = "state/";
}

public sealed class ObjectStoreGrainStorageOptionsValidator : IValidateOptions<ObjectStoreGrainStorageOptions>
{
    public ValidateOptionsResult Validate(string? name, ObjectStoreGrainStorageOptions options) =>
        string.IsNullOrWhiteSpace(options.KeyPrefix) || options.KeyPrefix.StartsWith('/') || !options.KeyPrefix.EndsWith('/')
            ? ValidateOptionsResult.Fail($"{nameof(ObjectStoreGrainStorageOptions.KeyPrefix)} must be a relative folder ending in '/' (got '{options.KeyPrefix}').")
            : ValidateOptionsResult.Success;
}

public static class ObjectStoreGrainStorageExtensions
{
    /// <summary>Registers grain storage <paramref name="name"/> over the data store (<see cref="IStoreResolver.DataStore"/>).</summary>
    public static IServiceCollection AddObjectStoreGrainStorage(this IServiceCollection services, string name,
        Action<ObjectStoreGrainStorageOptions>? configure = null)
    {
        services.AddOptions<ObjectStoreGrainStorageOptions>(name).Configure(configure ?? (_ => { }));
        services.AddSingleton<IValidateOptions<ObjectStoreGrainStorageOptions>, ObjectStoreGrainStorageOptionsValidator>();
        return services.AddGrainStorage(name, (sp, n) =>
        {
            var options = sp.GetRequiredService<IOptionsMonitor<ObjectStoreGrainStorageOptions>>().Get(n);
            return new ObjectStoreGrainStorage(n, sp.GetRequiredService<IStoreResolver>().DataStore, options);
        });
    }
}
