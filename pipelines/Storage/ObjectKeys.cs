namespace Curation.Pipelines.Storage;

/// <summary>
/// The key rules every store enforces, so a key that works on a laptop works on Azure and cannot escape the
/// local root: '/'-separated non-empty segments, no "." or "..", no backslash, no leading '/', no control characters.
/// </summary>
public static class ObjectKeys
{
    /// <summary>First segment reserved by <see cref="LocalFolderStore"/> for its in-flight temp files.</summary>
    public const string ReservedTempSegment = ".tmp";

    /// <summary>Throws <see cref="ArgumentException"/> naming the key when it breaks the key rules.</summary>
    public static void Validate(string key, string paramName = "key")
    {
        ArgumentNullException.ThrowIfNull(key, paramName);
        var problem = key.Length == 0 ? "is empty" : FindProblem(key, allowTrailingSlash: false);
        if (problem is null && FirstSegment(key) == ReservedTempSegment)
            problem = $"uses the reserved first segment '{ReservedTempSegment}'";
        if (problem is not null) throw new ArgumentException($"Invalid object key '{key}': it {problem}.", paramName);
    }

    /// <summary>
    /// A listing prefix follows the key rules except that it may be empty, end with '/', or end in a partial
    /// segment ("jobs/j1" matches "jobs/j1/…" and "jobs/j10/…").
    /// </summary>
    public static void ValidatePrefix(string prefix, string paramName = "prefix")
    {
        ArgumentNullException.ThrowIfNull(prefix, paramName);
        if (prefix.Length == 0) return;
        var problem = FindProblem(prefix, allowTrailingSlash: true);
        if (problem is not null) throw new ArgumentException($"Invalid object key prefix '{prefix}': it {problem}.", paramName);
    }

    private static string? FindProblem(string key, bool allowTrailingSlash)
    {
        if (key[0] == '/') return "starts with '/'";
        if (key.Contains('\\')) return "contains a backslash (use '/')";
        foreach (var c in key)
            if (char.IsControl(c)) return "contains a control character";

        var segments = key.Split('/');
        for (var i = 0; i < segments.Length; i++)
        {
            var segment = segments[i];
            var isLast = i == segments.Length - 1;
            if (segment.Length == 0 && !(isLast && allowTrailingSlash)) return "has an empty segment";
            if (segment is "." or "..") return $"has a '{segment}' segment";
        }
        return null;
    }

    private static string FirstSegment(string key)
    {
        var slash = key.IndexOf('/');
        return slash < 0 ? key : key[..slash];
    }
}
