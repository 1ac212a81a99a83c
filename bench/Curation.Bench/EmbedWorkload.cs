using System.Buffers;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using Curation.Pipelines.Embedding;

namespace Curation.Bench;

/// <summary>
/// The documents of one <c>embed</c> input, held three ways before any clock starts: as a JSONL file the pipeline job
/// reads (<c>id</c>, <c>text</c>), as texts, and pre-tokenized (the pipeline's own <see cref="WordPieceTokenizer"/>,
/// without [CLS]/[SEP]) for the bare loop and <see cref="BatchEmbedder"/>.
/// </summary>
public sealed record EmbedWorkload(string Name, string Description, string Folder, IReadOnlyList<string> Ids,
    IReadOnlyList<string> Texts, int[][] Tokens, long JsonlBytes)
{
    public int Documents => Ids.Count;

    /// <summary>
    /// <paramref name="documents"/> of the demo corpus (<c>samples/corpus/*.jsonl</c>, files in name order, lines in
    /// file order), evenly spaced over the whole corpus so the subset keeps its mix of sources and lengths.
    /// </summary>
    public static EmbedWorkload FromDemoCorpus(string corpusFolder, string folder, int documents, WordPieceTokenizer tokenizer)
    {
        var all = new List<(string Id, string Text)>();
        foreach (var file in Directory.GetFiles(corpusFolder, "*.jsonl").Order(StringComparer.Ordinal))
            foreach (var line in File.ReadLines(file))
            {
                if (string.IsNullOrWhiteSpace(line)) continue;
                using var json = JsonDocument.Parse(line);
                all.Add((json.RootElement.GetProperty("id").GetString()!, json.RootElement.GetProperty("text").GetString()!));
            }
        var take = Math.Min(documents, all.Count);
        var chosen = Enumerable.Range(0, take).Select(j => all[(int)((long)j * all.Count / take)]).ToList();
        var subset = take == all.Count ? $"all {all.Count:N0}" : $"{take:N0} of {all.Count:N0} (evenly spaced subset)";
        return Create("demo", $"demo corpus {Path.GetRelativePath(Directory.GetCurrentDirectory(), corpusFolder)}/*.jsonl: {subset} real documents",
            folder, chosen.Select(c => c.Id).ToList(), chosen.Select(c => c.Text).ToList(), tokenizer);
    }

    /// <summary>
    /// <paramref name="documents"/> generated documents of exactly <paramref name="tokens"/> word pieces each: sentences
    /// of 6–18 whole-word entries of the model's own vocabulary (each one token; lower ranks, the frequent words,
    /// drawn more often) ending in '.', cut so the count comes out exact. Deterministic for a seed; every count is
    /// checked with the tokenizer.
    /// </summary>
    public static EmbedWorkload FixedLength(string folder, int documents, int tokens, int seed, string vocabPath, WordPieceTokenizer tokenizer)
    {
        var words = File.ReadLines(vocabPath).Select(l => l.Trim())
            .Where(w => w.Length >= 2 && w.All(c => c is >= 'a' and <= 'z')).ToArray();
        var random = new Random(seed);
        var ids = new List<string>(documents);
        var texts = new List<string>(documents);
        var text = new StringBuilder();
        for (var d = 0; d < documents; d++)
        {
            text.Clear();
            var count = 0;
            var sentence = 0;
            var sentenceLength = 6 + random.Next(13);
            while (count < tokens)
            {
                if (sentence == sentenceLength || tokens - count == 1)
                {
                    text.Append('.');
                    count++;
                    sentence = 0;
                    sentenceLength = 6 + random.Next(13);
                    continue;
                }
                var u = random.NextDouble();
                var word = words[(int)(u * u * words.Length)];
                if (text.Length > 0) text.Append(' ');
                if (sentence == 0) text.Append(char.ToUpperInvariant(word[0])).Append(word, 1, word.Length - 1);
                else text.Append(word);
                count++;
                sentence++;
            }
            ids.Add($"fixed-{d:D6}");
            texts.Add(text.ToString());
        }
        var workload = Create("fixed", $"synthetic: {documents:N0} documents of exactly {tokens} tokens ([CLS]/[SEP] not counted), seed {seed}",
            folder, ids, texts, tokenizer);
        var wrong = workload.Tokens.Select((t, i) => (t.Length, i)).FirstOrDefault(t => t.Length != tokens);
        if (wrong != default)
            throw new InvalidOperationException($"generated document {ids[wrong.i]} has {wrong.Length} tokens, not {tokens}: the fixed-length generator is broken");
        return workload;
    }

    private static EmbedWorkload Create(string name, string description, string folder, List<string> ids, List<string> texts, WordPieceTokenizer tokenizer)
    {
        Directory.CreateDirectory(folder);
        var bytes = WriteJsonl(Path.Combine(folder, "docs.jsonl"), ids, texts);
        var tokens = new int[texts.Count][];
        Parallel.For(0, texts.Count, i => tokens[i] = tokenizer.Tokenize(texts[i]));
        return new EmbedWorkload(name, description, folder, ids, texts, tokens, bytes);
    }

    /// <summary>The same documents as a new workload in another folder: every <paramref name="step"/>-th one (warm-ups).</summary>
    public EmbedWorkload Every(int step, string folder)
    {
        var picks = Enumerable.Range(0, Documents).Where(i => i % step == 0).ToList();
        Directory.CreateDirectory(folder);
        var ids = picks.Select(i => Ids[i]).ToList();
        var texts = picks.Select(i => Texts[i]).ToList();
        var bytes = WriteJsonl(Path.Combine(folder, "docs.jsonl"), ids, texts);
        return new EmbedWorkload(Name + "-warm", Description, folder, ids, texts, picks.Select(i => Tokens[i]).ToArray(), bytes);
    }

    private static long WriteJsonl(string path, IReadOnlyList<string> ids, IReadOnlyList<string> texts)
    {
        var line = new ArrayBufferWriter<byte>(4096);
        var jsonOptions = new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
        using var file = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16);
        for (var i = 0; i < ids.Count; i++)
        {
            line.ResetWrittenCount();
            using (var json = new Utf8JsonWriter(line, jsonOptions))
            {
                json.WriteStartObject();
                json.WriteString("id", ids[i]);
                json.WriteString("text", texts[i]);
                json.WriteEndObject();
            }
            file.Write(line.WrittenSpan);
            file.WriteByte((byte)'\n');
        }
        return file.Length;
    }

    /// <summary>Every document of the demo corpus, tokenized, grouped by file (files in name order): for plan-only figures.</summary>
    public static List<int[][]> TokenizeFiles(string corpusFolder, WordPieceTokenizer tokenizer) =>
        Directory.GetFiles(corpusFolder, "*.jsonl").Order(StringComparer.Ordinal).Select(file =>
        {
            var texts = File.ReadLines(file).Where(l => !string.IsNullOrWhiteSpace(l)).Select(l =>
            {
                using var json = JsonDocument.Parse(l);
                return json.RootElement.GetProperty("text").GetString()!;
            }).ToList();
            var tokens = new int[texts.Count][];
            Parallel.For(0, texts.Count, i => tokens[i] = tokenizer.Tokenize(texts[i]));
            return tokens;
        }).ToList();

    /// <summary>
    /// <c>samples/corpus</c> of this repository: looked for upwards from the current folder, then from the program's
    /// folder (so both <c>dotnet run --project …</c> from the root and running the built program work).
    /// </summary>
    public static string FindDemoCorpus()
    {
        foreach (var start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                var candidate = Path.Combine(dir.FullName, "samples", "corpus");
                if (Directory.Exists(candidate) && Directory.EnumerateFiles(candidate, "*.jsonl").Any()) return candidate;
            }
        throw new DirectoryNotFoundException("samples/corpus/*.jsonl (the demo corpus) was not found above the current folder or the program's folder");
    }
}
