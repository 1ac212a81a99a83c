using System.Text.Json;
using Curation.Grains;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.Extensions.Options;

namespace Curation.Silo.Api;

/// <summary>
/// A job as it runs: its stored throughput history (the dashboard's chart, across reloads and for finished jobs) and a
/// server-sent event stream of its view, pushed when it changes, until the job is final (the dashboard falls back to
/// polling <c>GET /api/jobs/{id}</c> when the stream cannot be opened).
/// </summary>
public static class JobLiveApi
{
    /// <summary>How often the stream looks at the job; it sends only when the view changed (and a comment every 15 s).</summary>
    public static readonly TimeSpan StreamInterval = TimeSpan.FromMilliseconds(500);

    public static void Map(WebApplication app)
    {
        var api = app.MapGroup("/api").RequireAuthorization(ApiRoles.CanRead).WithTags("jobs");
        api.MapGet("/jobs/{id}/history", HistoryAsync).Produces<ThroughputSample[]>().Produces(StatusCodes.Status404NotFound)
            .WithSummary("The job's throughput history: documents processed in all, sampled every few seconds while it ran (stored with the job).");
        api.MapGet("/jobs/{id}/events", EventsAsync).Produces(StatusCodes.Status200OK, contentType: "text/event-stream")
            .Produces(StatusCodes.Status404NotFound)
            .WithSummary("Server-sent events: `event: job` with the job's view (as GET /api/jobs/{id}) whenever it changes, until it is final.");
    }

    private static async Task<IResult> HistoryAsync(string id, IGrainFactory grains)
    {
        if (await JobsApi.StatusAsync(id, grains) is null) return Results.NotFound(new { error = $"no job {id}" });
        return Results.Ok(await ResilientGrainCalls.CallAsync(() => grains.GetGrain<IJobGrain>(id).GetHistory()));
    }

    private static async Task EventsAsync(string id, HttpContext http, IGrainFactory grains, TimeProvider clock, IOptions<JsonOptions> json)
    {
        var cancellationToken = http.RequestAborted;
        var status = await JobsApi.StatusAsync(id, grains);
        if (status is null)
        {
            http.Response.StatusCode = StatusCodes.Status404NotFound;
            await http.Response.WriteAsJsonAsync(new { error = $"no job {id}" }, cancellationToken);
            return;
        }
        http.Response.ContentType = "text/event-stream";
        http.Response.Headers.CacheControl = "no-cache";
        http.Response.Headers["X-Accel-Buffering"] = "no"; // a proxy in front must not hold the events back
        string? last = null;
        var quiet = TimeProvider.System.GetTimestamp();
        try
        {
            while (true)
            {
                var current = JobView.Of(status, clock.GetUtcNow());
                // The elapsed time alone changes every call: it is left out of the comparison and sent with the event.
                var view = JsonSerializer.Serialize(current with { ElapsedSeconds = null }, json.Value.SerializerOptions);
                if (view != last)
                {
                    var sent = JsonSerializer.Serialize(current, json.Value.SerializerOptions);
                    await http.Response.WriteAsync($"event: job\ndata: {sent}\n\n", cancellationToken);
                    await http.Response.Body.FlushAsync(cancellationToken);
                    last = view;
                    quiet = TimeProvider.System.GetTimestamp();
                }
                else if (TimeProvider.System.GetElapsedTime(quiet) > TimeSpan.FromSeconds(15))
                {
                    await http.Response.WriteAsync(": still running\n\n", cancellationToken);
                    await http.Response.Body.FlushAsync(cancellationToken);
                    quiet = TimeProvider.System.GetTimestamp();
                }
                if (status.IsFinal) return;
                await Task.Delay(StreamInterval, cancellationToken);
                status = await JobsApi.StatusAsync(id, grains) ?? status;
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The client went away.
        }
    }
}
