using Curation.Grains;
using Curation.Pipelines.Execution;
using Curation.Pipelines.Stages;
using Curation.Pipelines.Storage;

namespace Curation.Silo.Api;

/// <summary>
/// What-if thresholds for a completed job: which stages have thresholds to move, and for one of them the curve "documents
/// removed at threshold t", the count at a requested t and the adjusted spec — a new job (own name and output) that an
/// operator submits through <c>POST /api/jobs</c>; nothing here changes the job or its output.
/// </summary>
public static class WhatIfApi
{
    public sealed record WhatIfOption(string Stage, string Folder, IReadOnlyList<string> Fields);

    public static void Map(WebApplication app)
    {
        var api = app.MapGroup("/api").RequireAuthorization(ApiRoles.CanRead).WithTags("what-if");
        api.MapGet("/jobs/{id}/whatif", WhatIfAsync).Produces<WhatIf.Answer>().Produces<WhatIfOption[]>()
            .Produces(StatusCodes.Status404NotFound).Produces(StatusCodes.Status409Conflict)
            .WithSummary("Without stage: the stages whose thresholds can move. With stage (folder, index or type), field and threshold: the curve of " +
                         "documents removed at each threshold (exact for near_dedup and semantic_dedup), the count at threshold and the adjusted spec as a new job.");
    }

    private static async Task<IResult> WhatIfAsync(string id, IGrainFactory grains, IStoreResolver stores, CancellationToken cancellationToken,
        string? stage = null, string? field = null, double? threshold = null)
    {
        var status = await JobsApi.StatusAsync(id, grains);
        if (status is null) return Results.NotFound(new { error = $"no job {id}" });
        if (status.State != JobState.Completed) return Results.Conflict(new { error = $"job {id} is {status.State}: the what-if reads a completed job's stored measures" });
        var job = await JobContext.LoadAsync(id, stores, cancellationToken);
        if (string.IsNullOrWhiteSpace(stage))
            return Results.Json(WhatIf.Options(job).Select(o => new WhatIfOption(o.Stage.Name, o.Stage.Folder, o.Fields)).ToArray(), ApiJson.Options);
        var found = WhatIf.FindStage(job, stage);
        if (found is null) return Results.NotFound(new { error = $"job {id} has no stage {stage}" });
        try
        {
            return Results.Json(await WhatIf.ComputeAsync(job, found, string.IsNullOrWhiteSpace(field) ? null : field, threshold, cancellationToken), ApiJson.Options);
        }
        catch (ArgumentException e)
        {
            return Results.BadRequest(new { error = e.Message });
        }
        catch (InvalidOperationException e)
        {
            return Results.Conflict(new { error = e.Message });
        }
    }
}
