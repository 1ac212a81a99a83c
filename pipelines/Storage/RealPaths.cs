namespace Curation.Pipelines.Storage;

/// <summary>
/// Real paths: every symbolic link on the way resolved (links to links too), <c>.</c> and <c>..</c> folded after
/// each link, as the kernel would. Parts that do not exist yet (an output folder) are kept as written. Allowed roots
/// are checked on these, so a link inside a root cannot lead out of it.
/// </summary>
public static class RealPaths
{
    private const int MaxLinks = 40; // as Linux' ELOOP

    public static string Resolve(string path)
    {
        var full = Path.GetFullPath(path);
        var pending = new Stack<string>(Segments(full).Reverse());
        var current = Path.GetPathRoot(full) ?? "/";
        var links = 0;
        while (pending.Count > 0)
        {
            var segment = pending.Pop();
            if (segment == ".") continue;
            if (segment == "..")
            {
                current = Path.GetDirectoryName(current) ?? current;
                continue;
            }
            var next = Path.Combine(current, segment);
            var target = new FileInfo(next).LinkTarget;
            if (target is null)
            {
                current = next;
                continue;
            }
            if (++links > MaxLinks) throw new IOException($"{path}: too many levels of symbolic links");
            if (Path.IsPathRooted(target)) current = Path.GetPathRoot(target) ?? "/";
            foreach (var s in Segments(target).Reverse()) pending.Push(s);
        }
        return current;
    }

    /// <summary>True when <paramref name="realPath"/> is <paramref name="realRoot"/> or lies under it.</summary>
    public static bool IsUnder(string realPath, string realRoot)
    {
        var root = Path.TrimEndingDirectorySeparator(realRoot);
        if (root.Length == 0 || root == "/") return realPath.StartsWith('/');
        return realPath == root || realPath.StartsWith(root + "/", StringComparison.Ordinal);
    }

    /// <summary>The first of <paramref name="realRoots"/> holding <paramref name="realPath"/>, or null.</summary>
    public static string? RootOf(string realPath, IEnumerable<string> realRoots) => realRoots.FirstOrDefault(r => IsUnder(realPath, r));

    private static string[] Segments(string path) => path.Split('/', StringSplitOptions.RemoveEmptyEntries);
}

/// <summary>
/// The local folders jobs may touch (<c>Curation:Api:AllowedRoots</c>), as real paths. A <see cref="LocalFolderStore"/>
/// confined to them refuses any file or folder whose real path lies elsewhere, when it is listed, opened or written.
/// </summary>
public sealed class AllowedRoots
{
    public AllowedRoots(IEnumerable<string> roots)
    {
        Configured = roots.Where(r => !string.IsNullOrWhiteSpace(r)).Select(Path.GetFullPath).ToList();
        Real = Configured.Select(RealPaths.Resolve).ToList();
    }

    /// <summary>The roots as configured.</summary>
    public IReadOnlyList<string> Configured { get; }

    /// <summary>The roots' own real paths (a root may itself be a link).</summary>
    public IReadOnlyList<string> Real { get; }

    public bool Contains(string realPath) => RealPaths.RootOf(realPath, Real) is not null;

    /// <summary>Why <paramref name="path"/> is refused, naming it, where it leads and the roots; null when it is inside one.</summary>
    public string? Problem(string path)
    {
        var real = RealPaths.Resolve(path);
        if (Contains(real)) return null;
        var via = real == Path.GetFullPath(path).TrimEnd('/') ? "" : $" resolves (through symbolic links) to {real}, which";
        return $"{path}{via} is outside the allowed roots ({string.Join(", ", Configured)}; Curation:Api:AllowedRoots)";
    }

    public override string ToString() => string.Join(", ", Configured);
}
