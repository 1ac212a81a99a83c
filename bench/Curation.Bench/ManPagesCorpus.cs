using Curation.Testing;

namespace Curation.Bench;

/// <summary>
/// A third real (not generated) corpus for <c>static-recipes</c>: paragraphs of this machine's English manual pages
/// (<c>/usr/share/man/man*/*.gz</c>, roff requests and escapes removed by <see cref="LabelledLanguageCorpus.Paragraphs"/>),
/// 80–1,500 characters, at most <see cref="PerFile"/> a page, pages in ordinal path order strided so every section and
/// letter is sampled. Option descriptions shared by related tools and the GNU/licence boilerplate repeat across pages:
/// real near duplicates. Exact repeats (case-folded) are left out, as a job's exact_dedup stage would.
/// </summary>
public static class ManPagesCorpus
{
    public const string Root = "/usr/share/man";
    private const int PerFile = 6;

    public static (List<string> Texts, int Files) Build(int documents)
    {
        var texts = new List<string>();
        var files = 0;
        if (!Directory.Exists(Root)) return (texts, 0);
        var paths = Directory.EnumerateDirectories(Root, "man*").SelectMany(folder => Directory.EnumerateFiles(folder, "*.gz"))
            .Order(StringComparer.Ordinal).ToList();
        var order = Enumerable.Range(0, 7).SelectMany(offset => paths.Where((_, i) => i % 7 == offset));
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var path in order)
        {
            if (texts.Count >= documents) break;
            if (LabelledLanguageCorpus.ReadPage(path) is not { } roff) continue;
            files++;
            var taken = 0;
            foreach (var text in LabelledLanguageCorpus.Paragraphs(roff))
            {
                if (text.Length is < 80 or > 1500) continue;
                if (!seen.Add(text.ToLowerInvariant())) continue;
                texts.Add(text);
                if (++taken >= PerFile || texts.Count >= documents) break;
            }
        }
        return (texts, files);
    }
}
