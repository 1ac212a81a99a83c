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
public sealed record GopherQualityStageSpec : DocumentStageSpec
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
    }

    public override IDocumentTransform CreateTransform() => new GopherQualityTransform(this);
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

    public IReadOnlyList<ColumnSchema> AddedColumns => [];

    public void Process(RecordBatch batch, DropCollector drops)
    {
        var languages = StopWords.LanguageColumnOf(batch);
        for (var row = 0; row < batch.RowCount; row++)
            if (Check(batch.Texts[row], languages?.List[row]) is { } f) drops.Drop(row, f.Reason, f.Detail);
    }

    /// <summary>The first rule the text fails, with the measured value and the threshold; null when it passes.</summary>
    public (string Reason, string Detail)? Check(string text, string? language)
    {
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

        if (spec.MinDocWords is { } min && nonSymbol < min) return (ShortDoc, $"{nonSymbol} words < {min}");
        if (spec.MaxDocWords is { } max && nonSymbol > max) return (LongDoc, $"{nonSymbol} words > {max}");

        // Word length means nothing for per-character words: measured on the spaced-script words of a text mostly in them.
        if (spaced > 0 && spaced >= unspaced)
        {
            var mean = (double)spacedLetters / spaced;
            if (spec.MinAvgWordLength is { } lo && mean < lo) return (BelowAvgWordLength, $"mean word length {F(mean)} < {F(lo)}");
            if (spec.MaxAvgWordLength is { } hi && mean > hi) return (AboveAvgWordLength, $"mean word length {F(mean)} > {F(hi)}");
        }
        if (nWords == 0) return null;

        if (spec.MaxSymbolWordRatio is { } symbols)
        {
            var hashes = (double)Count(text, "#") / nWords;
            if (hashes > symbols) return (TooManyHashes, $"# per word {F(hashes)} > {F(symbols)}");
            var ellipses = (double)(Count(text, "...") + Count(text, "…")) / nWords;
            if (ellipses > symbols) return (TooManyEllipsis, $"ellipses per word {F(ellipses)} > {F(symbols)}");
        }

        var lines = Lines.SplitLines(text);
        if (lines.Count > 0 && spec.MaxBulletLinesRatio is { } bullets)
        {
            var ratio = (double)lines.Count(l => l.TrimStart() is var t && (t.StartsWith('•') || t.StartsWith('-'))) / lines.Count;
            if (ratio > bullets) return (TooManyBullets, $"bullet lines {F(ratio)} > {F(bullets)}");
        }
        if (lines.Count > 0 && spec.MaxEllipsisLinesRatio is { } endEllipsis)
        {
            var ratio = (double)lines.Count(l => l.TrimEnd() is var t && (t.EndsWith("...", StringComparison.Ordinal) || t.EndsWith('…'))) / lines.Count;
            if (ratio > endEllipsis) return (TooManyEndEllipsis, $"lines ending in an ellipsis {F(ratio)} > {F(endEllipsis)}");
        }

        if (spec.MinAlphaWordsRatio is { } minAlpha && (double)alpha / nWords is var alphaRatio && alphaRatio < minAlpha)
            return (BelowAlphaThreshold, $"words with a letter {F(alphaRatio)} < {F(minAlpha)}");

        if (spec.MinStopWords is { } minStop && StopWordsFor(text, language) is { } list)
        {
            var found = StopWords.CountIn(text, words, list);
            if (found < minStop) return (NotEnoughStopWords, $"{found} stop words < {minStop}");
        }
        return null;
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
