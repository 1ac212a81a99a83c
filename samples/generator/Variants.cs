using System.Globalization;
using System.Text;

namespace Curation.SampleGenerator;

/// <summary>Makes the planted variants of an original: layout/case variants, near duplicates, low-quality texts.</summary>
public sealed class Variants(Rng rng, IReadOnlyDictionary<string, IReadOnlyList<string>> fillersByPackage)
{
    // ---------------------------------------------------------------- whitespace / case variants

    public static readonly string[] WhitespaceCaseTransforms =
    [
        "extra_spaces", "tabs", "rewrap", "crlf_rewrap", "trailing_whitespace", "unicode_spaces",
        "upper", "lower", "case_words", "nfd", "zero_width", "control_chars",
    ];

    // Invisible characters with no meaning in running text. Not U+200C/U+200D (ZWNJ/ZWJ): they change how Persian,
    // Indic scripts and emoji render, so a normaliser rightly keeps them and they would not be layout variants.
    private static readonly char[] ZeroWidth = ['\u200B', '\u2060', '\uFEFF', '\u00AD'];

    // Cc characters that are not whitespace to .NET (char.IsWhiteSpace) nor to Python's str.split().
    private static readonly char[] Controls = ['\u0001', '\u0002', '\u0003', '\u0007', '\u0008', '\u000E', '\u0010', '\u001A', '\u001B', '\u007F'];

    private static readonly char[] UnicodeSpaces = ['\u00A0', '\u2009', '\u202F', '\u2002'];

    /// <summary>
    /// Applies <paramref name="primary"/> plus up to two more transforms; the result equals the original under
    /// <see cref="TextTools.Canonical(string)"/> but not byte for byte. Null when the primary transform cannot change this text.
    /// </summary>
    public (string Text, List<string> Transforms)? WhitespaceCase(string original, string primary)
    {
        var chosen = new List<string> { primary };
        var extra = rng.Next(3); // 0, 1 or 2 more
        for (var i = 0; i < extra; i++)
        {
            var t = rng.Pick(WhitespaceCaseTransforms);
            if (chosen.Contains(t) || Conflicts(chosen, t)) continue;
            if (t == "nfd" && !TextTools.HasDecomposableLetters(original)) continue;
            chosen.Add(t);
        }
        // Case first, then Unicode form, then layout, then invisible characters.
        var order = new[] { "upper", "lower", "case_words", "nfd", "rewrap", "crlf_rewrap", "extra_spaces", "tabs", "unicode_spaces", "trailing_whitespace", "zero_width", "control_chars" };
        chosen.Sort((a, b) => Array.IndexOf(order, a).CompareTo(Array.IndexOf(order, b)));
        var text = original;
        foreach (var t in chosen) text = Apply(text, t);
        if (string.Equals(text, original, StringComparison.Ordinal)) return null;
        if (!string.Equals(TextTools.Canonical(text), TextTools.Canonical(original), StringComparison.Ordinal)) return null;
        return (text, chosen);
    }

    private static bool Conflicts(List<string> chosen, string t)
    {
        string[][] groups = [["upper", "lower", "case_words"], ["rewrap", "crlf_rewrap"]];
        return groups.Any(g => g.Contains(t) && chosen.Any(g.Contains));
    }

    private string Apply(string text, string transform) => transform switch
    {
        "upper" => text.ToUpperInvariant(),
        "lower" => text.ToLowerInvariant(),
        "case_words" => CaseWords(text),
        "nfd" => text.Normalize(NormalizationForm.FormD),
        "rewrap" => Rewrap(text, "\n"),
        "crlf_rewrap" => Rewrap(text, "\r\n"),
        "extra_spaces" => ReplaceSomeSpaces(text, 0.25, () => new string(' ', rng.Between(2, 4))),
        "tabs" => ReplaceSomeSpaces(text, 0.15, () => rng.Chance(0.5) ? "\t" : " \t"),
        "unicode_spaces" => ReplaceSomeSpaces(text, 0.2, () => rng.Pick(UnicodeSpaces).ToString()),
        "trailing_whitespace" => TrailingWhitespace(text),
        "zero_width" => InsertInvisible(text, ZeroWidth, withBom: true),
        "control_chars" => InsertInvisible(text, Controls, withBom: false),
        _ => throw new ArgumentOutOfRangeException(nameof(transform), transform, null),
    };

    private string CaseWords(string text)
    {
        // Shouting a heading-like first sentence, or title-casing some words, as pasted text often does.
        if (rng.Chance(0.5))
        {
            var first = TextTools.Sentences(text)[0];
            return first.ToUpperInvariant() + text[first.Length..];
        }
        var words = text.Split(' ');
        for (var i = 0; i < words.Length; i++)
        {
            if (words[i].Length > 3 && rng.Chance(0.3))
                words[i] = char.ToUpperInvariant(words[i][0]) + words[i][1..];
        }
        return string.Join(' ', words);
    }

    private string Rewrap(string text, string newline)
    {
        var width = rng.Between(48, 88);
        var sb = new StringBuilder(text.Length + 64);
        var lineLength = 0;
        foreach (var word in text.Split(' '))
        {
            if (lineLength > 0 && lineLength + 1 + word.Length > width)
            {
                // Now and then a blank line where a sentence ends, as a hand-edited file would have.
                var blank = sb.Length > 0 && sb[^1] == '.' && rng.Chance(0.3);
                sb.Append(newline);
                if (blank) sb.Append(newline);
                lineLength = 0;
            }
            else if (lineLength > 0) { sb.Append(' '); lineLength++; }
            sb.Append(word);
            lineLength += word.Length;
        }
        return sb.ToString();
    }

    private string ReplaceSomeSpaces(string text, double share, Func<string> replacement)
    {
        var sb = new StringBuilder(text.Length + 64);
        var changed = false;
        foreach (var c in text)
        {
            if (c == ' ' && rng.Chance(share)) { sb.Append(replacement()); changed = true; }
            else sb.Append(c);
        }
        if (!changed)
        {
            var i = text.IndexOf(' ');
            if (i >= 0) return text[..i] + replacement() + text[(i + 1)..];
        }
        return sb.ToString();
    }

    private string TrailingWhitespace(string text)
    {
        var lines = text.Split('\n');
        for (var i = 0; i < lines.Length; i++)
        {
            if (rng.Chance(0.5)) lines[i] = lines[i].EndsWith('\r') ? lines[i][..^1] + "  \r" : lines[i] + new string(' ', rng.Between(1, 3));
        }
        var result = string.Join('\n', lines);
        var lead = rng.Pick(["", " ", "\n", "  "]);
        var tail = rng.Pick([" ", "\n", "\n\n", " \t\n", "   "]);
        return lead + result + tail;
    }

    private string InsertInvisible(string text, char[] pool, bool withBom)
    {
        var sb = new StringBuilder(text.Length + 32);
        if (withBom && rng.Chance(0.3)) sb.Append('\uFEFF');
        var count = 0;
        for (var i = 0; i < text.Length; i++)
        {
            sb.Append(text[i]);
            // Inside words and at word edges; never splitting a surrogate pair or a letter from its combining mark.
            var next = i + 1 < text.Length ? text[i + 1] : ' ';
            if (char.IsHighSurrogate(text[i]) || CharUnicodeInfo.GetUnicodeCategory(next) == UnicodeCategory.NonSpacingMark) continue;
            if (char.IsLetter(text[i]) && rng.Chance(0.012)) { sb.Append(pool[rng.Next(pool.Length)]); count++; }
        }
        if (count == 0) sb.Insert(Math.Min(sb.Length, 1 + rng.Next(Math.Max(1, sb.Length - 1))), pool[0]);
        return sb.ToString();
    }

    // ---------------------------------------------------------------- near duplicates

    private static readonly Dictionary<string, string> Synonyms = new(StringComparer.Ordinal)
    {
        ["use"] = "utilize", ["uses"] = "utilizes", ["used"] = "utilized", ["using"] = "utilizing",
        ["show"] = "demonstrate", ["shows"] = "demonstrates", ["shown"] = "demonstrated",
        ["large"] = "big", ["small"] = "little", ["big"] = "large", ["many"] = "numerous", ["several"] = "a number of",
        ["new"] = "novel", ["novel"] = "new", ["method"] = "technique", ["methods"] = "techniques",
        ["approach"] = "method", ["approaches"] = "methods", ["improve"] = "enhance", ["improves"] = "enhances",
        ["fix"] = "correct", ["fixed"] = "corrected", ["bug"] = "defect", ["bugs"] = "defects",
        ["allows"] = "enables", ["allow"] = "enable", ["however"] = "nevertheless", ["also"] = "additionally",
        ["because"] = "since", ["but"] = "yet", ["often"] = "frequently", ["usually"] = "typically",
        ["important"] = "significant", ["results"] = "findings", ["problem"] = "issue", ["problems"] = "issues",
        ["support"] = "handle", ["supports"] = "handles", ["file"] = "document", ["files"] = "documents",
        ["option"] = "setting", ["options"] = "settings", ["default"] = "standard", ["fast"] = "quick",
        ["faster"] = "quicker", ["better"] = "superior", ["model"] = "system", ["models"] = "systems",
        ["propose"] = "introduce", ["present"] = "introduce", ["first"] = "initial", ["main"] = "primary",
        ["need"] = "require", ["needs"] = "requires", ["change"] = "modification", ["changes"] = "modifications",
        ["user"] = "person", ["users"] = "people", ["simple"] = "straightforward", ["data"] = "information",
    };

    private static readonly HashSet<string> AdverbSlots = new(StringComparer.Ordinal)
    {
        "is", "are", "was", "were", "can", "will", "may", "should", "could", "would", "we", "it", "they", "which", "must", "has", "have",
    };

    private static readonly string[] Adverbs = ["also", "now", "often", "typically", "simply", "generally", "currently", "still", "usually", "actually"];

    private static readonly string[] AbstractFillers =
    [
        "Code and pretrained models are publicly available.",
        "Our code will be released upon acceptance.",
        "This paper has been accepted to the main conference.",
        "Extensive experiments on several benchmarks demonstrate the effectiveness of the proposed approach.",
        "We also provide a detailed ablation study of each component.",
        "The results are consistent across all model sizes we evaluated.",
        "We hope this work encourages further research in this direction.",
        "Further analysis reveals several interesting properties of the learned representations.",
    ];

    private static readonly string[] AbstractHeaders =
    [
        "Abstract:", "ABSTRACT", "Summary of the paper", "Preprint. Under review.", "Computation and Language (cs.CL)",
        "Paper page - trending research", "Published as a conference paper.",
    ];

    private static readonly string[] AbstractFooters =
    [
        "Comments: 12 pages, 4 figures.", "Comments: Work in progress.", "Submitted to the conference; code available on request.",
        "Get trending papers in your email inbox!", "Read the full paper for details.", "Subjects: Machine Learning; Computation and Language.",
    ];

    private static readonly string[] DocHeaders =
    [
        "From the project documentation:", "README", "Release notes", "Note for package maintainers.",
        "Documentation excerpt (archived copy)", "Posted on the project mailing list.", "Frequently asked questions",
    ];

    private static readonly string[] DocFooters =
    [
        "See the manual page for more details.", "For more information, read the full documentation.",
        "This text was last updated with the previous release.", "Please report problems to the bug tracker.",
        "Back to the documentation index.", "Thanks to everyone who reported this issue.",
    ];

    private static readonly string[] DocFillers =
    [
        "This change was requested by several users.", "The old behaviour can still be selected with an option.",
        "See the manual page for details.", "No user action is required.", "This is mostly of interest to developers.",
        "Thanks to the many people who tested the earlier versions.", "The documentation has been updated accordingly.",
    ];

    private const string Punctuation = ".,;:()\"'!?";

    /// <summary>
    /// Edits the original until its word-5-gram Jaccard similarity to it falls within ±<paramref name="tolerance"/> of
    /// <paramref name="target"/>. Null when that could not be reached (too short a text, too coarse a step).
    /// </summary>
    public (string Text, double Jaccard, SortedDictionary<string, int> Edits)? Near(string original, bool isAbstract, string? package, double target, double tolerance = 0.025)
    {
        var originalShingles = TextTools.Shingles(original);
        var current = original;
        var edits = new SortedDictionary<string, int>(StringComparer.Ordinal);
        var j = 1.0;
        bool header = false, footer = false;
        for (var attempt = 0; attempt < 400 && j > target + tolerance; attempt++)
        {
            var gap = j - target;
            string op;
            var roll = rng.NextDouble();
            if (gap > 0.2 && roll < 0.45) op = rng.Chance(0.5) ? "delete_sentence" : "insert_sentence";
            else if (roll < 0.12 && !header) op = "add_header";
            else if (roll < 0.24 && !footer) op = "add_footer";
            else op = rng.Pick(["replace_word", "replace_word", "replace_word", "typo", "delete_word", "insert_word"]);
            var candidate = op switch
            {
                "delete_sentence" => DeleteSentence(current),
                "insert_sentence" => InsertSentence(current, isAbstract, package),
                "add_header" => rng.Pick(isAbstract ? AbstractHeaders : DocHeaders) + "\n\n" + current,
                "add_footer" => current + "\n\n" + rng.Pick(isAbstract ? AbstractFooters : DocFooters),
                "replace_word" => ReplaceWord(current),
                "typo" => Typo(current),
                "delete_word" => DeleteWord(current),
                "insert_word" => InsertWord(current),
                _ => null,
            };
            if (candidate is null || string.Equals(candidate, current, StringComparison.Ordinal)) continue;
            var jc = TextTools.Jaccard(originalShingles, TextTools.Shingles(candidate));
            if (jc < target - tolerance) continue; // overshoot: try a smaller edit
            current = candidate;
            j = jc;
            edits[op] = edits.GetValueOrDefault(op) + 1;
            if (op == "add_header") header = true;
            if (op == "add_footer") footer = true;
        }
        if (Math.Abs(j - target) > tolerance) return null;
        return (current, j, edits);
    }

    private string? DeleteSentence(string text)
    {
        var (prefix, body) = SplitHeader(text);
        var sentences = TextTools.Sentences(body);
        if (sentences.Count < 4) return null;
        sentences.RemoveAt(1 + rng.Next(sentences.Count - 1)); // keep the opening sentence
        return prefix + string.Join(' ', sentences);
    }

    private string? InsertSentence(string text, bool isAbstract, string? package)
    {
        var (prefix, body) = SplitHeader(text);
        var sentences = TextTools.Sentences(body);
        IReadOnlyList<string>? own = null;
        var fromPackage = !isAbstract && package is not null && fillersByPackage.TryGetValue(package, out own) && rng.Chance(0.7);
        var filler = fromPackage ? rng.Pick(own!) : rng.Pick(isAbstract ? AbstractFillers : DocFillers);
        if (sentences.Contains(filler)) return null;
        sentences.Insert(1 + rng.Next(sentences.Count), filler);
        return prefix + string.Join(' ', sentences);
    }

    /// <summary>A header added earlier ("Abstract:\n\n") stays out of sentence edits.</summary>
    private static (string Prefix, string Body) SplitHeader(string text)
    {
        var cut = text.IndexOf("\n\n", StringComparison.Ordinal);
        if (cut < 0 || cut > 60) return ("", text);
        return (text[..(cut + 2)], text[(cut + 2)..]);
    }

    private string? ReplaceWord(string text)
    {
        var words = text.Split(' ');
        for (var tries = 0; tries < 12; tries++)
        {
            var i = rng.Next(words.Length);
            var (lead, core, trail) = SplitPunctuation(words[i]);
            if (core.Contains('\n')) continue;
            var lower = core.ToLowerInvariant();
            if (!Synonyms.TryGetValue(lower, out var synonym)) continue;
            if (char.IsUpper(core[0])) synonym = char.ToUpperInvariant(synonym[0]) + synonym[1..];
            words[i] = lead + synonym + trail;
            return string.Join(' ', words);
        }
        return Typo(text);
    }

    private string? Typo(string text)
    {
        var words = text.Split(' ');
        for (var tries = 0; tries < 12; tries++)
        {
            var i = rng.Next(words.Length);
            var (lead, core, trail) = SplitPunctuation(words[i]);
            if (core.Length < 5 || !core.All(char.IsLetter)) continue;
            var p = 1 + rng.Next(core.Length - 3);
            if (core[p] == core[p + 1]) continue;
            var chars = core.ToCharArray();
            (chars[p], chars[p + 1]) = (chars[p + 1], chars[p]);
            words[i] = lead + new string(chars) + trail;
            return string.Join(' ', words);
        }
        return null;
    }

    private string? DeleteWord(string text)
    {
        var words = text.Split(' ').ToList();
        for (var tries = 0; tries < 12; tries++)
        {
            var i = 1 + rng.Next(words.Count - 1);
            var (_, core, trail) = SplitPunctuation(words[i]);
            if (trail.Length > 0 || core.Contains('\n')) continue; // keep sentence punctuation in place
            var lower = core.ToLowerInvariant();
            if (Adverbs.Contains(lower) || lower is "very" or "just" or "only" or "then" or "really" or "the" or "new" or "simple" or "small" or "large" or "different" or "various")
            {
                words.RemoveAt(i);
                return string.Join(' ', words);
            }
        }
        return null;
    }

    private string? InsertWord(string text)
    {
        var words = text.Split(' ').ToList();
        if (words.Count < 3) return null;
        for (var tries = 0; tries < 12; tries++)
        {
            // After an auxiliary or subject ("is also", "can often", "we now"), where an adverb reads naturally.
            var i = 1 + rng.Next(words.Count - 1);
            if (!AdverbSlots.Contains(words[i - 1]) || !char.IsLower(words[i].FirstOrDefault()) || Adverbs.Contains(words[i])) continue;
            words.Insert(i, rng.Pick(Adverbs));
            return string.Join(' ', words);
        }
        return null;
    }

    private static (string Lead, string Core, string Trail) SplitPunctuation(string word)
    {
        var start = 0;
        while (start < word.Length && Punctuation.Contains(word[start])) start++;
        var end = word.Length;
        while (end > start && Punctuation.Contains(word[end - 1])) end--;
        return (word[..start], word[start..end], word[end..]);
    }

    // ---------------------------------------------------------------- low quality

    public const string TooShort = "too_short";
    public const string SymbolRatio = "symbol_ratio";
    public const string RepeatedLines = "repeated_lines";
    public const string TooFewWords = "too_few_words";

    private static readonly string[] SymbolRuns =
    [
        "■■□", "▓▓▒░", "◆◇◆", "★★★☆☆", "→→", "←", "▶▶", "╔══╗", "╚══╝", "║", "§§", "¤¤¤", "©®™", "±×÷", "♦♣♠♥",
        "●○●", "◄►", "∞≈≠", "¶", "•••", "✓✗", "⇒", "∑∏", "≡≡≡", "#%&*", "^^~~", "$$", "<<>>", "+=+", "|||",
    ];

    /// <summary>
    /// Under 50 characters but eight words or more (so a min_words of 5 to 8 passes it), no symbols: only the
    /// length check fails. The opening words of a sentence, "..." where it was cut.
    /// </summary>
    public static string? MakeTooShort(string sentence)
    {
        var words = sentence.Split(' ');
        var take = new List<string>();
        foreach (var w in words)
        {
            var candidate = string.Join(' ', take.Append(w));
            if (candidate.Length + (take.Count + 1 == words.Length ? 0 : 3) > 49) break;
            take.Add(w);
        }
        if (take.Count < 8) return null;
        var text = string.Join(' ', take);
        return take.Count == words.Length ? text : text.TrimEnd(',', ';', ':') + "...";
    }

    /// <summary>Fifty characters or more in under five words, letters and digits only.</summary>
    public string? MakeTooFewWords(string sentence, int index)
    {
        if (index % 3 == 2)
        {
            // A checksum line, as left behind by a broken scrape of a download page.
            var hash = System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes(sentence));
            return rng.Pick(["sha256", "SHA256", "checksum"]) + " " + Convert.ToHexStringLower(hash);
        }
        // Words run together, as text extraction from a PDF with lost spaces produces.
        var words = sentence.Split(' ').Select(w => new string(w.Where(char.IsLetterOrDigit).ToArray())).Where(w => w.Length > 0).ToList();
        if (words.Count < 10) return null;
        var pieces = rng.Between(1, 3);
        var per = Math.Min(words.Count / pieces, 12);
        var tokens = Enumerable.Range(0, pieces).Select(p => string.Concat(words.Skip(p * per).Take(per))).ToList();
        var text = string.Join(' ', tokens);
        return text.Length >= 60 ? text : null;
    }

    /// <summary>Words buried in symbol runs: over a third of the characters are symbols.</summary>
    public string? MakeSymbolSoup(string sentence)
    {
        var words = sentence.Split(' ').Take(14).ToList();
        if (words.Count < 10) return null; // ten real words or more: min_words never fails it
        var sb = new StringBuilder();
        foreach (var w in words)
        {
            sb.Append(rng.Pick(SymbolRuns)).Append(rng.Pick(SymbolRuns)).Append(' ').Append(w).Append(' ');
        }
        sb.Append(rng.Pick(SymbolRuns)).Append(rng.Pick(SymbolRuns));
        var text = sb.ToString();
        // Counted strictly (Unicode symbols only, no punctuation), so the share is high under any reading.
        return QualityReference.SymbolRatio(text) >= 0.3 ? text : null;
    }

    /// <summary>One line (sometimes two alternating) repeated many times: most lines repeat an earlier one.</summary>
    public string MakeRepeatedLines(string line, string? second)
    {
        var n = rng.Between(6, 24);
        var lines = new List<string>();
        for (var i = 0; i < n; i++) lines.Add(second is not null && i % 2 == 1 ? second : line);
        return string.Join('\n', lines);
    }
}
