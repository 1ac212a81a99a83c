using Curation.Grains.Jobs;
using Curation.Pipelines.Execution;
using Curation.Pipelines.Reports;
using Curation.Pipelines.Spec;
using Curation.Pipelines.Storage;

namespace Curation.Silo.Api;

/// <summary>
/// The drop explorer's API: one document's fate (kept, or dropped with stage, reason, detail and the chain of twins to
/// the kept survivor, each kept one with its text) through the output's id index, and pages of the output's drops.
/// </summary>
public static class DocumentsApi
{
    /// <summary>The most drops one page returns (a larger <c>limit</c> returns this many).</summary>
    public const int MaxDropsPage = 1000;

    public static void Map(WebApplication app)
    {
        var api = app.MapGroup("/api").RequireAuthorization(ApiRoles.CanRead).WithTags("explorer");
        api.MapGet("/jobs/{id}/documents/{docId}", FateAsync).Produces<DocumentFate>().Produces(StatusCodes.Status404NotFound)
            .WithSummary("A document's fate: kept (with its text) or dropped (stage, reason, detail) and the chain of twins to the kept document that survives.");
        api.MapGet("/jobs/{id}/drops", DropsAsync).Produces<DropsPage>()
            .WithSummary("Pages through the output's drops (optional stage and reason filters); pass the returned next as after.");
        api.MapGet("/jobs/{id}/report.html", (string id, IGrainFactory grains, IStoreResolver stores, IJobRegistry jobs, CancellationToken ct) =>
                CorpusReportAsync(id, CorpusReport.HtmlName, "text/html; charset=utf-8", grains, stores, jobs, ct))
            .WithSummary("The output's self-contained corpus report (report.html: inline SVG, no script), as written with the output.");
        api.MapGet("/jobs/{id}/report.json", (string id, IGrainFactory grains, IStoreResolver stores, IJobRegistry jobs, CancellationToken ct) =>
                CorpusReportAsync(id, CorpusReport.JsonName, "application/json", grains, stores, jobs, ct))
            .WithSummary("The output's corpus report as data (report.json): books, funnel, distributions, per-source breakdown, samples.");
    }

    private static async Task<IResult> FateAsync(string id, string docId, IGrainFactory grains, IStoreResolver stores, IJobRegistry jobs, CancellationToken cancellationToken)
    {
        var (manifest, location, problem) = await OutputAsync(id, grains, stores, jobs, cancellationToken);
        if (problem is not null) return problem;
        var store = stores.Resolve(location!);
        var chain = await DocumentLineage.FollowAsync(store, location!, manifest!, docId,
            (entry, jobId, ct) => DocumentLineage.DroppedTextAsync(stores, jobId, entry, ct), cancellationToken);
        if (chain.Count == 0) return Results.NotFound(new { error = $"job {id}: no document {docId} in its output" });
        var first = chain[0];
        var spec = await jobs.SpecAsync(id, cancellationToken);
        return Results.Json(new DocumentFate(docId, first.Entry.Kept ? "kept" : "dropped", first.Entry.Stage, first.Entry.Reason, first.Entry.Detail,
            chain.Select((step, k) => Step(step) with
            {
                Similarity = DocumentLineage.SimilarityToTwin(spec, step, k + 1 < chain.Count ? chain[k + 1] : null)?.ToString(),
            }).ToArray()),
            ApiJson.Options);
    }

    private static async Task<IResult> DropsAsync(string id, IGrainFactory grains, IStoreResolver stores, IJobRegistry jobs, CancellationToken cancellationToken,
        string? stage = null, string? reason = null, int limit = 50, string? after = null)
    {
        if (limit < 1) return Results.BadRequest(new { error = $"limit: must be ≥ 1 (at most {MaxDropsPage:N0} are returned), not {limit}" });
        var (manifest, location, problem) = await OutputAsync(id, grains, stores, jobs, cancellationToken);
        if (problem is not null) return problem;
        after = NullIfBlank(after);
        if (after is not null && !DocumentLineage.TryParseCursor(after, manifest!.Drops.Count, out _, out _))
            return Results.BadRequest(new { error = DocumentLineage.CursorError(after) });
        var (drops, next) = await DocumentLineage.DropsPageAsync(stores.Resolve(location!), location!, manifest!, NullIfBlank(stage), NullIfBlank(reason),
            Math.Min(limit, MaxDropsPage), after, cancellationToken);
        return Results.Json(new DropsPage(drops.Select(d => new DocumentStep(d.Id, d.Source, d.Position, "dropped", d.Stage, d.Reason, d.Detail, d.Twin, null, null, null))
            .ToArray(), next), ApiJson.Options);
    }

    private static async Task<IResult> CorpusReportAsync(string id, string name, string contentType, IGrainFactory grains, IStoreResolver stores, IJobRegistry jobs,
        CancellationToken cancellationToken)
    {
        var (manifest, problem) = await JobsApi.ReadManifestAsync(id, grains, stores, jobs, cancellationToken);
        if (problem is not null) return problem;
        var spec = await jobs.SpecAsync(id, cancellationToken);
        var location = StoreLocation.Parse(spec!.Output.Path);
        var key = location.KeyOf(CorpusReport.Join(manifest!.Snapshot?.Folder ?? "", name));
        var store = stores.Resolve(location);
        if (await store.GetInfoAsync(key, cancellationToken) is null)
            return Results.NotFound(new { error = $"job {id}: its output has no {name} (written before corpus reports existed)" });
        var bytes = await store.ReadBytesAsync(key, cancellationToken);
        // The report is a page of its own: no script may run in it, whatever a document holds.
        return Results.Bytes(bytes, contentType);
    }

    private static DocumentStep Step(LineageStep step) => new(step.Entry.Id, step.Entry.Source, step.Entry.Position, step.Entry.Kept ? "kept" : "dropped",
        step.Entry.Stage, step.Entry.Reason, step.Entry.Detail, step.Entry.Twin, step.Entry.Shard, step.Text, step.Snapshot);

    private static async Task<(Manifest?, StoreLocation?, IResult?)> OutputAsync(string id, IGrainFactory grains, IStoreResolver stores, IJobRegistry jobs,
        CancellationToken cancellationToken)
    {
        var (manifest, problem) = await JobsApi.ReadManifestAsync(id, grains, stores, jobs, cancellationToken);
        if (problem is not null) return (null, null, problem);
        var spec = await jobs.SpecAsync(id, cancellationToken);
        if (manifest!.IdIndex is null)
            return (null, null, Results.NotFound(new { error = $"job {id}: its output has no id index (written before the explorer existed)" }));
        return (manifest, StoreLocation.Parse(spec!.Output.Path), null);
    }

    private static string? NullIfBlank(string? value) => string.IsNullOrWhiteSpace(value) ? null : value;
}

/// <summary>A document's fate and its lineage: the document itself first, then each twin up to the kept survivor.</summary>
public sealed record DocumentFate(string Id, string Fate, string? Stage, string? Reason, string? Detail, IReadOnlyList<DocumentStep> Chain);

/// <summary>One document of a lineage (or one drop of a page) with its text: kept ones from the output, dropped ones from the job's working copy.</summary>
public sealed record DocumentStep(string Id, string Source, long Position, string Fate, string? Stage, string? Reason, string? Detail, string? Twin,
    string? Shard, string? Text, int? Snapshot)
{
    /// <summary>The similarity to its twin that decided a drop, where it can be recomputed (near duplicates: Jaccard estimated and exact).</summary>
    public string? Similarity { get; init; }
}

/// <summary>A page of drops; <see cref="Next"/> is the cursor of the following page (null at the end).</summary>
public sealed record DropsPage(IReadOnlyList<DocumentStep> Drops, string? Next);
