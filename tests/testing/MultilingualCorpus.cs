using System.IO.Compression;
using System.Text;
using System.Text.Json;

namespace Curation.Testing;

/// <summary>
/// Real multilingual text from what the machine has installed, generated at test time (nothing committed): the
/// demo corpus (English), the translated message catalogs of every installed program (<c>/usr/share/locale/*/LC_MESSAGES/*.mo</c>:
/// Arabic, Chinese, Hindi, Japanese, Korean, Russian, Thai, … — each document is a run of consecutive translated
/// messages of one catalog) and the translated manual pages (<c>/usr/share/man/{lang}/</c>, one document per
/// paragraph of roff source). Ordered deterministically; every document is non-empty valid UTF-16.
/// </summary>
public static class MultilingualCorpus
{
    public sealed record Document(string Id, string Language, string Text);

    public static IReadOnlyList<Document> Build(int maxDocuments = 20_000, int messagesPerDocument = 8)
    {
        var documents = new List<Document>();
        foreach (var file in Directory.EnumerateFiles(Path.Combine(RepositoryRoot.Get(), "samples", "corpus"), "*.jsonl").Order(StringComparer.Ordinal))
            foreach (var line in File.ReadLines(file))
            {
                using var json = JsonDocument.Parse(line);
                documents.Add(new Document(json.RootElement.GetProperty("id").GetString()!, "en", json.RootElement.GetProperty("text").GetString()!));
            }
        documents.AddRange(MessageCatalogs(messagesPerDocument));
        documents.AddRange(ManualPages());
        documents.AddRange(EdgeCases());
        // Spread the cut over languages: interleave by a stable hash of the id, keep the first maxDocuments.
        return documents.Where(d => d.Text.Length > 0)
            .OrderBy(d => System.IO.Hashing.XxHash64.HashToUInt64(Encoding.UTF8.GetBytes(d.Id)))
            .Take(maxDocuments).ToArray();
    }

    /// <summary>Strings a tokenizer must get right: specials as text, whitespace runs, digits, emoji, combining marks, controls.</summary>
    private static IEnumerable<Document> EdgeCases()
    {
        string[] texts =
        [
            "Hello <|endoftext|> world <|endofprompt|>", "   leading and trailing   \n\n\n", "1234567890 3.14159 1,000,000 ١٢٣٤٥",
            "👩‍👩‍👧‍👦 family 🇫🇷 flag 🤖 robot", "e\u0301 cafe\u0301 ñ Å", "tab\tseparated\tvalues\r\nwindows line\r\n",
            "I'm you're they'LL WE'VE it's", "ไม่มีช่องว่างระหว่างคำในภาษาไทย", "日本語の文章には空白がありません。東京都",
            "\u200b\u200c\u200d zero width", "ʻŌlelo Hawaiʻi", "a\u0000b\u0007c", "x" + new string(' ', 200) + "y", new string('あ', 3000),
        ];
        return texts.Select((text, i) => new Document($"edge-{i:D3}", "mul", text));
    }

    /// <summary>Runs of consecutive translated messages of the installed catalogs; <paramref name="language"/>: only that locale folder's.</summary>
    public static IEnumerable<Document> MessageCatalogs(int perDocument, string? language = null)
    {
        var root = language is null ? "/usr/share/locale" : Path.Combine("/usr/share/locale", language);
        if (!Directory.Exists(root)) yield break;
        foreach (var file in Directory.EnumerateFiles(root, "*.mo", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            var locale = Path.GetFileName(Path.GetDirectoryName(Path.GetDirectoryName(file)))!;
            if (locale.StartsWith("en", StringComparison.Ordinal)) continue;
            var messages = ReadCatalog(file);
            for (var i = 0; i < messages.Count; i += perDocument)
                yield return new Document($"mo:{locale}:{Path.GetFileName(file)}:{i}", locale, string.Join("\n", messages.Skip(i).Take(perDocument)));
        }
    }

    /// <summary>The translations of a GNU gettext .mo file (magic, count, table of (length, offset) pairs), header entry skipped.</summary>
    private static List<string> ReadCatalog(string path)
    {
        var bytes = File.ReadAllBytes(path);
        var result = new List<string>();
        if (bytes.Length < 28) return result;
        var little = BitConverter.ToUInt32(bytes, 0) == 0x950412de;
        uint U32(int at) => little ? System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(at))
            : System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(bytes.AsSpan(at));
        if (!little && U32(0) != 0x950412de) return result;
        var count = (int)U32(8);
        var translations = (int)U32(16);
        var strict = new UTF8Encoding(false, throwOnInvalidBytes: true);
        for (var i = 0; i < count; i++)
        {
            var length = (int)U32(translations + i * 8);
            var offset = (int)U32(translations + i * 8 + 4);
            if (length == 0 || offset + length > bytes.Length) continue;
            try
            {
                // Plural forms are NUL-separated: each is a message.
                foreach (var message in strict.GetString(bytes, offset, length).Split('\0'))
                    if (message.Length > 0 && !message.StartsWith("Project-Id-Version", StringComparison.Ordinal)) result.Add(message);
            }
            catch (DecoderFallbackException) { }   // a catalog in a legacy charset: skipped
        }
        return result;
    }

    private static IEnumerable<Document> ManualPages()
    {
        const string root = "/usr/share/man";
        if (!Directory.Exists(root)) yield break;
        var strict = new UTF8Encoding(false, throwOnInvalidBytes: true);
        foreach (var dir in Directory.EnumerateDirectories(root).Order(StringComparer.Ordinal))
        {
            var language = Path.GetFileName(dir);
            if (language.StartsWith("man", StringComparison.Ordinal)) continue;
            foreach (var file in Directory.EnumerateFiles(dir, "*.gz", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
            {
                string text;
                try
                {
                    using var gz = new GZipStream(File.OpenRead(file), CompressionMode.Decompress);
                    using var buffer = new MemoryStream();
                    gz.CopyTo(buffer);
                    text = strict.GetString(buffer.ToArray());
                }
                catch (Exception e) when (e is InvalidDataException or DecoderFallbackException) { continue; }
                var paragraph = 0;
                foreach (var block in text.Split(["\n.PP\n", "\n.SH ", "\n.SS ", "\n\n"], StringSplitOptions.None))
                {
                    var lines = block.Split('\n').Where(l => !l.StartsWith(".\\\"", StringComparison.Ordinal) && !l.StartsWith("'\\\"", StringComparison.Ordinal));
                    var body = string.Join("\n", lines).Trim();
                    if (body.Length >= 20) yield return new Document($"man:{language}:{Path.GetFileName(file)}:{paragraph++}", language, body);
                }
            }
        }
    }

    /// <summary>Writes the documents as JSON Lines ({"id", "text"}) for the node reference.</summary>
    public static void WriteJsonl(IEnumerable<Document> documents, string path)
    {
        using var writer = new StreamWriter(path, false, new UTF8Encoding(false));
        foreach (var d in documents) writer.WriteLine(JsonSerializer.Serialize(new { id = d.Id, text = d.Text }));
    }
}
