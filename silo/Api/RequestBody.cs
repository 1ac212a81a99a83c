using System.Text;
using Curation.Pipelines.Spec;

namespace Curation.Silo.Api;

/// <summary>
/// Reads a request body of at most <see cref="JobLimits.MaxSpecBytes"/> (plus a little room for a schedule's other
/// fields): a larger one is refused before it is parsed, so a huge spec never costs the silo its memory.
/// </summary>
public static class RequestBody
{
    /// <summary>Room for the fields around a spec (a schedule's id, cron, time zone).</summary>
    private const int Envelope = 4096;

    /// <summary>The body as text, or the 413 to answer (naming the limit).</summary>
    public static async Task<(string? Text, IResult? Problem)> ReadAsync(HttpRequest request, JobLimits limits)
    {
        var max = (long)limits.MaxSpecBytes + Envelope;
        if (request.ContentLength > max) return (null, TooLarge(request.ContentLength.Value, limits));
        using var buffer = new MemoryStream();
        var chunk = new byte[81920];
        int read;
        while ((read = await request.Body.ReadAsync(chunk, request.HttpContext.RequestAborted)) > 0)
        {
            if (buffer.Length + read > max) return (null, TooLarge(buffer.Length + read, limits));
            buffer.Write(chunk, 0, read);
        }
        return (Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length), null);
    }

    private static IResult TooLarge(long bytes, JobLimits limits)
    {
        Curation.Grains.Hosting.MemoryTrim.Request(); // what was read of it is garbage now
        var message = $"the request is {bytes:N0} bytes or more; a spec may be at most {limits.MaxSpecBytes:N0} bytes ({JobLimits.Section}:{nameof(JobLimits.MaxSpecBytes)})";
        return Results.Json(new ValidationProblem("invalid job spec: $: " + message, [new FieldError("$", message)]),
            statusCode: StatusCodes.Status413PayloadTooLarge);
    }
}
