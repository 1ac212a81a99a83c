using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Curation.Testing;

/// <summary>
/// Evaluation sets and a corpus, both of real text, with evaluation passages planted into some documents: whole,
/// partial (a 20-word window), re-wrapped (line breaks and punctuation changed), case-changed, and whole passages of a
/// benchmark in Chinese and Thai (from the machine's message catalogs). Sentences are chosen so that no two share an
/// 8-word sequence: an unplanted document shares no 13-gram with any item.
/// </summary>
public sealed partial class DecontaminationCorpus
{
    public sealed record Item(string Benchmark, string Id, string Text);

    /// <summary>A planted document: the item, how it was planted, and the real text around the passage.</summary>
    public sealed record Plant(Item Item, string Kind, string Before, string After);

    public List<(string Id, string Text)> Documents { get; } = [];

    public List<Item> Items { get; } = [];

    public Dictionary<string, Plant> Planted { get; } = new(StringComparer.Ordinal);

    public static readonly string[] Kinds = ["whole", "partial", "rewrapped", "case"];

    public static DecontaminationCorpus Generate(int documents, int planted, int seed = 3)
    {
        var random = new Random(seed);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var sentences = new List<string>();
        foreach (var sentence in LineDedupCorpus.RealSentences())
        {
            var words = Words(sentence);
            var grams = Enumerable.Range(0, Math.Max(0, words.Count - 7)).Select(i => string.Join(' ', words.Skip(i).Take(8))).ToList();
            if (words.Count < 8 || grams.Any(seen.Contains)) continue;
            seen.UnionWith(grams);
            sentences.Add(sentence + ".");
        }
        var corpus = new DecontaminationCorpus();
        var next = 0;
        string Take(int count)
        {
            if (next + count > sentences.Count) throw new InvalidOperationException($"only {sentences.Count} sentences without shared 8-grams");
            next += count;
            return string.Join(' ', sentences.Skip(next - count).Take(count));
        }
        for (var i = 0; i < 25; i++) corpus.Items.Add(new Item("trivia_qa", $"tq-{i:D3}", Take(3)));
        for (var i = 0; i < 25; i++) corpus.Items.Add(new Item("reading", (1000 + i).ToString(CultureInfo.InvariantCulture), Take(4)));
        var unspaced = Catalog("zh_CN", 2).Concat(Catalog("th", 2)).ToList();
        for (var i = 0; i < unspaced.Count; i++) corpus.Items.Add(new Item("unspaced", $"u-{i}", unspaced[i]));

        var ids = Enumerable.Range(0, documents).Select(i => $"doc-{i:D5}").OrderBy(_ => random.Next()).ToList();
        for (var d = 0; d < documents; d++)
        {
            if (d >= planted)
            {
                corpus.Documents.Add((ids[d], Take(4)));
                continue;
            }
            var item = d < unspaced.Count ? corpus.Items[^(d + 1)] : corpus.Items[random.Next(50)];
            var kind = d < unspaced.Count ? "whole" : Kinds[d % Kinds.Length];
            var passage = kind switch
            {
                "partial" => string.Join(' ', item.Text.Split(' ').Skip(4).Take(20)),
                "rewrapped" => Rewrap(item.Text),
                "case" => item.Text.ToUpperInvariant(),
                _ => item.Text,
            };
            var (before, after) = (Take(2), Take(2));
            corpus.Planted[ids[d]] = new Plant(item, kind, before, after);
            corpus.Documents.Add((ids[d], $"{before}\n{passage}\n{after}"));
        }
        return corpus;
    }

    /// <summary>Line breaks every few words, commas dropped, a quote mark added: how a passage looks pasted into a page.</summary>
    private static string Rewrap(string text)
    {
        var words = text.Replace(",", "", StringComparison.Ordinal).Split(' ');
        return "“" + string.Join("", words.Select((w, i) => i == 0 ? w : (i % 6 == 0 ? "\n" : " ") + w)) + "”";
    }

    /// <summary>Lower-cased words (letters and digits) of a text, as a plain regex sees them.</summary>
    public static List<string> Words(string text) => WordPattern().Matches(text.ToLowerInvariant()).Select(m => m.Value).ToList();

    [GeneratedRegex(@"[\p{L}\p{M}\p{N}]+")]
    private static partial Regex WordPattern();

    /// <summary>Runs of eight translated messages of one language's catalogs (200+ characters, no format strings), or none.</summary>
    private static IEnumerable<string> Catalog(string language, int count) =>
        MultilingualCorpus.MessageCatalogs(perDocument: 8, language)
            .Where(d => d.Text.Length >= 200 && !d.Text.Contains('%') && !d.Text.Contains('\\'))
            .OrderBy(d => d.Id, StringComparer.Ordinal).Take(count).Select(d => d.Text);

    public void WriteCorpus(string folder, int files) => NearDupCorpus.WriteJsonl(folder, files, Documents);

    /// <summary>Writes each benchmark's items as JSONL (<c>{name}.jsonl</c>, fields id and text); returns name → path.</summary>
    public Dictionary<string, string> WriteBenchmarks(string folder)
    {
        Directory.CreateDirectory(folder);
        var paths = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var group in Items.GroupBy(i => i.Benchmark))
        {
            var path = Path.Combine(folder, group.Key + ".jsonl");
            // The reading benchmark's ids are numbers, as many evaluation sets write them.
            File.WriteAllLines(path, group.Select(i => group.Key == "reading"
                ? JsonSerializer.Serialize(new { id = int.Parse(i.Id, CultureInfo.InvariantCulture), text = i.Text })
                : JsonSerializer.Serialize(new { id = i.Id, text = i.Text })));
            paths[group.Key] = path;
        }
        return paths;
    }
}
