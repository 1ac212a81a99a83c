namespace Curation.Pipelines.Spec;

/// <summary>
/// The data store's own folders — job work folders (<c>jobs/</c>), grain state, schedules and reminders
/// (<c>state/</c>) and in-flight temp files (<c>.tmp/</c>) — are never a job's input or output, whatever form the path
/// takes: relative (<c>state/job/*.json</c>), absolute or <c>file://</c> into the data store's folder, or
/// <c>az://</c> into the data store's container. Resolving symbolic links is the allowed-roots check's business; this
/// compares the names as written, with <c>.</c> and <c>..</c> folded.
/// </summary>
public static class DataStoreFolders
{
    /// <summary>First key segments the cluster keeps for itself.</summary>
    public static readonly IReadOnlyList<string> Reserved = ["jobs", "state", Storage.ObjectKeys.ReservedTempSegment];

    /// <summary>
    /// What is wrong with <paramref name="path"/> as an input or output, or null. <paramref name="dataStoreLocation"/> is
    /// the data store's <c>Location</c> (<c>file:///srv/data</c> or <c>az://container</c>); without it only relative
    /// paths are recognised as the data store's.
    /// </summary>
    public static string? Problem(string path, string? dataStoreLocation, bool output)
    {
        if (string.IsNullOrWhiteSpace(path)) return null;
        var key = KeyInDataStore(path, dataStoreLocation);
        if (key is null) return null;
        var segments = Fold(key);
        var where = dataStoreLocation is null ? "the data store" : $"the data store ({dataStoreLocation})";
        if (segments.Count == 0)
            return output
                ? $"must name a folder of its own in {where}, not its root"
                : $"must name a folder in {where}, not its root (which holds the cluster's own {Listed})";
        var first = segments[0];
        var hasGlob = first.IndexOfAny(['*', '?', '[', '{']) >= 0;
        foreach (var reserved in Reserved)
        {
            var hit = hasGlob ? first.Contains("**", StringComparison.Ordinal) || StoreLocation.GlobToRegex(first).IsMatch(reserved) : first == reserved;
            if (hit)
                return $"is inside {where}'s own folder '{reserved}/' ({Listed} hold job work folders, job and schedule state, reminders " +
                       "and temp files: never a job's input or output)";
        }
        return null;
    }

    private static string Listed => string.Join(", ", Reserved.Select(r => r + "/"));

    /// <summary>The key (possibly with a glob) <paramref name="path"/> names inside the data store, or null when it is elsewhere.</summary>
    private static string? KeyInDataStore(string path, string? dataStoreLocation)
    {
        if (path.StartsWith(StoreLocation.AzureScheme, StringComparison.Ordinal))
        {
            var rest = path[StoreLocation.AzureScheme.Length..];
            var slash = rest.IndexOf('/');
            var container = slash < 0 ? rest : rest[..slash];
            return dataStoreLocation == StoreLocation.AzureScheme + container ? (slash < 0 ? "" : rest[(slash + 1)..]) : null;
        }
        if (path.Contains("://", StringComparison.Ordinal) && !path.StartsWith("file://", StringComparison.Ordinal)) return null;
        if (path.StartsWith(StoreLocation.DataPrefix, StringComparison.Ordinal)) return path[StoreLocation.DataPrefix.Length..];
        if (StoreLocation.IsRelativeLocalPath(path)) return path;

        var local = StoreLocation.LocalPathOf(path);
        if (local is null || dataStoreLocation is null || !dataStoreLocation.StartsWith("file://", StringComparison.Ordinal)) return null;
        var root = StoreLocation.LocalPathOf(dataStoreLocation);
        if (root is null) return null;
        var rootSegments = Fold(root);
        var pathSegments = Fold(local);
        if (pathSegments.Count < rootSegments.Count || !rootSegments.SequenceEqual(pathSegments.Take(rootSegments.Count), StringComparer.Ordinal)) return null;
        return string.Join('/', pathSegments.Skip(rootSegments.Count));
    }

    /// <summary>Segments with empty and <c>.</c> segments dropped and <c>..</c> folded (never above the first).</summary>
    private static List<string> Fold(string path)
    {
        var folded = new List<string>();
        foreach (var segment in path.Replace('\\', '/').Split('/'))
        {
            if (segment.Length == 0 || segment == ".") continue;
            if (segment == "..") { if (folded.Count > 0) folded.RemoveAt(folded.Count - 1); continue; }
            folded.Add(segment);
        }
        return folded;
    }
}
