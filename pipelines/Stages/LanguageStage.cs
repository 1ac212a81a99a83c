using Curation.Pipelines.Model;
using Curation.Pipelines.Spec;
using Lingua;

namespace Curation.Pipelines.Stages;

/// <summary>
/// Language identification (Lingua, 75 languages): writes <c>language</c> (ISO 639-1, else 639-3; <c>und</c> when the
/// text is too short or no language wins) and <c>language_score</c> (the winner's probability, 0 for <c>und</c>), and
/// optionally keeps only some languages or confident answers.
/// </summary>
[Stage(TypeName, Role = StageRole.Filter)]
public sealed record LanguageStageSpec : DocumentStageSpec, IThresholdedSpec
{
    public const string TypeName = "language";

    /// <summary>Languages to keep (ISO 639-1 or 639-3 codes, <c>und</c> for unidentified); null or empty keeps every language.</summary>
    public IReadOnlyList<string>? Keep { get; init; }

    /// <summary>Documents whose language score (0–1) is below this are dropped as language_uncertain; 0 keeps all.</summary>
    public double MinScore { get; init; }

    /// <summary>A document with fewer letters than this (any script: one CJK character is one letter) is <c>und</c>.</summary>
    public int MinLetters { get; init; } = 10;

    /// <summary>Characters read from the start of each document: Lingua's accuracy is flat long before this and its cost grows with length.</summary>
    public int MaxChars { get; init; } = 2000;

    /// <summary>
    /// Lingua's low-accuracy mode: trigram models only (far less memory, faster), accurate on long text but much less so
    /// under ~120 characters. Default false: all n-gram models (high accuracy).
    /// </summary>
    public bool LowAccuracy { get; init; }

    public override void Validate(StageChecks check)
    {
        check.ListLength(Keep, "keep");
        foreach (var code in Keep ?? [])
            check.That(LanguageIdentifier.IsKnownCode(code), "keep",
                $"'{code}' is not a language Lingua identifies (ISO 639-1 or 639-3 code, or und)" +
                (LanguageIdentifier.CodeOfName(code) is { } named ? $"; {code} is '{named}'" : ""));
        check.That(MinScore is >= 0 and <= 1, "minScore", "must be in [0, 1]");
        check.That(MinLetters >= 1, "minLetters", "must be ≥ 1");
        check.That(MaxChars >= 50, "maxChars", "must be ≥ 50");
    }

    public override IDocumentTransform CreateTransform() => new LanguageTransform(this);

    /// <summary>The language score, recorded over the documents the keep list passes (the what-if's histogram: 100 bins of 0.01).</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public IReadOnlyList<ThresholdMeasure> Thresholds => [new("minScore", "language score", MinScore, DropsAbove: false, 0, 1)];

    public StageSpec WithThreshold(string field, double value) => field == "minScore"
        ? this with { MinScore = Math.Clamp(value, 0, 1) }
        : throw new ArgumentException($"{TypeName} has no threshold '{field}'.", nameof(field));
}

/// <summary>
/// Fills <c>language</c> / <c>language_score</c> for every row (rows of a batch in parallel, each answer written to its
/// own row, so the result never depends on scheduling) and drops by <see cref="LanguageStageSpec.MinScore"/> first, then
/// <see cref="LanguageStageSpec.Keep"/>.
/// </summary>
public sealed class LanguageTransform(LanguageStageSpec spec) : IDocumentTransform
{
    public const string LanguageColumn = "language";
    public const string ScoreColumn = "language_score";
    public const string NotKept = "language_not_kept";
    public const string Uncertain = "language_uncertain";

    private readonly ThresholdMeasure _minScore = spec.Thresholds[0];

    private readonly HashSet<string>? _keep = spec.Keep is { Count: > 0 } keep
        ? keep.Select(LanguageIdentifier.Canonical).ToHashSet(StringComparer.Ordinal)
        : null;

    public IReadOnlyList<ColumnSchema> AddedColumns { get; } = [new(LanguageColumn, typeof(string)), new(ScoreColumn, typeof(double))];

    public void Process(RecordBatch batch, DropCollector drops)
    {
        var texts = batch.Texts;
        var answers = new LanguageIdentifier.Answer[batch.RowCount];
        Parallel.For(0, batch.RowCount, new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount },
            row => answers[row] = LanguageIdentifier.Identify(texts[row], spec.MinLetters, spec.MaxChars, spec.LowAccuracy));
        var languages = batch.ResetColumn<string>(LanguageColumn, batch.RowCount);
        var scores = batch.ResetColumn<double>(ScoreColumn, batch.RowCount);
        for (var row = 0; row < batch.RowCount; row++)
        {
            var (code, score) = answers[row];
            languages.Add(code);
            scores.Add(score);
            var outcome = new RuleOutcome();
            outcome.Rule(_minScore, score, score < spec.MinScore, Uncertain, () => $"{code} score {score:0.###} < minScore {spec.MinScore}");
            outcome.Rule(_keep is not null && !_keep.Contains(code), NotKept, () => $"{code} (score {score:0.###}) not in keep [{string.Join(", ", spec.Keep!)}]");
            outcome.Apply(drops, row);
        }
    }
}

/// <summary>
/// The process's one Lingua detector (every language, models loaded on first use and shared by all threads and jobs of
/// the process, like the embedding runtime) and the ISO codes of its answers.
/// </summary>
public static class LanguageIdentifier
{
    public const string Undetermined = "und";

    /// <summary>A language code and the detector's probability for it.</summary>
    public readonly record struct Answer(string Code, double Score);

    private static readonly Lazy<LanguageDetector> Detector = new(
        () => LanguageDetectorBuilder.FromAllLanguages().Build(), LazyThreadSafetyMode.ExecutionAndPublication);

    private static readonly Lazy<LanguageDetector> LowAccuracyDetector = new(
        () => LanguageDetectorBuilder.FromAllLanguages().WithLowAccuracyMode().Build(), LazyThreadSafetyMode.ExecutionAndPublication);

    private static readonly Dictionary<Language, string> Codes = LanguageInfo.All().ToDictionary(l => l, Code);

    /// <summary>Every accepted spelling (639-1 and 639-3, lower case) → the code the stage writes.</summary>
    private static readonly Dictionary<string, string> Known = BuildKnown();

    /// <summary>The codes the stage can write, sorted (the 75 languages plus <c>und</c>).</summary>
    public static IReadOnlyCollection<string> AllCodes => [.. Codes.Values.Order(StringComparer.Ordinal), Undetermined];

    /// <summary>The code of a language given by its English name (<c>English</c> → <c>en</c>), or null.</summary>
    public static string? CodeOfName(string? name) =>
        name is not null && name.Trim().All(char.IsAsciiLetter) && Enum.TryParse<Language>(name.Trim(), ignoreCase: true, out var language) &&
        Codes.TryGetValue(language, out var code) ? code : null;

    public static bool IsKnownCode(string? code) => code is not null && Known.ContainsKey(code.Trim().ToLowerInvariant());

    /// <summary>The code the stage writes for an accepted spelling (e.g. <c>deu</c> → <c>de</c>).</summary>
    public static string Canonical(string code) => Known[code.Trim().ToLowerInvariant()];

    /// <summary>Loads every model either detector can use now (all 75 languages, 1- to 5-grams: ~2.3 GiB) and builds the trigram scorer, instead of on first use.</summary>
    public static void Preload()
    {
        LanguageDetectorBuilder.FromAllLanguages().WithPreloadedLanguageModels().Build();
        _ = LanguageTrigramScorer.Shared;
    }

    /// <summary>
    /// The language of <paramref name="text"/>: the first <paramref name="maxChars"/> characters are read; fewer than
    /// <paramref name="minLetters"/> letters, or a tie between the best two languages, answer <c>und</c> with score 0.
    /// <paramref name="lowAccuracy"/>: Lingua's low-accuracy (trigram-only) detector.
    /// </summary>
    public static Answer Identify(string text, int minLetters, int maxChars, bool lowAccuracy = false)
    {
        var sample = Prefix(text, maxChars);
        if (Letters(sample, minLetters) < minLetters) return new Answer(Undetermined, 0);
        var detector = lowAccuracy ? LowAccuracyDetector.Value : Detector.Value;
        if (LanguageTrigramScorer.Shared is { } scorer && scorer.TryScore(detector, sample, lowAccuracy, out var scored))
            return scored.Value <= 0 || scored.Tied ? new Answer(Undetermined, 0) : new Answer(Codes[scored.Language], Math.Round(scored.Value, 6));
        using var values = detector.ComputeLanguageConfidenceValues(sample).GetEnumerator();
        if (!values.MoveNext() || values.Current.Value <= 0) return new Answer(Undetermined, 0);
        var best = values.Current;
        if (values.MoveNext() && values.Current.Value >= best.Value) return new Answer(Undetermined, 0);
        return new Answer(Codes[best.Key], Math.Round(best.Value, 6));
    }

    /// <summary>At most <paramref name="maxChars"/> characters, never ending inside a surrogate pair.</summary>
    private static string Prefix(string text, int maxChars)
    {
        if (text.Length <= maxChars) return text;
        var end = char.IsHighSurrogate(text[maxChars - 1]) ? maxChars - 1 : maxChars;
        return text[..end];
    }

    /// <summary>Letters in <paramref name="text"/>, counted up to <paramref name="enough"/> (any script; surrogate pairs once).</summary>
    private static int Letters(string text, int enough)
    {
        var count = 0;
        for (var i = 0; i < text.Length && count < enough; i++)
        {
            if (char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                if (char.IsLetter(text, i)) count++;
                i++;
            }
            else if (char.IsLetter(text[i])) count++;
        }
        return count;
    }

    private static string Code(Language language)
    {
        var iso1 = language.IsoCode6391().ToString().ToLowerInvariant();
        return iso1 is "none" or "" ? language.IsoCode6393().ToString().ToLowerInvariant() : iso1;
    }

    private static Dictionary<string, string> BuildKnown()
    {
        var known = new Dictionary<string, string>(StringComparer.Ordinal) { [Undetermined] = Undetermined };
        foreach (var (language, code) in Codes)
        {
            known[code] = code;
            known[language.IsoCode6393().ToString().ToLowerInvariant()] = code;
        }
        return known;
    }
}
