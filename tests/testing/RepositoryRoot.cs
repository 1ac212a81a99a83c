namespace Curation.Testing;

/// <summary>Finds the repository's root folder from a test's output folder.</summary>
public static class RepositoryRoot
{
    private static readonly Lazy<string?> Root = new(Find);

    /// <summary>The folder holding Curation.sln, or null when the tests run outside a checkout.</summary>
    public static string? TryGet() => Root.Value;

    public static string Get() => TryGet()
        ?? throw new InvalidOperationException($"Curation.sln not found above {AppContext.BaseDirectory}: run the tests from a checkout.");

    private static string? Find()
    {
        foreach (var start in new[] { AppContext.BaseDirectory, Directory.GetCurrentDirectory() })
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
                if (File.Exists(Path.Combine(dir.FullName, "Curation.sln")))
                    return dir.FullName;
        return null;
    }
}
