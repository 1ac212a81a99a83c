using System.Text.RegularExpressions;
using Curation.Grains;
using Microsoft.AspNetCore.WebUtilities;

namespace Curation.Silo.Api;

/// <summary>
/// Security headers on every response and an explaining sentence instead of a bare status: a grain call that still
/// fails for a lost silo answers 503 with Retry-After, any other unexpected failure 500 with a sentence (the detail
/// goes to the silo's log), a query value that cannot be read 400 naming it (<c>limit: 'abc' is not a whole
/// number</c>), and an /api answer left without a body (unknown route, wrong method, a body that is not JSON) says why.
/// </summary>
public static partial class ApiResponsePolicy
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
                if (!http.Response.HasStarted && http.Response.StatusCode >= 400 && http.Request.Path.StartsWithSegments("/api"))
                    await WriteErrorAsync(http, http.Response.StatusCode, BareStatusSentence(http));
            }
            catch (BadHttpRequestException e) when (!http.Response.HasStarted)
            {
                await WriteErrorAsync(http, e.StatusCode, BadRequestSentence(e));
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
                await WriteErrorAsync(http, status, sentence);
            }
        });
    }

    private static async Task WriteErrorAsync(HttpContext http, int status, string sentence)
    {
        var allow = http.Response.Headers.Allow;
        http.Response.Clear();
        SetHeaders(http);
        http.Response.StatusCode = status;
        if (status == StatusCodes.Status503ServiceUnavailable) http.Response.Headers.RetryAfter = "2";
        if (status == StatusCodes.Status405MethodNotAllowed) http.Response.Headers.Allow = allow;
        http.Response.Headers.CacheControl = "no-store";
        await http.Response.WriteAsJsonAsync(new { error = sentence });
    }

    /// <summary>A request value that could not be read (route handlers throw, see <c>RouteHandlerOptions.ThrowOnBadRequest</c>), said in the API's words.</summary>
    internal static string BadRequestSentence(BadHttpRequestException e)
    {
        var bind = BindFailure().Match(e.Message);
        if (!bind.Success) return e.Message;
        var type = bind.Groups["type"].Value;
        if (type.StartsWith("Nullable<", StringComparison.Ordinal)) type = type["Nullable<".Length..^1];
        var expected = type.TrimEnd('?') switch
        {
            "int" or "long" or "short" => "a whole number",
            "double" or "float" or "decimal" => "a number",
            "bool" => "true or false",
            _ => $"a {type}",
        };
        return $"{bind.Groups["name"].Value}: '{bind.Groups["value"].Value}' is not {expected}";
    }

    /// <summary>An /api answer that an endpoint or the routing left without a body (404, 405, 415…) still says why.</summary>
    private static string BareStatusSentence(HttpContext http)
    {
        var request = $"{http.Request.Method} {http.Request.Path}";
        return http.Response.StatusCode switch
        {
            StatusCodes.Status404NotFound => $"{request}: not found (the API's routes are listed in /openapi/v1.json)",
            StatusCodes.Status405MethodNotAllowed => $"{request}: the method is not allowed here (allowed: {http.Response.Headers.Allow})",
            StatusCodes.Status415UnsupportedMediaType => $"{request}: the body must be JSON, sent with Content-Type: application/json " +
                $"(it came as '{http.Request.ContentType}')",
            var status => $"{request}: {ReasonPhrases.GetReasonPhrase(status)}",
        };
    }

    [GeneratedRegex("^Failed to bind parameter \"(?<type>\\S+) (?<name>[^\"]+)\" from \"(?<value>.*)\"\\.$", RegexOptions.Singleline)]
    private static partial Regex BindFailure();

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
