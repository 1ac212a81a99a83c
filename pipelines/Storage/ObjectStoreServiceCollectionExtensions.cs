using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Curation.Pipelines.Storage;

/// <summary>
/// Registers the process's <see cref="IObjectStore"/>: one provider, wrapped in <see cref="ResilientObjectStore"/>,
/// with options validated at start-up (each failure names the bad field).
/// </summary>
public static class ObjectStoreServiceCollectionExtensions
{
    public static IServiceCollection AddLocalFolderObjectStore(this IServiceCollection services, Action<LocalFolderStoreOptions> configure,
        Action<ObjectStoreResilienceOptions>? configureResilience = null)
    {
        ArgumentNullException.ThrowIfNull(configure);
        services.AddOptions<LocalFolderStoreOptions>().Configure(configure).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<LocalFolderStoreOptions>, LocalFolderStoreOptionsValidator>());
        services.AddObjectStoreResilience(configureResilience);
        services.AddSingleton<IObjectStore>(sp =>
            Resilient(sp, new LocalFolderStore(sp.GetRequiredService<IOptions<LocalFolderStoreOptions>>())));
        return services;
    }

    public static IServiceCollection AddAzureBlobObjectStore(this IServiceCollection services, Action<AzureBlobStoreOptions> configure,
        Action<ObjectStoreResilienceOptions>? configureResilience = null)
    {
        ArgumentNullException.ThrowIfNull(configure);
        services.AddOptions<AzureBlobStoreOptions>().Configure(configure).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<AzureBlobStoreOptions>, AzureBlobStoreOptionsValidator>());
        services.AddObjectStoreResilience(configureResilience);
        services.AddSingleton<IObjectStore>(sp =>
        {
            var options = sp.GetRequiredService<IOptions<AzureBlobStoreOptions>>().Value;
            var resilience = sp.GetRequiredService<IOptions<ObjectStoreResilienceOptions>>().Value;
            return Resilient(sp, new AzureBlobStore(AzureBlobStore.CreateContainerClient(options, resilience), resilience, options.ReadBufferSize));
        });
        return services;
    }

    /// <summary>The retry policy's options; called by both providers, callable again to adjust them.</summary>
    public static IServiceCollection AddObjectStoreResilience(this IServiceCollection services, Action<ObjectStoreResilienceOptions>? configure = null)
    {
        var builder = services.AddOptions<ObjectStoreResilienceOptions>().ValidateOnStart();
        if (configure is not null) builder.Configure(configure);
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<ObjectStoreResilienceOptions>, ObjectStoreResilienceOptionsValidator>());
        return services;
    }

    private static ResilientObjectStore Resilient(IServiceProvider services, IObjectStore store)
        => new(store, services.GetRequiredService<IOptions<ObjectStoreResilienceOptions>>().Value,
            services.GetService<ILoggerFactory>()?.CreateLogger<ResilientObjectStore>());
}
