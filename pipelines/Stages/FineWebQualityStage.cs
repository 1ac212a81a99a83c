using Curation.Pipelines.Model;
using Curation.Pipelines.Spec;
using Curation.Pipelines.Text;

namespace Curation.Pipelines.Stages;

/// <summary>
/// FineWeb's own quality rules (Penedo et al. 2024; parameters and defaults as datatrove's FineWebQualityFilter defines
/// them): share of lines ending in punctuation, share of short lines, characters in duplicated lines, newlines per word.
/// Script-aware: the short-line length scales by the text's script (<see cref="CharScale"/>), words are counted by
/// <see cref="Words"/>, and Thai and Lao text (sentences end with a space, not a mark) skips the line-punctuation rule.
/// </summary>
[Stage(TypeName, Role = StageRole.Filter)]
public sealed record FineWebQualityStageSpec : DocumentStageSpec, IThresholdedSpec
{
    public const string TypeName = "fineweb_quality";

    /// <summary>Smallest share of non-blank lines ending in a sentence terminal: 0.12.</summary>
    public double LinePunctThr { get; init; } = 0.12;

    /// <summary>Keep documents with no line ending in punctuation at all (the punctuation rule then only drops a few): false.</summary>
    public bool LinePunctExcludeZero { get; init; }

    /// <summary>Largest share of short lines: 0.67.</summary>
    public double ShortLineThr { get; init; } = 0.67;

    /// <summary>A line of at most this many characters (for English; scaled by <see cref="CharScale"/>) is short: 30.</summary>
    public int ShortLineLength { get; init; } = 30;

    /// <summary>Largest share of characters (newlines excluded) in lines that repeat an earlier line: 0.01.</summary>
    public double CharDuplicatesRatio { get; init; } = 0.01;

    /// <summary>Largest number of newlines per word: 0.3.</summary>
    public double NewLineRatio { get; init; } = 0.3;

    /// <summary>Character scale per script or language (see <see cref="QualityFilterStageSpec.CharScale"/>).</summary>
    public IReadOnlyDictionary<string, double>? CharScale { get; init; }

    public override void Validate(StageChecks check)
    {
        check.That(LinePunctThr is >= 0 and <= 1, "linePunctThr", "must be in [0, 1]");
        check.That(ShortLineThr is >= 0 and <= 1, "shortLineThr", "must be in [0, 1]");
        check.That(ShortLineLength >= 0, "shortLineLength", "must be ≥ 0");
        check.That(CharDuplicatesRatio is >= 0 and <= 1, "charDuplicatesRatio", "must be in [0, 1]");
        check.That(NewLineRatio >= 0, "newLineRatio", "must be ≥ 0");
        RuleSetChecks.CharScale(check, CharScale);
    }

    public override IDocumentTransform CreateTransform() => new FineWebQualityTransform(this);

    /// <summary>Each ratio rule's measure, recorded over the documents every other rule passes (see <see cref="RuleOutcome"/>).</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public IReadOnlyList<ThresholdMeasure> Thresholds =>
    [
        new("linePunctThr", "lines ending in punctuation", LinePunctThr, DropsAbove: false, 0, 1),
        new("shortLineThr", "short lines", ShortLineThr, DropsAbove: true, 0, 1),
        new("charDuplicatesRatio", "characters in duplicated lines", CharDuplicatesRatio, DropsAbove: true, 0, 1),
        new("newLineRatio", "newlines per word", NewLineRatio, DropsAbove: true, 0, 2),
    ];

    public StageSpec WithThreshold(string field, double value) => field switch
    {
        "linePunctThr" => this with { LinePunctThr = value },
        "shortLineThr" => this with { ShortLineThr = value },
        "charDuplicatesRatio" => this with { CharDuplicatesRatio = value },
        "newLineRatio" => this with { NewLineRatio = value },
        _ => throw new ArgumentException($"{TypeName} has no threshold '{field}'.", nameof(field)),
    };
}

/// <summary>Applies the rules in datatrove's order; the first failure names the drop reason.</summary>
public sealed class FineWebQualityTransform(FineWebQualityStageSpec spec) : IDocumentTransform
{
    public const string Empty = "empty";
    public const string LinePunctRatio = "line_punct_ratio";
    public const string ShortLineRatio = "short_line_ratio";
    public const string CharDupRatio = "char_dup_ratio";
    public const string ListRatio = "list_ratio";

    private readonly IReadOnlyList<ThresholdMeasure> _thresholds = spec.Thresholds;

    public IReadOnlyList<ColumnSchema> AddedColumns => [];

    public void Process(RecordBatch batch, DropCollector drops)
    {
        var languages = StopWords.LanguageColumnOf(batch);
        for (var row = 0; row < batch.RowCount; row++) Evaluate(batch.Texts[row], languages?.List[row]).Apply(drops, row);
    }

    public (string Reason, string Detail)? Check(string text, string? language) => Evaluate(text, language).Drop;

    /// <summary>The rules in order, run past the first failure until the outcome is settled (for the what-if's histograms).</summary>
    private RuleOutcome Evaluate(string text, string? language)
    {
        var outcome = new RuleOutcome();
        var lines = text.Split('\n').Where(l => !Lines.IsBlank(l)).ToList();
        outcome.Rule(lines.Count == 0, Empty, () => "no non-blank line");
        if (outcome.Settled) return outcome;

        var script = Scripts.Dominant(text);
        // datatrove: line.endswith(stop_chars), trailing spaces included.
        var ratio = (double)lines.Count(l => l.Length > 0 && !char.IsWhiteSpace(l[^1]) && Punctuation.EndsWithTerminal(l)) / lines.Count;
        if (script is Script.Thai or Script.Lao || (ratio == 0 && spec.LinePunctExcludeZero)) outcome.NotApplicable(_thresholds[0]);
        else outcome.Rule(_thresholds[0], ratio, ratio < spec.LinePunctThr, LinePunctRatio, () => $"lines ending in punctuation {F(ratio)} < {F(spec.LinePunctThr)}");

        var shortLength = (int)Math.Floor(spec.ShortLineLength * Scripts.CharScale(text, language, spec.CharScale));
        var shortRatio = (double)lines.Count(l => l.Length <= shortLength) / lines.Count;
        outcome.Rule(_thresholds[1], shortRatio, shortRatio > spec.ShortLineThr, ShortLineRatio,
            () => $"lines of ≤ {shortLength} chars {F(shortRatio)} > {F(spec.ShortLineThr)}");
        if (outcome.Settled) return outcome;

        var chars = text.Length - GopherQualityTransform.Count(text, "\n");
        var dupRatio = chars == 0 ? 0 : (double)Repetition.Duplicates(lines).Chars / chars;
        outcome.Rule(_thresholds[2], dupRatio, dupRatio > spec.CharDuplicatesRatio, CharDupRatio,
            () => $"characters in duplicated lines {F(dupRatio)} > {F(spec.CharDuplicatesRatio)}");
        if (outcome.Settled) return outcome;

        var words = new List<Word>();
        Words.Split(text, words);
        var newLines = GopherQualityTransform.Count(text, "\n");
        if (words.Count == 0) outcome.NotApplicable(_thresholds[3]);
        else
        {
            var listRatio = (double)newLines / words.Count;
            outcome.Rule(_thresholds[3], listRatio, listRatio > spec.NewLineRatio, ListRatio, () => $"newlines per word {F(listRatio)} > {F(spec.NewLineRatio)}");
        }
        return outcome;
    }

    private static string F(double v) => RuleSetChecks.Show(v);
}
