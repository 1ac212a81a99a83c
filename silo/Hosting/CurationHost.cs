using Curation.Grains.Hosting;
using Curation.Grains.Jobs;
using Curation.Grains.Schedules;
using Curation.Pipelines.Embedding;
using Curation.Pipelines.Spec;
using Curation.Pipelines.Storage;

namespace Curation.Silo.Hosting;

/// <summary>Configuration key <c>Curation:Silo:Roles</c>: what this silo may run (cpu, gpu, embed).</summary>
public static class SiloRoleOptions
{
    public const string Section = "Curation:Silo:Roles";
}

/// <summary>Builds the silo host from appsettings.json + environment (Curation__Section__Key) + overrides.</summary>
public static class CurationHost
{
    public static HostApplicationBuilder CreateBuilder(string[] args, IDictionary<string, string?>? overrides = null, bool quiet = false)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings
        {
            Args = args,
            ContentRootPath = Directory.GetCurrentDirectory(),
            Configuration = new ConfigurationManager(),
        });
        Configure(builder, overrides, quiet);
        return builder;
    }

    /// <summary>
    /// Configuration (shipped appsettings.json, a local one, the environment, then <paramref name="overrides"/>), the
    /// object stores and the Orleans silo, on any host builder (the CLI's plain host or the API's web host).
    /// </summary>
    public static void Configure(IHostApplicationBuilder builder, IDictionary<string, string?>? overrides = null, bool quiet = false)
    {
        // The shipped defaults sit next to the executable; a local appsettings.json and the environment override them.
        builder.Configuration.Sources.Clear();
        builder.Configuration.AddJsonFile(Path.Combine(AppContext.BaseDirectory, "appsettings.json"), optional: true);
        builder.Configuration.AddJsonFile(Path.Combine(Directory.GetCurrentDirectory(), "appsettings.json"), optional: true);
        builder.Configuration.AddEnvironmentVariables();
        if (overrides is not null) builder.Configuration.AddInMemoryCollection(overrides);

        if (quiet)
        {
            // The CLI draws progress bars: only errors may interleave with them. Config rules are per category,
            // so every configured category is lowered too.
            var rules = builder.Configuration.GetSection("Logging:LogLevel").GetChildren().Select(c => c.Key).Append("Default");
            builder.Configuration.AddInMemoryCollection(rules.Distinct().Select(k => KeyValuePair.Create($"Logging:LogLevel:{k}", (string?)"Error")));
            builder.Logging.ClearProviders();
            builder.Logging.AddSimpleConsole(o => o.SingleLine = true);
            // A grain state write that fails (a second `curate run` of the job changed its state) is said once, as the job's
            // error, in a sentence; Orleans' own log line of it is a stack trace.
            builder.Logging.AddFilter(typeof(Curation.Grains.Storage.ObjectStoreGrainStorage).FullName, LogLevel.Critical);
            // A failed job is said in the summary, as its error sentence; the coordinator's log line of it is that sentence
            // again with the stack trace (a long-lived silo's log keeps it).
            builder.Logging.AddFilter(typeof(JobGrain).FullName, LogLevel.Critical);
            // Once the run is over or interrupted (Ctrl+C), the silo stops under tasks still winding down; Orleans' lines
            // about messages to grains it no longer hosts are not the job's outcome, which the CLI prints.
            var stopping = new StoppingFlag();
            builder.Services.AddHostedService(services => stopping.Watch(services.GetRequiredService<IHostApplicationLifetime>()));
            builder.Logging.AddFilter("Orleans", level => level >= LogLevel.Error && !stopping.Stopping);
        }

        var cluster = builder.Configuration.GetSection(CurationClusterOptions.Section).Get<CurationClusterOptions>() ?? new CurationClusterOptions();
        builder.Services.AddCurationStores(o =>
        {
            builder.Configuration.GetSection(CurationStoreOptions.Section).Bind(o);
            // The roots submitted jobs may use confine, symbolic links resolved, every local folder a job reads or writes.
            if (builder.Configuration.GetSection("Curation:Api:AllowedRoots").Get<string[]>() is { Length: > 0 } roots)
                o.LocalRoots = [.. roots];
        });
        builder.Services.AddCurationLimits(o => builder.Configuration.GetSection(JobLimits.Section).Bind(o));
        builder.Services.AddCurationJobRegistry(o => builder.Configuration.GetSection(JobRegistryOptions.Section).Bind(o));
        builder.UseOrleans(silo =>
        {
            silo.UseCurationClustering(cluster);
            var roles = builder.Configuration.GetSection(SiloRoleOptions.Section).Get<string[]>();
            silo.AddCuration(
                o => builder.Configuration.GetSection(CurationExecutionOptions.Section).Bind(o),
                roles is { Length: > 0 } ? roles : null,
                o => builder.Configuration.GetSection(EmbeddingRuntimeOptions.Section).Bind(o),
                o => builder.Configuration.GetSection(ScheduleOptions.Section).Bind(o));
            // Orleans refuses reminder periods below this (one minute by default); a shorter check period lowers it.
            var check = builder.Configuration.GetSection(ScheduleOptions.Section).Get<ScheduleOptions>()?.CheckPeriod;
            if (check is { } period && period < TimeSpan.FromMinutes(1))
                silo.Configure<Orleans.Hosting.ReminderOptions>(o => o.MinimumReminderPeriod = period);
        });
    }
}

/// <summary>Set when the host begins to stop (the application's stopping token), for filters that quiet a stopping silo.</summary>
internal sealed class StoppingFlag : IHostedService
{
    private volatile bool _stopping;

    public bool Stopping => _stopping;

    public StoppingFlag Watch(IHostApplicationLifetime lifetime)
    {
        lifetime.ApplicationStopping.Register(() => _stopping = true);
        return this;
    }

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
