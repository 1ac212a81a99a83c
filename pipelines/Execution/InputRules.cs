using System.Text.Json;
using Curation.Pipelines.Spec;

namespace Curation.Pipelines.Execution;

/// <summary>
/// What the planner's listing of the inputs leaves out (hidden objects, markers) and how it words what is wrong with an
/// input: sources two inputs share, an input that matched nothing, a path written as in a shell.
/// </summary>
internal static class InputRules
{
    /// <summary>Objects of two inputs whose keys under their inputs' folders are the same: the first such name, and how many.</summary>
    public sealed class SourceClash(string relative, string key, string otherKey)
    {
        public string Relative { get; } = relative;
        public string Key { get; } = key;
        public string OtherKey { get; } = otherKey;
        public int Names { get; set; } = 1;
    }

    /// <summary>
    /// Two inputs in different folders holding the same names (two Spark exports' <c>part-00000.parquet</c>): their
    /// documents would share sources. The way out: one input over both folders (a brace glob where the folders differ by
    /// their last name and the inputs by nothing else), whose sources then start with the folders' names.
    /// </summary>
    public static string SourceClashMessage(JobSpec spec, StoreLocation[] locations, int input, int other, SourceClash clash)
    {
        static string Display(StoreLocation location, string key) => (location with { Prefix = key, Glob = null }).ToString();
        static string Folder(StoreLocation location) => (location with { Glob = null }).ToString().TrimEnd('/');
        var (here, there) = (locations[input], locations[other]);
        var names = clash.Names == 1 ? "" : $", as {clash.Names:N0} names are in both inputs";
        var message = $"{Display(here, clash.Key)} and {Display(there, clash.OtherKey)} (inputs[{other}]) would both be source '{clash.Relative}'{names} " +
            "(a source is the object's key under its input's folder, and names its documents): ";
        var (folder, otherFolder) = (Folder(here), Folder(there));
        var (slash, otherSlash) = (folder.LastIndexOf('/'), otherFolder.LastIndexOf('/'));
        var sameOptions = spec.Inputs[input] with { Path = "" } is var a && spec.Inputs[other] with { Path = "" } is var b &&
            JsonSerializer.Serialize(a, CurationJson.Options) == JsonSerializer.Serialize(b, CurationJson.Options);
        if (here.Kind == there.Kind && here.Glob == there.Glob && sameOptions && slash > 0 && otherSlash > 0 &&
            folder[..slash] == otherFolder[..otherSlash] && folder[(slash + 1)..] is var name && otherFolder[(otherSlash + 1)..] is var otherName &&
            name.IndexOfAny([',', '{', '}', '*', '?', '[']) < 0 && otherName.IndexOfAny([',', '{', '}', '*', '?', '[']) < 0)
            return message + $"read both folders with one input, {folder[..slash]}/{{{otherName},{name}}}/{here.Glob ?? "**"}, " +
                $"whose sources are '{otherName}/…' and '{name}/…'";
        return message + "read them with one input whose folder holds both, or rename the objects of one of them";
    }

    /// <summary>
    /// Objects a folder or glob input leaves out: any name on the way (relative to the input's folder) that is hidden
    /// (starts with <c>.</c>: <c>.part-0.parquet.crc</c>, <c>.DS_Store</c>, <c>.git/</c>) or is a marker or work folder that
    /// Hadoop, Spark, Delta, Dask or Hive writes beside the data (<c>_SUCCESS</c>, <c>_committed_…</c>, <c>_temporary/</c>,
    /// <c>_metadata</c>, <c>_delta_log/</c>…), never documents. Arrow and Spark skip every name starting with <c>_</c>; in a
    /// code or text corpus those are data (<c>__init__.py</c>, <c>_impl.py</c>), so other <c>_</c> names are read. An input
    /// naming such an object itself, or a glob that starts a name with <c>.</c> or <c>_</c>, reads them.
    /// </summary>
    public static bool SkipsHiddenObjects(StoreLocation location) =>
        location.Glob is null || !location.Glob.Split('/').Any(s => s.StartsWith('.') || s.StartsWith('_'));

    public static bool IsHiddenOrMarker(string relative) => relative.Split('/').Any(s => s.StartsWith('.') || IsMarker(s));

    private static readonly HashSet<string> Markers = new(StringComparer.Ordinal)
    {
        "_SUCCESS", "_FAILURE", "_metadata", "_common_metadata", "_temporary", "_delta_log", "_spark_metadata", "_impala_insert_staging",
    };

    private static bool IsMarker(string name) =>
        Markers.Contains(name) || name.StartsWith("_committed_", StringComparison.Ordinal) || name.StartsWith("_started_", StringComparison.Ordinal);

    /// <summary>
    /// What is there instead, for an input that matched nothing: the objects under its folder the pattern missed (a
    /// misspelt extension or name), or that nothing is stored there at all (a misspelt folder). From the listing the
    /// planner made anyway, so it costs no request.
    /// </summary>
    public static string NearMisses(StoreLocation location, int unmatched, List<string> examples, int explained)
    {
        if (explained > 0) return "";
        if (location.Glob is null) return " (nothing is stored at that path)";
        var folder = (location with { Glob = null }).ToString();
        return unmatched > 0
            ? $" ({folder} holds {unmatched:N0} object{(unmatched == 1 ? "" : "s")} the pattern does not match, such as " +
              $"{string.Join(", ", examples.Select(e => $"'{e}'"))})"
            : $" (nothing is stored under {folder}: check the folder's name)";
    }

    /// <summary>
    /// A path written as in a shell (<c>~/corpus</c>, <c>$HOME/corpus</c>, <c>${DATA}/x</c>): a job spec is JSON, read by
    /// no shell, so neither is expanded and the path names a folder called <c>~</c> or <c>$HOME</c>.
    /// </summary>
    public static string ShellSyntaxHint(string path)
    {
        var tilde = path.StartsWith('~') || path.Replace('\\', '/').Split('/').Contains("~");
        var variable = System.Text.RegularExpressions.Regex.Match(path, @"\$\{?([A-Za-z_][A-Za-z0-9_]*)");
        if (!tilde && !variable.Success) return "";
        var what = tilde ? "'~'" : $"'{variable.Value}{(variable.Value.StartsWith("${", StringComparison.Ordinal) ? "}" : "")}'";
        return $"; {what} is not expanded in a job spec (it is JSON, read by no shell): write the absolute path";
    }
}
