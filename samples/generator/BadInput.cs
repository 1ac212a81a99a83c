using System.IO.Compression;
using System.Text;
using System.Text.Json;

namespace Curation.SampleGenerator;

/// <summary>
/// The bad-input corpus (samples/bad-input/) that reader and accounting tests run against: every kind of broken
/// record or object next to good ones, with the exact expected outcome in README.md and expected.json. Its texts
/// come from the checked-in demo corpus, so it can be rebuilt without the original sources.
/// </summary>
public static class BadInput
{
    /// <summary>The JSON string body of line 12 of mixed.jsonl, and what it must decode to.</summary>
    private const string Mixed12Json = @"Escapes decode: caf\u00e9, na\u00efve, \u00fcber, an em dash \u2014, \u201cquotes\u201d, a tab\tand a surrogate pair \ud83d\ude00; raw UTF-8 too: café, 😀.";
    public const string Mixed12Text = "Escapes decode: café, naïve, über, an em dash —, “quotes”, a tab\tand a surrogate pair 😀; raw UTF-8 too: café, 😀.";

    private sealed record Expected(string Object, int Records, int Documents, List<(long Position, string Reason)> Quarantined, string Note)
    {
        public List<string> DocumentIds { get; init; } = [];
    }

    public static void Write(string outDir, ulong seed)
    {
        var rng = new Rng(seed).Fork("bad-input");
        var texts = ReadCorpusTexts(outDir);
        var dir = Path.Combine(outDir, "bad-input");
        Directory.CreateDirectory(dir);
        foreach (var old in Directory.GetFiles(dir)) File.Delete(old);
        var expected = new List<Expected>();
        var next = 0;
        string NextText(int minLength = 0)
        {
            for (var i = 0; i < texts.Count; i++)
            {
                var t = texts[(next + i) % texts.Count];
                if (t.Length >= minLength) { next = (next + i + 1) % texts.Count; return t; }
            }
            throw new InvalidOperationException("corpus has no text that long");
        }
        byte[] Doc(string id, string text) => JsonLines.Record(w => { w.WriteString("id", id); w.WriteString("text", text); });

        // 1. mixed.jsonl: good records around one of each bad record.
        var lines = new List<byte[]>();
        var quarantined = new List<(long, string)>();
        void Good() => lines.Add(Doc($"mixed-{lines.Count:D2}", NextText()));
        void Bad(string reason, byte[] line) { quarantined.Add((lines.Count, reason)); lines.Add(line); }
        Good();
        Good();
        Bad("malformed_json", Encoding.UTF8.GetBytes($"{{\"id\": \"mixed-02\", \"text\": \"{NextText()[..120]}\n")); // cut off mid-string
        Good();
        // A Latin-1 record inside otherwise valid JSON: é and è as single bytes 0xE9/0xE8.
        Bad("invalid_utf8", [.. Encoding.ASCII.GetBytes("{\"id\": \"mixed-04\", \"text\": \"Caf"), 0xE9, .. Encoding.ASCII.GetBytes(" cr"), 0xE8,
            .. Encoding.ASCII.GetBytes("me: this record was written in Latin-1, not UTF-8, and its two accented letters are single bytes.\"}\n")]);
        Good();
        Bad("missing_text_field", JsonLines.Record(w => { w.WriteString("id", "mixed-06"); w.WriteString("body", NextText()); w.WriteString("source_kind", "debian-doc"); }));
        Good();
        Bad("text_not_string", JsonLines.Record(w => { w.WriteString("id", "mixed-08"); w.WriteNumber("text", 12345); }));
        Good();
        // A line of bytes that are not UTF-8 at all (and not JSON either: the UTF-8 check comes first).
        var garbage = new byte[48];
        for (var i = 0; i < garbage.Length; i++) garbage[i] = (byte)(0x80 + rng.Next(0x80)); // continuation/lead bytes out of order
        garbage[0] = 0xFF;
        garbage[1] = 0xFE;
        Bad("invalid_utf8", [.. garbage, (byte)'\n']);
        Bad("malformed_json", Encoding.UTF8.GetBytes("{id: 'mixed-11', text: 'single quotes and bare keys are JavaScript, not JSON'}\n"));
        // Written by hand so the escapes stay escapes: \u00e9 etc., a surrogate pair, and the same emoji as raw UTF-8.
        lines.Add(Encoding.UTF8.GetBytes("{\"id\": \"mixed-12\", \"text\": \"" + Mixed12Json + "\"}\n"));
        Good();
        File.WriteAllBytes(Path.Combine(dir, "mixed.jsonl"), [.. lines.SelectMany(l => l)]);
        using (var line12 = JsonDocument.Parse(lines[12]))
            if (line12.RootElement.GetProperty("text").GetString() != Mixed12Text) throw new InvalidOperationException("mixed.jsonl line 12 does not decode as documented");
        var mixedIds = Enumerable.Range(0, lines.Count).Where(i => quarantined.All(q => q.Item1 != i)).Select(i => $"mixed-{i:D2}").ToList();
        expected.Add(new Expected("mixed.jsonl", lines.Count, lines.Count - quarantined.Count, quarantined,
            "Line 12 holds JSON escapes (`\\u00e9`, a `\\t`, the surrogate pair `\\ud83d\\ude00`) and the same characters as raw UTF-8; its text must decode to: `" + Mixed12Text.Replace("\t", "\\t") + "`")
        { DocumentIds = mixedIds });

        // 2. empty.jsonl: zero bytes, zero records, nothing quarantined.
        File.WriteAllBytes(Path.Combine(dir, "empty.jsonl"), []);
        expected.Add(new Expected("empty.jsonl", 0, 0, [], "Zero bytes: no records and no error."));

        // 3. valid.jsonl.gz: a healthy compressed object.
        var valid = Enumerable.Range(0, 20).Select(i => Doc($"valid-{i:D2}", NextText())).ToList();
        File.WriteAllBytes(Path.Combine(dir, "valid.jsonl.gz"), Gzip([.. valid.SelectMany(l => l)]));
        expected.Add(new Expected("valid.jsonl.gz", 20, 20, [], "A whole gzip member: 20 documents.") { DocumentIds = [.. Enumerable.Range(0, 20).Select(i => $"valid-{i:D2}")] });

        // 4. truncated.jsonl.gz: the gzip of 50 records cut about in half, where the cut leaves a record half read.
        var records = Enumerable.Range(0, 50).Select(i => Doc($"truncated-{i:D2}", NextText(900))).ToList();
        var raw = records.SelectMany(l => l).ToArray();
        var gz = Gzip(raw);
        var (cut, complete, decodable) = ChooseCut(gz, raw);
        File.WriteAllBytes(Path.Combine(dir, "truncated.jsonl.gz"), gz[..cut]);
        expected.Add(new Expected("truncated.jsonl.gz", complete + 1, complete, [(complete, "corrupt_object")],
            $"A gzip of 50 records ({raw.Length} bytes, {gz.Length} compressed) cut at byte {cut}. The bytes that still decode " +
            $"({decodable}) hold records 0..{complete - 1} whole and record {complete} in part, at least 150 bytes from either " +
            $"end of it. Expected: {complete} documents, then one corrupt_object record at position {complete} naming the object; " +
            $"the partial record is NOT a document and NOT malformed_json. Note: .NET's GZipStream ends such a stream without " +
            $"an exception (it returns 0 as at a normal end), so a reader has to notice the missing gzip trailer itself " +
            $"(Python's gzip module, by contrast, raises EOFError).")
        { DocumentIds = [.. Enumerable.Range(0, complete).Select(i => $"truncated-{i:D2}")] });

        // 5. bad.parquet: not Parquet at all (no PAR1 magic), so the object fails at its first read.
        File.WriteAllText(Path.Combine(dir, "bad.parquet"), "id,text\n1,\"This is a CSV file that somebody saved with a .parquet name.\"\n2,\"It has no PAR1 magic at either end.\"\n", new UTF8Encoding(false));
        expected.Add(new Expected("bad.parquet", 1, 0, [(0, "corrupt_object")], "CSV text, not Parquet: one corrupt_object record at position 0 naming the object, no documents."));

        WriteExpected(dir, expected);
        Console.WriteLine($"bad-input: {expected.Count} objects written to {dir}");
    }

    private static List<string> ReadCorpusTexts(string outDir)
    {
        var part = Path.Combine(outDir, "corpus", "part-0000.jsonl");
        var truthPath = Path.Combine(outDir, "corpus.truth.jsonl");
        if (!File.Exists(part) || !File.Exists(truthPath)) throw new InvalidOperationException($"bad-input needs the corpus first ({part})");
        var planted = new HashSet<string>(StringComparer.Ordinal);
        foreach (var line in File.ReadLines(truthPath))
        {
            using var t = JsonDocument.Parse(line);
            planted.Add(t.RootElement.GetProperty("id").GetString()!);
            if (t.RootElement.GetProperty("of").ValueKind == JsonValueKind.String) planted.Add(t.RootElement.GetProperty("of").GetString()!);
        }
        var texts = new List<string>();
        foreach (var line in File.ReadLines(part))
        {
            using var d = JsonDocument.Parse(line);
            if (planted.Contains(d.RootElement.GetProperty("id").GetString()!)) continue; // only plain originals
            texts.Add(d.RootElement.GetProperty("text").GetString()!);
        }
        return texts;
    }

    private static byte[] Gzip(byte[] data)
    {
        using var ms = new MemoryStream();
        using (var gz = new GZipStream(ms, CompressionLevel.Optimal, leaveOpen: true)) gz.Write(data);
        return ms.ToArray();
    }

    /// <summary>How many bytes of <paramref name="truncated"/> decode (GZipStream stops quietly at the cut).</summary>
    private static int DecodableBytes(byte[] truncated)
    {
        using var gz = new GZipStream(new MemoryStream(truncated), CompressionMode.Decompress);
        var total = 0;
        var buffer = new byte[4096];
        try
        {
            int n;
            while ((n = gz.Read(buffer)) > 0) total += n;
        }
        catch (InvalidDataException) { }
        return total;
    }

    /// <summary>A cut near the middle whose decodable prefix ends well inside a record (robust to decoder differences).</summary>
    private static (int Cut, int Complete, int Decodable) ChooseCut(byte[] gz, byte[] raw)
    {
        var newlines = new List<int>();
        for (var i = 0; i < raw.Length; i++) if (raw[i] == '\n') newlines.Add(i);
        var half = gz.Length / 2;
        for (var delta = 0; delta < gz.Length / 4; delta++)
        {
            foreach (var cut in new[] { half + delta, half - delta })
            {
                var decodable = DecodableBytes(gz[..cut]);
                var complete = newlines.Count(n => n < decodable);
                var previousEnd = complete == 0 ? 0 : newlines[complete - 1] + 1;
                var nextEnd = newlines[complete];
                if (decodable - previousEnd >= 150 && nextEnd - decodable >= 150) return (cut, complete, decodable);
            }
        }
        throw new InvalidOperationException("no safe cut found");
    }

    private static void WriteExpected(string dir, List<Expected> expected)
    {
        using (var fs = File.Create(Path.Combine(dir, "expected.json")))
        using (var w = new Utf8JsonWriter(fs, new JsonWriterOptions { Indented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartObject();
            w.WriteString("description", "Expected reader outcome per object of samples/bad-input (positions are 0-based record numbers: for JSONL the 0-based line index). See README.md.");
            w.WriteStartArray("objects");
            foreach (var e in expected)
            {
                w.WriteStartObject();
                w.WriteString("object", e.Object);
                w.WriteNumber("records", e.Records);
                w.WriteNumber("documents", e.Documents);
                w.WriteStartArray("quarantined");
                foreach (var (pos, reason) in e.Quarantined)
                {
                    w.WriteStartObject();
                    w.WriteNumber("position", pos);
                    w.WriteString("reason", reason);
                    w.WriteEndObject();
                }
                w.WriteEndArray();
                w.WriteStartArray("document_ids");
                foreach (var id in e.DocumentIds) w.WriteStringValue(id);
                w.WriteEndArray();
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        }
        File.AppendAllText(Path.Combine(dir, "expected.json"), "\n");
        JsonLines.WriteText(Path.Combine(dir, "README.md"), Docs.BadInputReadme(expected.Select(e => (e.Object, e.Records, e.Documents, e.Quarantined, e.Note)).ToList()));
    }
}
