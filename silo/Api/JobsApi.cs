using System.Text.Json;
using System.Text.RegularExpressions;
using Curation.Grains;
using Curation.Grains.Hosting;
using Curation.Grains.Jobs;
using Curation.Grains.Placement;
using Curation.Pipelines;
using Curation.Pipelines.Execution;
using Curation.Pipelines.IO;
using Curation.Pipelines.Spec;
using Curation.Pipelines.Storage;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;
using Orleans.Runtime.MembershipService.SiloMetadata;

namespace Curation.Silo.Api;

/// <summary>The REST API: jobs (submit, list, get, cancel, report, manifest, sample documents), silos and the caller's role.</summary>
public static partial class JobsApi
{
    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")]
    private static partial Regex JobIdPattern();

    public static void Map(WebApplication app)
    {
        var api = app.MapGroup("/api").RequireAuthorization(ApiRoles.CanRead).WithTags("jobs");

        api.MapPost("/jobs", SubmitAsync).RequireAuthorization(ApiRoles.CanOperate)
            .Accepts<JsonElement>("application/json")
            .Produces<SubmitResult>(StatusCodes.Status202Accepted).Produces<ValidationProblem>(StatusCodes.Status400BadRequest)
            .Produces<ValidationProblem>(StatusCodes.Status413PayloadTooLarge)
            .WithSummary("Submit a job spec (validated; 400 names every bad field). Submitting the same spec again resumes it.");
        api.MapGet("/jobs", ListAsync).WithSummary("Every job the cluster knows, newest first.");
        api.MapGet("/jobs/{id}", GetAsync).Produces<JobView>().Produces(StatusCodes.Status404NotFound)
            .WithSummary("A job's state, per-stage progress, throughput, timings, books, funnel and errors.");
        api.MapPost("/jobs/{id}/cancel", CancelAsync).RequireAuthorization(ApiRoles.CanOperate).Produces<JobView>()
            .WithSummary("Stop a job: running tasks are cancelled and no manifest is written (finished tasks stay: resubmit resumes).");
        api.MapGet("/jobs/{id}/manifest", ManifestAsync).WithSummary("The output's manifest.json (404 until the job completed).");
        api.MapGet("/jobs/{id}/report", ReportAsync).WithSummary("The job's report: status, books, funnel, per-stage metrics (histograms, eps curve) and errors.");
        api.MapGet("/jobs/{id}/documents", DocumentsAsync).Produces<DocumentView[]>()
            .WithSummary("A sample of curated documents (first rows of the first shard), for a look at the output.");
        api.MapGet("/jobs/{id}/snapshots", SnapshotsAsync).Produces<SnapshotSummary[]>().Produces(StatusCodes.Status404NotFound)
            .WithSummary("The kept snapshots of the versioned corpus a job publishes to (output.snapshots), newest first.");
        api.MapGet("/silos", SilosAsync).WithTags("cluster").Produces<SiloView[]>().WithSummary("The cluster's silos, their roles and health.");
        api.MapGet("/me", (HttpContext http) => Results.Ok(new
        {
            name = http.User.Identity?.Name,
            role = http.User.IsInRole(ApiRoles.Operator) ? ApiRoles.Operator : ApiRoles.Viewer,
        })).WithTags("auth").WithSummary("The caller's role (the dashboard shows operator controls only to operators).");
    }

    private static async Task<IResult> SubmitAsync(HttpRequest request, IGrainFactory grains, IOptions<ApiOptions> options, IOptions<JobLimits> limits,
        IStoreResolver stores, ILoggerFactory logs)
    {
        var (body, tooLarge) = await RequestBody.ReadAsync(request, limits.Value);
        if (body is null) return tooLarge!;
        JobSpec spec;
        try
        {
            spec = JobSpec.Parse(body);
        }
        catch (JobSpecException e)
        {
            return Invalid(e.Errors);
        }
        var errors = JobSpecValidator.Validate(spec, limits.Value, stores.DataStore.Location).ToList();
        // A path the validator already refused (the store's own folders) is not reported twice.
        errors.AddRange(SubmissionPolicy.Check(spec, options.Value.AllowedRoots).Where(e => errors.All(known => known.Field != e.Field)).ToList());
        if (errors.Count > 0) return Invalid(errors);

        var jobId = JobContext.JobIdOf(spec);
        // Submit is idempotent by job id: a call repeated after a silo died resumes or reports the same job.
        var log = logs.CreateLogger("Curation.Api");
        var json = spec.ToJson();
        var status = await ResilientGrainCalls.CallAsync(() => grains.GetGrain<IJobGrain>(jobId).Submit(json), log, request.HttpContext.RequestAborted);
        log.LogInformation("Job {JobId} submitted by {Caller}", jobId, request.HttpContext.User.Identity?.Name);
        var location = $"/api/jobs/{Uri.EscapeDataString(jobId)}";
        return Results.Accepted(location, new SubmitResult(jobId, status.State, location));
    }

    private static IResult Invalid(IEnumerable<SpecError> errors)
    {
        MemoryTrim.Request(); // a refused spec (possibly a large one) is garbage now
        var list = errors.Select(e => new FieldError(e.Field, e.Message)).ToList();
        return Results.BadRequest(new ValidationProblem("invalid job spec: " + string.Join("; ", list.Select(e => $"{e.Field}: {e.Message}")), list));
    }

    private static async Task<IResult> ListAsync(IJobRegistry registry, CancellationToken cancellationToken)
    {
        var jobs = new List<JobSummary>();
        await foreach (var (id, s) in registry.ListAsync(cancellationToken))
            jobs.Add(new JobSummary(id, s.Name, s.State, s.StartedAt, s.CompletedAt, s.Phases.Sum(p => p.Done), s.Phases.Sum(p => p.Total),
                s.Accounting?.InputRecords, s.Accounting?.Kept, s.Error));
        return Results.Ok(jobs.OrderByDescending(j => j.StartedAt).ThenBy(j => j.JobId, StringComparer.Ordinal));
    }

    internal static async Task<JobStatus?> StatusAsync(string id, IGrainFactory grains)
    {
        if (!JobIdPattern().IsMatch(id)) return null;
        var status = await ResilientGrainCalls.CallAsync(() => grains.GetGrain<IJobGrain>(id).GetStatus());
        // A key that was never submitted activates an empty coordinator: no such job.
        return status.State == JobState.Pending && status.Name.Length == 0 ? null : status;
    }

    private static async Task<IResult> GetAsync(string id, IGrainFactory grains, TimeProvider clock)
    {
        var status = await StatusAsync(id, grains);
        return status is null ? NotFound(id) : Results.Ok(JobView.Of(status, clock.GetUtcNow()));
    }

    private static async Task<IResult> CancelAsync(string id, IGrainFactory grains, TimeProvider clock, HttpContext http, ILoggerFactory logs)
    {
        var status = await StatusAsync(id, grains);
        if (status is null) return NotFound(id);
        status = await ResilientGrainCalls.CallAsync(() => grains.GetGrain<IJobGrain>(id).Cancel(), cancellationToken: http.RequestAborted);
        logs.CreateLogger("Curation.Api").LogInformation("Job {JobId} cancel requested by {Caller}: {State}", id, http.User.Identity?.Name, status.State);
        return Results.Ok(JobView.Of(status, clock.GetUtcNow()));
    }

    internal static async Task<(Manifest? Manifest, IResult? Problem)> ReadManifestAsync(string id, IGrainFactory grains, IStoreResolver stores, IJobRegistry jobs,
        CancellationToken cancellationToken)
    {
        var status = await StatusAsync(id, grains);
        if (status is null) return (null, NotFound(id));
        if (status.State != JobState.Completed)
            return (null, Results.NotFound(new { error = $"job {id} is {status.State}: its manifest is written when it completes" }));
        var spec = await jobs.SpecAsync(id, cancellationToken);
        if (spec is null) return (null, NotFound(id));
        var location = StoreLocation.Parse(spec.Output.Path);
        // A versioned corpus' job writes its manifest into its snapshot's folder, which its plan names.
        var key = spec.Output.Snapshots ? (await JobContext.LoadAsync(id, stores, cancellationToken)).ManifestKey : location.KeyOf(Manifest.FileName);
        var (manifest, _) = await stores.Resolve(location).TryReadJsonAsync<Manifest>(key, CurationJson.Options, cancellationToken);
        return manifest is null ? (null, Results.NotFound(new { error = $"job {id}: no manifest at its output" })) : (manifest, null);
    }

    private static async Task<IResult> ManifestAsync(string id, IGrainFactory grains, IStoreResolver stores, IJobRegistry jobs, CancellationToken cancellationToken)
    {
        var (manifest, problem) = await ReadManifestAsync(id, grains, stores, jobs, cancellationToken);
        return problem ?? Results.Json(manifest, ApiJson.Options);
    }

    private static async Task<IResult> ReportAsync(string id, IGrainFactory grains, IStoreResolver stores, IJobRegistry jobs, TimeProvider clock, CancellationToken cancellationToken)
    {
        var status = await StatusAsync(id, grains);
        if (status is null) return NotFound(id);
        var spec = await jobs.SpecAsync(id, cancellationToken);
        Manifest? manifest = null;
        if (status.State == JobState.Completed) (manifest, _) = await ReadManifestAsync(id, grains, stores, jobs, cancellationToken);
        return Results.Ok(new
        {
            job = JobView.Of(status, clock.GetUtcNow()),
            spec = spec is null ? (JsonElement?)null : JsonSerializer.Deserialize<JsonElement>(spec.ToJson()),
            // The stages' structured reports (semantic_dedup: eps used, eps curve, M histogram, cluster sizes; d4;
            // near_dedup), by stage folder: the dashboard draws its histograms and the 1 − eps line from them.
            reports = manifest?.Reports ?? [],
            metrics = manifest?.Metrics ?? [],
            errors = manifest?.Errors ?? [],
            shards = manifest?.Shards.Count,
        });
    }

    /// <summary>The most documents one sample returns (a larger <c>limit</c> returns this many).</summary>
    private const int MaxDocumentsPage = 200;

    private static async Task<IResult> DocumentsAsync(string id, IGrainFactory grains, IStoreResolver stores, IJobRegistry jobs, CancellationToken cancellationToken, int limit = 20)
    {
        if (limit < 1) return Results.BadRequest(new { error = $"limit: must be ≥ 1 (at most {MaxDocumentsPage} are returned), not {limit}" });
        var (manifest, problem) = await ReadManifestAsync(id, grains, stores, jobs, cancellationToken);
        if (problem is not null) return problem;
        var spec = await jobs.SpecAsync(id, cancellationToken);
        var location = StoreLocation.Parse(spec!.Output.Path);
        var documents = new List<DocumentView>();
        limit = Math.Min(limit, MaxDocumentsPage);
        foreach (var shard in manifest!.Shards)
        {
            if (documents.Count >= limit) break;
            var bytes = await stores.Resolve(location).ReadBytesAsync(location.KeyOf(shard.Key), cancellationToken);
            await foreach (var (docId, source, text) in JsonlShardFile.ReadDocumentsAsync(new MemoryStream(bytes), shard.Key, cancellationToken))
            {
                documents.Add(new DocumentView(docId, source, text.Length > 2000 ? text[..2000] + "…" : text));
                if (documents.Count >= limit) break;
            }
        }
        return Results.Ok(documents);
    }

    private static async Task<IResult> SilosAsync(IGrainFactory grains, [FromServices] ISiloMetadataCache metadata)
    {
        var hosts = await ResilientGrainCalls.CallAsync(() => grains.GetGrain<IManagementGrain>(0).GetDetailedHosts(onlyActive: false));
        return Results.Ok(hosts.OrderBy(h => h.SiloName, StringComparer.Ordinal).Select(h => new SiloView(
            h.SiloAddress.ToString(), h.SiloName, h.Status.ToString(),
            SiloRoles.Parse(metadata.GetSiloMetadata(h.SiloAddress).Metadata.GetValueOrDefault(SiloRoles.MetadataKey)).Order(StringComparer.Ordinal).ToArray(),
            h.Status == SiloStatus.Active, h.StartTime == default ? null : new DateTimeOffset(h.StartTime, TimeSpan.Zero),
            h.IAmAliveTime == default ? null : new DateTimeOffset(h.IAmAliveTime, TimeSpan.Zero))));
    }

    private static async Task<IResult> SnapshotsAsync(string id, IStoreResolver stores, IJobRegistry jobs, CancellationToken cancellationToken)
    {
        var spec = await jobs.SpecAsync(id, cancellationToken);
        if (spec is null) return NotFound(id);
        if (!spec.Output.Snapshots) return Results.NotFound(new { error = $"job {id} does not write a versioned corpus (output.snapshots is not set)" });
        return Results.Ok(await CorpusSnapshots.ListAsync(stores, spec.Output.Path, cancellationToken));
    }

    private static IResult NotFound(string id) => Results.NotFound(new { error = $"no job {id}" });
}
