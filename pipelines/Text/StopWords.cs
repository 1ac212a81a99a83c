using System.Collections.Frozen;
using Curation.Pipelines.Model;

namespace Curation.Pipelines.Text;

/// <summary>
/// Stop words per language for the Gopher stop-word rule, and the language a document is measured in.
/// English is Gopher's own list (Rae et al. 2021: "the, be, to, of, and, that, have, with"). The other lists are the
/// same kind of word for each language: its eight most frequent function words (Korean: twelve, because its particles and endings attach to the word before them) (articles, copulas, conjunctions,
/// prepositions; for Chinese, Japanese, Korean and Thai the particles and function words that ordinary prose of the
/// Debian FAQ and Firefox translations in tests/data/multilingual uses in nearly every paragraph).
/// In scripts written without spaces a stop word counts when it occurs anywhere in the text (there are no word
/// boundaries to match); elsewhere it must be a whole word, case and all (as datatrove matches).
/// </summary>
public static class StopWords
{
    /// <summary>The column a language-identification stage writes (ISO 639-1 or 639-3 code).</summary>
    public const string LanguageColumn = "language";

    public static readonly FrozenDictionary<string, FrozenSet<string>> ByLanguage = new Dictionary<string, string[]>
    {
        ["en"] = ["the", "be", "to", "of", "and", "that", "have", "with"],
        ["de"] = ["der", "die", "und", "das", "ist", "zu", "den", "nicht"],
        ["fr"] = ["le", "la", "les", "de", "et", "est", "une", "que"],
        ["es"] = ["el", "la", "de", "que", "y", "en", "los", "es"],
        ["it"] = ["il", "la", "di", "che", "e", "è", "un", "per"],
        ["pt"] = ["o", "a", "de", "que", "e", "é", "um", "para"],
        ["nl"] = ["de", "het", "een", "en", "van", "is", "dat", "niet"],
        ["ru"] = ["и", "в", "не", "на", "что", "с", "это", "как"],
        ["zh"] = ["的", "是", "在", "了", "和", "有", "不", "这"],
        ["ja"] = ["の", "に", "は", "を", "が", "た", "で", "と"],
        ["ko"] = ["수", "것", "및", "또는", "그리고", "이", "그", "있는", "하는", "있습니다", "합니다", "위해"],
        ["th"] = ["ที่", "และ", "ของ", "ใน", "เป็น", "ได้", "ให้", "มี"],
    }.ToFrozenDictionary(kv => kv.Key, kv => kv.Value.ToFrozenSet(StringComparer.Ordinal), StringComparer.Ordinal);

    /// <summary>ISO 639-3 codes of the listed languages (a language column may hold either form).</summary>
    private static readonly FrozenDictionary<string, string> ThreeLetter = new Dictionary<string, string>
    {
        ["eng"] = "en", ["deu"] = "de", ["fra"] = "fr", ["spa"] = "es", ["ita"] = "it", ["por"] = "pt", ["nld"] = "nl",
        ["rus"] = "ru", ["zho"] = "zh", ["cmn"] = "zh", ["jpn"] = "ja", ["kor"] = "ko", ["tha"] = "th",
    }.ToFrozenDictionary(StringComparer.Ordinal);

    /// <summary>The language column of a batch, or null when the batch has none.</summary>
    public static Column<string>? LanguageColumnOf(RecordBatch batch) =>
        batch.Find(LanguageColumn) is Column<string> c ? c : null;

    /// <summary>
    /// The language a document's stop words come from: its <c>language</c> value when present and known (an ISO 639-3 code
    /// maps to 639-1; a region suffix such as <c>zh-cn</c> is ignored); otherwise the language its dominant script implies
    /// (Han → zh, kana → ja, Hangul → ko, Thai → th); otherwise <paramref name="fallback"/> (the spec's language).
    /// </summary>
    public static string LanguageFor(string? language, Script dominant, bool hasKana, string fallback)
    {
        if (!string.IsNullOrEmpty(language)) return Normalize(language);
        return dominant switch
        {
            Script.Han => hasKana ? "ja" : "zh",
            Script.Kana => "ja",
            Script.Hangul => "ko",
            Script.Thai => "th",
            _ => Normalize(fallback),
        };
    }

    /// <summary>The key of <see cref="ByLanguage"/> a language code means: lower case, region or script cut (<c>pt-BR</c> → <c>pt</c>), ISO 639-3 → 639-1 (<c>deu</c> → <c>de</c>).</summary>
    public static string Normalize(string language)
    {
        var code = language.ToLowerInvariant();
        var dash = code.IndexOfAny(['-', '_']);
        if (dash > 0) code = code[..dash];
        return ThreeLetter.GetValueOrDefault(code, code);
    }

    /// <summary>How many distinct stop words of <paramref name="list"/> the text holds.</summary>
    public static int CountIn(string text, IReadOnlyList<Word> words, IReadOnlySet<string> list)
    {
        var found = new HashSet<string>(StringComparer.Ordinal);
        foreach (var stop in list)
            if (stop.Length > 0 && Scripts.IsUnspaced(Scripts.Of(char.ConvertToUtf32(stop, 0))) && text.Contains(stop, StringComparison.Ordinal))
                found.Add(stop);
        foreach (var w in words)
        {
            if (w.IsPunctuation) continue;
            var word = w.In(text).ToString();
            if (list.Contains(word)) found.Add(word);
        }
        return found.Count;
    }
}
