using System.Text.Json;

namespace Curation.Pipelines.Embedding.Static;

/// <summary>
/// More varied training text for <see cref="StaticFit"/> than the demo corpus (<see cref="StaticTrainingText"/>): a frozen
/// selection of 5,000 paragraphs of API documentation, compiled into this assembly as one embedded resource
/// (<c>Embedding/Static/ReferenceText/reference-text.jsonl</c>, built once by <c>tools/static-training/extract.py</c>; sources
/// and licences in <c>Embedding/Static/ReferenceText/LICENSE.md</c>): 2,500 docstring paragraphs of the CPython 3.11
/// standard library (PSF License 2.0) and 2,500 paragraphs of the .NET 10 reference pack's API documentation (MIT).
/// Neither source is read by the evaluation corpora (Debian <c>/usr/share/doc</c> paragraphs, man pages); <c>bench
/// static-fit</c> hashes every unit against every evaluation paragraph and prints the overlap. Units in file order.
/// </summary>
public static class StaticReferenceText
{
    /// <summary>The resource's logical name (see <c>Curation.Pipelines.csproj</c>).</summary>
    public const string ResourceName = "Curation.StaticReference.reference-text.jsonl";

    /// <summary>One paragraph: where it was taken from (file and member), its licence (SPDX id) and its text.</summary>
    public sealed record Unit(string Source, string Licence, string Text);

    private static readonly Lazy<IReadOnlyList<Unit>> Loaded = new(Load);

    public static IReadOnlyList<Unit> Units => Loaded.Value;

    private static List<Unit> Load()
    {
        using var stream = typeof(StaticReferenceText).Assembly.GetManifestResourceStream(ResourceName)
                           ?? throw new InvalidOperationException($"The static table's reference text is missing from the assembly (resource {ResourceName}).");
        using var reader = new StreamReader(stream);
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
                : throw new InvalidDataException($"{ResourceName} line {number}: no \"{name}\"");
            units.Add(new Unit(Field("source"), Field("licence"), Field("text")));
        }
        return units;
    }
}
