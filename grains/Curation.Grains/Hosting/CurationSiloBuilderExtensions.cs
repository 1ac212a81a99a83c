using Curation.Grains.Jobs;
using Curation.Grains.Placement;
using Curation.Grains.Schedules;
using Curation.Grains.Storage;
using Curation.Grains.Workers;
using Curation.Pipelines.Embedding;
using Curation.Pipelines.Execution;
using Curation.Pipelines.Spec;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using Orleans.Serialization;

namespace Curation.Grains.Hosting;

public static class CurationSiloBuilderExtensions
{
    /// <summary>Name of the grain storage provider that keeps grain state in the data store.</summary>
    public const string StorageName = "curation";

    /// <summary>
    /// Makes a silo a Curation worker: job coordinators and task grains, grain state in the object store, task slots,
    /// and the resume scan. The object stores come from <c>AddCurationStores</c>.
    /// </summary>
    /// <param name="schedules">Schedule settings (<c>Curation:Schedules</c>); a silo that fires schedules also needs a reminder service.</param>
    public static ISiloBuilder AddCuration(this ISiloBuilder silo, Action<CurationExecutionOptions>? configure = null,
        IEnumerable<string>? roles = null, Action<EmbeddingRuntimeOptions>? embedding = null, Action<ScheduleOptions>? schedules = null)
    {
        var services = silo.Services;
        silo.AddSiloRoles(roles ?? SiloRoles.Default);
        services.AddOptions<EmbeddingRuntimeOptions>().Configure(embedding ?? (_ => { })).ValidateOnStart();
        services.AddSingleton<IValidateOptions<EmbeddingRuntimeOptions>, EmbeddingRuntimeOptionsValidator>();
        services.AddSingleton(sp => new EmbeddingRuntime(sp.GetRequiredService<IOptions<EmbeddingRuntimeOptions>>().Value, sp.GetRequiredService<ILoggerFactory>()));
        services.AddSingleton(sp => new StageServices(sp.GetRequiredService<EmbeddingRuntime>(), sp.GetRequiredService<ILocalSiloDetails>().SiloAddress.ToString()));
        services.AddSingleton<TaskRunner>();
        silo.AddIncomingGrainCallFilter<PortableExceptionsFilter>();
        services.AddSerializer(serializer => serializer.AddCurationTypes());
        services.AddObjectStoreGrainStorage(StorageName);
        services.AddOptions<CurationExecutionOptions>().Configure(configure ?? (_ => { })).ValidateOnStart();
        services.AddSingleton<IValidateOptions<CurationExecutionOptions>, CurationExecutionOptionsValidator>();
        services.AddOptions<SiloMessagingOptions>()
            .Configure<IOptions<CurationExecutionOptions>>((messaging, execution) => messaging.ResponseTimeout = execution.Value.TaskTimeout);
        services.AddCurationLimits(); // bound to Curation:Limits by the host; a second registration only adds a no-op configure
        services.AddSingleton<JobContextCache>();
        services.AddSingleton(sp => new TaskSlots(sp.GetRequiredService<IOptions<CurationExecutionOptions>>().Value.EffectiveTaskSlots));
        services.AddCurationJobRegistry(); // the host binds Curation:Jobs; the resume scan and the API read jobs through it
        services.AddHostedService<ResumeRunningJobsService>();
        services.AddOptions<ScheduleOptions>().Configure(schedules ?? (_ => { })).ValidateOnStart();
        services.AddSingleton<IValidateOptions<ScheduleOptions>, ScheduleOptionsValidator>();
        // Tests register a ScheduleClock over a fake TimeProvider first; everyone else gets the system clock.
        services.TryAddSingleton(new ScheduleClock(TimeProvider.System));
        return silo;
    }
}
