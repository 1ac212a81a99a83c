using System.Text;
using Curation.Pipelines.Model;
using Curation.Pipelines.Spec;
using Curation.Pipelines.Text;

namespace Curation.Pipelines.Stages;

/// <summary>
/// Gopher's quality rules (Rae et al. 2021, appendix A; parameters and defaults as datatrove's GopherQualityFilter and
/// NeMo Curator's heuristic filters define them). A null parameter disables its rule.
/// </summary>
[Stage(TypeName, Role = StageRole.Filter)]
public sealed record GopherQualityStageSpec : DocumentStageSpec, IThresholdedSpec
{
    public const string TypeName = "gopher_quality";

    /// <summary>
    /// Fewest words: 50. A token made only of Unicode punctuation or symbols (categories P*, S*) is not counted; this
    /// is broader than datatrove's punctuation list, which counts a bullet <c>•</c> or <c>·</c> as a word.
    /// </summary>
    public int? MinDocWords { get; init; } = 50;

    /// <summary>Most words: 100,000.</summary>
    public int? MaxDocWords { get; init; } = 100_000;

    /// <summary>Lowest mean word length in letters: 3 (scripts written without spaces are not measured).</summary>
    public double? MinAvgWordLength { get; init; } = 3;

    /// <summary>Highest mean word length in letters: 10.</summary>
    public double? MaxAvgWordLength { get; init; } = 10;

    /// <summary>Largest ratio of <c>#</c> to words, and of ellipses (<c>...</c>, <c>…</c>) to words: 0.1.</summary>
    public double? MaxSymbolWordRatio { get; init; } = 0.1;

    /// <summary>Largest share of lines starting with a bullet (<c>•</c> or <c>-</c>): 0.9.</summary>
    public double? MaxBulletLinesRatio { get; init; } = 0.9;

    /// <summary>Largest share of lines ending with an ellipsis: 0.3.</summary>
    public double? MaxEllipsisLinesRatio { get; init; } = 0.3;

    /// <summary>Smallest share of words holding a letter: 0.8 (datatrove's <c>max_non_alpha_words_ratio</c>).</summary>
    public double? MinAlphaWordsRatio { get; init; } = 0.8;

    /// <summary>Fewest distinct stop words: 2.</summary>
    public int? MinStopWords { get; init; } = 2;

    /// <summary>Stop words for every document; null: the list of the document's language (<see cref="StopWords"/>).</summary>
    public IReadOnlyList<string>? StopWords { get; init; }

    /// <summary>
    /// The language of documents without a <c>language</c> column value whose script does not tell it (Latin, Cyrillic…):
    /// en. A language without a stop-word list skips the stop-word rule.
    /// </summary>
    public string Language { get; init; } = "en";

    public override void Validate(StageChecks check)
    {
        check.That(MinDocWords is null or >= 0, "minDocWords", "must be ≥ 0");
        check.That(MaxDocWords is null || MaxDocWords > (MinDocWords ?? 0), "maxDocWords", "must be greater than minDocWords");
        check.That(MinAvgWordLength is null or >= 0, "minAvgWordLength", "must be ≥ 0");
        check.That(MaxAvgWordLength is null || MaxAvgWordLength > (MinAvgWordLength ?? 0), "maxAvgWordLength", "must be greater than minAvgWordLength");
        check.That(MaxSymbolWordRatio is null or >= 0, "maxSymbolWordRatio", "must be ≥ 0");
        RuleSetChecks.Ratio(check, MaxBulletLinesRatio, "maxBulletLinesRatio");
        RuleSetChecks.Ratio(check, MaxEllipsisLinesRatio, "maxEllipsisLinesRatio");
        RuleSetChecks.Ratio(check, MinAlphaWordsRatio, "minAlphaWordsRatio");
        check.That(MinStopWords is null or >= 0, "minStopWords", "must be ≥ 0");
        check.ListLength(StopWords, "stopWords");
        check.That(!string.IsNullOrWhiteSpace(Language), "language", "is required");
        // A language without a stop-word list would silently switch the stop-word rule off for every document without a language column.
        check.That(string.IsNullOrWhiteSpace(Language) || MinStopWords is null || StopWords is not null || Text.StopWords.ByLanguage.ContainsKey(Text.StopWords.Normalize(Language)),
            "language", $"'{Language}' has no stop-word list (there are: {string.Join(", ", Text.StopWords.ByLanguage.Keys.Order(StringComparer.Ordinal))}): " +
                        "give stopWords, or set minStopWords to null to skip the rule");
    }

    public override IDocumentTransform CreateTransform() => new GopherQualityTransform(this);

    /// <summary>Each enabled rule's measure, recorded over the documents every other rule passes (see <see cref="RuleOutcome"/>).</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public IReadOnlyList<ThresholdMeasure> Thresholds =>
    [
        .. MinDocWords is { } minWords ? [new ThresholdMeasure("minDocWords", "words", minWords, DropsAbove: false, 0, 1_000_000, Log: true, Integer: true)] : Array.Empty<ThresholdMeasure>(),
        .. MaxDocWords is { } maxWords ? [new ThresholdMeasure("maxDocWords", "words", maxWords, DropsAbove: true, 0, 1_000_000, Log: true, Integer: true)] : Array.Empty<ThresholdMeasure>(),
        .. MinAvgWordLength is { } minLength ? [new ThresholdMeasure("minAvgWordLength", "mean word length", minLength, DropsAbove: false, 0, 50)] : Array.Empty<ThresholdMeasure>(),
        .. MaxAvgWordLength is { } maxLength ? [new ThresholdMeasure("maxAvgWordLength", "mean word length", maxLength, DropsAbove: true, 0, 50)] : Array.Empty<ThresholdMeasure>(),
        .. MaxSymbolWordRatio is { } symbols ? [new ThresholdMeasure("maxSymbolWordRatio", "# or ellipses per word", symbols, DropsAbove: true, 0, 1)] : Array.Empty<ThresholdMeasure>(),
        .. MaxBulletLinesRatio is { } bullets ? [new ThresholdMeasure("maxBulletLinesRatio", "bullet lines", bullets, DropsAbove: true, 0, 1)] : Array.Empty<ThresholdMeasure>(),
        .. MaxEllipsisLinesRatio is { } ellipsis ? [new ThresholdMeasure("maxEllipsisLinesRatio", "lines ending in an ellipsis", ellipsis, DropsAbove: true, 0, 1)] : Array.Empty<ThresholdMeasure>(),
        .. MinAlphaWordsRatio is { } alpha ? [new ThresholdMeasure("minAlphaWordsRatio", "words with a letter", alpha, DropsAbove: false, 0, 1)] : Array.Empty<ThresholdMeasure>(),
        .. MinStopWords is { } stop ? [new ThresholdMeasure("minStopWords", "distinct stop words", stop, DropsAbove: false, 0, 100, Integer: true)] : Array.Empty<ThresholdMeasure>(),
    ];

    public StageSpec WithThreshold(string field, double value) => field switch
    {
        "minDocWords" => this with { MinDocWords = (int)Math.Round(value) },
        "maxDocWords" => this with { MaxDocWords = (int)Math.Round(value) },
        "minAvgWordLength" => this with { MinAvgWordLength = value },
        "maxAvgWordLength" => this with { MaxAvgWordLength = value },
        "maxSymbolWordRatio" => this with { MaxSymbolWordRatio = value },
        "maxBulletLinesRatio" => this with { MaxBulletLinesRatio = value },
        "maxEllipsisLinesRatio" => this with { MaxEllipsisLinesRatio = value },
        "minAlphaWordsRatio" => this with { MinAlphaWordsRatio = value },
        "minStopWords" => this with { MinStopWords = (int)Math.Round(value) },
        _ => throw new ArgumentException($"{TypeName} has no threshold '{field}'.", nameof(field)),
    };
}

/// <summary>Applies the rules in datatrove's order; the first failure names the drop reason.</summary>
public sealed class GopherQualityTransform(GopherQualityStageSpec spec) : IDocumentTransform
{
    public const string ShortDoc = "gopher_short_doc";
    public const string LongDoc = "gopher_long_doc";
    public const string BelowAvgWordLength = "gopher_below_avg_threshold";
    public const string AboveAvgWordLength = "gopher_above_avg_threshold";
    public const string TooManyHashes = "gopher_too_many_hashes";
    public const string TooManyEllipsis = "gopher_too_many_ellipsis";
    public const string TooManyBullets = "gopher_too_many_bullets";
    public const string TooManyEndEllipsis = "gopher_too_many_end_ellipsis";
    public const string BelowAlphaThreshold = "gopher_below_alpha_threshold";
    public const string NotEnoughStopWords = "gopher_enough_stop_words";

    private readonly IReadOnlySet<string>? _stopWords = spec.StopWords?.ToHashSet(StringComparer.Ordinal);
    private readonly ThresholdMeasure? _minWords = spec.Threshold("minDocWords"), _maxWords = spec.Threshold("maxDocWords"),
        _minLength = spec.Threshold("minAvgWordLength"), _maxLength = spec.Threshold("maxAvgWordLength"), _symbols = spec.Threshold("maxSymbolWordRatio"),
        _bullets = spec.Threshold("maxBulletLinesRatio"), _endEllipsis = spec.Threshold("maxEllipsisLinesRatio"), _alpha = spec.Threshold("minAlphaWordsRatio"),
        _stop = spec.Threshold("minStopWords");

    public IReadOnlyList<ColumnSchema> AddedColumns => [];

    public void Process(RecordBatch batch, DropCollector drops)
    {
        var languages = StopWords.LanguageColumnOf(batch);
        for (var row = 0; row < batch.RowCount; row++) Evaluate(batch.Texts[row], languages?.List[row]).Apply(drops, row);
    }

    /// <summary>The first rule the text fails, with the measured value and the threshold; null when it passes.</summary>
    public (string Reason, string Detail)? Check(string text, string? language) => Evaluate(text, language).Drop;

    /// <summary>The rules in order, run past the first failure until the outcome is settled (for the what-if's histograms).</summary>
    private RuleOutcome Evaluate(string text, string? language)
    {
        var outcome = new RuleOutcome();
        var words = new List<Word>(); // per call: one transform serves every shard task of a silo at once
        Words.Split(text, words);
        var nWords = words.Count;
        int nonSymbol = 0, spaced = 0, unspaced = 0, alpha = 0;
        long spacedLetters = 0;
        foreach (var w in words)
        {
            if (HasLetter(w.In(text))) alpha++;
            if (w.IsPunctuation) continue;
            nonSymbol++;
            if (Scripts.IsUnspaced(w.Script)) unspaced++;
            else (spaced, spacedLetters) = (spaced + 1, spacedLetters + w.Letters);
        }

        outcome.Rule(_minWords, nonSymbol, nonSymbol < spec.MinDocWords, ShortDoc, () => $"{nonSymbol} words < {spec.MinDocWords}");
        outcome.Rule(_maxWords, nonSymbol, nonSymbol > spec.MaxDocWords, LongDoc, () => $"{nonSymbol} words > {spec.MaxDocWords}");
        if (outcome.Settled) return outcome;

        // Word length means nothing for per-character words: measured on the spaced-script words of a text mostly in them.
        if (spaced > 0 && spaced >= unspaced)
        {
            var mean = (double)spacedLetters / spaced;
            outcome.Rule(_minLength, mean, mean < spec.MinAvgWordLength, BelowAvgWordLength, () => $"mean word length {F(mean)} < {F(spec.MinAvgWordLength!.Value)}");
            outcome.Rule(_maxLength, mean, mean > spec.MaxAvgWordLength, AboveAvgWordLength, () => $"mean word length {F(mean)} > {F(spec.MaxAvgWordLength!.Value)}");
        }
        else outcome.NotApplicable(_minLength, _maxLength);
        if (nWords == 0)
        {
            outcome.NotApplicable(_symbols, _bullets, _endEllipsis, _alpha, _stop);
            return outcome;
        }
        if (outcome.Settled) return outcome;

        if (spec.MaxSymbolWordRatio is { } symbols)
        {
            // One threshold for both ratios: the larger decides; hashes name the drop first, as in datatrove's order.
            var hashes = (double)Count(text, "#") / nWords;
            var ellipses = (double)(Count(text, "...") + Count(text, "…")) / nWords;
            outcome.Rule(_symbols, Math.Max(hashes, ellipses), Math.Max(hashes, ellipses) > symbols, hashes > symbols ? TooManyHashes : TooManyEllipsis,
                () => hashes > symbols ? $"# per word {F(hashes)} > {F(symbols)}" : $"ellipses per word {F(ellipses)} > {F(symbols)}");
        }

        var lines = Lines.SplitLines(text);
        if (lines.Count > 0 && spec.MaxBulletLinesRatio is { } bullets)
        {
            var ratio = (double)lines.Count(l => l.TrimStart() is var t && (t.StartsWith('•') || t.StartsWith('-'))) / lines.Count;
            outcome.Rule(_bullets, ratio, ratio > bullets, TooManyBullets, () => $"bullet lines {F(ratio)} > {F(bullets)}");
        }
        else outcome.NotApplicable(_bullets);
        if (outcome.Settled) return outcome;
        if (lines.Count > 0 && spec.MaxEllipsisLinesRatio is { } endEllipsis)
        {
            var ratio = (double)lines.Count(l => l.TrimEnd() is var t && (t.EndsWith("...", StringComparison.Ordinal) || t.EndsWith('…'))) / lines.Count;
            outcome.Rule(_endEllipsis, ratio, ratio > endEllipsis, TooManyEndEllipsis, () => $"lines ending in an ellipsis {F(ratio)} > {F(endEllipsis)}");
        }
        else outcome.NotApplicable(_endEllipsis);

        if (spec.MinAlphaWordsRatio is { } minAlpha)
        {
            var alphaRatio = (double)alpha / nWords;
            outcome.Rule(_alpha, alphaRatio, alphaRatio < minAlpha, BelowAlphaThreshold, () => $"words with a letter {F(alphaRatio)} < {F(minAlpha)}");
        }
        if (outcome.Settled) return outcome;

        if (spec.MinStopWords is { } minStop && StopWordsFor(text, language) is { } list)
        {
            var found = StopWords.CountIn(text, words, list);
            outcome.Rule(_stop, found, found < minStop, NotEnoughStopWords, () => $"{found} stop words < {minStop}");
        }
        else outcome.NotApplicable(_stop);
        return outcome;
    }

    private IReadOnlySet<string>? StopWordsFor(string text, string? language)
    {
        if (_stopWords is not null) return _stopWords;
        var code = StopWords.LanguageFor(language, Scripts.Dominant(text), text.AsSpan().ContainsAnyInRange('\u3040', '\u30FF'), spec.Language);
        return StopWords.ByLanguage.GetValueOrDefault(code);
    }

    private static bool HasLetter(ReadOnlySpan<char> word)
    {
        foreach (var r in word.EnumerateRunes())
            if (Rune.IsLetter(r)) return true;
        return false;
    }

    /// <summary>Non-overlapping occurrences, as Python's <c>str.count</c>.</summary>
    internal static int Count(string text, string value)
    {
        int n = 0, at = 0;
        while ((at = text.IndexOf(value, at, StringComparison.Ordinal)) >= 0) (n, at) = (n + 1, at + value.Length);
        return n;
    }

    private static string F(double v) => RuleSetChecks.Show(v);
}
