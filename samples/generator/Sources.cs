using System.IO.Compression;
using System.Text;
using System.Text.RegularExpressions;

namespace Curation.SampleGenerator;

/// <summary>One original document before ids are assigned.</summary>
public sealed record SourceText(string Kind, string Text, string Origin, string? Title, string? Package, string? Licence = null);

public static class SourceKinds
{
    public const string Abstract = "abstract";
    public const string DebianDoc = "debian-doc";
}

/// <summary>
/// The paper-abstract scrape: title lines, each followed by its abstract as one line, with web boilerplate
/// ("Get trending papers in your email inbox!", a "Subscribe" button glued to the first title) mixed in.
/// </summary>
public static class AbstractSource
{
    private static readonly string[] BoilerplateLines =
    [
        "Get trending papers in your email inbox once a day!",
        "Get trending papers in your email inbox!",
    ];

    /// <summary>The lines the scrape carries that are page chrome, not paper text; the low-quality set reuses them.</summary>
    public static IReadOnlyList<string> Boilerplate => BoilerplateLines;

    public static List<SourceText> Read(string path)
    {
        var lines = File.ReadAllLines(path, new UTF8Encoding(false, true));
        var result = new List<SourceText>();
        string? title = null;
        var titleLine = 0;
        for (var i = 0; i < lines.Length; i++)
        {
            var line = lines[i].Trim();
            if (line.Length == 0 || BoilerplateLines.Contains(line)) continue;
            if (line.StartsWith("Subscribe", StringComparison.Ordinal) && line.Length > "Subscribe".Length
                && char.IsUpper(line["Subscribe".Length]))
                line = line["Subscribe".Length..]; // the page's button text glued to the first title
            // A title is short and has no sentence end; an abstract is a paragraph of sentences.
            var isAbstract = line.Length >= 300 && TextTools.Sentences(line).Count >= 2;
            if (!isAbstract) { title = line; titleLine = i + 1; continue; }
            if (title is null) continue; // an abstract without a title: skip rather than guess
            result.Add(new SourceText(SourceKinds.Abstract, TextTools.CollapseWhitespace(line).Normalize(NormalizationForm.FormC),
                $"{Path.GetFileName(path)}:{i + 1}", title, null));
            title = null;
        }
        return result;
    }
}

/// <summary>A package's DEP-5 copyright file: its stanzas (file patterns and licence) in file order.</summary>
public sealed record PackageLicence(string Package, string? FilesStarLicence, IReadOnlyList<string> AllLicences,
    IReadOnlyList<(IReadOnlyList<string> Patterns, string Licence)> Stanzas)
{
    /// <summary>
    /// The licence of an installed documentation file: the last stanza (DEP-5: the last match wins) that is
    /// <c>Files: *</c> or names the file exactly (by its name without <c>.gz</c>, as the last path segment of a
    /// pattern without wildcards). Other wildcard patterns are not guessed at. Null when no stanza applies.
    /// </summary>
    public string? Resolve(string installedFileName)
    {
        var name = installedFileName.EndsWith(".gz", StringComparison.Ordinal) ? installedFileName[..^3] : installedFileName;
        string? result = null;
        foreach (var (patterns, licence) in Stanzas)
        {
            foreach (var p in patterns)
            {
                if (p == "*" || (!p.Contains('*') && !p.Contains('?') && (p == name || p.EndsWith("/" + name, StringComparison.Ordinal))))
                {
                    result = licence;
                    break;
                }
            }
        }
        return result;
    }
}

/// <summary>
/// Prose paragraphs from the documentation Debian packages ship under /usr/share/doc (README, NEWS, FAQ, TODO,
/// upstream changelogs, *.txt/*.md/*.rst; gzip-compressed ones are read too). Only packages whose copyright file is
/// in the machine-readable DEP-5 format are used, so the licence of every paragraph can be named.
/// </summary>
public static partial class DebianDocSource
{
    [GeneratedRegex(@"^(README|NEWS|FAQ|TODO|BUGS|changelog|HISTORY|INSTALL)([._-].*)?$|.*\.(txt|md|rst|text)(\.gz)?$", RegexOptions.IgnoreCase)]
    private static partial Regex WantedFile();

    [GeneratedRegex(@"licen[cs]|warrant|copyright|permission is|redistribut|distribute (copies|it)|free software|this program is|\brights\b|merchantab|all rights reserved|\bGPL|\bLGPL|patent|trademark", RegexOptions.IgnoreCase)]
    private static partial Regex LegalText();

    [GeneratedRegex(@"^\s*([-*+•o>#|=]|\d+[.)]|[a-z][.)]|\[\d+\]|\.\.|::)\s?", RegexOptions.None)]
    private static partial Regex ListOrMarkupLine();

    [GeneratedRegex(@"^\s*([-*+•]|\d{1,2}[.)])\s+(?=[A-Z])")]
    private static partial Regex BulletStart();

    [GeneratedRegex(@"\S\s{3,}\S")]
    private static partial Regex TableGap();

    [GeneratedRegex(@"\(\d+\):\s*$|^\s*\w[\w .'-]*\(\d+\):")]
    private static partial Regex ShortlogHeader();

    [GeneratedRegex(@"\w\(|::|->|=>|\w\.\w+\(|\$\w|</?\w|\w_\w|\w/\w+/|--\w|\.(c|h|py|sh|so|conf)\b|\b0x[0-9a-f]")]
    private static partial Regex CodeToken();

    private static readonly HashSet<string> FunctionWords = new(StringComparer.Ordinal)
    {
        "the", "of", "and", "to", "a", "in", "is", "it", "that", "for", "on", "as", "with", "be", "this", "are",
        "by", "an", "or", "not", "you", "can", "from", "at", "which", "will", "if", "was", "has", "have", "but",
        "all", "when", "there", "so", "its", "into", "more", "than", "also", "may", "should", "would", "these",
    };

    /// <summary>Why paragraphs were not taken, counted (printed by the generator for whoever tunes the filter).</summary>
    public static readonly SortedDictionary<string, int> Rejections = new(StringComparer.Ordinal);

    public static (List<SourceText> Paragraphs, SortedDictionary<string, PackageLicence> Licences) Read(string docRoot)
    {
        var paragraphs = new List<SourceText>();
        var licences = new SortedDictionary<string, PackageLicence>(StringComparer.Ordinal);
        var strictUtf8 = new UTF8Encoding(false, true);
        foreach (var dir in Directory.GetDirectories(docRoot).OrderBy(d => d, StringComparer.Ordinal))
        {
            if (new DirectoryInfo(dir).LinkTarget is not null) continue; // a package sharing another's docs
            var package = Path.GetFileName(dir);
            var licence = ReadLicence(Path.Combine(dir, "copyright"));
            if (licence is null) { Count("package: copyright file absent or not DEP-5"); continue; }
            var files = Directory.EnumerateFiles(dir, "*", SearchOption.AllDirectories)
                .Where(f => WantedFile().IsMatch(Path.GetFileName(f)))
                .Where(f => !Path.GetFileName(f).StartsWith("changelog.Debian", StringComparison.Ordinal))
                .Where(f => new FileInfo(f).LinkTarget is null)
                .OrderBy(f => f, StringComparer.Ordinal);
            var any = false;
            foreach (var file in files)
            {
                string content;
                try
                {
                    var bytes = ReadMaybeGzip(file, 16 << 20);
                    if (bytes is null) continue;
                    content = strictUtf8.GetString(bytes);
                }
                catch (Exception e) when (e is DecoderFallbackException or InvalidDataException or IOException or UnauthorizedAccessException)
                {
                    Count("file: unreadable or not UTF-8");
                    continue;
                }
                var rel = Path.GetRelativePath(docRoot, file).Replace('\\', '/');
                var fileLicence = licence.Resolve(Path.GetFileName(file));
                if (fileLicence is null) { Count("file: no copyright stanza covers it"); continue; }
                var index = 0;
                foreach (var raw in SplitParagraphs(content))
                {
                    index++;
                    var text = ProseOrNull(raw);
                    if (text is null) continue;
                    paragraphs.Add(new SourceText(SourceKinds.DebianDoc, text, $"/usr/share/doc/{rel}#paragraph-{index}", null, package, fileLicence));
                    any = true;
                }
            }
            if (any) licences[package] = licence;
        }
        return (paragraphs, licences);
    }

    private static void Count(string why) => Rejections[why] = Rejections.GetValueOrDefault(why) + 1;

    private static string? Reject(string why) { Count(why); return null; }

    private static byte[]? ReadMaybeGzip(string file, int maxBytes)
    {
        using var fs = File.OpenRead(file);
        Stream s = file.EndsWith(".gz", StringComparison.Ordinal) ? new GZipStream(fs, CompressionMode.Decompress) : fs;
        using (s)
        {
            using var ms = new MemoryStream();
            var buffer = new byte[81920];
            int n;
            while ((n = s.Read(buffer)) > 0)
            {
                ms.Write(buffer, 0, n);
                if (ms.Length > maxBytes) return null;
            }
            return ms.ToArray();
        }
    }

    private static IEnumerable<string> SplitParagraphs(string content)
    {
        var current = new List<string>();
        foreach (var line in content.Replace("\r\n", "\n").Split('\n'))
        {
            if (line.Trim().Length == 0)
            {
                if (current.Count > 0) { yield return string.Join('\n', current); current.Clear(); }
            }
            else current.Add(line);
        }
        if (current.Count > 0) yield return string.Join('\n', current);
    }

    private static string ExpandTabs(string line)
    {
        if (!line.Contains('\t')) return line;
        var sb = new StringBuilder();
        foreach (var c in line)
        {
            if (c == '\t') sb.Append(' ', 8 - sb.Length % 8);
            else sb.Append(c);
        }
        return sb.ToString();
    }

    /// <summary>The paragraph joined into one line if it reads as English prose; null for anything else.</summary>
    internal static string? ProseOrNull(string paragraph)
    {
        var length = TextTools.CollapseWhitespace(paragraph).Length;
        if (length < 200 || length > 2000) return null; // not counted: most paragraphs are short
        var lines = paragraph.Split('\n').Select(ExpandTabs).ToArray();
        if (lines.Length > 30) return Reject("layout: more than 30 lines");
        // A list item whose continuation lines hang under its text is prose once the marker is dropped.
        var bullet = BulletStart().Match(lines[0]);
        if (bullet.Success)
        {
            var hang = bullet.Length;
            if (lines.Skip(1).Any(l => l.Length - l.TrimStart().Length != hang)) return Reject("layout: list item without hanging indent");
            lines[0] = new string(' ', hang) + lines[0][hang..];
        }
        // Hard-wrapped prose has one left margin (the first line may be indented further).
        var margins = lines.Select(l => l.Length - l.TrimStart().Length).ToArray();
        var margin = margins.Length > 1 ? margins.Skip(1).Min() : margins[0];
        if (margins.Skip(1).Any(m => m != margin) || margins[0] < margin || margins[0] > margin + 8) return Reject("layout: ragged indentation");
        if (margin > 8) return Reject("layout: deeply indented (code, quoted output)");
        foreach (var line in lines)
        {
            if (ListOrMarkupLine().IsMatch(line)) return Reject("layout: list or markup line");
            if (TableGap().IsMatch(line.Trim())) return Reject("layout: table-like gaps");
            if (ShortlogHeader().IsMatch(line)) return Reject("layout: shortlog header");
            if (line.TrimEnd().EndsWith(':') && !ReferenceEquals(line, lines[^1])) return Reject("layout: line ends with ':'");
        }
        var text = TextTools.CollapseWhitespace(string.Join('\n', lines)).Normalize(NormalizationForm.FormC);
        if (text.Length < 200 || text.Length > 2000) return Reject("text: length after unwrapping");
        if (TextTools.HasControlOrFormat(text)) return Reject("text: control or format characters");
        if (LegalText().IsMatch(text)) return Reject("text: licence or legal wording");
        if (text.Contains('@') || text.Contains("://") || text.Contains("www.")) return Reject("text: e-mail address or URL");
        if (!(text.EndsWith('.') || text.EndsWith('!') || text.EndsWith('?') || text.EndsWith(".)", StringComparison.Ordinal) || text.EndsWith(".\"", StringComparison.Ordinal))) return Reject("text: no sentence end");
        if (!char.IsUpper(text[0])) return Reject("text: does not start with a capital");

        int letters = 0, upper = 0, codeish = 0, nonSpace = 0, nonAscii = 0;
        foreach (var c in text)
        {
            if (c == ' ') continue;
            nonSpace++;
            if (char.IsLetter(c)) { letters++; if (char.IsUpper(c)) upper++; }
            if ("{}[]<>=$\\|_#*`~^;/".Contains(c)) codeish++;
            if (c > 0x7f) nonAscii++;
        }
        if (letters < 0.82 * nonSpace) return Reject("chars: under 82% letters");
        if (upper > 0.12 * letters) return Reject("chars: over 12% capitals");
        if (codeish > 0.01 * nonSpace) return Reject("chars: code punctuation");
        if (nonAscii > 0.02 * nonSpace) return Reject("chars: over 2% non-ASCII");
        if (CodeToken().Count(text) > 1) return Reject("words: code tokens");

        var words = text.Split(' ');
        if (words.Length < 35) return Reject("words: under 35");
        var function = words.Count(w => FunctionWords.Contains(w.Trim('.', ',', ';', ':', '(', ')', '"', '\'').ToLowerInvariant()));
        if (function < 0.18 * words.Length) return Reject("words: few English function words");
        var avg = words.Average(w => w.Length);
        if (avg < 3.5 || avg > 8.5) return Reject("words: odd mean length");
        if (words.Any(w => w.Length > 30)) return Reject("words: token over 30 chars");
        if (TextTools.Sentences(text).Count < 2) return Reject("text: one sentence");
        return text;
    }

    /// <summary>Licence short names from a DEP-5 copyright file; null when the file is absent or not DEP-5.</summary>
    internal static PackageLicence? ReadLicence(string copyrightPath)
    {
        if (!File.Exists(copyrightPath)) return null;
        string content;
        try { content = File.ReadAllText(copyrightPath, new UTF8Encoding(false, true)); }
        catch (Exception e) when (e is DecoderFallbackException or IOException or UnauthorizedAccessException) { return null; }
        var first = content.Split('\n', 2)[0];
        if (!first.StartsWith("Format:", StringComparison.Ordinal) ||
            !(first.Contains("copyright-format", StringComparison.Ordinal) || first.Contains("dep5", StringComparison.Ordinal))) return null;
        var package = Path.GetFileName(Path.GetDirectoryName(copyrightPath)!);
        var all = new List<string>();
        string? star = null;
        var stanzas = new List<(IReadOnlyList<string>, string)>();
        foreach (var stanza in content.Replace("\r\n", "\n").Split("\n\n"))
        {
            // Fields may continue on following lines that start with white space (Files: lists often do).
            var fields = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            string? last = null;
            foreach (var line in stanza.Split('\n'))
            {
                if (line.Length > 0 && (line[0] == ' ' || line[0] == '\t'))
                {
                    if (last is not null) fields[last] += "\n" + line.Trim();
                    continue;
                }
                var colon = line.IndexOf(':');
                if (colon <= 0) { last = null; continue; }
                last = line[..colon];
                fields[last] = line[(colon + 1)..].Trim();
            }
            if (!fields.TryGetValue("License", out var licenceField)) continue;
            var licence = licenceField.Split('\n')[0].Trim(); // the short name; the licence text follows it
            if (licence.Length == 0) continue;
            if (!all.Contains(licence)) all.Add(licence);
            if (fields.TryGetValue("Files", out var files))
            {
                var patterns = files.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
                stanzas.Add((patterns, licence));
                if (star is null && patterns.Contains("*")) star = licence;
            }
        }
        if (all.Count == 0) return null;
        return new PackageLicence(package, star, all, stanzas);
    }
}
