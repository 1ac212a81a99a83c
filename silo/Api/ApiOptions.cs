using Microsoft.Extensions.Options;

namespace Curation.Silo.Api;

/// <summary>Roles an API key grants: <c>viewer</c> reads; <c>operator</c> also submits and cancels.</summary>
public static class ApiRoles
{
    public const string Viewer = "viewer";
    public const string Operator = "operator";

    public static readonly IReadOnlySet<string> Known = new HashSet<string>(StringComparer.Ordinal) { Viewer, Operator };

    /// <summary>Authorization policy names.</summary>
    public const string CanRead = "curation.read";
    public const string CanOperate = "curation.operate";
}

/// <summary>One API key and its role (<c>Curation:Api:Keys</c> entries).</summary>
public sealed class ApiKeyEntry
{
    public string Key { get; set; } = "";
    public string Role { get; set; } = "";
    /// <summary>Optional name for logs and the dashboard (the key itself is never logged).</summary>
    public string? Name { get; set; }
}

/// <summary>Configuration section <c>Curation:Api</c>: the REST API and dashboard of <c>curate silo</c>.</summary>
public sealed class ApiOptions
{
    public const string Section = "Curation:Api";

    /// <summary>Where the host listens (semicolon-separated URLs).</summary>
    public string Urls { get; set; } = "http://localhost:5080";

    public List<ApiKeyEntry> Keys { get; set; } = [];

    /// <summary>
    /// Local folders (absolute) that submitted jobs may read inputs from and write outputs to. Relative paths always
    /// resolve inside the data store; <c>az://</c> paths use the configured blob account.
    /// </summary>
    public List<string> AllowedRoots { get; set; } = [];
}

public sealed class ApiOptionsValidator : IValidateOptions<ApiOptions>
{
    public ValidateOptionsResult Validate(string? name, ApiOptions options)
    {
        var failures = new List<string>();
        if (string.IsNullOrWhiteSpace(options.Urls)) failures.Add($"{ApiOptions.Section}:Urls is required.");
        for (var i = 0; i < options.Keys.Count; i++)
        {
            var entry = options.Keys[i];
            // The message names the entry, never the key.
            if (string.IsNullOrWhiteSpace(entry.Key)) failures.Add($"{ApiOptions.Section}:Keys:{i}:Key must not be empty.");
            else if (entry.Key.Length < 16) failures.Add($"{ApiOptions.Section}:Keys:{i}:Key must be at least 16 characters.");
            if (!ApiRoles.Known.Contains(entry.Role ?? ""))
                failures.Add($"{ApiOptions.Section}:Keys:{i}:Role '{entry.Role}' is not a role: use {ApiRoles.Operator} or {ApiRoles.Viewer}.");
        }
        var duplicates = options.Keys.Where(k => !string.IsNullOrEmpty(k.Key)).GroupBy(k => k.Key, StringComparer.Ordinal).Count(g => g.Count() > 1);
        if (duplicates > 0) failures.Add($"{ApiOptions.Section}:Keys holds the same key more than once ({duplicates}).");
        for (var i = 0; i < options.AllowedRoots.Count; i++)
            if (!Path.IsPathRooted(options.AllowedRoots[i]))
                failures.Add($"{ApiOptions.Section}:AllowedRoots:{i} must be an absolute folder.");
        return failures.Count > 0 ? ValidateOptionsResult.Fail(failures) : ValidateOptionsResult.Success;
    }
}
