using System.Buffers;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace Curation.Bench;

/// <summary>
/// A generated JSONL corpus for <c>exact</c>: prose-like documents, ~20% planted duplicates of earlier documents
/// (exact copies, case variants, whitespace/layout variants), ~3% documents the quality filter drops, a few with
/// nothing visible, some in decomposed Unicode (so NFC has work). Deterministic for a seed. <see cref="CorpusForm"/>
/// picks how the same texts are stored: JSONL with one url host (the default), JSONL with urls over many hosts
/// (<see cref="WebUrls"/>), or HTML pages in WARC response records.
/// </summary>
public sealed record Corpus(string Folder, IReadOnlyList<string> Files, long Documents, long Bytes, long TextChars, IReadOnlyDictionary<string, long> Planted)
{
    public const int DocumentsPerFile = 5_000;

    public static Corpus Generate(string folder, int documents, int seed, CorpusForm form = CorpusForm.Jsonl)
    {
        Directory.CreateDirectory(folder);
        var gen = new TextGen(seed);
        var plan = new Random(seed);
        var originals = new List<int>(documents); // good documents a duplicate may copy
        var planted = new Dictionary<string, long>();
        var files = new List<string>();
        var line = new ArrayBufferWriter<byte>(4096);
        var jsonOptions = new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
        long bytes = 0, chars = 0;
        FileStream? file = null;
        var pageStyle = new Random(seed + 1);
        try
        {
            for (var doc = 0; doc < documents; doc++)
            {
                if (doc % DocumentsPerFile == 0)
                {
                    file?.Dispose();
                    var path = Path.Combine(folder, $"part-{doc / DocumentsPerFile:D5}.{(form == CorpusForm.Warc ? "warc.gz" : "jsonl")}");
                    files.Add(path);
                    file = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16);
                }

                var (kind, text) = Next(gen, plan, originals, doc);
                planted[kind] = planted.GetValueOrDefault(kind) + 1;
                chars += text.Length;

                if (form == CorpusForm.Warc)
                {
                    var record = WebPages.Record(doc, WebUrls.Of(doc), text, pageStyle);
                    file!.Write(record);
                    bytes += record.Length;
                    continue;
                }
                line.ResetWrittenCount();
                using (var json = new Utf8JsonWriter(line, jsonOptions))
                {
                    json.WriteStartObject();
                    json.WriteString("id", $"doc-{doc:D9}");
                    json.WriteString("url", form == CorpusForm.Jsonl ? $"https://example.org/{doc % 997}/{doc}" : WebUrls.Of(doc));
                    json.WriteString("text", text);
                    json.WriteNumber("crawl", 2024 + doc % 3);
                    json.WriteEndObject();
                }
                file!.Write(line.WrittenSpan);
                file.WriteByte((byte)'\n');
                bytes += line.WrittenCount + 1;
            }
        }
        finally
        {
            file?.Dispose();
        }
        return new Corpus(folder, files, documents, bytes, chars, planted);
    }

    /// <summary>The texts <see cref="Generate"/> writes for the same arguments, in memory (kind and text of each document).</summary>
    public static IEnumerable<(string Kind, string Text)> Texts(int documents, int seed)
    {
        var gen = new TextGen(seed);
        var plan = new Random(seed);
        var originals = new List<int>(documents);
        for (var doc = 0; doc < documents; doc++) yield return Next(gen, plan, originals, doc);
    }

    /// <summary>Document <paramref name="doc"/>: a planted duplicate of an earlier original, a low-quality or blank one, or an original.</summary>
    private static (string Kind, string Text) Next(TextGen gen, Random plan, List<int> originals, int doc)
    {
        var roll = plan.Next(1000);
        if (roll < 200 && originals.Count > 0) return Variant(plan, Original(gen, originals[plan.Next(originals.Count)]));
        if (roll < 230) return LowQuality(plan);
        if (roll < 233) return ("blank", plan.Next(2) == 0 ? "   " : "\u200B\t \u00AD");
        originals.Add(doc);
        return ("original", Original(gen, doc));
    }

    /// <summary>The text of original document <paramref name="doc"/>: a pure function of the seed and the number.</summary>
    private static string Original(TextGen gen, int doc)
    {
        var random = gen.For(doc);
        var text = gen.Prose(random, 250 + random.Next(300));
        // 2% arrive in decomposed form (e + combining acute), as scraped text sometimes does.
        return random.Next(50) == 0 ? text.Normalize(NormalizationForm.FormD) : text;
    }

    private static (string Kind, string Text) Variant(Random random, string original) => random.Next(10) switch
    {
        < 4 => ("dup_exact", original),
        < 6 => ("dup_case", random.Next(2) == 0 ? original.ToUpperInvariant() : original.ToLowerInvariant()),
        < 8 => ("dup_spaces", "  " + original.Replace(" ", random.Next(2) == 0 ? "  " : " \t") + " \n"),
        _ => ("dup_layout", original.Replace("\n", "\r\n").Replace(". ", ".\n")),
    };

    private static (string Kind, string Text) LowQuality(Random random) => random.Next(4) switch
    {
        0 => ("low_short", "Click here."),
        1 => ("low_symbols", string.Concat(Enumerable.Repeat("### *** | ~~ {{}} <<>> == @@ ", 6)) + "menu item"),
        2 => ("low_repeated", string.Join('\n', Enumerable.Repeat("Share this page on social media now", 6 + random.Next(4)))),
        _ => ("low_few_words", "Supercalifragilisticexpialidocious-" + new string('x', 60)),
    };
}

/// <summary>How <see cref="Corpus.Generate"/> stores the documents.</summary>
public enum CorpusForm
{
    /// <summary>JSONL (id, url, text, crawl), every url on example.org: the form of every sizing row before url_filter's.</summary>
    Jsonl,

    /// <summary>The same JSONL with <see cref="WebUrls"/>: many hosts, a known share on generated block lists (url_filter).</summary>
    JsonlWebUrls,

    /// <summary>
    /// Each text as an HTML page in site chrome, in WARC response records with <see cref="WebUrls"/>, one gzip member per
    /// record as Common Crawl stores them (<c>.warc.gz</c>; extract).
    /// </summary>
    Warc,
}
