namespace Curation.Pipelines.Embedding.Static;

/// <summary>
/// Extra training rows for <see cref="StaticFit"/> cut from the training documents themselves
/// (<see cref="StaticTrainingText"/>): its sentences and runs of adjacent sentences (<see cref="Units"/>). The transformer embeds each alone, so the ridge fit sees many more (static, transformer) pairs of the same
/// shipped text, at different lengths, for about the cost of one more pass over it.
/// <para>
/// Sentences end after <c>. ! ?</c> followed by white space or the end, after the unspaced scripts' full stops
/// (<c>。！？</c>, no space needed), and at line breaks, so Chinese or Japanese text is cut as English is. A unit is kept
/// when it has at least <see cref="MinPieces"/> word pieces and its case-folded text is neither a training document nor
/// an earlier unit. Deterministic: documents in order, units in order of their start.
/// </para>
/// </summary>
public static class StaticTrainingSamples
{
    /// <summary>Units with fewer word pieces are left out (headings, list markers, dates).</summary>
    public const int MinPieces = 6;

    /// <summary>
    /// The units of <paramref name="documents"/>: first every sentence of every document (documents in order), then every
    /// run of two adjacent sentences, … up to runs of <paramref name="maxRun"/>; a run is cut only from a document with
    /// more sentences than the run (a whole document is already a row). So the units for a smaller
    /// <paramref name="maxRun"/> are a prefix of those for a larger one.
    /// </summary>
    public static List<string> Units(IReadOnlyList<string> documents, Func<string, int> pieces, int maxRun)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxRun, 1);
        var seen = documents.Select(t => t.ToLowerInvariant()).ToHashSet(StringComparer.Ordinal);
        var split = documents.Select(Sentences).ToList();
        var units = new List<string>();
        for (var run = 1; run <= maxRun; run++)
            for (var d = 0; d < documents.Count; d++)
            {
                var sentences = split[d];
                if (sentences.Count <= run) continue;
                for (var i = 0; i + run <= sentences.Count; i++)
                {
                    var unit = documents[d][sentences[i].Start..sentences[i + run - 1].End];
                    if (pieces(unit) >= MinPieces && seen.Add(unit.ToLowerInvariant())) units.Add(unit);
                }
            }
        return units;
    }

    /// <summary>The sentences of <paramref name="text"/>: [start, end) ranges, white space trimmed, empty ones left out.</summary>
    public static List<(int Start, int End)> Sentences(string text)
    {
        var ranges = new List<(int, int)>();
        var start = 0;
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            var end = c switch
            {
                '\n' or '\r' => i,
                '。' or '！' or '？' => i + 1,
                '.' or '!' or '?' when i + 1 == text.Length || char.IsWhiteSpace(text[i + 1]) => i + 1,
                _ => -1,
            };
            if (end < 0) continue;
            Close(start, end);
            start = i + 1;
        }
        Close(start, text.Length);
        return ranges;

        void Close(int from, int to)
        {
            while (from < to && char.IsWhiteSpace(text[from])) from++;
            while (to > from && char.IsWhiteSpace(text[to - 1])) to--;
            if (to > from) ranges.Add((from, to));
        }
    }
}
