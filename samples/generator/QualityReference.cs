using System.Globalization;

namespace Curation.SampleGenerator;

/// <summary>
/// The heuristic checks the low-quality documents are built against, with the quality_filter stage's default
/// thresholds (min_chars 50, min_words 5, max_symbol_ratio 0.1, max_repeated_line_fraction 0.3), and with
/// min_words 8 too (the demo job's setting). The generator uses
/// it to prove each low-quality document fails exactly its one labelled check and every other document passes all.
/// The symbol count here is the strict reading (anything but letters, marks, digits, whitespace and Unicode
/// punctuation, and also the ASCII marks # * | ~ ^ _ \ &lt; &gt; { } = @ `); the symbol-soup documents stay above the threshold
/// under any narrower notion of "symbol" too.
/// </summary>
public static class QualityReference
{
    /// <summary>
    /// The checks a text fails with min_chars 50, the given min_words, max_symbol_ratio 0.1 and
    /// max_repeated_line_fraction 0.3. Words are counted both as whitespace-separated tokens and as runs of letters
    /// and digits; a text fails min_words if either count is below it.
    /// </summary>
    public static List<string> Failures(string text, int minWords)
    {
        var failures = new List<string>();
        var t = TextTools.Canonical(text); // as the normalize stage leaves it (lower-casing does not matter here)
        if (t.Length < 50) failures.Add(Variants.TooShort);
        if (TextTools.Words(t).Length < minWords || AlphanumericRuns(t) < minWords) failures.Add(Variants.TooFewWords);
        if (SymbolRatio(text) > 0.1) failures.Add(Variants.SymbolRatio);
        if (RepeatedLineFraction(text) > 0.3) failures.Add(Variants.RepeatedLines);
        return failures;
    }

    private static int AlphanumericRuns(string text)
    {
        var runs = 0;
        var inRun = false;
        foreach (var c in text)
        {
            var alnum = char.IsLetterOrDigit(c);
            if (alnum && !inRun) runs++;
            inRun = alnum;
        }
        return runs;
    }

    public static double SymbolRatio(string text)
    {
        int symbols = 0, total = 0;
        foreach (var c in text)
        {
            if (char.IsWhiteSpace(c)) continue;
            var cat = CharUnicodeInfo.GetUnicodeCategory(c);
            if (cat is UnicodeCategory.Control or UnicodeCategory.Format) continue; // removed by normalize
            total++;
            if ("#*|~^_\\<>{}=@`".Contains(c)) { symbols++; continue; } // ASCII marks of markup and symbol soup
            if (char.IsLetterOrDigit(c) || cat is UnicodeCategory.NonSpacingMark or UnicodeCategory.SpacingCombiningMark
                or UnicodeCategory.ConnectorPunctuation or UnicodeCategory.DashPunctuation or UnicodeCategory.OpenPunctuation
                or UnicodeCategory.ClosePunctuation or UnicodeCategory.InitialQuotePunctuation or UnicodeCategory.FinalQuotePunctuation
                or UnicodeCategory.OtherPunctuation) continue;
            symbols++;
        }
        return total == 0 ? 0 : symbols / (double)total;
    }

    /// <summary>Share of non-empty lines (trimmed) equal to an earlier line of the same text.</summary>
    public static double RepeatedLineFraction(string text)
    {
        var lines = text.Replace("\r\n", "\n").Split('\n').Select(l => l.Trim()).Where(l => l.Length > 0).ToList();
        if (lines.Count == 0) return 0;
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var repeats = lines.Count(l => !seen.Add(l));
        return repeats / (double)lines.Count;
    }
}
