using System.Security.Cryptography;
using System.Text.Json;
using System.Text.RegularExpressions;
using Curation.Pipelines.Embedding.Static;
using Curation.Testing;

namespace Curation.Pipelines.Tests.Embedding;

/// <summary>The static table's reference text (<see cref="StaticReferenceText"/>): frozen, licensed, disjoint from the demo text.</summary>
public sealed partial class StaticReferenceTextTests
{
    private static string FilePath => StaticReferenceText.FilePath;

    [GeneratedRegex(@"\w+")]
    private static partial Regex Word();

    [Fact]
    public void The_units_are_the_committed_file_in_its_order_and_the_file_is_frozen()
    {
        var lines = File.ReadLines(FilePath).Where(l => l.Length > 0).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        var units = StaticReferenceText.Units;
        Assert.Equal(lines.Select(e => e.GetProperty("text").GetString()), units.Select(u => u.Text));
        Assert.Equal(lines.Select(e => e.GetProperty("source").GetString()), units.Select(u => u.Source));
        // The selection is frozen: a changed file changes every fitted table it feeds. Rebuilding it with
        // tools/static-training/extract.py on other inputs must come with a new hash here (and a recipe bump if it ships).
        Assert.Equal("804666d20850a5621c9653378df0fc944720ef22a1543b96c869c1cf4808e8c4", Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(FilePath))));
    }

    [Fact]
    public void Every_unit_names_a_licensed_source_outside_the_evaluation_corpora_and_is_a_new_paragraph_of_12_to_200_words()
    {
        var units = StaticReferenceText.Units;
        Assert.Equal(5000, units.Count);
        Assert.Equal(2500, units.Count(u => u.Licence == "PSF-2.0" && u.Source.StartsWith("python/", StringComparison.Ordinal)));
        Assert.Equal(2500, units.Count(u => u.Licence == "MIT" && u.Source.StartsWith("dotnet/", StringComparison.Ordinal)));
        // Neither source is a Debian documentation folder or a man page (the two held-out evaluation corpora).
        Assert.DoesNotContain(units, u => u.Source.Contains("/usr/share/", StringComparison.Ordinal));
        Assert.All(units, u => Assert.InRange(Word().Count(u.Text), 12, 200));
        Assert.Equal(units.Count, units.Select(u => u.Text.ToLowerInvariant()).Distinct(StringComparer.Ordinal).Count());
        var demo = StaticTrainingText.Documents.Select(d => d.Text.ToLowerInvariant()).ToHashSet(StringComparer.Ordinal);
        Assert.DoesNotContain(units, u => demo.Contains(u.Text.ToLowerInvariant()));
        var licence = File.ReadAllText(Path.Combine(Path.GetDirectoryName(FilePath)!, "LICENSE.md"));
        Assert.Contains("PYTHON SOFTWARE FOUNDATION LICENSE VERSION 2", licence, StringComparison.Ordinal);
        Assert.Contains("The MIT License (MIT)", licence, StringComparison.Ordinal);
    }
}
