using System.Globalization;
using Curation.Pipelines.Model;
using Curation.Pipelines.Spec;

namespace Curation.Pipelines.Stages;

/// <summary>Heuristic quality filters; each failed check drops the document with its own reason.</summary>
[Stage(TypeName, Role = StageRole.Filter)]
public sealed record QualityFilterStageSpec : DocumentStageSpec, IThresholdedSpec
{
    public const string TypeName = "quality_filter";

    public int MinChars { get; init; } = 50;
    public int MaxChars { get; init; } = 1_000_000;
    public int MinWords { get; init; } = 5;

    /// <summary>Largest share of characters that are neither letters, digits, whitespace nor common punctuation.</summary>
    public double MaxSymbolRatio { get; init; } = 0.1;

    /// <summary>Largest share of non-empty lines that repeat an earlier line of the same document.</summary>
    public double MaxRepeatedLineFraction { get; init; } = 0.3;

    public override void Validate(StageChecks check)
    {
        check.That(MinChars >= 0, "minChars", "must be ≥ 0");
        check.That(MaxChars > MinChars, "maxChars", "must be greater than minChars");
        check.That(MinWords >= 0, "minWords", "must be ≥ 0");
        check.That(MaxSymbolRatio is > 0 and <= 1, "maxSymbolRatio", "must be in (0, 1]");
        check.That(MaxRepeatedLineFraction is > 0 and <= 1, "maxRepeatedLineFraction", "must be in (0, 1]");
    }

    public override IDocumentTransform CreateTransform() => new QualityFilterTransform(this);

    /// <summary>Each threshold's measure, recorded over the documents every other check passes (so the what-if adds up exactly per bin).</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public IReadOnlyList<ThresholdMeasure> Thresholds =>
    [
        new("minChars", "characters", MinChars, DropsAbove: false, 0, 1_000_000, Bins: 120, Log: true),
        new("maxChars", "characters", MaxChars, DropsAbove: true, 0, 10_000_000, Bins: 120, Log: true),
        new("minWords", "words", MinWords, DropsAbove: false, 0, 100_000, Bins: 100, Log: true),
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
/// Gopher-style heuristic filters. Checks run in a fixed order and the first failure names the drop reason;
/// the measured values are kept as columns so thresholds can be tuned from the output.
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
        for (var row = 0; row < batch.RowCount; row++)
        {
            var measures = TextMeasures.Of(batch.Texts[row]);
            chars.Add(measures.Chars);
            words.Add(measures.Words);
            var failure = Check(measures);
            if (failure is { } f) drops.Drop(row, f.Reason, f.Detail);
            RecordMeasures(measures, fails, drops);
        }
    }

    /// <summary>
    /// Each threshold's measure for the what-if, counted only when every other check passes: a document such a check removes
    /// stays removed whatever this threshold becomes, so removed(t) = removed − this histogram beyond the current threshold + beyond t.
    /// </summary>
    private void RecordMeasures(TextMeasures m, Span<bool> fails, DropCollector drops)
    {
        fails[0] = m.Chars < spec.MinChars;
        fails[1] = m.Chars > spec.MaxChars;
        fails[2] = m.Words < spec.MinWords;
        fails[3] = m.SymbolRatio > spec.MaxSymbolRatio;
        fails[4] = m.RepeatedLineFraction > spec.MaxRepeatedLineFraction;
        var failing = 0;
        foreach (var f in fails) if (f) failing++;
        if (failing > 1) return;
        ReadOnlySpan<double> values = [m.Chars, m.Chars, m.Words, m.SymbolRatio, m.RepeatedLineFraction];
        for (var i = 0; i < fails.Length; i++)
            if (failing == 0 || fails[i]) drops.Measure(_thresholds[i], values[i]);
    }

    private (string Reason, string Detail)? Check(TextMeasures m)
    {
        if (m.Chars < spec.MinChars) return (TooShort, $"{m.Chars} chars < {spec.MinChars}");
        if (m.Chars > spec.MaxChars) return (TooLong, $"{m.Chars} chars > {spec.MaxChars}");
        if (m.Words < spec.MinWords) return (TooFewWords, $"{m.Words} words < {spec.MinWords}");
        if (m.SymbolRatio > spec.MaxSymbolRatio) return (SymbolRatio, $"symbol ratio {m.SymbolRatio:0.###} > {spec.MaxSymbolRatio}");
        if (m.RepeatedLineFraction > spec.MaxRepeatedLineFraction)
            return (RepeatedLines, $"repeated-line fraction {m.RepeatedLineFraction:0.###} > {spec.MaxRepeatedLineFraction}");
        return null;
    }
}

/// <summary>The numbers the quality filters look at, measured in one pass (plus one for lines).</summary>
public readonly record struct TextMeasures(int Chars, int Words, double SymbolRatio, double RepeatedLineFraction)
{
    public static TextMeasures Of(string text)
    {
        int words = 0, symbols = 0, visible = 0;
        var inWord = false;
        foreach (var c in text)
        {
            if (char.IsWhiteSpace(c)) { inWord = false; continue; }
            visible++;
            if (!inWord) { words++; inWord = true; }
            if (IsSymbol(c)) symbols++;
        }
        return new TextMeasures(text.Length, words, visible == 0 ? 0 : (double)symbols / visible, RepeatedLines(text));
    }

    /// <summary>Unicode symbol categories plus the ASCII marks that dominate markup and symbol soup.</summary>
    public static bool IsSymbol(char c) => c < 128
        ? AsciiSymbols[c]
        : CharUnicodeInfo.GetUnicodeCategory(c) is UnicodeCategory.MathSymbol or UnicodeCategory.CurrencySymbol
            or UnicodeCategory.ModifierSymbol or UnicodeCategory.OtherSymbol;

    /// <summary>ASCII answers precomputed: most text is ASCII and the category lookup dominates otherwise.</summary>
    private static readonly bool[] AsciiSymbols = Enumerable.Range(0, 128).Select(i => (char)i switch
    {
        '#' or '*' or '|' or '~' or '^' or '_' or '\\' or '<' or '>' or '{' or '}' or '=' or '@' or '`' => true,
        var c => CharUnicodeInfo.GetUnicodeCategory(c) is UnicodeCategory.MathSymbol or UnicodeCategory.CurrencySymbol
            or UnicodeCategory.ModifierSymbol or UnicodeCategory.OtherSymbol,
    }).ToArray();

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
