using System.Text.RegularExpressions;
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
public sealed record GopherRepetitionStageSpec : DocumentStageSpec
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
}

/// <summary>Applies the rules in datatrove's order; the first failure names the drop reason.</summary>
public sealed partial class GopherRepetitionTransform(GopherRepetitionStageSpec spec) : IDocumentTransform
{
    public const string DupParaFrac = "dup_para_frac";
    public const string DupParaCharFrac = "dup_para_char_frac";
    public const string DupLineFrac = "dup_line_frac";
    public const string DupLineCharFrac = "dup_line_char_frac";

    /// <summary><c>top_{n}_gram</c>: the most frequent n-gram covers too much of the text.</summary>
    public static string TopNGram(int n) => $"top_{n}_gram";

    /// <summary><c>duplicated_{n}_n_grams</c>: repeated n-grams cover too much of the text.</summary>
    public static string DuplicatedNGrams(int n) => $"duplicated_{n}_n_grams";

    public IReadOnlyList<ColumnSchema> AddedColumns => [];

    public void Process(RecordBatch batch, DropCollector drops)
    {
        for (var row = 0; row < batch.RowCount; row++)
            if (Check(batch.Texts[row]) is { } f) drops.Drop(row, f.Reason, f.Detail);
    }

    public (string Reason, string Detail)? Check(string text)
    {
        if (text.Length == 0) return null;
        double length = text.Length;

        var paragraphs = ParagraphBreak().Split(text.Trim());
        var (paraDups, paraChars) = Repetition.Duplicates(paragraphs);
        if (Over(paraDups / (double)paragraphs.Length, spec.DupParaFrac, DupParaFrac, "repeated paragraphs") is { } a) return a;
        if (Over(paraChars / length, spec.DupParaCharFrac, DupParaCharFrac, "characters in repeated paragraphs") is { } b) return b;

        var lines = LineBreaks().Split(text);
        var (lineDups, lineChars) = Repetition.Duplicates(lines);
        if (Over(lineDups / (double)lines.Length, spec.DupLineFrac, DupLineFrac, "repeated lines") is { } c) return c;
        if (Over(lineChars / length, spec.DupLineCharFrac, DupLineCharFrac, "characters in repeated lines") is { } d) return d;

        var tokens = new List<Word>();
        Words.Split(text, tokens);
        var words = tokens.Select(w => w.In(text).ToString()).ToList();
        var glued = tokens.Select(w => Scripts.IsUnspaced(w.Script)).ToList();
        // Per-character units of Chinese, Japanese, Thai…: an n-gram of n words spans about n × units-per-word of them.
        var units = Scripts.UnitsPerWord(Scripts.Dominant(text));
        foreach (var limit in spec.TopNGrams)
        {
            var n = limit.N * units;
            if (words.Count < n) continue;
            if (Over(Repetition.TopNGramChars(words, n, glued) / length, limit.MaxFraction, TopNGram(limit.N), $"characters in the top {Gram(limit.N, n)}") is { } e)
                return e;
        }
        foreach (var limit in spec.DupNGrams)
        {
            var n = limit.N * units;
            if (Over(Repetition.DuplicatedNGramChars(words, n) / length, limit.MaxFraction, DuplicatedNGrams(limit.N), $"characters in duplicated {Gram(limit.N, n)}s") is { } f)
                return f;
        }
        return null;
    }

    private static string Gram(int n, int units) => n == units ? $"{n}-gram" : $"{n}-gram ({units} units)";

    private static (string, string)? Over(double measured, double? max, string reason, string what) =>
        max is { } m && measured > m
            ? (reason, $"{what} {RuleSetChecks.Show(measured)} > {RuleSetChecks.Show(m)}")
            : null;

    [GeneratedRegex(@"\n{2,}")]
    private static partial Regex ParagraphBreak();

    [GeneratedRegex(@"\n+")]
    private static partial Regex LineBreaks();
}
