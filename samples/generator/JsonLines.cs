using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace Curation.SampleGenerator;

/// <summary>Writes JSON Lines: UTF-8, no BOM, '\n' after every record, non-ASCII text kept readable.</summary>
public static class JsonLines
{
    private static readonly JsonWriterOptions Options = new()
    {
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        Indented = false,
    };

    public static byte[] Record(Action<Utf8JsonWriter> write)
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms, Options))
        {
            w.WriteStartObject();
            write(w);
            w.WriteEndObject();
        }
        ms.WriteByte((byte)'\n');
        return ms.ToArray();
    }

    public static void WriteDocument(Utf8JsonWriter w, Doc d)
    {
        w.WriteString("id", d.Id);
        w.WriteString("text", d.Text);
        w.WriteString("source_kind", d.SourceKind);
        w.WriteString("origin", d.Origin);
        if (d.Title is not null) w.WriteString("title", d.Title);
    }

    public static void WriteTruth(Utf8JsonWriter w, Doc d)
    {
        var t = d.Truth ?? throw new InvalidOperationException("not a planted document");
        w.WriteString("id", d.Id);
        w.WriteString("kind", t.Kind);
        if (t.Of is null) w.WriteNull("of"); else w.WriteString("of", t.Of.Id);
        if (t.Root is not null) w.WriteString("root", t.Root.Id);
        if (t.ChainPosition is { } pos) w.WriteNumber("chain_position", pos);
        if (t.Jaccard is { } j) w.WriteNumber("jaccard", Math.Round(j, 4));
        if (t.JaccardToRoot is { } jr) w.WriteNumber("jaccard_to_root", Math.Round(jr, 4));
        if (t.Target is { } target) w.WriteNumber("target", target);
        if (t.Transforms is not null)
        {
            w.WriteStartArray("transforms");
            foreach (var x in t.Transforms) w.WriteStringValue(x);
            w.WriteEndArray();
        }
        if (t.Edits is not null)
        {
            w.WriteStartObject("edits");
            foreach (var (k, v) in t.Edits) w.WriteNumber(k, v);
            w.WriteEndObject();
        }
        if (t.ExpectedReason is not null) w.WriteString("expected_reason", t.ExpectedReason);
    }

    public static void WriteFile(string path, IEnumerable<byte[]> records)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        using var fs = File.Create(path);
        foreach (var r in records) fs.Write(r);
    }

    public static void WriteText(string path, string text)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        File.WriteAllText(path, text.Replace("\r\n", "\n"), new UTF8Encoding(false));
    }
}
