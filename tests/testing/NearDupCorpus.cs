using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Curation.Testing;

/// <summary>
/// A generated corpus with planted near duplicates at known Jaccard similarities (of word 5-gram sets: lower-cased,
/// split on whitespace, a text of fewer than five words is one shingle), chains a ~ b ~ c, and documents near
/// dedup must survive: empty, shorter than one shingle, and in a script without spaces. The exact similarity of every
/// pair is computed by brute force (an inverted index over shingles finds every pair sharing one; all others are 0).
/// </summary>
public sealed class NearDupCorpus
{
    public const int Ngram = 5;

    public List<(string Id, string Text)> Documents { get; } = [];

    /// <summary>Planted document → the document it was made from.</summary>
    public Dictionary<string, string> PlantedOf { get; } = [];

    /// <summary>Each chain (a, b, c): b was made from a, c from b.</summary>
    public List<(string A, string B, string C)> Chains { get; } = [];

    /// <summary>Ids of documents with nothing to shingle, shorter than one shingle, or in a script without spaces.</summary>
    public List<string> Empty { get; } = [];
    public List<string> Short { get; } = [];
    public List<string> Unspaced { get; } = [];

    public static NearDupCorpus Generate(int originals, int nearPerLevel, int chains, int seed = 11, double[]? levels = null)
    {
        levels ??= [0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95];
        var random = new Random(seed);
        var vocabulary = Vocabulary(random, 20_000);
        var corpus = new NearDupCorpus();
        var texts = new List<string>();
        for (var i = 0; i < originals; i++)
            texts.Add(string.Join(' ', Enumerable.Range(0, 80 + random.Next(220)).Select(_ => vocabulary[random.Next(vocabulary.Length)])));

        var planted = new List<(int Of, string Text)>();
        var used = new HashSet<int>();
        int Fresh()
        {
            int pick;
            do pick = random.Next(originals); while (!used.Add(pick));
            return pick;
        }
        foreach (var level in levels)
            for (var k = 0; k < nearPerLevel; k++)
            {
                var of = Fresh();
                planted.Add((of, Edit(random, vocabulary, texts[of], level)));
            }
        var chainIndexes = new List<(int A, int B, int C)>();
        for (var c = 0; c < chains; c++)
        {
            var a = Fresh();
            var b = texts.Count + planted.Count;
            planted.Add((a, Edit(random, vocabulary, texts[a], 0.9)));
            planted.Add((b, Edit(random, vocabulary, planted[^1].Text, 0.9)));
            chainIndexes.Add((a, b, b + 1));
        }

        var all = texts.Concat(planted.Select(p => p.Text)).ToList();
        var ofIndex = Enumerable.Repeat(-1, texts.Count).Concat(planted.Select(p => p.Of)).ToList();
        // Documents near dedup must survive without crashing; none is a near duplicate of anything.
        var specials = new List<(string Kind, string Text)>
        {
            ("empty", ""), ("empty", "   \n\t "), ("short", "just four words here"), ("short", "two words"), ("short", "x"),
            ("unspaced", "近重复文档检测使用最小哈希和局部敏感哈希在大规模语料库中找到相似的文本并且只保留每个组件中编号最小的文档"),
            ("unspaced", "ภาษาไทยเขียนโดยไม่มีช่องว่างระหว่างคำจึงต้องใช้ตัวอักษรแทนคำในการตัดชิ้นส่วนของข้อความ"),
        };
        foreach (var (_, text) in specials)
        {
            all.Add(text);
            ofIndex.Add(-1);
        }

        // Ids are shuffled, so a copy's id is as likely smaller as larger than its original's.
        var ids = Enumerable.Range(0, all.Count).Select(i => $"nd-{i:D6}").OrderBy(_ => random.Next()).ToList();
        for (var i = 0; i < all.Count; i++)
        {
            corpus.Documents.Add((ids[i], all[i]));
            if (ofIndex[i] >= 0) corpus.PlantedOf[ids[i]] = ids[ofIndex[i]];
        }
        foreach (var (a, b, c) in chainIndexes) corpus.Chains.Add((ids[a], ids[b], ids[c]));
        for (var s = 0; s < specials.Count; s++)
        {
            var id = ids[all.Count - specials.Count + s];
            (specials[s].Kind switch { "empty" => corpus.Empty, "short" => corpus.Short, _ => corpus.Unspaced }).Add(id);
        }
        for (var i = corpus.Documents.Count - 1; i > 0; i--)
        {
            var j = random.Next(i + 1);
            (corpus.Documents[i], corpus.Documents[j]) = (corpus.Documents[j], corpus.Documents[i]);
        }
        return corpus;
    }

    private static string[] Vocabulary(Random random, int size)
    {
        const string letters = "abcdefghijklmnopqrstuvwxyz";
        var words = new HashSet<string>(StringComparer.Ordinal);
        while (words.Count < size)
        {
            var length = 3 + random.Next(8);
            words.Add(string.Concat(Enumerable.Range(0, length).Select(_ => letters[random.Next(letters.Length)])));
        }
        return words.Order(StringComparer.Ordinal).ToArray();
    }

    /// <summary>Replaces random words (and sometimes capitalises or re-spaces, which must not matter) until the Jaccard similarity falls to the target.</summary>
    private static string Edit(Random random, string[] vocabulary, string text, double target)
    {
        var original = Shingles(text);
        var words = text.Split(' ');
        while (Jaccard(original, Shingles(string.Join(' ', words))) > target + 0.02)
            words[random.Next(words.Length)] = vocabulary[random.Next(vocabulary.Length)];
        var result = new StringBuilder();
        for (var i = 0; i < words.Length; i++)
        {
            if (i > 0) result.Append(random.Next(20) == 0 ? "  \n" : " ");
            result.Append(random.Next(30) == 0 ? words[i].ToUpperInvariant() : words[i]);
        }
        return result.ToString();
    }

    public static HashSet<string> Shingles(string text)
    {
        var words = text.ToLowerInvariant().Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
        var set = new HashSet<string>(StringComparer.Ordinal);
        if (words.Length == 0) return set;
        if (words.Length < Ngram) { set.Add(string.Join(' ', words)); return set; }
        for (var i = 0; i + Ngram <= words.Length; i++) set.Add(string.Join(' ', words, i, Ngram));
        return set;
    }

    public static double Jaccard(HashSet<string> a, HashSet<string> b)
    {
        if (a.Count == 0 && b.Count == 0) return 0;
        var (small, large) = a.Count <= b.Count ? (a, b) : (b, a);
        var common = small.Count(large.Contains);
        return common / (double)(a.Count + b.Count - common);
    }

    /// <summary>Every pair of documents with Jaccard similarity above zero, by brute force over shared shingles.</summary>
    public Dictionary<(string, string), double> ExactSimilarities()
    {
        var shingles = Documents.ToDictionary(d => d.Id, d => Shingles(d.Text));
        var index = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        foreach (var (id, set) in shingles)
            foreach (var s in set)
                (index.TryGetValue(s, out var list) ? list : index[s] = []).Add(id);
        var result = new Dictionary<(string, string), double>();
        foreach (var list in index.Values)
            for (var i = 0; i < list.Count; i++)
                for (var j = i + 1; j < list.Count; j++)
                {
                    var key = string.CompareOrdinal(list[i], list[j]) < 0 ? (list[i], list[j]) : (list[j], list[i]);
                    if (!result.ContainsKey(key)) result[key] = Jaccard(shingles[key.Item1], shingles[key.Item2]);
                }
        return result;
    }

    /// <summary>Writes the corpus as <paramref name="files"/> JSONL files in <paramref name="folder"/>.</summary>
    public void WriteJsonl(string folder, int files) => WriteJsonl(folder, files, Documents);

    /// <summary>Writes (id, text) documents round-robin into <paramref name="files"/> JSONL files <c>part-000.jsonl</c> … in <paramref name="folder"/>.</summary>
    public static void WriteJsonl(string folder, int files, IReadOnlyList<(string Id, string Text)> documents)
    {
        Directory.CreateDirectory(folder);
        var writers = Enumerable.Range(0, files).Select(i => new StreamWriter(Path.Combine(folder, $"part-{i.ToString("D3", CultureInfo.InvariantCulture)}.jsonl"))).ToArray();
        try
        {
            for (var i = 0; i < documents.Count; i++)
                writers[i % files].WriteLine(JsonSerializer.Serialize(new { id = documents[i].Id, text = documents[i].Text }));
        }
        finally
        {
            foreach (var w in writers) w.Dispose();
        }
    }
}
