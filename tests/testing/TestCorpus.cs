using System.Text;
using System.Text.Json;

namespace Curation.Testing;

/// <summary>
/// A generated JSONL corpus with planted exact duplicates and case/whitespace variants, and the ground truth:
/// which ids an exact-dedup job must drop, and the kept twin (smallest id of each group) of each.
/// </summary>
public sealed class TestCorpus
{
    private static readonly string[] Words =
        ("data curation pipeline removes duplicates filters noise tokenizes text embeds documents clusters vectors keeps " +
         "diverse examples for training language models at scale across many machines without losing progress or order " +
         "shards stream through stages each with one job and every drop carries a reason that becomes a counter").Split(' ');

    public List<(string Id, string Text)> Documents { get; } = [];

    /// <summary>Dropped id → kept twin id, for an exact dedup that folds case and whitespace.</summary>
    public Dictionary<string, string> ExpectedDuplicates { get; } = [];

    public static TestCorpus Generate(int originals, int copies, int seed = 7)
    {
        var random = new Random(seed);
        var corpus = new TestCorpus();
        var texts = new List<string>();
        for (var i = 0; i < originals; i++)
        {
            var sentence = new StringBuilder();
            var words = 30 + random.Next(60);
            for (var w = 0; w < words; w++) sentence.Append(Words[random.Next(Words.Length)]).Append(w % 12 == 11 ? ". " : " ");
            texts.Add($"Document {i}: " + sentence.ToString().Trim());
        }
        // Ids are shuffled so that a copy's id is sometimes smaller than its original's.
        var ids = Enumerable.Range(0, originals + copies).Select(i => $"doc-{i:D6}").OrderBy(_ => random.Next()).ToList();
        var groups = new Dictionary<int, List<string>>();
        for (var i = 0; i < originals; i++)
        {
            corpus.Documents.Add((ids[i], texts[i]));
            groups[i] = [ids[i]];
        }
        for (var c = 0; c < copies; c++)
        {
            var of = random.Next(originals);
            var text = (c % 3) switch
            {
                0 => texts[of],
                1 => texts[of].ToUpperInvariant(),
                _ => "  " + texts[of].Replace(" ", "   \t") + "\n",
            };
            corpus.Documents.Add((ids[originals + c], text));
            groups[of].Add(ids[originals + c]);
        }
        foreach (var group in groups.Values.Where(g => g.Count > 1))
        {
            var keeper = group.Min(StringComparer.Ordinal)!;
            foreach (var id in group.Where(id => id != keeper)) corpus.ExpectedDuplicates[id] = keeper;
        }
        corpus.Documents.Sort((a, b) => random.Next(3) - 1);
        return corpus;
    }

    public IReadOnlyList<string> ExpectedKeptIds =>
        Documents.Select(d => d.Id).Where(id => !ExpectedDuplicates.ContainsKey(id)).Order(StringComparer.Ordinal).ToArray();

    /// <summary>Writes the corpus as <paramref name="files"/> JSONL files <c>part-N.jsonl</c> in <paramref name="folder"/>.</summary>
    public void WriteJsonl(string folder, int files)
    {
        Directory.CreateDirectory(folder);
        var writers = Enumerable.Range(0, files).Select(i => new StreamWriter(Path.Combine(folder, $"part-{i:D3}.jsonl"))).ToArray();
        try
        {
            for (var i = 0; i < Documents.Count; i++)
                writers[i % files].WriteLine(JsonSerializer.Serialize(new { id = Documents[i].Id, text = Documents[i].Text }));
        }
        finally
        {
            foreach (var w in writers) w.Dispose();
        }
    }
}
