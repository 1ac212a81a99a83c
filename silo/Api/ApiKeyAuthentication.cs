using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;

namespace Curation.Silo.Api;

/// <summary>
/// Authenticates a request by its API key (<c>X-Api-Key: …</c> or <c>Authorization: Bearer …</c>) against
/// <see cref="ApiOptions.Keys"/>, giving the key's role as a role claim. Keys are compared by SHA-256 in constant
/// time and never logged: logs name the key's entry (its name or index) only.
/// </summary>
public sealed class ApiKeyAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options,
    ILoggerFactory loggerFactory,
    UrlEncoder encoder,
    IOptionsMonitor<ApiOptions> api) : AuthenticationHandler<AuthenticationSchemeOptions>(options, loggerFactory, encoder)
{
    public const string SchemeName = "ApiKey";
    public const string HeaderName = "X-Api-Key";

    protected override Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var presented = PresentedKey(Request.Headers);
        if (presented is null) return Task.FromResult(AuthenticateResult.NoResult());

        var hash = SHA256.HashData(Encoding.UTF8.GetBytes(presented));
        var keys = api.CurrentValue.Keys;
        for (var i = 0; i < keys.Count; i++)
        {
            if (string.IsNullOrEmpty(keys[i].Key)) continue;
            if (!CryptographicOperations.FixedTimeEquals(hash, SHA256.HashData(Encoding.UTF8.GetBytes(keys[i].Key)))) continue;
            var name = keys[i].Name ?? $"key #{i}";
            var identity = new ClaimsIdentity(
                [new Claim(ClaimTypes.Name, name), new Claim(ClaimTypes.Role, keys[i].Role)], SchemeName);
            return Task.FromResult(AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), SchemeName)));
        }
        Logger.LogInformation("Rejected an unknown API key from {Remote}", Context.Connection.RemoteIpAddress);
        return Task.FromResult(AuthenticateResult.Fail("unknown API key"));
    }

    protected override Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        Response.StatusCode = StatusCodes.Status401Unauthorized;
        Response.Headers.WWWAuthenticate = $"Bearer realm=\"curation\", {HeaderName}";
        // A key that was sent but is not one of the cluster's is told apart from no key (a typo, a rotated key).
        return Response.WriteAsJsonAsync(new
        {
            error = PresentedKey(Request.Headers) is null
                ? $"an API key is required ({HeaderName} header or Authorization: Bearer)"
                : $"this API key is not one of the cluster's keys ({ApiOptions.Section}:Keys)",
        });
    }

    protected override Task HandleForbiddenAsync(AuthenticationProperties properties)
    {
        Response.StatusCode = StatusCodes.Status403Forbidden;
        return Response.WriteAsJsonAsync(new { error = "this API key's role may not do this" });
    }

    private static string? PresentedKey(IHeaderDictionary headers)
    {
        var key = headers[HeaderName].ToString();
        if (key.Length > 0) return key;
        var authorization = headers.Authorization.ToString();
        return authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) && authorization.Length > 7 ? authorization[7..].Trim() : null;
    }
}
