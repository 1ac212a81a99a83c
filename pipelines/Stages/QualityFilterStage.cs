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
public sealed record QualityFilterStageSpec : DocumentStageSpec, IThresholdedSpec
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

    /// <summary>Each threshold's measure, recorded over the documents every other check passes (so the what-if adds up exactly per bin).</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public IReadOnlyList<ThresholdMeasure> Thresholds =>
    [
        new("minChars", "characters", MinChars, DropsAbove: false, 0, 1_000_000, Bins: 120, Log: true, Integer: true),
        new("maxChars", "characters", MaxChars, DropsAbove: true, 0, 10_000_000, Bins: 120, Log: true, Integer: true),
        new("minWords", "words", MinWords, DropsAbove: false, 0, 100_000, Bins: 100, Log: true, Integer: true),
        new("maxSymbolRatio", "symbol ratio", MaxSymbolRatio, DropsAbove: true, 0, 1),
        new("maxRepeatedLineFraction", "repeated-line fraction", MaxRepeatedLineFraction, DropsAbove: true, 0, 1),
    ];

    public StageSpec WithThreshold(string field, double value) => field switch
    {
        "minChars" => this with { MinChars = (int)Math.Round(value) },
        "maxChars" => this with { MaxChars = (int)Math.Round(value) },
        "minWords" => this with { MinWords = (int)Math.Round(value) },
        "maxSymbolRatio" => this with { MaxSymbolRatio = value },
        "maxRepeatedLineFraction" => this with { MaxRepeatedLineFraction = value },
        _ => throw new ArgumentException($"{TypeName} has no threshold '{field}'.", nameof(field)),
    };
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

    private readonly IReadOnlyList<ThresholdMeasure> _thresholds = spec.Thresholds;

    public void Process(RecordBatch batch, DropCollector drops)
    {
        var chars = batch.ResetColumn<int>(CharCountColumn, batch.RowCount);
        var words = batch.ResetColumn<int>(WordCountColumn, batch.RowCount);
        Span<bool> fails = stackalloc bool[5];
        var languages = StopWords.LanguageColumnOf(batch);
        var scratch = new List<Word>(); // per call: one transform serves every shard task of a silo at once
        for (var row = 0; row < batch.RowCount; row++)
        {
            var text = batch.Texts[row];
            var measures = TextMeasures.Of(text, scratch);
            chars.Add(measures.Chars);
            words.Add(measures.Words);
            var scale = Scripts.CharScale(text, languages?.List[row], spec.CharScale);
            var minChars = (int)Math.Ceiling(spec.MinChars * scale);
            var failure = Check(measures, minChars);
            if (failure is { } f) drops.Drop(row, f.Reason, f.Detail);
            RecordMeasures(measures, scale, fails, drops);
        }
    }

    /// <summary>
    /// Each threshold's measure for the what-if, counted only when every other check passes: a document such a check removes
    /// stays removed whatever this threshold becomes, so removed(t) = removed − this histogram beyond the current threshold + beyond t.
    /// </summary>
    /// The minChars measure is the characters divided by the text's script scale (English-equivalent characters): a
    /// document is too short exactly when that is below minChars, whatever its script.
    private void RecordMeasures(TextMeasures m, double scale, Span<bool> fails, DropCollector drops)
    {
        var scaledChars = m.Chars / scale;
        fails[0] = scaledChars < spec.MinChars;
        fails[1] = m.Chars > spec.MaxChars;
        fails[2] = m.Words < spec.MinWords;
        fails[3] = m.SymbolRatio > spec.MaxSymbolRatio;
        fails[4] = m.RepeatedLineFraction > spec.MaxRepeatedLineFraction;
        var failing = 0;
        foreach (var f in fails) if (f) failing++;
        if (failing > 1) return;
        ReadOnlySpan<double> values = [scaledChars, m.Chars, m.Words, m.SymbolRatio, m.RepeatedLineFraction];
        for (var i = 0; i < fails.Length; i++)
            if (failing == 0 || fails[i]) drops.Measure(_thresholds[i], values[i]);
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
