using System.Text;
using System.Text.RegularExpressions;

namespace Curation.Pipelines.Spec;

public enum StoreKind
{
    /// <summary>The cluster's own object store (./data when embedded): relative paths land here.</summary>
    DataStore,
    /// <summary>A folder on the local file system.</summary>
    LocalFolder,
    /// <summary>A container of Azure Blob Storage (<c>az://container/prefix</c>).</summary>
    AzureBlob,
}

/// <summary>
/// A parsed location: which store (<see cref="Kind"/> + <see cref="Root"/>: folder path or container), the key
/// prefix inside it, and an optional glob matched against keys relative to that prefix.
/// </summary>
public sealed record StoreLocation(StoreKind Kind, string Root, string Prefix, string? Glob)
{
    public const string AzureScheme = "az://";

    /// <summary>
    /// Names a path in the cluster's data store explicitly (<c>data:corpus/*.jsonl</c>), as a plain relative path does in
    /// a spec sent to the API; the CLI makes plain relative paths absolute against the job file, never these.
    /// </summary>
    public const string DataPrefix = "data:";

    private static readonly char[] GlobChars = ['*', '?', '[', '{'];

    /// <summary>
    /// Parses a spec path. Relative paths resolve against <paramref name="baseDirectory"/> when given (inputs next to a
    /// job file), otherwise inside the data store.
    /// </summary>
    public static StoreLocation Parse(string path, string? baseDirectory = null)
    {
        var problems = Problems(path);
        if (problems.Count > 0) throw new ArgumentException($"'{path}': {string.Join("; ", problems)}", nameof(path));

        if (path.StartsWith(AzureScheme, StringComparison.Ordinal))
        {
            var rest = path[AzureScheme.Length..];
            var slash = rest.IndexOf('/');
            var container = slash < 0 ? rest : rest[..slash];
            var (prefix, glob) = SplitGlob(slash < 0 ? "" : rest[(slash + 1)..]);
            return new StoreLocation(StoreKind.AzureBlob, container, prefix, glob);
        }

        if (path.StartsWith(DataPrefix, StringComparison.Ordinal))
        {
            var (dataPrefix, dataGlob) = SplitGlob(path[DataPrefix.Length..].Replace('\\', '/').TrimStart('/'));
            return new StoreLocation(StoreKind.DataStore, "", dataPrefix, dataGlob);
        }

        var local = LocalPathOf(path) ?? path;
        if (Path.IsPathRooted(local) || baseDirectory is not null)
        {
            var (dir, glob) = SplitGlob(local.Replace('\\', '/'));
            var full = Path.GetFullPath(dir.Length == 0 ? "." : dir, baseDirectory ?? Directory.GetCurrentDirectory()).TrimEnd('/');
            if (glob is null && File.Exists(full))
                return new StoreLocation(StoreKind.LocalFolder, Path.GetDirectoryName(full)!, Path.GetFileName(full), null);
            return new StoreLocation(StoreKind.LocalFolder, full.Length == 0 ? "/" : full, "", glob);
        }

        var (storePrefix, storeGlob) = SplitGlob(local);
        return new StoreLocation(StoreKind.DataStore, "", storePrefix, storeGlob);
    }

    /// <summary>
    /// The local path a <c>file://</c> URL names (<c>file:///p</c> and <c>file://localhost/p</c> both name <c>/p</c>), or
    /// <paramref name="path"/> itself when it has no scheme; null for a URL of another scheme or another host.
    /// </summary>
    public static string? LocalPathOf(string path)
    {
        if (!path.StartsWith(FileScheme, StringComparison.Ordinal)) return path.Contains("://", StringComparison.Ordinal) ? null : path;
        var rest = path[FileScheme.Length..];
        if (rest.StartsWith("localhost/", StringComparison.OrdinalIgnoreCase)) rest = rest["localhost".Length..];
        if (!rest.StartsWith('/')) return null;
        return Uri.TryCreate(FileScheme + rest, UriKind.Absolute, out var uri) && !uri.IsUnc ? uri.LocalPath : null;
    }

    private const string FileScheme = "file://";

    /// <summary>True for a plain relative path (no scheme, not rooted).</summary>
    public static bool IsRelativeLocalPath(string path) =>
        !string.IsNullOrWhiteSpace(path) && !path.Contains("://", StringComparison.Ordinal) && !Path.IsPathRooted(path) &&
        !path.StartsWith(DataPrefix, StringComparison.Ordinal);

    /// <summary>What is wrong with a spec path, if anything (empty list: fine).</summary>
    public static IReadOnlyList<string> Problems(string path, bool allowGlob = true)
    {
        var problems = new List<string>();
        if (string.IsNullOrWhiteSpace(path)) { problems.Add("is empty"); return problems; }
        if (path.StartsWith(AzureScheme, StringComparison.Ordinal))
        {
            var container = path[AzureScheme.Length..].Split('/')[0];
            if (!Regex.IsMatch(container, "^[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){2,62}$"))
                problems.Add($"'{container}' is not a valid blob container name (3-63 lower-case letters, digits, single hyphens)");
        }
        else if (path.Contains("://", StringComparison.Ordinal) && !path.StartsWith(FileScheme, StringComparison.Ordinal))
            problems.Add("unsupported scheme: use az://container/prefix, file:///path, or a plain path");
        else if (path.StartsWith(FileScheme, StringComparison.Ordinal) && LocalPathOf(path) is null)
            problems.Add("a file:// URL must name a path on this machine: file:///path or file://localhost/path");

        else if (path.StartsWith(DataPrefix, StringComparison.Ordinal) && path.Length == DataPrefix.Length)
            problems.Add($"'{DataPrefix}' names no path in the data store");

        var inData = path.StartsWith(DataPrefix, StringComparison.Ordinal);
        var segments = (inData ? path[DataPrefix.Length..] : path).Replace('\\', '/').Split('/');
        if ((inData || !Path.IsPathRooted(path)) && !path.Contains("://", StringComparison.Ordinal) && segments.Contains(".."))
            problems.Add("must not climb out of its root with '..'");
        if (!allowGlob && path.IndexOfAny(GlobChars) >= 0) problems.Add("must not contain glob characters");
        return problems;
    }

    /// <summary>Human form, for messages: <c>az://c/p</c>, <c>/abs/dir/*.jsonl</c>, <c>data:curated/x</c>.</summary>
    public override string ToString()
    {
        var tail = Prefix + (Glob ?? "");
        return Kind switch
        {
            StoreKind.AzureBlob => $"{AzureScheme}{Root}/{tail}",
            StoreKind.LocalFolder => tail.Length == 0 ? Root : $"{Root}/{tail}",
            _ => $"{DataPrefix}{tail}",
        };
    }

    /// <summary>Key of <paramref name="relativeKey"/> under this location's prefix.</summary>
    public string KeyOf(string relativeKey) => Prefix.Length == 0 ? relativeKey : Prefix.TrimEnd('/') + "/" + relativeKey;

    /// <summary>
    /// True when <paramref name="relativeKey"/> (relative to <see cref="Prefix"/>) matches the glob. The planner asks once
    /// per listed object: the pattern goes through <see cref="Regex"/>'s own cache of recently used patterns, so it is
    /// parsed once per glob, not once per key.
    /// </summary>
    public bool Matches(string relativeKey) => Glob is null || Regex.IsMatch(relativeKey, GlobPattern(Glob), GlobOptions);

    private static (string Prefix, string? Glob) SplitGlob(string path)
    {
        var segments = path.Split('/');
        var firstGlob = Array.FindIndex(segments, s => s.IndexOfAny(GlobChars) >= 0);
        if (firstGlob < 0) return (path, null);
        var prefix = string.Join('/', segments[..firstGlob]);
        return (prefix.Length == 0 ? "" : prefix + "/", string.Join('/', segments[firstGlob..]));
    }

    private const RegexOptions GlobOptions = RegexOptions.CultureInvariant;

    /// <summary>Glob with <c>*</c> (within a segment), <c>**</c> (any depth), <c>?</c>, <c>[abc]</c>, <c>{a,b}</c>.</summary>
    internal static Regex GlobToRegex(string glob) => new(GlobPattern(glob), GlobOptions);

    /// <summary>The anchored regular expression of <see cref="GlobToRegex"/>'s glob.</summary>
    private static string GlobPattern(string glob)
    {
        var pattern = new StringBuilder("^");
        for (var i = 0; i < glob.Length; i++)
        {
            var c = glob[i];
            switch (c)
            {
                case '*' when i + 1 < glob.Length && glob[i + 1] == '*':
                    i++;
                    if (i + 1 < glob.Length && glob[i + 1] == '/') { i++; pattern.Append("(?:.*/)?"); }
                    else pattern.Append(".*");
                    break;
                case '*': pattern.Append("[^/]*"); break;
                case '?': pattern.Append("[^/]"); break;
                case '[':
                    var close = glob.IndexOf(']', i + 1);
                    if (close < 0) { pattern.Append("\\["); break; }
                    pattern.Append('[').Append(glob[(i + 1)..close].Replace("\\", "\\\\")).Append(']');
                    i = close;
                    break;
                case '{':
                    var end = glob.IndexOf('}', i + 1);
                    if (end < 0) { pattern.Append("\\{"); break; }
                    pattern.Append("(?:").Append(string.Join('|', glob[(i + 1)..end].Split(',').Select(Regex.Escape))).Append(')');
                    i = end;
                    break;
                default: pattern.Append(Regex.Escape(c.ToString())); break;
            }
        }
        return pattern.Append('$').ToString();
    }
}
