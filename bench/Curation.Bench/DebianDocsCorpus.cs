using System.IO.Compression;
using System.Text;
using System.Text.RegularExpressions;

namespace Curation.Bench;

/// <summary>
/// A real (not generated) corpus built at bench time from this machine's Debian documentation: paragraphs (blank-line
/// separated, whitespace collapsed, 80–1,500 characters) of <c>/usr/share/doc/*/</c> copyright files, changelogs
/// (gzip), NEWS, README, <c>.txt</c> and <c>.md</c> files, files in ordinal path order, at most
/// <see cref="PerFile"/> paragraphs a file so no one package dominates. Licence texts and changelog entries repeat
/// across packages: real near duplicates. Exact repeats (case-folded) are left out, as a job's exact_dedup stage would.
/// </summary>
public static partial class DebianDocsCorpus
{
    public const string Root = "/usr/share/doc";
    private const int PerFile = 12;

    public static (List<string> Ids, List<string> Texts, int Files) Build(int documents)
    {
        var ids = new List<string>();
        var texts = new List<string>();
        var files = 0;
        var seen = new HashSet<string>(StringComparer.Ordinal);
        if (!Directory.Exists(Root)) return (ids, texts, 0);
        var paths = Directory.EnumerateFiles(Root, "*", new EnumerationOptions { RecurseSubdirectories = true, IgnoreInaccessible = true })
            .Where(Wanted).Order(StringComparer.Ordinal).ToList();
        // Stride over the files so the corpus samples every package, not the first letters of the alphabet.
        var order = Enumerable.Range(0, 7).SelectMany(offset => paths.Where((_, i) => i % 7 == offset)).ToList();
        foreach (var path in order)
        {
            if (texts.Count >= documents) break;
            string content;
            try
            {
                using var stream = File.OpenRead(path);
                using var reader = new StreamReader(path.EndsWith(".gz", StringComparison.Ordinal) ? new GZipStream(stream, CompressionMode.Decompress) : stream, Encoding.UTF8);
                content = reader.ReadToEnd();
            }
            catch (Exception e) when (e is IOException or InvalidDataException or UnauthorizedAccessException)
            {
                continue;
            }
            files++;
            var taken = 0;
            var number = 0;
            foreach (var paragraph in Blank().Split(content))
            {
                number++;
                var text = Spaces().Replace(paragraph, " ").Trim();
                if (text.Length is < 80 or > 1500) continue;
                if (!seen.Add(text.ToLowerInvariant())) continue; // exact_dedup runs before semantic_dedup in a job
                ids.Add($"{Path.GetRelativePath(Root, path)}#{number}");
                texts.Add(text);
                if (++taken >= PerFile || texts.Count >= documents) break;
            }
        }
        return (ids, texts, files);
    }

    private static bool Wanted(string path)
    {
        var name = Path.GetFileName(path);
        return name == "copyright" || name.StartsWith("changelog", StringComparison.Ordinal) || name.StartsWith("NEWS", StringComparison.Ordinal) ||
               name.StartsWith("README", StringComparison.Ordinal) || name.EndsWith(".txt", StringComparison.Ordinal) || name.EndsWith(".md", StringComparison.Ordinal);
    }

    [GeneratedRegex(@"\r?\n[ \t]*\r?\n")]
    private static partial Regex Blank();

    [GeneratedRegex(@"\s+")]
    private static partial Regex Spaces();
}
