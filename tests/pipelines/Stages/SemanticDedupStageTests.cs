using System.Text.Json;
using Curation.Pipelines.Execution;
using Curation.Pipelines.Spec;
using Curation.Pipelines.Stages;
using Curation.Pipelines.Storage;
using Curation.Testing;

namespace Curation.Pipelines.Tests.Stages;

/// <summary>The semantic_dedup stage end to end in-process: real model, real store, planted near-identical texts.</summary>
public sealed class SemanticDedupStageTests : IDisposable
{
    private readonly TempDirectory _temp = new("semantic-stage");

    public void Dispose() => _temp.Dispose();

    /// <summary>Local-folder stores of one run, under the test's temp folder.</summary>
    private IStoreResolver Stores(string folder) =>
        CurationStoreServiceCollectionExtensions.CreateResolver(new CurationStoreOptions { RootPath = _temp.Combine(folder) });

    private static readonly string[] Topics =
    [
        "The committee approved the new budget for public libraries after a long debate.",
        "A strong earthquake shook the coastal town early on Monday morning.",
        "Researchers trained a small language model on curated scientific abstracts.",
        "The bakery on the corner sells fresh sourdough bread every weekend.",
        "Heavy rain flooded several streets and delayed trains across the region.",
        "The football team won the championship with a late goal in extra time.",
        "Volunteers planted hundreds of trees along the river to prevent erosion.",
        "The museum opened an exhibition of medieval maps and navigation tools.",
        "A new vaccine trial reported encouraging results in elderly patients.",
        "The startup released an open source database optimised for time series.",
        "Farmers expect a smaller wheat harvest because of the dry summer.",
        "The orchestra performed a rarely heard symphony to a sold out hall.",
    ];

    private (string Folder, HashSet<string> Copies) WriteCorpus()
    {
        var folder = _temp.Combine("corpus");
        Directory.CreateDirectory(folder);
        var lines = new List<string>();
        var copies = new HashSet<string>();
        for (var i = 0; i < Topics.Length; i++)
        {
            lines.Add(JsonSerializer.Serialize(new { id = $"t{i:D2}-a", text = Topics[i] }));
            // A near-identical copy (one word changed, trailing remark) with a larger id: the semantic duplicate.
            var copy = Topics[i].Replace(" the ", " this ", StringComparison.Ordinal) + " Reported today.";
            lines.Add(JsonSerializer.Serialize(new { id = $"t{i:D2}-b", text = copy }));
            copies.Add($"t{i:D2}-b");
        }
        for (var f = 0; f < 3; f++) File.WriteAllLines(Path.Combine(folder, $"part-{f}.jsonl"), lines.Where((_, i) => i % 3 == f));
        return (folder, copies);
    }

    private JobSpec Spec(string folder, long shardBytes) => new()
    {
        Name = "semantic",
        Inputs = [new InputSpec { Path = Path.Combine(folder, "*.jsonl"), IdField = "id" }],
        Sharding = new ShardingSpec { TargetShardBytes = shardBytes },
        Stages = [new EmbedStageSpec(), new SemanticDedupStageSpec { Clusters = 4, MaxIterations = 10, Eps = 0.1, Partitions = 3 }],
        Output = new OutputSpec { Path = "curated/semantic" },
    };

    [Fact]
    public async Task Near_identical_texts_are_removed_naming_a_kept_similar_twin_whatever_the_sharding()
    {
        var (folder, copies) = WriteCorpus();
        using var services = StageServices.CreateDefault();

        var results = new List<CuratedOutput>();
        foreach (var shardBytes in new long[] { 1024, 1 << 20 })
        {
            var stores = Stores($"data-{shardBytes}");
            await InProcessJob.RunAsync(Spec(folder, shardBytes), stores, services);
            results.Add(await CuratedOutput.ReadAsync(stores.DataStore, "curated/semantic"));
        }

        var output = results[0];
        Assert.True(output.Manifest.Shards.Count > 1, "the first run needs several shards");
        Assert.Single(results[1].Manifest.Shards);
        Assert.Empty(output.Manifest.Accounting.Imbalances());
        Assert.Equal(output.KeptIds.Order(StringComparer.Ordinal), results[1].KeptIds.Order(StringComparer.Ordinal));

        // Of each planted pair exactly one survives (SemDeDup keeps the one ranked first in its cluster: farthest from
        // the centroid for "hard"), and the other names it as its kept twin.
        var drops = output.Drops.Where(d => d.Reason == SemanticDedupStage.DuplicateReason).ToList();
        // A pair whose members k-means puts in different clusters is the one kind of miss SemDeDup allows.
        Assert.InRange(drops.Count, copies.Count - 1, copies.Count);
        Assert.All(drops, d => Assert.Equal(d.Id[..3], d.TwinId[..3]));
        Assert.All(drops, d => Assert.Contains(d.TwinId, output.KeptIds));
        Assert.Equal(Topics.Length, output.KeptIds.Select(id => id[..3]).Distinct().Count());
        Assert.Equal(drops.Select(d => d.Id[..3]).Distinct().Count(), drops.Count);
        var metrics = output.Manifest.Metrics.Single(m => m.Key.EndsWith("semantic_dedup", StringComparison.Ordinal)).Value;
        Assert.Equal(drops.Count, metrics["removed"]);
        Assert.True(metrics["eps_0.2_removed"] >= metrics["eps_0.01_removed"]);
    }

    [Fact]
    public async Task Embeddings_flagged_as_sticky_are_kept_out_of_dedup_and_reported()
    {
        var (folder, _) = WriteCorpus();
        using var services = StageServices.CreateDefault();
        var stores = Stores("data-sticky");
        // A threshold so low that every document counts as near the mean direction: nothing may be collapsed.
        var spec = Spec(folder, 1 << 20) with
        {
            Stages = [new EmbedStageSpec(), new SemanticDedupStageSpec { Clusters = 4, MaxIterations = 10, Eps = 0.1, Partitions = 3, StickyCosine = 0.01 }],
        };
        await InProcessJob.RunAsync(spec, stores, services);

        var output = await CuratedOutput.ReadAsync(stores.DataStore, "curated/semantic");
        Assert.DoesNotContain(output.Drops, d => d.Reason == SemanticDedupStage.DuplicateReason);
        Assert.Equal(2 * Topics.Length, output.KeptIds.Count);
        var metrics = output.Manifest.Metrics.Single(m => m.Key.EndsWith("semantic_dedup", StringComparison.Ordinal)).Value;
        Assert.Equal(2 * Topics.Length, metrics["health_sticky"]);
    }

    [Fact]
    public async Task A_run_interrupted_inside_k_means_resumes_to_the_uninterrupted_output()
    {
        var (folder, _) = WriteCorpus();
        using var services = StageServices.CreateDefault();
        var spec = Spec(folder, 1024);

        var clean = Stores("data-clean");
        await InProcessJob.RunAsync(spec, clean, services);

        var resumed = Stores("data-resumed");
        var job = await InProcessJob.RunAsync(spec, resumed, services, maxPhases: 9); // read, embed, sample, init, two Lloyd iterations and a half
        Assert.Contains(job.Phases().Take(9), p => p.Phase.Name.StartsWith("assign-", StringComparison.Ordinal));
        await InProcessJob.RunAsync(spec, resumed, services);

        var expected = await CuratedOutput.ReadAsync(clean.DataStore, "curated/semantic");
        var actual = await CuratedOutput.ReadAsync(resumed.DataStore, "curated/semantic");
        Assert.Equal(expected.ShardHashes, actual.ShardHashes);
        Assert.Equal(expected.Drops, actual.Drops);
    }

    [Fact]
    public void Assign_tasks_cover_every_shard_once_in_runs_and_never_exceed_the_cap()
    {
        foreach (var shards in Enumerable.Range(1, 300).Append(6_400).Append(100_000))
        {
            var (perTask, tasks) = (KMeansPhases.ShardsPerAssignTask(shards), KMeansPhases.AssignTasks(shards));
            Assert.InRange(tasks, 1, KMeansPhases.MaxAssignTasks);
            if (shards <= KMeansPhases.MaxAssignTasks) Assert.Equal((1, shards), (perTask, tasks)); // one task per shard, as before grouping
            Assert.True((tasks - 1) * perTask < shards && tasks * perTask >= shards, $"{shards} shards: {tasks} tasks of {perTask}");
        }
    }

    [Fact]
    public async Task Grouping_shards_into_fewer_assign_tasks_leaves_centroids_and_output_bit_identical()
    {
        // The partial sums are exact integers: k-means over runs of shards gives the centroids of one task per shard.
        var (folder, _) = WriteCorpus();
        using var services = StageServices.CreateDefault();
        var spec = Spec(folder, 1024);
        var perShard = Stores("data-per-shard");
        var perShardJob = await InProcessJob.RunAsync(spec, perShard, services);
        var grouped = Stores("data-grouped");
        JobContext groupedJob;
        using (KMeansPhases.UseMaxAssignTasks(2))
            groupedJob = await InProcessJob.RunAsync(spec, grouped, services);

        var shards = perShardJob.Plan.ShardCount;
        Assert.True(shards > 2, $"{shards} shards: the corpus needs more shards than the cap");
        using (KMeansPhases.UseMaxAssignTasks(2))
            Assert.Equal(2, groupedJob.Phases().First(p => p.Phase.Name == "assign-000").Phase.TaskCount);
        Assert.Equal(shards, perShardJob.Phases().First(p => p.Phase.Name == "assign-000").Phase.TaskCount);

        var expected = await CuratedOutput.ReadAsync(perShard.DataStore, "curated/semantic");
        var actual = await CuratedOutput.ReadAsync(grouped.DataStore, "curated/semantic");
        Assert.Equal(expected.ShardHashes, actual.ShardHashes);
        Assert.Equal(expected.Drops, actual.Drops);
        string[] Centroids(string root) => [.. Directory.EnumerateFiles(root, "*.bin", SearchOption.AllDirectories)
            .Where(f => Path.GetFileName(Path.GetDirectoryName(f)) == "centroids").Order(StringComparer.Ordinal)
            .Select(f => Convert.ToHexString(File.ReadAllBytes(f)))];
        var centroids = Centroids(_temp.Combine("data-per-shard"));
        Assert.NotEmpty(centroids);
        Assert.Equal(centroids, Centroids(_temp.Combine("data-grouped")));
        // Per iteration that ran, one partial per assign task.
        int[] Partials(string root) => [.. Directory.EnumerateFiles(root, "task-*.bin", SearchOption.AllDirectories)
            .GroupBy(f => Path.GetDirectoryName(f)).Select(g => g.Count()).Distinct()];
        Assert.Equal([2], Partials(_temp.Combine("data-grouped")));
        Assert.Equal([shards], Partials(_temp.Combine("data-per-shard")));
    }
}
