using System.Runtime.InteropServices;
using Curation.Pipelines.Model;
using Curation.Pipelines.Spec;
using Curation.Pipelines.Text;

namespace Curation.Pipelines.Stages;

/// <summary>
/// Gopher's repetition rules (Rae et al. 2021, table A1; as datatrove's GopherRepetitionFilter defines them): duplicated
/// paragraphs and lines by count and by characters, the top 2–4-gram's share of characters, and the characters covered by
/// duplicated 5–10-grams. Word n-grams use the script-aware <see cref="Words"/> (per character in Chinese and Japanese).
/// A null fraction disables its rule.
/// </summary>
[Stage(TypeName, Role = StageRole.Filter)]
public sealed record GopherRepetitionStageSpec : DocumentStageSpec, IThresholdedSpec
{
    public const string TypeName = "gopher_repetition";

    /// <summary>Largest share of lines that repeat an earlier line: 0.3.</summary>
    public double? DupLineFrac { get; init; } = 0.3;

    /// <summary>Largest share of paragraphs (split at blank lines) that repeat an earlier one: 0.3.</summary>
    public double? DupParaFrac { get; init; } = 0.3;

    /// <summary>Largest share of the text's characters in repeated lines: 0.2.</summary>
    public double? DupLineCharFrac { get; init; } = 0.2;

    /// <summary>Largest share of the text's characters in repeated paragraphs: 0.2.</summary>
    public double? DupParaCharFrac { get; init; } = 0.2;

    /// <summary>The most frequent n-gram's characters × count, as a share of the text: 2 → 0.2, 3 → 0.18, 4 → 0.16.</summary>
    public IReadOnlyList<NGramLimit> TopNGrams { get; init; } = [new(2, 0.2), new(3, 0.18), new(4, 0.16)];

    /// <summary>Characters in duplicated n-grams, as a share of the text: 5 → 0.15, 6 → 0.14 … 10 → 0.10.</summary>
    public IReadOnlyList<NGramLimit> DupNGrams { get; init; } =
        [new(5, 0.15), new(6, 0.14), new(7, 0.13), new(8, 0.12), new(9, 0.11), new(10, 0.10)];

    public override void Validate(StageChecks check)
    {
        RuleSetChecks.Ratio(check, DupLineFrac, "dupLineFrac");
        RuleSetChecks.Ratio(check, DupParaFrac, "dupParaFrac");
        RuleSetChecks.Ratio(check, DupLineCharFrac, "dupLineCharFrac");
        RuleSetChecks.Ratio(check, DupParaCharFrac, "dupParaCharFrac");
        RuleSetChecks.NGrams(check, TopNGrams, "topNGrams");
        RuleSetChecks.NGrams(check, DupNGrams, "dupNGrams");
    }

    public override IDocumentTransform CreateTransform() => new GopherRepetitionTransform(this);

    /// <summary>
    /// The line and paragraph fractions (the n-gram limits are lists: not moved by the what-if), each recorded over the
    /// documents every other rule passes (see <see cref="RuleOutcome"/>).
    /// </summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public IReadOnlyList<ThresholdMeasure> Thresholds =>
    [
        .. Fraction("dupParaFrac", "repeated paragraphs", DupParaFrac),
        .. Fraction("dupParaCharFrac", "characters in repeated paragraphs", DupParaCharFrac),
        .. Fraction("dupLineFrac", "repeated lines", DupLineFrac),
        .. Fraction("dupLineCharFrac", "characters in repeated lines", DupLineCharFrac),
    ];

    private static ThresholdMeasure[] Fraction(string field, string measure, double? max) =>
        max is { } m ? [new ThresholdMeasure(field, measure, m, DropsAbove: true, 0, 1)] : [];

    public StageSpec WithThreshold(string field, double value) => field switch
    {
        "dupParaFrac" => this with { DupParaFrac = value },
        "dupParaCharFrac" => this with { DupParaCharFrac = value },
        "dupLineFrac" => this with { DupLineFrac = value },
        "dupLineCharFrac" => this with { DupLineCharFrac = value },
        _ => throw new ArgumentException($"{TypeName} has no threshold '{field}'.", nameof(field)),
    };
}

/// <summary>Applies the rules in datatrove's order; the first failure names the drop reason.</summary>
public sealed class GopherRepetitionTransform(GopherRepetitionStageSpec spec) : IDocumentTransform
{
    public const string DupParaFrac = "dup_para_frac";
    public const string DupParaCharFrac = "dup_para_char_frac";
    public const string DupLineFrac = "dup_line_frac";
    public const string DupLineCharFrac = "dup_line_char_frac";

    /// <summary><c>top_{n}_gram</c>: the most frequent n-gram covers too much of the text.</summary>
    public static string TopNGram(int n) => $"top_{n}_gram";

    /// <summary><c>duplicated_{n}_n_grams</c>: repeated n-grams cover too much of the text.</summary>
    public static string DuplicatedNGrams(int n) => $"duplicated_{n}_n_grams";

    private readonly ThresholdMeasure? _paraFrac = spec.Threshold("dupParaFrac"), _paraCharFrac = spec.Threshold("dupParaCharFrac"),
        _lineFrac = spec.Threshold("dupLineFrac"), _lineCharFrac = spec.Threshold("dupLineCharFrac");

    public IReadOnlyList<ColumnSchema> AddedColumns => [];

    public void Process(RecordBatch batch, DropCollector drops)
    {
        var scratch = new Scratch();
        for (var row = 0; row < batch.RowCount; row++)
        {
            var outcome = new RuleOutcome();
            Evaluate(batch.Texts[row], outcome, scratch);
            outcome.Apply(drops, row);
        }
    }

    public (string Reason, string Detail)? Check(string text)
    {
        var outcome = new RuleOutcome();
        Evaluate(text, outcome, new Scratch());
        return outcome.Drop;
    }

    /// <summary>What one thread reuses from document to document: the word split, the n-grams and the slice counts.</summary>
    private sealed class Scratch
    {
        public readonly List<Word> Tokens = [];
        public readonly WordNGrams Grams = new();
        public readonly SliceCounts Slices = new();
    }

    /// <summary>The fraction rules (thresholded: run past the first failure until settled), then the n-gram rules.</summary>
    private void Evaluate(string text, RuleOutcome outcome, Scratch scratch)
    {
        if (text.Length == 0)
        {
            outcome.NotApplicable(_paraFrac, _paraCharFrac, _lineFrac, _lineCharFrac);
            return;
        }
        double length = text.Length;

        var (paragraphs, paraDups, paraChars) = Repetition.Paragraphs(text, scratch.Slices);
        Fraction(outcome, _paraFrac, paraDups / (double)paragraphs, spec.DupParaFrac, DupParaFrac, "repeated paragraphs");
        Fraction(outcome, _paraCharFrac, paraChars / length, spec.DupParaCharFrac, DupParaCharFrac, "characters in repeated paragraphs");
        if (outcome.Settled) return;

        var (lines, lineDups, lineChars) = Repetition.Lines(text, scratch.Slices);
        Fraction(outcome, _lineFrac, lineDups / (double)lines, spec.DupLineFrac, DupLineFrac, "repeated lines");
        Fraction(outcome, _lineCharFrac, lineChars / length, spec.DupLineCharFrac, DupLineCharFrac, "characters in repeated lines");
        if (outcome.Settled) return;
        if (NGrams(text, scratch) is { } failed) outcome.Rule(true, failed.Reason, () => failed.Detail);
    }

    private static void Fraction(RuleOutcome outcome, ThresholdMeasure? measure, double measured, double? max, string reason, string what) =>
        outcome.Rule(measure, measured, max is { } m && measured > m, reason, () => Over(measured, max, reason, what)!.Value.Detail);

    /// <summary>The first n-gram rule the text fails. One word split and one set of n-gram buffers serve every n.</summary>
    private (string Reason, string Detail)? NGrams(string text, Scratch scratch)
    {
        double length = text.Length;

        Words.Split(text, scratch.Tokens);
        var grams = scratch.Grams;
        grams.Load(text, CollectionsMarshal.AsSpan(scratch.Tokens));
        // Per-character units of Chinese, Japanese, Thai…: an n-gram of n words spans about n × units-per-word of them.
        var units = Scripts.UnitsPerWord(Scripts.Dominant(text));
        foreach (var limit in spec.TopNGrams)
        {
            var n = limit.N * units;
            if (grams.Count < n) continue;
            var measured = grams.TopNGramChars(n) / length;
            if (measured > limit.MaxFraction) return Over(measured, limit.MaxFraction, TopNGram(limit.N), $"characters in the top {Gram(limit.N, n)}");
        }
        foreach (var limit in spec.DupNGrams)
        {
            var n = limit.N * units;
            var measured = grams.DuplicatedNGramChars(n) / length;
            if (measured > limit.MaxFraction) return Over(measured, limit.MaxFraction, DuplicatedNGrams(limit.N), $"characters in duplicated {Gram(limit.N, n)}s");
        }
        return null;
    }

    private static string Gram(int n, int units) => n == units ? $"{n}-gram" : $"{n}-gram ({units} units)";

    private static (string Reason, string Detail)? Over(double measured, double? max, string reason, string what) =>
        max is { } m && measured > m
            ? (reason, $"{what} {RuleSetChecks.Show(measured)} > {RuleSetChecks.Show(m)}")
            : null;
}
