using System.Text.Json;
using Curation.Pipelines.Spec;
using Curation.Pipelines.Stages;
using Curation.Pipelines.Storage;
using Curation.Testing;

namespace Curation.Grains.Tests;

/// <summary>The README's demo job against the ground truth the sample generator planted.</summary>
public sealed class DemoCorpusTests(Xunit.Abstractions.ITestOutputHelper log) : IDisposable
{
    private readonly TempDirectory _temp = new("demo");

    public void Dispose() => _temp.Dispose();

    private sealed record Truth(string Id, string Kind, string? Of, [property: System.Text.Json.Serialization.JsonPropertyName("expected_reason")] string? ExpectedReason,
        double? Jaccard = null, double? Target = null);

    [Fact]
    public async Task Demo_job_removes_every_planted_copy_and_near_duplicate_keeping_the_smallest_id()
    {
        var samples = Path.Combine(RepositoryRoot.Get(), "samples");
        var spec = JobSpec.Parse(await File.ReadAllTextAsync(Path.Combine(samples, "demo.job.json"))).WithPathsRelativeTo(samples);
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

        // Near duplicates. A family is an original with every document whose `of` leads to it. A document's group is
        // where its exact/near twins lead (semantic dedup runs later and is not followed).
        var truthById = truth.ToDictionary(t => t.Id);
        string Family(string id) => truthById.TryGetValue(id, out var t) && t.Of is not null ? Family(t.Of) : id;
        string Group(string id) => drops.TryGetValue(id, out var d) && d.Reason is ExactDedupStage.DuplicateReason or NearDedupStage.DuplicateReason
            ? Group(d.TwinId) : id;
        var nearDrops = output.Drops.Where(d => d.Reason == NearDedupStage.DuplicateReason).ToList();
        Assert.All(nearDrops, d => Assert.True(Family(d.Id) == Family(d.TwinId), $"{d.Id} ({Family(d.Id)}) named {d.TwinId} ({Family(d.TwinId)}) of another family"));
        Assert.All(nearDrops, d => Assert.True(string.CompareOrdinal(d.TwinId, d.Id) < 0, $"{d.Id} named a larger twin {d.TwinId}"));
        var planted = truth.Where(t => t.Kind is "near" or "chain").ToList();
        log.WriteLine("target  planted  found (same group as the document it was made from)");
        foreach (var level in planted.GroupBy(t => t.Target).OrderBy(g => g.Key))
            log.WriteLine($"{level.Key,6:0.00}  {level.Count(),7}  {level.Count(t => Group(t.Id) == Group(t.Of!)),5}");
        var high = planted.Where(t => t.Jaccard >= 0.9).ToList();
        var missed = high.Where(t => Group(t.Id) != Group(t.Of!)).Select(t => $"{t.Id} (J {t.Jaccard} to {t.Of})").ToList();
        log.WriteLine($"J ≥ 0.9: {high.Count - missed.Count} of {high.Count} found; near_duplicate drops {nearDrops.Count}");
        Assert.True(missed.Count == 0, "near duplicates with J ≥ 0.9 not removed: " + string.Join(", ", missed));
        var chains = planted.Where(t => t.Kind == "chain").GroupBy(t => Family(t.Id)).ToList();
        var collapsed = chains.Count(chain => chain.Select(t => Group(t.Id)).Append(Group(chain.Key)).Distinct().Count() == 1);
        log.WriteLine($"chains collapsed into one group: {collapsed} of {chains.Count}");
        Assert.True(collapsed >= chains.Count - 2, $"only {collapsed} of {chains.Count} chains collapsed");

        // Trainer-ready output: o200k token files whose sizes sum to the manifest's totals, decoding to every curated document.
        var tokens = await TokenOutput.VerifyAsync(_temp.Combine("data", "curated", "demo"), output.Manifest,
            Pipelines.Training.TrainingTokenizer.For(new TrainTokenizeStageSpec()));
        log.WriteLine($"token files: {tokens.Sequences} documents, {tokens.Tokens} tokens (o200k_base, end-of-document tokens included)");
    }
}
