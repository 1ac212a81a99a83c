using System.Text;
using System.Text.RegularExpressions;
using Curation.Pipelines.Model;
using Curation.Pipelines.Spec;
using Curation.Pipelines.Text;

namespace Curation.Pipelines.Stages;

/// <summary>
/// C4's clean-up rules (Raffel et al. 2020, section 2.2; parameters and defaults as datatrove's C4QualityFilter defines
/// them). Line rules remove lines; <c>lorem ipsum</c> and a curly bracket drop the document; so does having fewer than
/// <see cref="MinNumSentences"/> sentences, or no line left.
/// Script-aware: sentence terminals of every script end a line (。！？ । ።…, besides C4's <c>. ? ! " '</c>); Thai and
/// Lao, which end sentences with a space, skip the terminal-punctuation rule and count a sentence per space-separated
/// segment; words are counted by <see cref="Words"/>.
/// </summary>
[Stage(TypeName, Role = StageRole.Filter)]
public sealed record C4StageSpec : DocumentStageSpec, IThresholdedSpec
{
    public const string TypeName = "c4";

    /// <summary>Remove Wikipedia-style citations (<c>[1]</c>, <c>[edit]</c>, <c>[citation needed]</c>) from lines: true.</summary>
    public bool RemoveCitations { get; init; } = true;

    /// <summary>Remove lines that do not end in terminal punctuation (or that end in an ellipsis): true.</summary>
    public bool FilterNoTerminalPunct { get; init; } = true;

    /// <summary>Fewest sentences on the page after line removal: 5 (null disables).</summary>
    public int? MinNumSentences { get; init; } = 5;

    /// <summary>Remove lines with fewer words: 3 (null disables).</summary>
    public int? MinWordsPerLine { get; init; } = 3;

    /// <summary>Remove lines holding a word longer than this many characters: 1000 (null disables).</summary>
    public int? MaxWordLength { get; init; } = 1000;

    /// <summary>Drop a page containing "lorem ipsum": true.</summary>
    public bool FilterLoremIpsum { get; init; } = true;

    /// <summary>Remove lines mentioning "javascript": true.</summary>
    public bool FilterJavascript { get; init; } = true;

    /// <summary>Drop a page with a curly bracket: true.</summary>
    public bool FilterCurlyBracket { get; init; } = true;

    /// <summary>Remove lines about terms of use, privacy and cookie policies: true.</summary>
    public bool FilterPolicy { get; init; } = true;

    public override void Validate(StageChecks check)
    {
        check.That(MinNumSentences is null or >= 0, "minNumSentences", "must be ≥ 0 (null disables)");
        check.That(MinWordsPerLine is null or >= 0, "minWordsPerLine", "must be ≥ 0 (null disables)");
        check.That(MaxWordLength is null or >= 1, "maxWordLength", "must be ≥ 1 (null disables)");
    }

    public override IDocumentTransform CreateTransform() => new C4Transform(this);

    /// <summary>
    /// The page-level threshold: sentences in the kept lines, recorded over the pages no other rule drops (see
    /// <see cref="RuleOutcome"/>). The line rules change the text rather than drop it, so the what-if does not move them.
    /// </summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public IReadOnlyList<ThresholdMeasure> Thresholds => MinNumSentences is { } min
        ? [new ThresholdMeasure("minNumSentences", "sentences in kept lines", min, DropsAbove: false, 0, 100, Integer: true)]
        : [];

    public StageSpec WithThreshold(string field, double value) => field == "minNumSentences"
        ? this with { MinNumSentences = (int)Math.Round(value) }
        : throw new ArgumentException($"{TypeName} has no threshold '{field}'.", nameof(field));
}

/// <summary>Filters each document's lines in place and drops what is left unusable; counts removed lines in a column.</summary>
public sealed partial class C4Transform(C4StageSpec spec) : IDocumentTransform
{
    public const string LoremIpsum = "lorem_ipsum";
    public const string CurlyBracket = "curly_bracket";
    public const string TooFewSentences = "too_few_sentences";
    public const string NoLinesLeft = "no_lines_left";

    /// <summary>Lines each document lost to the line rules.</summary>
    public const string LinesRemovedColumn = "c4_lines_removed";

    /// <summary>datatrove's POLICY_SUBSTRINGS.</summary>
    public static readonly string[] PolicySubstrings =
        ["terms of use", "privacy policy", "cookie policy", "uses cookies", "use of cookies", "use cookies"];

    public IReadOnlyList<ColumnSchema> AddedColumns { get; } = [new(LinesRemovedColumn, typeof(int))];

    private readonly ThresholdMeasure? _minSentences = spec.Threshold("minNumSentences");

    public void Process(RecordBatch batch, DropCollector drops)
    {
        var removed = batch.ResetColumn<int>(LinesRemovedColumn, batch.RowCount);
        var texts = batch.Texts;
        for (var row = 0; row < batch.RowCount; row++)
        {
            var outcome = new RuleOutcome();
            var (text, linesRemoved) = Run(texts[row], outcome);
            removed.Add(linesRemoved);
            outcome.Apply(drops, row);
            if (outcome.Drop is null) texts[row] = text;
        }
    }

    /// <summary>The rules on one document: its kept text, the lines removed, or why it is dropped.</summary>
    public (string Text, int LinesRemoved, (string Reason, string Detail)? Drop) Apply(string text)
    {
        var outcome = new RuleOutcome();
        var (kept, removed) = Run(text, outcome);
        return (kept, removed, outcome.Drop);
    }

    /// <summary>The line rules, then the page rules into <paramref name="outcome"/>: the kept text and the lines removed.</summary>
    private (string Text, int LinesRemoved) Run(string text, RuleOutcome outcome)
    {
        var sentences = 0;
        var removed = 0;
        var kept = new List<string>();
        var tokens = new List<Word>(); // per call: one transform serves every shard task of a silo at once
        foreach (var raw in Lines.SplitLines(text))
        {
            var line = raw.Trim();
            Words.Split(line, tokens);
            if (spec.MaxWordLength is { } maxLength && tokens.Any(w => !w.IsPunctuation && w.Length > maxLength))
            {
                removed++;
                continue;
            }
            if (spec.RemoveCitations) line = Citation().Replace(line, "");
            var script = Scripts.Dominant(line);
            var spaceEnded = script is Script.Thai or Script.Lao;
            if (spec.FilterNoTerminalPunct && !spaceEnded && (!EndsWithTerminal(line) || line.EndsWith("...", StringComparison.Ordinal)))
            {
                removed++;
                continue;
            }
            var words = tokens.Count(w => !w.IsPunctuation);
            if (spec.MinWordsPerLine is { } minWords && words < minWords)
            {
                removed++;
                continue;
            }
            var lower = line.ToLowerInvariant();
            if (spec.FilterLoremIpsum && lower.Contains("lorem ipsum", StringComparison.Ordinal))
            {
                outcome.Rule(true, LoremIpsum, () => "the page contains \"lorem ipsum\"");
                return (text, removed);
            }
            if (spec.FilterJavascript && lower.Contains("javascript", StringComparison.Ordinal))
            {
                removed++;
                continue;
            }
            if (spec.FilterCurlyBracket && line.Contains('{'))
            {
                outcome.Rule(true, CurlyBracket, () => "the page contains a curly bracket");
                return (text, removed);
            }
            if (spec.FilterPolicy && PolicySubstrings.Any(p => lower.Contains(p, StringComparison.Ordinal)))
            {
                removed++;
                continue;
            }
            sentences += spaceEnded ? SpaceSeparatedSegments(line) : Sentences(line);
            kept.Add(line);
        }
        outcome.Rule(_minSentences, sentences, sentences < spec.MinNumSentences, TooFewSentences,
            () => $"{sentences} sentences in kept lines < {spec.MinNumSentences}");
        var result = string.Join('\n', kept).Trim();
        outcome.Rule(result.Length == 0, NoLinesLeft, () => $"all {removed} lines removed");
        return outcome.Drop is null ? (result, removed) : (text, removed);
    }

    /// <summary>C4's end marks <c>. ? ! " '</c> and every script's sentence terminals.</summary>
    private static bool EndsWithTerminal(string line) =>
        line.Length > 0 && (line[^1] is '"' or '\'' || Punctuation.EndsWithTerminal(line));

    /// <summary>
    /// Sentences of a line (dictionary-free, like a Punkt splitter without abbreviations): runs of sentence terminals
    /// followed by a space or the end of the line (closing quotes and brackets between are allowed); at least one per line.
    /// </summary>
    public static int Sentences(string line)
    {
        var count = 0;
        var span = line.AsSpan();
        var i = 0;
        while (i < span.Length)
        {
            Rune.DecodeFromUtf16(span[i..], out var r, out var w);
            i += w;
            if (!Punctuation.IsSentenceTerminal(r)) continue;
            while (i < span.Length && Rune.DecodeFromUtf16(span[i..], out var next, out var nw) == System.Buffers.OperationStatus.Done
                   && (Punctuation.IsSentenceTerminal(next) || next.Value is '"' or '\'' or ')' or ']' or '”' or '’' or '」' or '』' or '）'))
                i += nw;
            // CJK terminals end a sentence with no space after them.
            if (i >= span.Length || char.IsWhiteSpace(span[i]) || r.Value >= 0x3000) count++;
        }
        return Math.Max(count, 1);
    }

    private static int SpaceSeparatedSegments(string line) => line.Split(' ', StringSplitOptions.RemoveEmptyEntries).Length;

    [GeneratedRegex(@"\[\d*]|\[edit]|\[citation needed]")]
    private static partial Regex Citation();
}
