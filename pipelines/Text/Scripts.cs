using System.Globalization;
using System.Text;

namespace Curation.Pipelines.Text;

/// <summary>
/// The writing systems the text measures tell apart: those written without spaces between words (segmented per
/// character or per syllable cluster by <see cref="Words"/>), Hangul (spaced, but a syllable block holds 2–3 letters),
/// and every other script (<see cref="Other"/>: words are separated by spaces).
/// </summary>
public enum Script : byte
{
    Other,
    Han,
    Kana,
    Hangul,
    Thai,
    Lao,
    Khmer,
    Myanmar,
    Tibetan,
}

/// <summary>Which script a character belongs to, and the per-script character scale for length thresholds.</summary>
public static class Scripts
{
    /// <summary>The script of a code point (Unicode blocks; punctuation and digits are <see cref="Script.Other"/>).</summary>
    public static Script Of(int c) => c switch
    {
        < 0x0E00 => Script.Other,
        <= 0x0E7F => Script.Thai,
        <= 0x0EFF => Script.Lao,
        <= 0x0FFF => Script.Tibetan,
        <= 0x109F and >= 0x1000 => Script.Myanmar,
        <= 0x11FF and >= 0x1100 => Script.Hangul, // jamo
        <= 0x17FF and >= 0x1780 => Script.Khmer,
        <= 0x19FF and >= 0x19E0 => Script.Khmer, // Khmer symbols
        <= 0x2FDF and >= 0x2E80 => Script.Han, // radicals
        0x3005 or 0x3007 or (>= 0x3021 and <= 0x3029) or (>= 0x3038 and <= 0x303B) => Script.Han,
        <= 0x30FF and >= 0x3040 => Script.Kana,
        <= 0x318F and >= 0x3130 => Script.Hangul, // compatibility jamo
        <= 0x31FF and >= 0x31F0 => Script.Kana,
        <= 0x4DBF and >= 0x3400 => Script.Han,
        <= 0x9FFF and >= 0x4E00 => Script.Han,
        <= 0xA97F and >= 0xA960 => Script.Hangul,
        <= 0xA9FF and >= 0xA9E0 => Script.Myanmar,
        <= 0xAA7F and >= 0xAA60 => Script.Myanmar,
        <= 0xD7FF and >= 0xAC00 => Script.Hangul,
        <= 0xFAFF and >= 0xF900 => Script.Han,
        <= 0xFF9F and >= 0xFF66 => Script.Kana, // half-width katakana
        <= 0xFFDC and >= 0xFFA0 => Script.Hangul, // half-width jamo
        <= 0x1B16F and >= 0x1B000 => Script.Kana,
        <= 0x323AF and >= 0x20000 => Script.Han,
        _ => Script.Other,
    };

    /// <summary>Scripts whose words are not separated by spaces.</summary>
    public static bool IsUnspaced(Script s) => s is not (Script.Other or Script.Hangul);

    /// <summary>
    /// A UTF-16 unit of a script written without spaces, or of the CJK punctuation such text uses (U+3000–U+303F,
    /// full-width forms), or a high surrogate of the supplementary ideographic planes: what makes a text "unspaced" when
    /// most of its visible characters are such (the near-dedup shingler's character fallback).
    /// </summary>
    public static bool IsWrittenWithoutSpaces(char c) => c >= 0x0E00 && (
        IsUnspaced(Of(c)) || c is (>= '\u3000' and <= '\u303F') or (>= '\uFF00' and <= '\uFF65') or (>= '\uD840' and <= '\uD88F'));

    /// <summary>
    /// The script with the most words in <paramref name="text"/> (ties: the earlier enum value), counted as
    /// <see cref="Words"/> does: a Han, kana, Thai… letter is a word, a run of letters of another script is one.
    /// </summary>
    public static Script Dominant(ReadOnlySpan<char> text)
    {
        Span<int> counts = stackalloc int[9];
        var previous = -1;
        foreach (var rune in text.EnumerateRunes())
        {
            if (!Rune.IsLetter(rune))
            {
                if (!Rune.IsDigit(rune) && rune.Value != '\'' && rune.Value != '-') previous = -1;
                continue;
            }
            var script = Of(rune.Value);
            if (IsUnspaced(script) || (int)script != previous) counts[(int)script]++;
            previous = (int)script;
        }
        var best = 0;
        for (var i = 1; i < counts.Length; i++)
            if (counts[i] > counts[best]) best = i;
        return (Script)best;
    }

    /// <summary>
    /// About how many of <see cref="Words"/>' units make one word of a script written without spaces: Chinese words
    /// average 1.5–2 characters, Japanese about 2, Thai, Lao, Khmer, Myanmar and Tibetan words 2–4 clusters; 1 for the
    /// rest. Rules on word n-grams (gopher_repetition) multiply n by it, so a "5-gram" covers about five words everywhere.
    /// </summary>
    public static int UnitsPerWord(Script s) => s switch
    {
        Script.Han or Script.Kana => 2,
        Script.Thai or Script.Lao or Script.Khmer or Script.Myanmar or Script.Tibetan => 3,
        _ => 1,
    };

    private static readonly string[] Names = [.. Enum.GetValues<Script>().Select(s => s.ToString().ToLowerInvariant())];

    /// <summary>The lowercase name of a script, as the <c>charScale</c> parameters key it.</summary>
    public static string Name(Script s) => (int)s < Names.Length ? Names[(int)s] : s.ToString().ToLowerInvariant();

    /// <summary>
    /// How many characters of a script carry the text of one character of English, by default: the ratio of non-space
    /// characters in the Debian FAQ 11.1 translations to the English original (tests/data/multilingual: zh-cn 0.50,
    /// ja 0.73, ko 0.66; the translations keep commands and URLs in Latin letters, so the pure-script ratio is lower
    /// still and these scales are on the lenient side of strict). Thai, Lao, Khmer, Myanmar and Tibetan are alphabets
    /// (abugidas) spelling out vowels and consonants much as Latin does: scale 1. A character threshold of a stage applies
    /// to a text (or line) as <c>threshold × scale</c> of its dominant script.
    /// </summary>
    public static readonly IReadOnlyDictionary<string, double> DefaultCharScale = new Dictionary<string, double>(StringComparer.Ordinal)
    {
        ["han"] = 0.5,
        ["kana"] = 0.7,
        ["hangul"] = 0.65,
    };

    /// <summary>
    /// The character scale for a text: an entry for its <paramref name="language"/> (ISO code, from a <c>language</c>
    /// column) wins, then one for its dominant script, then the defaults; 1 otherwise. Japanese text is mostly Han with
    /// kana: a text with any kana letters scales as kana.
    /// </summary>
    public static double CharScale(ReadOnlySpan<char> text, string? language, IReadOnlyDictionary<string, double>? overrides)
    {
        if (language is not null && overrides is not null && overrides.TryGetValue(language, out var byLanguage)) return byLanguage;
        // Below U+0E00 every character is of Script.Other (surrogates included, they are above), so such a text's dominant
        // script is Other: one vectorised scan instead of decoding every rune.
        var script = text.IndexOfAnyInRange('\u0E00', '\uFFFF') < 0 ? Script.Other : Dominant(text);
        if (script == Script.Han && ContainsKana(text)) script = Script.Kana;
        var name = Name(script);
        if (overrides is not null && overrides.TryGetValue(name, out var byScript)) return byScript;
        return DefaultCharScale.GetValueOrDefault(name, 1.0);
    }

    private static bool ContainsKana(ReadOnlySpan<char> text)
    {
        foreach (var c in text)
            if (c is >= '\u3040' and <= '\u30FF') return true;
        return false;
    }

    /// <summary>Unicode punctuation (P*) or symbol (S*): what a word is stripped of at its ends.</summary>
    public static bool IsPunctuationOrSymbol(Rune r) => Rune.GetUnicodeCategory(r) is
        UnicodeCategory.ConnectorPunctuation or UnicodeCategory.DashPunctuation or UnicodeCategory.OpenPunctuation
        or UnicodeCategory.ClosePunctuation or UnicodeCategory.InitialQuotePunctuation or UnicodeCategory.FinalQuotePunctuation
        or UnicodeCategory.OtherPunctuation or UnicodeCategory.MathSymbol or UnicodeCategory.CurrencySymbol
        or UnicodeCategory.ModifierSymbol or UnicodeCategory.OtherSymbol;
}
