using Curation.Pipelines.Stages;
using Curation.Testing;
using Lingua;
using Xunit.Abstractions;

namespace Curation.Pipelines.Tests.Stages;

/// <summary>
/// The language stage's trigram scorer gives Lingua's own answers: on real text in many scripts (the demo corpus,
/// installed message catalogs, translated man pages, UDHR Article 1 in twelve languages), in both accuracy modes, every
/// text it scores has Lingua's best language, the very same probability (bit for bit) and the same tie, and
/// <see cref="LanguageIdentifier.Identify"/> answers what Lingua's public API answers.
/// </summary>
public sealed class LanguageTrigramScorerTests(ITestOutputHelper output)
{
    private static readonly LanguageDetector High = LanguageDetectorBuilder.FromAllLanguages().Build();
    private static readonly LanguageDetector Low = LanguageDetectorBuilder.FromAllLanguages().WithLowAccuracyMode().Build();

    private static IReadOnlyList<(string Language, string Text)> RealTexts()
    {
        var spec = new LanguageStageSpec();
        return
        [
            .. MultilingualCorpus.Build(1200).Select(d => (d.Language, Prefix(d.Text, spec.MaxChars))),
            .. LanguageStageTests.Udhr.Select(row => ((string)row[0], (string)row[1])),
            .. LanguageStageTests.Udhr.Select(row => ((string)row[0], string.Join(" ", Enumerable.Repeat((string)row[1], 3)))),
        ];
    }

    [Fact]
    public void Binds_to_the_pinned_lingua() => Assert.True(LanguageTrigramScorer.Available,
        "LanguageTrigramScorer could not bind to Lingua's internals (was SearchPioneer.Lingua upgraded?): the language stage would fall back to Lingua's public path, ~3-8x slower");

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Scores_every_text_as_lingua_does(bool lowAccuracy)
    {
        var scorer = LanguageTrigramScorer.Shared!;
        var detector = lowAccuracy ? Low : High;
        var texts = RealTexts();
        int scored = 0, byTrigrams = 0;
        var languages = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (language, text) in texts)
        {
            if (!scorer.TryScore(detector, text, lowAccuracy, out var best)) continue;
            scored++;
            var values = detector.ComputeLanguageConfidenceValues(text).ToArray();
            var first = values[0];
            var tied = values[1].Value == first.Value;
            Assert.True(first.Value == best.Value, $"'{Head(text)}': Lingua {first.Key} {first.Value:R}, scorer {best.Language} {best.Value:R}");
            if (first.Value > 0) Assert.Equal(tied, best.Tied); // all values 0: no winner either way
            if (first.Value > 0 && !tied) Assert.Equal(first.Key, best.Language);
            if (first.Value is > 0 and < 1) byTrigrams++;
            if (first.Value > 0) languages.Add(language);
        }
        output.WriteLine($"{texts.Count} texts, {scored} scored by the scorer ({byTrigrams} by trigram probabilities below 1, the rest by Lingua's rules, with probability 1 or with none), {languages.Count} labelled languages among them");
        Assert.True(byTrigrams >= 200, $"only {byTrigrams} texts took the trigram path");
        Assert.True(languages.Count >= 15, $"only {languages.Count} languages");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Identify_answers_what_linguas_public_api_answers(bool lowAccuracy)
    {
        var spec = new LanguageStageSpec();
        var detector = lowAccuracy ? Low : High;
        var texts = RealTexts();
        var differ = new List<string>();
        foreach (var (_, text) in texts)
        {
            var ours = LanguageIdentifier.Identify(text, spec.MinLetters, spec.MaxChars, lowAccuracy);
            var lingua = PublicAnswer(detector, text, spec.MinLetters);
            if (ours != lingua) differ.Add($"'{Head(text)}': ours {ours}, Lingua {lingua}");
        }
        Assert.True(differ.Count == 0, $"{differ.Count} of {texts.Count} answers differ: {string.Join("; ", differ.Take(5))}");
    }

    /// <summary>The stage's reading of Lingua's public values: und below minLetters letters, with no winner or a tie; else the winner rounded to 6 digits.</summary>
    private static LanguageIdentifier.Answer PublicAnswer(LanguageDetector detector, string text, int minLetters)
    {
        if (text.EnumerateRunes().Count(System.Text.Rune.IsLetter) < minLetters) return new(LanguageIdentifier.Undetermined, 0);
        var values = detector.ComputeLanguageConfidenceValues(text).Take(2).ToArray();
        if (values[0].Value <= 0 || values[1].Value >= values[0].Value) return new(LanguageIdentifier.Undetermined, 0);
        return new(LanguageIdentifier.Canonical(values[0].Key.IsoCode6393().ToString()), Math.Round(values[0].Value, 6));
    }

    /// <summary>The stage's sample: at most <paramref name="maxChars"/> characters, never ending inside a surrogate pair.</summary>
    private static string Prefix(string text, int maxChars) =>
        text.Length <= maxChars ? text : text[..(char.IsHighSurrogate(text[maxChars - 1]) ? maxChars - 1 : maxChars)];

    private static string Head(string text) => text.Length <= 60 ? text : text[..60] + "…";
}
