using System.Text.Json;
using Curation.Pipelines.IO;
using Curation.Pipelines.Storage;

namespace Curation.Testing;

/// <summary>
/// Documents made of real sentences (from the demo corpus, samples/corpus, each sentence used once) with planted
/// boilerplate lines (cookie notices, navigation, signatures, licence footers) copied into a chosen number of documents,
/// some copies upper-cased or re-spaced. The truth: each planted line and the documents holding it; every other line is unique.
/// </summary>
public sealed class LineDedupCorpus
{
    public static readonly string[] Boilerplate =
    [
        "We use cookies to improve your experience. By continuing to browse you agree to our cookie policy.",
        "Home | About us | Products | Blog | Contact",
        "Sent from my phone, please excuse any typos.",
        "This page is licensed under the Creative Commons Attribution-ShareAlike 4.0 International License.",
        "Subscribe to our newsletter for weekly updates and exclusive offers!",
        "Copyright 2024 Example Media Group. All rights reserved.",
    ];

    public List<(string Id, string Text)> Documents { get; } = [];

    /// <summary>Planted line → ids of the documents holding a copy.</summary>
    public Dictionary<string, List<string>> Planted { get; } = [];

    /// <summary>Every real (unique) line → the id of its document.</summary>
    public Dictionary<string, string> UniqueLines { get; } = new(StringComparer.Ordinal);

    /// <param name="plantedIn">Documents each <see cref="Boilerplate"/> line is planted in (at most one count per line).</param>
    public static LineDedupCorpus Generate(int documents, int[] plantedIn, int seed = 11)
    {
        var random = new Random(seed);
        var sentences = RealSentences().ToList();
        var corpus = new LineDedupCorpus();
        var ids = Enumerable.Range(0, documents).Select(i => $"doc-{i:D6}").OrderBy(_ => random.Next()).ToList();
        var lines = ids.Select(_ => new List<string>()).ToList();
        var next = 0;
        for (var d = 0; d < documents; d++)
            for (var s = 3 + random.Next(3); s > 0; s--)
            {
                if (next == sentences.Count) throw new InvalidOperationException($"the demo corpus has only {sentences.Count} distinct sentences");
                lines[d].Add(sentences[next]);
                corpus.UniqueLines[sentences[next++]] = ids[d];
            }
        for (var p = 0; p < plantedIn.Length; p++)
        {
            var line = Boilerplate[p];
            var holders = Enumerable.Range(0, documents).OrderBy(_ => random.Next()).Take(plantedIn[p]).ToList();
            corpus.Planted[line] = holders.Select(d => ids[d]).ToList();
            foreach (var d in holders)
            {
                var copy = random.Next(4) switch { 0 => line.ToUpperInvariant(), 1 => "  " + line.Replace(" ", "  \t", StringComparison.Ordinal), _ => line };
                lines[d].Insert(random.Next(lines[d].Count + 1), copy);
            }
        }
        for (var d = 0; d < documents; d++) corpus.Documents.Add((ids[d], string.Join('\n', lines[d])));
        return corpus;
    }

    /// <summary>The demo corpus' sentences of 40+ characters, each once (folded as line_dedup folds: case, spacing, invisible characters), in file order.</summary>
    public static IEnumerable<string> RealSentences()
    {
        var seen = new HashSet<Curation.Pipelines.Text.ContentHash>();
        foreach (var file in Directory.GetFiles(Path.Combine(RepositoryRoot.Get(), "samples", "corpus"), "*.jsonl").Order(StringComparer.Ordinal))
            foreach (var json in File.ReadLines(file))
            {
                var text = JsonDocument.Parse(json).RootElement.GetProperty("text").GetString() ?? "";
                foreach (var raw in text.Split(". ", StringSplitOptions.RemoveEmptyEntries))
                {
                    var sentence = string.Join(' ', raw.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries));
                    if (sentence.Length < 40) continue;
                    if (seen.Add(Curation.Pipelines.Text.ContentHash.Of(sentence, caseFold: true, collapseWhitespace: true))) yield return sentence;
                }
            }
    }

    public void WriteJsonl(string folder, int files) => NearDupCorpus.WriteJsonl(folder, files, Documents);

    /// <summary>Id → text of every document in a finished job's output shards.</summary>
    public static async Task<Dictionary<string, string>> ReadTextsAsync(IObjectStore store, string prefix, CuratedOutput output)
    {
        var texts = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var shard in output.Manifest.Shards)
        {
            await using var reader = await ParquetTableReader.OpenAsync(new MemoryStream(await store.ReadBytesAsync(prefix.TrimEnd('/') + "/" + shard.Key)));
            await foreach (var batch in reader.ReadAllAsync())
                for (var i = 0; i < batch.RowCount; i++) texts[batch.Ids[i]] = batch.Texts[i];
        }
        return texts;
    }

    /// <summary>
    /// Checks a line_dedup output against the truth: each planted line kept exactly once, in the smallest id holding it
    /// (compared as line_dedup folds lines: case, spacing, invisible characters), every unique line still in its document. Returns the problems (empty: correct).
    /// </summary>
    public List<string> Check(IReadOnlyDictionary<string, string> texts)
    {
        static string Fold(string line) => Curation.Pipelines.Text.ContentHash.Of(line, caseFold: true, collapseWhitespace: true).ToString();
        var problems = new List<string>();
        var linesOf = texts.ToDictionary(t => t.Key, t => t.Value.Split('\n').Select(Fold).ToList());
        foreach (var (line, holders) in Planted)
        {
            var folded = Fold(line);
            var keptIn = linesOf.Where(t => t.Value.Contains(folded)).Select(t => t.Key).ToList();
            var first = holders.Min(StringComparer.Ordinal)!;
            if (keptIn.Count != 1 || keptIn[0] != first)
                problems.Add($"planted in {holders.Count}: '{line}' kept in [{string.Join(", ", keptIn.Take(5))}] (expected only {first})");
            if (linesOf.TryGetValue(first, out var lines) && lines.Count(l => l == folded) != holders.Count(h => h == first))
                problems.Add($"'{line}' appears {lines.Count(l => l == folded)} times in {first}");
        }
        foreach (var (line, id) in UniqueLines)
            if (!texts.TryGetValue(id, out var text)) problems.Add($"{id} (holding unique lines) is missing from the output");
            else if (!linesOf[id].Contains(Fold(line))) problems.Add($"unique line removed from {id}: '{line}'");
        return problems;
    }
}
