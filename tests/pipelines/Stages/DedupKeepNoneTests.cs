using System.Text.Json;
using Curation.Pipelines.Execution;
using Curation.Pipelines.Spec;
using Curation.Pipelines.Stages;
using Curation.Pipelines.Storage;
using Curation.Testing;

namespace Curation.Pipelines.Tests.Stages;

/// <summary><c>keep: "none"</c> on exact_dedup and near_dedup: every member of a duplicate group dropped, naming the group's smallest id.</summary>
public sealed class DedupKeepNoneTests : IDisposable
{
    private readonly TempDirectory _temp = new("keep-none");

    public void Dispose() => _temp.Dispose();

    private async Task<CuratedOutput> RunAsync(string name, string input, StageSpec stage)
    {
        var spec = new JobSpec
        {
            Name = "keep-none",
            Inputs = [new InputSpec { Path = Path.Combine(input, "*.jsonl"), IdField = "id" }],
            Sharding = new ShardingSpec { TargetShardBytes = 4 * 1024 },
            Stages = [stage],
            Output = new OutputSpec { Path = "curated/out" },
        };
        using var services = StageServices.CreateDefault();
        var stores = CurationStoreServiceCollectionExtensions.CreateResolver(new CurationStoreOptions { RootPath = _temp.Combine(name) });
        await InProcessJob.RunAsync(spec, stores, services);
        return await CuratedOutput.ReadAsync(stores.DataStore, "curated/out");
    }

    [Fact]
    public void Default_keep_is_omitted_from_the_json_so_existing_job_ids_stay()
    {
        var json = JsonSerializer.Serialize<StageSpec>(new ExactDedupStageSpec(), CurationJson.Options);
        Assert.DoesNotContain("keep", json, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("keep", JsonSerializer.Serialize<StageSpec>(new NearDedupStageSpec(), CurationJson.Options), StringComparison.OrdinalIgnoreCase);
        var none = JsonSerializer.Serialize<StageSpec>(new ExactDedupStageSpec { Keep = DedupKeep.None }, CurationJson.Options);
        Assert.Contains("\"keep\": \"none\"", none);
        Assert.Equal(DedupKeep.None, ((ExactDedupStageSpec)JsonSerializer.Deserialize<StageSpec>(none, CurationJson.Options)!).Keep);
    }

    [Fact]
    public async Task Exact_dedup_keep_none_drops_every_copy_naming_the_smallest_id()
    {
        var seed = Environment.TickCount;
        Console.WriteLine($"seed {seed}");
        var random = new Random(seed);
        var input = _temp.Combine("exact-in");
        Directory.CreateDirectory(input);
        var groupOf = new Dictionary<string, int>();
        var lines = new List<string>();
        for (var d = 0; d < 600; d++)
        {
            var id = $"d{random.Next(1_000_000):D7}-{d:D4}";
            var group = random.Next(3) == 0 ? random.Next(40) : 1000 + d; // a third share 40 texts, the rest unique
            groupOf[id] = group;
            var text = $"Document body number {group} with enough words to be a document. " + (random.Next(2) == 0 ? "" : " ");
            lines.Add(JsonSerializer.Serialize(new { id, text = random.Next(2) == 0 ? text.ToUpperInvariant() : text }));
        }
        for (var f = 0; f < 3; f++) File.WriteAllLines(Path.Combine(input, $"part-{f}.jsonl"), lines.Where((_, i) => i % 3 == f));

        var output = await RunAsync("exact", input, new ExactDedupStageSpec { Partitions = 3, Keep = DedupKeep.None });
        var members = groupOf.GroupBy(g => g.Value).ToDictionary(g => g.Key, g => g.Select(m => m.Key).Order(StringComparer.Ordinal).ToList());
        var drops = output.Drops.ToDictionary(d => d.Id);
        foreach (var (id, group) in groupOf)
            if (members[group].Count == 1) Assert.Contains(id, output.KeptIds);
            else
            {
                Assert.DoesNotContain(id, output.KeptIds);
                Assert.Equal(ExactDedupStage.DuplicateReason, drops[id].Reason);
                Assert.Equal(members[group][0], drops[id].TwinId);
            }
        Assert.Equal(groupOf.Count, output.KeptIds.Count + output.Drops.Count);
    }

    [Fact]
    public async Task Near_dedup_keep_none_drops_every_member_of_each_component_the_default_finds()
    {
        var input = _temp.Combine("near-in");
        NearDupCorpus.Generate(originals: 120, nearPerLevel: 4, chains: 3, levels: [0.5, 0.8, 0.9, 0.95]).WriteJsonl(input, files: 3);
        var kept = await RunAsync("near-default", input, new NearDedupStageSpec { Partitions = 3 });
        var none = await RunAsync("near-none", input, new NearDedupStageSpec { Partitions = 3, Keep = DedupKeep.None });

        // The default's groups: each dropped document and the twin it names (the component's smallest id, which it keeps).
        var twins = kept.Drops.ToDictionary(d => d.Id, d => d.TwinId);
        foreach (var twin in twins.Values.Distinct().ToList()) twins[twin] = twin;
        Assert.NotEmpty(kept.Drops);
        var dropped = none.Drops.ToDictionary(d => d.Id);
        Assert.Equal(twins.Keys.Order(StringComparer.Ordinal), dropped.Keys.Order(StringComparer.Ordinal));
        foreach (var (id, twin) in twins)
        {
            Assert.Equal(NearDedupStage.DuplicateReason, dropped[id].Reason);
            Assert.Equal(twin, dropped[id].TwinId);
        }
        Assert.Equal(kept.KeptIds.Except(twins.Keys).Order(StringComparer.Ordinal), none.KeptIds.Order(StringComparer.Ordinal));
    }
}
