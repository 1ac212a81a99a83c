using System.Runtime.CompilerServices;
using System.Text.Json;
using Curation.Pipelines;
using Curation.Pipelines.Spec;
using Curation.Pipelines.Storage;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Curation.Grains.Jobs;

/// <summary>
/// The jobs the cluster knows, for the API's job list, its spec look-ups and the resume scan: each job coordinator's
/// state as it last persisted it (after every phase and at the end). Read-only; a job's live status is its grain's.
/// </summary>
public interface IJobRegistry
{
    /// <summary>Every stored job, in the store's key order.</summary>
    IAsyncEnumerable<StoredJob> ListAsync(CancellationToken cancellationToken = default);

    /// <summary>One job's stored state; null when no job of that id was ever submitted.</summary>
    Task<StoredJob?> GetAsync(string jobId, CancellationToken cancellationToken = default);
}

/// <summary>A job and its coordinator's state as last persisted.</summary>
public sealed record StoredJob(string JobId, JobGrainState State)
{
    /// <summary>The job's spec as submitted; null for a state that has none (never submitted).</summary>
    public JobSpec? Spec => State.SpecJson is { } json ? JobSpec.Parse(json) : null;
}

/// <summary>What every registry offers on top of the two reads.</summary>
public static class JobRegistryExtensions
{
    /// <summary>Ids of the jobs whose stored state is Running (a lost coordinator's job among them).</summary>
    public static async IAsyncEnumerable<string> RunningJobIdsAsync(this IJobRegistry registry,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await foreach (var job in registry.ListAsync(cancellationToken).ConfigureAwait(false))
            if (job.State.State == JobState.Running)
                yield return job.JobId;
    }

    /// <summary>A job's spec as submitted; null when no job of that id is stored.</summary>
    public static async Task<JobSpec?> SpecAsync(this IJobRegistry registry, string jobId, CancellationToken cancellationToken = default) =>
        (await registry.GetAsync(jobId, cancellationToken).ConfigureAwait(false))?.Spec;
}

/// <summary>Configuration section <c>Curation:Jobs</c>: how the job registry reads the stored jobs.</summary>
public sealed class JobRegistryOptions
{
    public const string Section = "Curation:Jobs";

    /// <summary>
    /// Stored states a listing reads ahead in parallel (in key order all the same): a remote store's job list then costs a
    /// few round trips, not one per job.
    /// </summary>
    public int ListReadAhead { get; set; } = 8;
}

public sealed class JobRegistryOptionsValidator : IValidateOptions<JobRegistryOptions>
{
    public const int MaxReadAhead = 256;

    public ValidateOptionsResult Validate(string? name, JobRegistryOptions options) => options.ListReadAhead is < 1 or > MaxReadAhead
        ? ValidateOptionsResult.Fail($"{JobRegistryOptions.Section}:ListReadAhead must be between 1 and {MaxReadAhead} (it is {options.ListReadAhead}).")
        : ValidateOptionsResult.Success;
}

/// <summary>
/// The registry over the coordinators' persisted state in the data store: <c>state/job/{escaped id}.json</c>, written by
/// the grain storage as JSON. A state deleted between the listing and its read is skipped.
/// </summary>
public sealed class ObjectStoreJobRegistry(IStoreResolver stores, IOptions<JobRegistryOptions> options) : IJobRegistry
{
    /// <summary>Where the grain storage keeps the job coordinators' state.</summary>
    public static string StatePrefix => $"state/{JobGrain.StateName}/";

    public ObjectStoreJobRegistry(IStoreResolver stores) : this(stores, Options.Create(new JobRegistryOptions()))
    {
    }

    private IObjectStore Store => stores.DataStore;

    /// <summary>The key of a job's stored state.</summary>
    public static string KeyOf(string jobId) => $"{StatePrefix}{Uri.EscapeDataString(jobId)}.json";

    public async IAsyncEnumerable<StoredJob> ListAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var readAhead = Math.Clamp(options.Value.ListReadAhead, 1, JobRegistryOptionsValidator.MaxReadAhead);
        var pending = new Queue<Task<StoredJob?>>();
        await foreach (var info in Store.ListAsync(StatePrefix, cancellationToken).ConfigureAwait(false))
        {
            if (!info.Key.EndsWith(".json", StringComparison.Ordinal) || info.Key[StatePrefix.Length..].Contains('/')) continue;
            pending.Enqueue(ReadAsync(info.Key, Uri.UnescapeDataString(Path.GetFileNameWithoutExtension(info.Key)), cancellationToken));
            if (pending.Count >= readAhead && await pending.Dequeue().ConfigureAwait(false) is { } job) yield return job;
        }
        while (pending.Count > 0)
            if (await pending.Dequeue().ConfigureAwait(false) is { } job) yield return job;
    }

    public Task<StoredJob?> GetAsync(string jobId, CancellationToken cancellationToken = default) => ReadAsync(KeyOf(jobId), jobId, cancellationToken);

    private async Task<StoredJob?> ReadAsync(string key, string jobId, CancellationToken cancellationToken)
    {
        byte[] bytes;
        try
        {
            bytes = await Store.ReadBytesAsync(key, cancellationToken).ConfigureAwait(false);
        }
        catch (ObjectNotFoundException)
        {
            return null;
        }
        return JsonSerializer.Deserialize<JobGrainState>(bytes, CurationJson.Options) is { } state ? new StoredJob(jobId, state) : null;
    }
}

public static class JobRegistryServiceCollectionExtensions
{
    /// <summary>
    /// Registers <see cref="IJobRegistry"/> over the data store (<c>AddCurationStores</c>) with its options; a second call
    /// adds its configure only (the host binds <see cref="JobRegistryOptions.Section"/>).
    /// </summary>
    public static IServiceCollection AddCurationJobRegistry(this IServiceCollection services, Action<JobRegistryOptions>? configure = null)
    {
        services.AddOptions<JobRegistryOptions>().Configure(configure ?? (_ => { })).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<JobRegistryOptions>, JobRegistryOptionsValidator>());
        services.TryAddSingleton<IJobRegistry, ObjectStoreJobRegistry>();
        return services;
    }
}
