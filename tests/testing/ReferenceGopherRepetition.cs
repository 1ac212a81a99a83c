using System.Text;
using System.Text.RegularExpressions;
using Curation.Pipelines.Model;
using Curation.Pipelines.Stages;
using Curation.Pipelines.Text;

namespace Curation.Testing;

/// <summary>
/// The straightforward gopher_repetition check as it was before it was made fast (issue 20), kept as the reference the
/// tests and <c>bench gopher-repetition</c> hold the stage to: regex splits into line and paragraph strings, a string
/// per word, a string per n-gram (words joined by a space, or by nothing between two units of a script written without
/// spaces, for the top n-gram; concatenated for the duplicated n-grams) in a hash set or counting dictionary.
/// Same rules, order, reasons, details and what-if measures as <see cref="GopherRepetitionTransform"/>.
/// </summary>
public sealed partial class ReferenceGopherRepetition(GopherRepetitionStageSpec spec) : IDocumentTransform
{
    private readonly ThresholdMeasure? _paraFrac = spec.Threshold("dupParaFrac"), _paraCharFrac = spec.Threshold("dupParaCharFrac"),
        _lineFrac = spec.Threshold("dupLineFrac"), _lineCharFrac = spec.Threshold("dupLineCharFrac");

    public IReadOnlyList<ColumnSchema> AddedColumns => [];

    public void Process(RecordBatch batch, DropCollector drops)
    {
        for (var row = 0; row < batch.RowCount; row++)
        {
            var outcome = new RuleOutcome();
            Evaluate(batch.Texts[row], outcome);
            outcome.Apply(drops, row);
        }
    }

    public (string Reason, string Detail)? Check(string text)
    {
        var outcome = new RuleOutcome();
        Evaluate(text, outcome);
        return outcome.Drop;
    }

    /// <summary>Paragraphs (trimmed text split at runs of 2+ newlines): elements, duplicates, duplicated characters.</summary>
    public static (int Elements, int Duplicates, long Chars) Paragraphs(string text)
    {
        var paragraphs = ParagraphBreak().Split(text.Trim());
        var (dups, chars) = Repetition.Duplicates(paragraphs); // unchanged by the speed-up (FineWebQuality uses it)
        return (paragraphs.Length, dups, chars);
    }

    /// <summary>Lines (text split at runs of newlines): elements, duplicates, duplicated characters.</summary>
    public static (int Elements, int Duplicates, long Chars) Lines(string text)
    {
        var lines = LineBreaks().Split(text);
        var (dups, chars) = Repetition.Duplicates(lines);
        return (lines.Length, dups, chars);
    }

    /// <summary>The words of a text as strings, and whether each is a unit of a script written without spaces.</summary>
    public static (List<string> Words, List<bool> Glued) WordsOf(string text)
    {
        var tokens = new List<Word>();
        Words.Split(text, tokens);
        return (tokens.Select(w => w.In(text).ToString()).ToList(), tokens.Select(w => Scripts.IsUnspaced(w.Script)).ToList());
    }

    private void Evaluate(string text, RuleOutcome outcome)
    {
        if (text.Length == 0)
        {
            outcome.NotApplicable(_paraFrac, _paraCharFrac, _lineFrac, _lineCharFrac);
            return;
        }
        double length = text.Length;

        var (paragraphs, paraDups, paraChars) = Paragraphs(text);
        Fraction(outcome, _paraFrac, paraDups / (double)paragraphs, spec.DupParaFrac, GopherRepetitionTransform.DupParaFrac, "repeated paragraphs");
        Fraction(outcome, _paraCharFrac, paraChars / length, spec.DupParaCharFrac, GopherRepetitionTransform.DupParaCharFrac, "characters in repeated paragraphs");
        if (outcome.Settled) return;

        var (lines, lineDups, lineChars) = Lines(text);
        Fraction(outcome, _lineFrac, lineDups / (double)lines, spec.DupLineFrac, GopherRepetitionTransform.DupLineFrac, "repeated lines");
        Fraction(outcome, _lineCharFrac, lineChars / length, spec.DupLineCharFrac, GopherRepetitionTransform.DupLineCharFrac, "characters in repeated lines");
        if (outcome.Settled) return;
        if (NGrams(text) is { } failed) outcome.Rule(true, failed.Reason, () => failed.Detail);
    }

    private static void Fraction(RuleOutcome outcome, ThresholdMeasure? measure, double measured, double? max, string reason, string what) =>
        outcome.Rule(measure, measured, max is { } m && measured > m, reason, () => Over(measured, max, reason, what)!.Value.Detail);

    private (string Reason, string Detail)? NGrams(string text)
    {
        double length = text.Length;
        var (words, glued) = WordsOf(text);
        var units = Scripts.UnitsPerWord(Scripts.Dominant(text));
        foreach (var limit in spec.TopNGrams)
        {
            var n = limit.N * units;
            if (words.Count < n) continue;
            if (Over(TopNGramChars(words, n, glued) / length, limit.MaxFraction, GopherRepetitionTransform.TopNGram(limit.N), $"characters in the top {Gram(limit.N, n)}") is { } e)
                return e;
        }
        foreach (var limit in spec.DupNGrams)
        {
            var n = limit.N * units;
            if (Over(DuplicatedNGramChars(words, n) / length, limit.MaxFraction, GopherRepetitionTransform.DuplicatedNGrams(limit.N), $"characters in duplicated {Gram(limit.N, n)}s") is { } f)
                return f;
        }
        return null;
    }

    private static string Gram(int n, int units) => n == units ? $"{n}-gram" : $"{n}-gram ({units} units)";

    private static (string Reason, string Detail)? Over(double measured, double? max, string reason, string what) =>
        max is { } m && measured > m
            ? (reason, $"{what} {RuleSetChecks.Show(measured)} > {RuleSetChecks.Show(m)}")
            : null;

    /// <summary>Characters of the most frequent n-gram times its count; ties go to the n-gram seen first.</summary>
    public static long TopNGramChars(IReadOnlyList<string> words, int n, IReadOnlyList<bool>? glued = null)
    {
        if (words.Count < n) return 0;
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        var firstSeen = new List<string>();
        var sb = new StringBuilder();
        for (var i = 0; i + n <= words.Count; i++)
        {
            sb.Clear();
            for (var j = i; j < i + n; j++)
            {
                if (j > i && !(glued is not null && glued[j - 1] && glued[j])) sb.Append(' ');
                sb.Append(words[j]);
            }
            var gram = sb.ToString();
            if (counts.TryGetValue(gram, out var c))
            {
                counts[gram] = c + 1;
            }
            else
            {
                counts[gram] = 1;
                firstSeen.Add(gram);
            }
        }
        var top = firstSeen[0];
        foreach (var gram in firstSeen)
            if (counts[gram] > counts[top]) top = gram;
        return (long)top.Length * counts[top];
    }

    /// <summary>Characters covered by n-grams (words concatenated) that repeat an earlier one; the scan jumps past a repeat.</summary>
    public static long DuplicatedNGramChars(IReadOnlyList<string> words, int n)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        long repeated = 0;
        var i = 0;
        while (i < words.Count - n + 1)
        {
            var gram = string.Concat(words.Skip(i).Take(n));
            if (seen.Add(gram))
            {
                i++;
                continue;
            }
            repeated += gram.Length;
            i += n;
        }
        return repeated;
    }

    [GeneratedRegex(@"\n{2,}")]
    private static partial Regex ParagraphBreak();

    [GeneratedRegex(@"\n+")]
    private static partial Regex LineBreaks();
}
