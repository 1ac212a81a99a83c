using System.Text.Json;

namespace Curation.Pipelines.Embedding.Static;

/// <summary>
/// The text the static table is fitted on (<see cref="StaticFit"/>): the repository's demo corpus
/// (<c>samples/corpus/*.jsonl</c>, 2,000 records; sources and licences in <c>samples/LICENSE-corpus.md</c>), compiled into
/// this assembly as embedded resources so every machine fits on the same bytes. Records in resource-name order, then line
/// order; the planted low-quality documents (origin <c>generated</c>: a job's quality filter drops them) and case-folded
/// exact repeats are left out. An evaluation corpus must be disjoint from it: <see cref="DebianPackages"/> names the
/// Debian packages its paragraphs come from, so a benchmark can leave those packages out.
/// </summary>
public static class StaticTrainingText
{
    private const string Prefix = "Curation.StaticTraining.";

    /// <summary>One training document: its text and where it was taken from (<c>origin</c> of the record).</summary>
    public sealed record Document(string Origin, string Text);

    private static readonly Lazy<IReadOnlyList<Document>> Loaded = new(Load);

    public static IReadOnlyList<Document> Documents => Loaded.Value;

    /// <summary>The Debian packages (folder names under <c>/usr/share/doc</c>) of the training documents.</summary>
    public static IReadOnlySet<string> DebianPackages() =>
        Documents.Select(d => d.Origin).Where(o => o.StartsWith("/usr/share/doc/", StringComparison.Ordinal))
            .Select(o => o.Split('/')[4]).ToHashSet(StringComparer.Ordinal);

    private static List<Document> Load()
    {
        var assembly = typeof(StaticTrainingText).Assembly;
        var names = assembly.GetManifestResourceNames().Where(n => n.StartsWith(Prefix, StringComparison.Ordinal)).Order(StringComparer.Ordinal).ToList();
        if (names.Count == 0) throw new InvalidOperationException("The static table's training text is missing from the assembly (resources " + Prefix + "*).");
        var documents = new List<Document>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var name in names)
        {
            using var reader = new StreamReader(assembly.GetManifestResourceStream(name)!);
            var number = 0;
            while (reader.ReadLine() is { } line)
            {
                number++;
                if (string.IsNullOrWhiteSpace(line)) continue;
                using var json = JsonDocument.Parse(line);
                var root = json.RootElement;
                var text = root.GetProperty("text").GetString();
                var origin = root.TryGetProperty("origin", out var o) ? o.GetString() ?? "" : "";
                if (string.IsNullOrWhiteSpace(text) || origin == "generated") continue;
                if (!seen.Add(text.ToLowerInvariant())) continue;
                documents.Add(new Document(origin, text));
            }
        }
        return documents;
    }
}
