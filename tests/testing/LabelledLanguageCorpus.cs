using System.IO.Compression;
using System.Text;
using System.Text.RegularExpressions;

namespace Curation.Testing;

/// <summary>
/// A language-labelled corpus of real text: the paragraphs of translated Debian manual pages under a man root
/// (<c>/usr/share/man</c>, or a folder where <c>manpages-*</c> packages were unpacked with <c>dpkg -x</c>), labelled by
/// their folder (<c>de</c>, <c>pt_BR</c> → pt, <c>zh_CN</c> → zh; the untranslated <c>man1</c>… folders → en). Roff
/// requests and escapes are removed; paragraphs left in English by a translation (three or more of a few English
/// function words) are skipped for the other languages, as are e-mail credits, shell examples, option synopses and paragraphs under <c>minLetters</c> letters.
/// Deterministic: files in ordinal order, at most <c>perFile</c> paragraphs a file, at most <c>perLanguage</c> a language.
/// </summary>
public static partial class LabelledLanguageCorpus
{
    public sealed record Document(string Id, string Language, string Text);

    public static IReadOnlyList<Document> Build(string manRoot, int perLanguage, int perFile = 4, int maxChars = 1200, int minLetters = 120)
    {
        var documents = new List<Document>();
        if (!Directory.Exists(manRoot)) return documents;
        var byLanguage = new Dictionary<string, int>(StringComparer.Ordinal);
        var folders = Directory.EnumerateDirectories(manRoot).Order(StringComparer.Ordinal).ToList();
        foreach (var folder in folders)
        {
            var name = Path.GetFileName(folder);
            var language = name.StartsWith("man", StringComparison.Ordinal) ? "en" : name.Split('_', '.', '@')[0];
            var files = name.StartsWith("man", StringComparison.Ordinal)
                ? Directory.EnumerateFiles(folder, "*.gz")
                : Directory.EnumerateFiles(folder, "*.gz", SearchOption.AllDirectories);
            foreach (var file in files.Order(StringComparer.Ordinal))
            {
                if (byLanguage.GetValueOrDefault(language) >= perLanguage) break;
                if (ReadPage(file) is not { } roff) continue;
                var taken = 0;
                var number = 0;
                foreach (var paragraph in Paragraphs(roff))
                {
                    number++;
                    var text = paragraph.Length > maxChars ? paragraph[..maxChars] : paragraph;
                    if (text.Count(char.IsLetter) < minLetters) continue;
                    if (language != "en" && LooksEnglish(text)) continue;
                    if (text.Contains('@') || text.StartsWith('$') || text.Count(c => c == '[') >= 3) continue; // addresses, shell examples, synopses
                    documents.Add(new Document($"{name}/{Path.GetFileName(file)}#{number}", language, text));
                    byLanguage[language] = byLanguage.GetValueOrDefault(language) + 1;
                    if (++taken >= perFile || byLanguage[language] >= perLanguage) break;
                }
            }
        }
        return documents;
    }

    /// <summary>A gzip-compressed man page as UTF-8 text, or null when it is not valid gzip or UTF-8 or cannot be read.</summary>
    public static string? ReadPage(string path)
    {
        try
        {
            using var gz = new GZipStream(File.OpenRead(path), CompressionMode.Decompress);
            using var buffer = new MemoryStream();
            gz.CopyTo(buffer);
            return Strict.GetString(buffer.ToArray());
        }
        catch (Exception e) when (e is InvalidDataException or DecoderFallbackException or IOException or UnauthorizedAccessException) { return null; }
    }

    private static readonly UTF8Encoding Strict = new(false, throwOnInvalidBytes: true);

    /// <summary>The text paragraphs of a roff page: request lines end a paragraph, escapes are dropped.</summary>
    public static IEnumerable<string> Paragraphs(string roff)
    {
        var current = new StringBuilder();
        foreach (var raw in roff.Split('\n'))
        {
            var line = raw.TrimEnd('\r');
            if (line.Length == 0 || line[0] is '.' or '\'')
            {
                if (current.Length > 0) yield return current.ToString();
                current.Clear();
                continue;
            }
            var text = Spaces().Replace(Escapes().Replace(line, m => m.Value switch { @"\-" => "-", @"\e" => @"\", @"\ " => " ", _ => "" }), " ").Trim();
            if (text.Length == 0) continue;
            if (current.Length > 0) current.Append(' ');
            current.Append(text);
        }
        if (current.Length > 0) yield return current.ToString();
    }

    private static readonly string[] EnglishWords = ["the", "and", "which", "this", "that", "with", "from", "are", "when", "will"];

    private static bool LooksEnglish(string text) =>
        Words().Matches(text).Count(m => EnglishWords.Contains(m.Value, StringComparer.OrdinalIgnoreCase)) >= 3;

    [GeneratedRegex(@"\\(f[BIRP1-4]|f\[[^\]]*\]|\(..|\[[^\]]*\]|\*.|[-e &|^%c0dlu])")]
    private static partial Regex Escapes();

    [GeneratedRegex(@"\s+")]
    private static partial Regex Spaces();

    [GeneratedRegex(@"\b[A-Za-z]+\b")]
    private static partial Regex Words();
}
