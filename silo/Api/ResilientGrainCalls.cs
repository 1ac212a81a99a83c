using Curation.Grains;

namespace Curation.Silo.Api;

/// <summary>
/// The API's grain calls ride over a silo's death: a call that failed because a silo died or could not be reached is
/// made again (with backoff) until the cluster's membership has decided about that silo, for at most
/// <see cref="Limit"/>. Every call the API makes is safe to repeat (status reads, cancel, and submit, which is
/// idempotent by job id).
/// </summary>
public static class ResilientGrainCalls
{
    /// <summary>How long one request keeps trying (membership declares a dead silo dead well within it).</summary>
    public static TimeSpan Limit { get; set; } = TimeSpan.FromSeconds(60);

    public static async Task<T> CallAsync<T>(Func<Task<T>> call, ILogger? logger = null, CancellationToken cancellationToken = default)
    {
        var started = DateTime.UtcNow;
        var delay = TimeSpan.FromMilliseconds(200);
        while (true)
        {
            try
            {
                return await call();
            }
            catch (Exception e) when (SiloLoss.Is(e) && DateTime.UtcNow - started < Limit && !cancellationToken.IsCancellationRequested)
            {
                logger?.LogWarning("A grain call failed because a silo left the cluster or cannot be reached; calling again: {Error}", e.Message);
                await Task.Delay(delay, cancellationToken);
                delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, TimeSpan.FromSeconds(2).Ticks));
            }
        }
    }
}

/// <summary>
/// Security headers on every response and an explaining sentence instead of a bare 500: a grain call that still
/// fails for a lost silo answers 503 with Retry-After, any other unexpected failure 500 with a sentence (the detail
/// goes to the silo's log).
/// </summary>
public static class ApiResponsePolicy
{
    /// <summary>The dashboard's scripts and styles are files of its own: nothing inline, nothing from elsewhere.</summary>
    public const string ContentSecurityPolicy =
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; " +
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

    public static void Use(WebApplication app)
    {
        app.Use(async (http, next) =>
        {
            SetHeaders(http);
            try
            {
                await next(http);
            }
            catch (Exception e) when (!http.Response.HasStarted && !http.RequestAborted.IsCancellationRequested)
            {
                var log = http.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger("Curation.Api");
                log.LogError(e, "{Method} {Path} failed", http.Request.Method, http.Request.Path);
                var (status, sentence) = SiloLoss.Is(e) || e is TimeoutException
                    ? (StatusCodes.Status503ServiceUnavailable,
                        $"{SiloLoss.Explain(e)}; the cluster is still deciding about it, so try again in a few seconds")
                    : (StatusCodes.Status500InternalServerError,
                        $"the server could not handle this request ({e.GetType().Name}: {e.Message.Split('\n')[0].Trim()}); the silo's log has the details");
                http.Response.Clear();
                SetHeaders(http);
                http.Response.StatusCode = status;
                if (status == StatusCodes.Status503ServiceUnavailable) http.Response.Headers.RetryAfter = "2";
                http.Response.Headers.CacheControl = "no-store";
                await http.Response.WriteAsJsonAsync(new { error = sentence });
            }
        });
    }

    private static void SetHeaders(HttpContext http)
    {
        var headers = http.Response.Headers;
        headers.ContentSecurityPolicy = ContentSecurityPolicy;
        headers.XContentTypeOptions = "nosniff";
        headers.XFrameOptions = "DENY";
        headers["Referrer-Policy"] = "no-referrer";
        // API answers carry jobs, documents and reports: no browser or proxy keeps a copy.
        if (http.Request.Path.StartsWithSegments("/api") || http.Request.Path.StartsWithSegments("/metrics"))
            headers.CacheControl = "no-store";
    }
}
