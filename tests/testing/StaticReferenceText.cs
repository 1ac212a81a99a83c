using System.Text.Json;

namespace Curation.Testing;

/// <summary>
/// More varied training text for the static table's fit than the demo corpus (<c>StaticTrainingText</c>), for
/// <c>bench static-fit --variants 4</c> (the product does not read it): a frozen selection of 5,000 paragraphs of API
/// documentation in the repository (<c>tools/static-training/reference-text.jsonl</c>, built once by
/// <c>tools/static-training/extract.py</c>; sources and licences in <c>tools/static-training/LICENSE.md</c>): 2,500 docstring paragraphs of the CPython 3.11
/// standard library (PSF License 2.0) and 2,500 paragraphs of the .NET 10 reference pack's API documentation (MIT).
/// Neither source is read by the evaluation corpora (Debian <c>/usr/share/doc</c> paragraphs, man pages); <c>bench
/// static-fit</c> hashes every unit against every evaluation paragraph and prints the overlap. Units in file order.
/// </summary>
public static class StaticReferenceText
{
    /// <summary>The file, in the checkout.</summary>
    public static string FilePath => Path.Combine(RepositoryRoot.Get(), "tools", "static-training", "reference-text.jsonl");

    /// <summary>One paragraph: where it was taken from (file and member), its licence (SPDX id) and its text.</summary>
    public sealed record Unit(string Source, string Licence, string Text);

    private static readonly Lazy<IReadOnlyList<Unit>> Loaded = new(Load);

    public static IReadOnlyList<Unit> Units => Loaded.Value;

    private static List<Unit> Load()
    {
        using var reader = new StreamReader(FilePath);
        var units = new List<Unit>();
        var number = 0;
        while (reader.ReadLine() is { } line)
        {
            number++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            using var json = JsonDocument.Parse(line);
            var root = json.RootElement;
            string Field(string name) => root.TryGetProperty(name, out var value) && value.GetString() is { Length: > 0 } s
                ? s
                : throw new InvalidDataException($"{FilePath} line {number}: no \"{name}\"");
            units.Add(new Unit(Field("source"), Field("licence"), Field("text")));
        }
        return units;
    }
}
