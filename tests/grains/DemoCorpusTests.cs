using System.Text.Json;
using Curation.Pipelines.Spec;
using Curation.Pipelines.Stages;
using Curation.Pipelines.Storage;
using Curation.Testing;

namespace Curation.Grains.Tests;

/// <summary>The README's demo job against the ground truth the sample generator planted.</summary>
public sealed class DemoCorpusTests : IDisposable
{
    private readonly TempDirectory _temp = new("demo");

    public void Dispose() => _temp.Dispose();

    private sealed record Truth(string Id, string Kind, string? Of, [property: System.Text.Json.Serialization.JsonPropertyName("expected_reason")] string? ExpectedReason);

    [Fact]
    public async Task Demo_job_removes_every_planted_exact_and_layout_variant_copy_keeping_the_smallest_id()
    {
        var samples = Path.Combine(RepositoryRoot.Get(), "samples");
        var spec = JobSpec.Parse(await File.ReadAllTextAsync(Path.Combine(samples, "demo.job.json"))).WithInputsRelativeTo(samples);
        var truth = File.ReadLines(Path.Combine(samples, "corpus.truth.jsonl"))
            .Select(line => JsonSerializer.Deserialize<Truth>(line, Pipelines.CurationJson.Options)!).ToList();

        var stores = CurationStoreServiceCollectionExtensions.CreateResolver(new CurationStoreOptions { RootPath = _temp.Combine("data") });
        await using var cluster = await CurationCluster.StartAsync(1, () => stores);
        var status = await cluster.RunAsync(spec);
        Assert.True(status.State == JobState.Completed, status.Error);
        var output = await CuratedOutput.ReadAsync(stores.DataStore, "curated/demo");
        var drops = output.Drops.ToDictionary(d => d.Id);

        // Every low-quality document is dropped by the quality filter with the reason the generator expects.
        foreach (var bad in truth.Where(t => t.Kind == "low_quality"))
            Assert.True(drops.TryGetValue(bad.Id, out var d) && d.Reason == bad.ExpectedReason,
                $"{bad.Id}: expected {bad.ExpectedReason}, got {(drops.TryGetValue(bad.Id, out var x) ? x.Reason : "kept")}");

        // Exact and layout/case copies: exactly one document of each group survives, the smallest id; the others
        // are exact_duplicate drops naming it.
        var groups = truth.Where(t => t.Kind is "exact" or "whitespace_case")
            .GroupBy(t => t.Of!, t => t.Id).Select(g => g.Append(g.Key).ToList()).ToList();
        var kept = output.KeptIds.ToHashSet();
        var misses = new List<string>();
        foreach (var group in groups)
        {
            var keeper = group.Min(StringComparer.Ordinal)!;
            if (!kept.Contains(keeper)) misses.Add($"{keeper} (group {string.Join(",", group)}) not kept");
            foreach (var id in group.Where(id => id != keeper))
                if (!drops.TryGetValue(id, out var d) || d.Reason != ExactDedupStage.DuplicateReason || d.TwinId != keeper)
                    misses.Add($"{id}: expected exact_duplicate of {keeper}, got {(drops.TryGetValue(id, out var x) ? $"{x.Reason} {x.TwinId}" : "kept")}");
        }
        Assert.True(misses.Count == 0, string.Join("\n", misses));
        Assert.Equal(truth.Count(t => t.Kind is "exact" or "whitespace_case"), output.Drops.Count(d => d.Reason == ExactDedupStage.DuplicateReason));
        Assert.Empty(output.Manifest.Accounting.Imbalances());
    }
}
