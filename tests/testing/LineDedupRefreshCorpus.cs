using System.Text.Json;
using Curation.Pipelines.Text;

namespace Curation.Testing;

/// <summary>
/// A versioned corpus for line_dedup refreshes: part 1 (the first snapshot, ids <c>p1-…</c>), part 2 (a refresh, ids
/// <c>a2-…</c>, which sort before every part-1 id, so only the refresh rule keeps part 1's copies) and part 3 (ids
/// <c>a3-…</c>, documents made only of lines the corpus already holds). Real sentences (each used once) with planted
/// lines, some copies upper-cased or re-spaced:
/// <list type="bullet">
/// <item><see cref="InBase"/>: in 20 part-1 documents and 30 part-2 documents (already in the base);</item>
/// <item><see cref="InRefresh"/>: in 25 part-2 documents only (repeated only within the refresh);</item>
/// <item><see cref="Few"/>: in 3 part-1 and 2 part-2 documents;</item>
/// <item><see cref="UniqueOfBase"/>: a real sentence of one part-1 document copied into 5 part-2 documents;</item>
/// <item>one part-2 document (<see cref="OnlyKnownId"/>) made only of lines the base holds.</item>
/// </list>
/// <see cref="Expected"/> is the oracle: the corpus' documents in order (part, then id), each unit kept by its first
/// <c>maxOccurrences</c> holders and removed from every later one.
/// </summary>
public sealed class LineDedupRefreshCorpus
{
    public static string InBase => LineDedupCorpus.Boilerplate[0];
    public static string InRefresh => LineDedupCorpus.Boilerplate[1];
    public static string Few => LineDedupCorpus.Boilerplate[2];
    public const string OnlyKnownId = "a2-known";

    /// <summary>The part-1 sentence planted again in part 2.</summary>
    public string UniqueOfBase { get; }

    /// <summary>Each part's documents (id, lines).</summary>
    public List<List<(string Id, List<string> Lines)>> Parts { get; } = [[], [], []];

    private LineDedupRefreshCorpus(int seed)
    {
        var random = new Random(seed);
        using var sentences = LineDedupCorpus.RealSentences().GetEnumerator();
        string Next() => sentences.MoveNext() ? sentences.Current : throw new InvalidOperationException("the demo corpus ran out of sentences");
        string Variant(string line) => random.Next(4) switch { 0 => line.ToUpperInvariant(), 1 => "  " + line.Replace(" ", "  \t", StringComparison.Ordinal), _ => line };
        void Plant(List<(string Id, List<string> Lines)> part, string line, int documents)
        {
            foreach (var (_, lines) in part.Where(d => d.Id != OnlyKnownId).OrderBy(_ => random.Next()).Take(documents).ToList())
                lines.Insert(random.Next(lines.Count + 1), Variant(line));
        }

        for (var i = 0; i < 150; i++) Parts[0].Add(($"p1-{i:D4}", Enumerable.Range(0, 3 + random.Next(3)).Select(_ => Next()).ToList()));
        for (var i = 0; i < 150; i++) Parts[1].Add(($"a2-{i:D4}", Enumerable.Range(0, 3 + random.Next(3)).Select(_ => Next()).ToList()));
        UniqueOfBase = Parts[0][random.Next(Parts[0].Count)].Lines[0];
        Plant(Parts[0], InBase, 20);
        Plant(Parts[0], Few, 3);
        Plant(Parts[1], InBase, 30);
        Plant(Parts[1], InRefresh, 25);
        Plant(Parts[1], Few, 2);
        Plant(Parts[1], UniqueOfBase, 5);
        Parts[1].Add((OnlyKnownId, [Variant(InBase), UniqueOfBase]));

        // Part 3: every line already in the corpus (planted lines and real sentences of parts 1 and 2).
        var known = Parts[0].Concat(Parts[1]).SelectMany(d => d.Lines).ToList();
        for (var i = 0; i < 12; i++)
            Parts[2].Add(($"a3-{i:D4}", Enumerable.Range(0, 2 + random.Next(3)).Select(_ => known[random.Next(known.Count)]).Distinct().ToList()));
        for (var p = 0; p < Parts.Count; p++) Parts[p] = Parts[p].OrderBy(_ => random.Next()).ToList(); // file order is not id order
    }

    public static LineDedupRefreshCorpus Generate(int seed = 7) => new(seed);

    /// <summary>Writes part <paramref name="part"/> (1-based) into <paramref name="folder"/> as <paramref name="files"/> JSONL objects.</summary>
    public void WritePart(string folder, int part, int files = 4)
    {
        Directory.CreateDirectory(folder);
        var documents = Parts[part - 1];
        for (var f = 0; f < files; f++)
            File.WriteAllLines(Path.Combine(folder, $"part{part}-{f}.jsonl"), documents.Where((_, i) => i % files == f)
                .Select(d => JsonSerializer.Serialize(new { id = d.Id, text = string.Join('\n', d.Lines) })));
    }

    public static string Fold(string line) => ContentHash.Of(line, caseFold: true, collapseWhitespace: true).ToString();

    /// <summary>
    /// The oracle after parts 1 … <paramref name="parts"/>: every kept document's text and every dropped document
    /// (<c>empty_after_line_dedup</c>). A unit counts as kept by a document that is then dropped, as line_dedup decides.
    /// </summary>
    public (Dictionary<string, string> Texts, SortedSet<string> Dropped) Expected(int parts, int maxOccurrences = 1, int minChars = 50)
    {
        var keepers = new Dictionary<string, int>(StringComparer.Ordinal);
        var texts = new Dictionary<string, string>(StringComparer.Ordinal);
        var dropped = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var part in Parts.Take(parts))
            foreach (var (id, lines) in part.OrderBy(d => d.Id, StringComparer.Ordinal))
            {
                var folds = lines.Select(Fold).ToList();
                var keeps = folds.Distinct().ToDictionary(f => f, f => keepers.GetValueOrDefault(f) < maxOccurrences);
                foreach (var f in keeps.Keys) keepers[f] = keepers.GetValueOrDefault(f) + 1;
                var kept = lines.Where((_, i) => keeps[folds[i]]).ToList();
                var text = string.Join('\n', kept);
                if (kept.Count < lines.Count && text.Trim().Length < minChars) dropped.Add(id);
                else texts[id] = text;
            }
        return (texts, dropped);
    }

    /// <summary>The documents of parts 1 … <paramref name="parts"/> holding <paramref name="line"/> (folded), in the corpus' order.</summary>
    public List<string> HoldersOf(string line, int parts) =>
        Parts.Take(parts).SelectMany(p => p.OrderBy(d => d.Id, StringComparer.Ordinal)).Where(d => d.Lines.Any(l => Fold(l) == Fold(line))).Select(d => d.Id).ToList();
}
