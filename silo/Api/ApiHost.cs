using System.Reflection;
using System.Text.Json.Serialization;
using Curation.Grains.Hosting;
using Curation.Pipelines.Storage;
using Curation.Silo.Hosting;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using OpenTelemetry.Metrics;

namespace Curation.Silo.Api;

/// <summary>
/// The long-lived host of <c>curate silo</c>: the Orleans silo with, in the same process, the REST API (API keys with
/// roles), the OpenAPI document, the dashboard, <c>/healthz</c> and Prometheus metrics (<c>/metrics</c>).
/// </summary>
public static class ApiHost
{
    /// <param name="configure">Last changes to the builder (tests: log capture).</param>
    public static WebApplication Create(string[] args, IDictionary<string, string?>? overrides = null, Action<WebApplicationBuilder>? configure = null)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = Directory.GetCurrentDirectory() });
        CurationHost.Configure(builder, overrides);

        var api = builder.Configuration.GetSection(ApiOptions.Section);
        builder.Services.AddOptions<ApiOptions>().Bind(api).ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<ApiOptions>, ApiOptionsValidator>();
        builder.WebHost.UseUrls((api.Get<ApiOptions>() ?? new ApiOptions()).Urls.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));

        builder.Services.AddAuthentication(ApiKeyAuthenticationHandler.SchemeName)
            .AddScheme<AuthenticationSchemeOptions, ApiKeyAuthenticationHandler>(ApiKeyAuthenticationHandler.SchemeName, null);
        builder.Services.AddAuthorizationBuilder()
            .AddPolicy(ApiRoles.CanRead, p => p.RequireRole(ApiRoles.Viewer, ApiRoles.Operator))
            .AddPolicy(ApiRoles.CanOperate, p => p.RequireRole(ApiRoles.Operator));
        builder.Services.ConfigureHttpJsonOptions(o =>
        {
            o.SerializerOptions.Converters.Add(new JsonStringEnumConverter());
            o.SerializerOptions.Encoder = ApiJson.Relaxed; // every script as UTF-8 (see ApiJson)
        });
        // A query value that cannot be read (limit=abc) is thrown, so ApiResponsePolicy answers it with a sentence, not an empty 400.
        builder.Services.Configure<RouteHandlerOptions>(o => o.ThrowOnBadRequest = true);
        builder.Services.AddOpenApi(o => o.AddDocumentTransformer((document, _, _) =>
        {
            document.Info.Title = "Curation API";
            document.Info.Description = $"Jobs, silos and reports. Every /api call needs an API key ({ApiKeyAuthenticationHandler.HeaderName} or Authorization: Bearer): " +
                "viewer keys read, operator keys also submit and cancel.";
            return Task.CompletedTask;
        }));
        builder.Services.AddHealthChecks().AddCheck<ClusterHealthCheck>("orleans");
        builder.Services.AddOpenTelemetry().WithMetrics(metrics => metrics
            .AddMeter(CurationMetrics.MeterName, ObjectStoreMetrics.MeterName)
            .AddPrometheusExporter());

        var shutdownTimeout = builder.Configuration.GetValue(ShutdownWatchdog.TimeoutKey, ShutdownWatchdog.DefaultTimeout);
        // The graceful stop gets three quarters of it; the watchdog ends the process just before it runs out.
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = shutdownTimeout * 0.75);

        configure?.Invoke(builder);
        var validated = ConfigurationErrors.ValidatedOptions(builder.Services);
        var app = builder.Build();
        ConfigurationErrors.ValidateNow(app.Services, validated);
        ApiResponsePolicy.Use(app);
        app.UseAuthentication();
        app.UseAuthorization();
        app.MapOpenApi().AllowAnonymous();
        app.MapHealthChecks("/healthz", new HealthCheckOptions
        {
            ResponseWriter = (http, report) => http.Response.WriteAsJsonAsync(new
            {
                status = report.Status.ToString(),
                checks = report.Entries.ToDictionary(e => e.Key, e => new { status = e.Value.Status.ToString(), e.Value.Description }),
            }),
        }).AllowAnonymous();
        app.MapPrometheusScrapingEndpoint("/metrics").AllowAnonymous();
        JobsApi.Map(app);
        SchedulesApi.Map(app);
        DocumentsApi.Map(app);
        JobLiveApi.Map(app);
        WhatIfApi.Map(app);
        Dashboard.Map(app);

        var options = app.Services.GetRequiredService<IOptions<ApiOptions>>().Value;
        if (options.Keys.Count == 0)
            app.Logger.LogWarning("No API keys are configured ({Section}:Keys): every /api call will be refused.", ApiOptions.Section);
        return app;
    }
}

/// <summary>Healthy when this silo sees at least one active silo in its cluster (itself included).</summary>
public sealed class ClusterHealthCheck(IGrainFactory grains) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            var hosts = await grains.GetGrain<IManagementGrain>(0).GetHosts(onlyActive: true, CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(5), cancellationToken);
            return hosts.Count > 0 ? HealthCheckResult.Healthy($"{hosts.Count} active silo(s)") : HealthCheckResult.Unhealthy("no active silo");
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            return HealthCheckResult.Unhealthy("the cluster does not answer: " + e.Message);
        }
    }
}

/// <summary>Serves the dashboard (HTML, CSS, JS embedded in this assembly). The page itself is public; its data needs a key.</summary>
public static class Dashboard
{
    private static readonly Assembly Assembly = typeof(Dashboard).Assembly;

    public static void Map(WebApplication app)
    {
        app.MapGet("/", () => Results.Redirect("/dashboard/")).ExcludeFromDescription();
        app.MapGet("/dashboard/{*file}", (string? file) =>
        {
            var name = string.IsNullOrEmpty(file) ? "index.html" : file;
            if (name.Contains("..", StringComparison.Ordinal) || Assembly.GetManifestResourceInfo("wwwroot/" + name) is null) return Results.NotFound();
            var type = Path.GetExtension(name) switch
            {
                ".html" => "text/html; charset=utf-8",
                ".js" => "text/javascript; charset=utf-8",
                ".css" => "text/css; charset=utf-8",
                ".svg" => "image/svg+xml",
                _ => "application/octet-stream",
            };
            return Results.Stream(Assembly.GetManifestResourceStream("wwwroot/" + name)!, type);
        }).AllowAnonymous().ExcludeFromDescription();
    }
}

/// <summary>
/// A silo exits within its shutdown timeout (<c>Curation:Silo:ShutdownTimeout</c>) after SIGTERM, even when its
/// graceful stop cannot finish — e.g. the membership store (Redis, Azure Table) is unreachable and Orleans keeps
/// retrying to write its own departure. Its work is not lost: the coordinators resume tasks elsewhere.
/// </summary>
public static class ShutdownWatchdog
{
    public const string TimeoutKey = "Curation:Silo:ShutdownTimeout";
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(20);

    /// <summary>Arms the watchdog of a silo process (<c>curate silo</c>); never in a process that hosts more than the silo, such as tests.</summary>
    public static void Arm(WebApplication app)
    {
        var timeout = app.Configuration.GetValue(TimeoutKey, DefaultTimeout);
        var stopped = new ManualResetEventSlim();
        app.Lifetime.ApplicationStopped.Register(stopped.Set);
        app.Lifetime.ApplicationStopping.Register(() =>
        {
            var timer = new Thread(() =>
            {
                if (stopped.Wait(timeout * 0.95)) return;
                app.Logger.LogCritical("Shutdown did not finish within {Timeout} ({Key}); the membership store may be unreachable. Exiting now: " +
                    "the other silos take over this silo's work once membership declares it dead.", timeout, TimeoutKey);
                Console.Out.Flush();
                // Environment.Exit would wait for the host's own exit handlers, which wait for the stuck stop.
                System.Diagnostics.Process.GetCurrentProcess().Kill();
            })
            { IsBackground = true, Name = "shutdown watchdog" };
            timer.Start();
        });
    }
}
