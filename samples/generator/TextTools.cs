using System.Globalization;
using System.Text;

namespace Curation.SampleGenerator;

/// <summary>The measures the ground truth is stated in, kept small and explicit so a test can recompute them.</summary>
public static class TextTools
{
    /// <summary>Whitespace-separated tokens of the lower-cased text (invariant culture).</summary>
    public static string[] Words(string text) =>
        text.ToLowerInvariant().Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);

    /// <summary>
    /// Word 5-grams after lower-casing and whitespace normalisation: a text of fewer than five words is one shingle.
    /// </summary>
    public static HashSet<string> Shingles(string text, int n = 5)
    {
        var words = Words(text);
        var set = new HashSet<string>(StringComparer.Ordinal);
        if (words.Length == 0) return set;
        if (words.Length < n) { set.Add(string.Join(' ', words)); return set; }
        for (var i = 0; i + n <= words.Length; i++) set.Add(string.Join(' ', words, i, n));
        return set;
    }

    public static double Jaccard(HashSet<string> a, HashSet<string> b)
    {
        if (a.Count == 0 && b.Count == 0) return 1.0;
        var (small, large) = a.Count <= b.Count ? (a, b) : (b, a);
        var inter = 0;
        foreach (var s in small) if (large.Contains(s)) inter++;
        return inter / (double)(a.Count + b.Count - inter);
    }

    public static double Jaccard(string a, string b) => Jaccard(Shingles(a), Shingles(b));

    /// <summary>
    /// What a whitespace/case variant must equal its original under: NFC, control (Cc) and format (Cf: zero-width
    /// space, word joiner, BOM, soft hyphen; but not ZWNJ/ZWJ, which carry meaning) characters removed, whitespace runs
    /// collapsed to one space, trimmed, lower-cased (invariant).
    /// </summary>
    public static string Canonical(string text) => Canonical(text, upper: false);

    public static string Canonical(string text, bool upper)
    {
        var nfc = text.Normalize(NormalizationForm.FormC);
        var sb = new StringBuilder(nfc.Length);
        var pendingSpace = false;
        foreach (var c in nfc)
        {
            if (char.IsWhiteSpace(c)) { pendingSpace = sb.Length > 0; continue; }
            var cat = CharUnicodeInfo.GetUnicodeCategory(c);
            if (cat is UnicodeCategory.Control || (cat is UnicodeCategory.Format && c is not '\u200C' and not '\u200D')) continue;
            if (pendingSpace) { sb.Append(' '); pendingSpace = false; }
            sb.Append(c);
        }
        return upper ? sb.ToString().ToUpperInvariant() : sb.ToString().ToLowerInvariant();
    }

    /// <summary>Collapses every whitespace run to one space and trims.</summary>
    public static string CollapseWhitespace(string text) =>
        string.Join(' ', text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries));

    public static bool HasControlOrFormat(string text)
    {
        foreach (var c in text)
        {
            if (c is '\n' or '\t' or '\r') continue;
            var cat = CharUnicodeInfo.GetUnicodeCategory(c);
            if (cat is UnicodeCategory.Control or UnicodeCategory.Format or UnicodeCategory.PrivateUse
                or UnicodeCategory.Surrogate or UnicodeCategory.OtherNotAssigned) return true;
        }
        return false;
    }

    /// <summary>Splits prose into sentences at ". " / "? " / "! " followed by an upper-case letter or a digit.</summary>
    public static List<string> Sentences(string text)
    {
        var result = new List<string>();
        var start = 0;
        for (var i = 0; i < text.Length - 2; i++)
        {
            if (text[i] is '.' or '?' or '!' && text[i + 1] == ' ' && (char.IsUpper(text[i + 2]) || char.IsDigit(text[i + 2])))
            {
                // "e.g. Foo", "i.e. Bar", "Dr. X", "vs. Y" are not sentence ends.
                var wordStart = text.LastIndexOf(' ', i) + 1;
                var word = text[wordStart..(i + 1)];
                if (word is "e.g." or "i.e." or "vs." or "Dr." or "Mr." or "etc." or "cf." or "al." or "Fig." or "No.") continue;
                result.Add(text[start..(i + 1)]);
                start = i + 2;
            }
        }
        if (start < text.Length) result.Add(text[start..]);
        return result;
    }

    public static bool HasDecomposableLetters(string text) =>
        !string.Equals(text.Normalize(NormalizationForm.FormD), text, StringComparison.Ordinal);
}
