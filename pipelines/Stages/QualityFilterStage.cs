using System.Globalization;
using Curation.Pipelines.Model;
using Curation.Pipelines.Spec;
using Curation.Pipelines.Text;

namespace Curation.Pipelines.Stages;

/// <summary>
/// Light heuristic quality filters, script-aware; each failed check drops the document with its own reason. The
/// published rule sets are the <c>gopher_quality</c>, <c>gopher_repetition</c>, <c>c4</c> and <c>fineweb_quality</c> stages.
/// </summary>
[Stage(TypeName, Role = StageRole.Filter)]
public sealed record QualityFilterStageSpec : DocumentStageSpec
{
    public const string TypeName = "quality_filter";

    /// <summary>
    /// Fewest characters, for English text; other scripts scale it by <see cref="CharScale"/> (Chinese needs about half
    /// as many characters as English for the same text). 50: shorter than one sentence of prose.
    /// </summary>
    public int MinChars { get; init; } = 50;

    /// <summary>Most characters (UTF-16 units): 1,000,000, about Gopher's 100,000-word upper bound (Rae et al. 2021).</summary>
    public int MaxChars { get; init; } = 1_000_000;

    /// <summary>
    /// Fewest words, counted script-aware (<see cref="Words"/>: Han and kana per character, Thai etc. per cluster).
    /// 5: C4's lower bound of words on a kept line is 3 and of sentences on a page 5 (Raffel et al. 2020); a text of
    /// fewer than five words is a fragment. Gopher's 50 is in <c>gopher_quality</c>.
    /// </summary>
    public int MinWords { get; init; } = 5;

    /// <summary>
    /// Largest share of non-space characters that are non-ASCII Unicode symbols (categories Sm, Sc, Sk, So: box drawing,
    /// arrows, geometric shapes, dingbats, emoji). ASCII marks (<c>&gt; @ # * _ | = ~</c>…) are not counted: they are
    /// ordinary in e-mail, Markdown, code and URLs. 0.1: Gopher's symbol bound (Rae et al. 2021), applied per character.
    /// </summary>
    public double MaxSymbolRatio { get; init; } = 0.1;

    /// <summary>Largest share of non-empty lines that repeat an earlier line: 0.3, Gopher's duplicate-line fraction.</summary>
    public double MaxRepeatedLineFraction { get; init; } = 0.3;

    /// <summary>
    /// Character scale per script (<c>han</c>, <c>kana</c>, <c>hangul</c>, <c>thai</c>, <c>other</c>…) or per language
    /// (ISO code, read from a <c>language</c> column): the character thresholds are multiplied by it. Entries replace the
    /// defaults of <see cref="Scripts.DefaultCharScale"/> (han 0.5, kana 0.7, hangul 0.65; measured on the Debian FAQ's
    /// translations).
    /// </summary>
    public IReadOnlyDictionary<string, double>? CharScale { get; init; }

    public override void Validate(StageChecks check)
    {
        check.That(MinChars >= 0, "minChars", "must be ≥ 0");
        check.That(MaxChars > MinChars, "maxChars", "must be greater than minChars");
        check.That(MinWords >= 0, "minWords", "must be ≥ 0");
        check.That(MaxSymbolRatio is > 0 and <= 1, "maxSymbolRatio", "must be in (0, 1]");
        check.That(MaxRepeatedLineFraction is > 0 and <= 1, "maxRepeatedLineFraction", "must be in (0, 1]");
        RuleSetChecks.CharScale(check, CharScale);
    }

    public override IDocumentTransform CreateTransform() => new QualityFilterTransform(this);
}

/// <summary>
/// Checks run in a fixed order and the first failure names the drop reason; the measured values are kept as columns so
/// thresholds can be tuned from the output.
/// </summary>
public sealed class QualityFilterTransform(QualityFilterStageSpec spec) : IDocumentTransform
{
    public const string TooShort = "too_short";
    public const string TooLong = "too_long";
    public const string TooFewWords = "too_few_words";
    public const string SymbolRatio = "symbol_ratio";
    public const string RepeatedLines = "repeated_lines";

    public const string CharCountColumn = "char_count";
    public const string WordCountColumn = "word_count";

    public IReadOnlyList<ColumnSchema> AddedColumns { get; } =
        [new(CharCountColumn, typeof(int)), new(WordCountColumn, typeof(int))];

    public void Process(RecordBatch batch, DropCollector drops)
    {
        var chars = batch.ResetColumn<int>(CharCountColumn, batch.RowCount);
        var words = batch.ResetColumn<int>(WordCountColumn, batch.RowCount);
        var languages = StopWords.LanguageColumnOf(batch);
        var scratch = new List<Word>(); // per call: one transform serves every shard task of a silo at once
        for (var row = 0; row < batch.RowCount; row++)
        {
            var text = batch.Texts[row];
            var measures = TextMeasures.Of(text, scratch);
            chars.Add(measures.Chars);
            words.Add(measures.Words);
            var minChars = (int)Math.Ceiling(spec.MinChars * Scripts.CharScale(text, languages?.List[row], spec.CharScale));
            var failure = Check(measures, minChars);
            if (failure is { } f) drops.Drop(row, f.Reason, f.Detail);
        }
    }

    private (string Reason, string Detail)? Check(TextMeasures m, int minChars)
    {
        if (m.Chars < minChars) return (TooShort, $"{m.Chars} chars < {minChars}");
        if (m.Chars > spec.MaxChars) return (TooLong, $"{m.Chars} chars > {spec.MaxChars}");
        if (m.Words < spec.MinWords) return (TooFewWords, $"{m.Words} words < {spec.MinWords}");
        if (m.SymbolRatio > spec.MaxSymbolRatio) return (SymbolRatio, $"symbol ratio {m.SymbolRatio:0.###} > {spec.MaxSymbolRatio}");
        if (m.RepeatedLineFraction > spec.MaxRepeatedLineFraction)
            return (RepeatedLines, $"repeated-line fraction {m.RepeatedLineFraction:0.###} > {spec.MaxRepeatedLineFraction}");
        return null;
    }
}

/// <summary>The numbers the quality filters look at.</summary>
public readonly record struct TextMeasures(int Chars, int Words, double SymbolRatio, double RepeatedLineFraction)
{
    public static TextMeasures Of(string text) => Of(text, []);

    public static TextMeasures Of(string text, List<Word> scratch)
    {
        int symbols = 0, visible = 0;
        foreach (var c in text)
        {
            if (char.IsWhiteSpace(c)) continue;
            visible++;
            if (IsSymbol(c)) symbols++;
        }
        return new TextMeasures(text.Length, Text.Words.Count(text, scratch), visible == 0 ? 0 : (double)symbols / visible, RepeatedLines(text));
    }

    /// <summary>A non-ASCII Unicode symbol (Sm, Sc, Sk, So).</summary>
    public static bool IsSymbol(char c) => c >= 128 && CharUnicodeInfo.GetUnicodeCategory(c) is UnicodeCategory.MathSymbol
        or UnicodeCategory.CurrencySymbol or UnicodeCategory.ModifierSymbol or UnicodeCategory.OtherSymbol;

    private static double RepeatedLines(string text)
    {
        if (text.IndexOf('\n') < 0) return 0;
        var seen = new HashSet<string>(StringComparer.Ordinal);
        int lines = 0, repeated = 0;
        foreach (var range in text.AsSpan().Split('\n'))
        {
            var line = text.AsSpan()[range].Trim();
            if (line.IsEmpty) continue;
            lines++;
            if (!seen.Add(line.ToString())) repeated++;
        }
        return lines == 0 ? 0 : (double)repeated / lines;
    }
}
