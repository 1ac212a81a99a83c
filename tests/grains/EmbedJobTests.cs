using Curation.Pipelines;
using Curation.Pipelines.Execution;
using Curation.Pipelines.IO;
using Curation.Pipelines.Spec;
using Curation.Pipelines.Stages;
using Curation.Pipelines.Storage;
using Curation.Testing;

namespace Curation.Grains.Tests;

/// <summary>Embedding inside jobs: placement on embed-capable silos, and results independent of the cluster.</summary>
public sealed class EmbedJobTests : IDisposable
{
    private readonly TempDirectory _temp = new("embed-jobs");
    private readonly string _input;

    public EmbedJobTests()
    {
        _input = _temp.Combine("corpus");
        TestCorpus.Generate(originals: 120, copies: 20, seed: 5).WriteJsonl(_input, files: 6);
    }

    public void Dispose() => _temp.Dispose();

    private JobSpec Spec() => new()
    {
        Name = "embed",
        Inputs = [new InputSpec { Path = Path.Combine(_input, "*.jsonl"), IdField = "id" }],
        Sharding = new ShardingSpec { TargetShardBytes = 16 * 1024 },
        Stages =
        [
            new NormalizeStageSpec(), new ExactDedupStageSpec { Partitions = 2 }, new TokenizeStageSpec(), new EmbedStageSpec(),
            new SemanticDedupStageSpec { Clusters = 5, MaxIterations = 5, TargetKeepFraction = 0.9, Partitions = 2 },
            new D4StageSpec { KeepFraction = 0.9, Clusters = 4, MaxIterations = 5 },
        ],
        Output = new OutputSpec { Path = "curated/embed" },
    };

    private IStoreResolver Stores(string folder) =>
        CurationStoreServiceCollectionExtensions.CreateResolver(new CurationStoreOptions { RootPath = _temp.Combine(folder) });

    private static async Task<List<TaskStats>> TaskStatsAsync(IStoreResolver stores, JobSpec spec, string stage)
    {
        var root = new JobLayout(JobContext.JobIdOf(spec)).Root;
        var all = new List<TaskStats>();
        await foreach (var info in stores.DataStore.ListAsync(root))
            if (info.Key.Contains($"-{stage}/_tasks/", StringComparison.Ordinal))
                all.Add((await stores.DataStore.TryReadJsonAsync<TaskStats>(info.Key, CurationJson.Options)).Value!);
        return all;
    }

    [Fact]
    public async Task Embed_tasks_land_only_on_the_silo_with_the_embed_role_while_other_work_spreads()
    {
        var stores = Stores("placement");
        await using var cluster = await CurationCluster.StartAsync(3, () => stores,
            roles: name => name == "Silo_0" ? ["cpu", "embed"] : ["cpu"]);
        var status = await cluster.RunAsync(Spec(), TimeSpan.FromMinutes(5));
        Assert.True(status.State == JobState.Completed, status.Error);

        var embedSilo = cluster.Cluster.Silos.Single(s => s.Name == "Silo_0").SiloAddress.ToString();
        var embedTasks = await TaskStatsAsync(stores, Spec(), EmbedStageSpec.TypeName);
        Assert.True(embedTasks.Count >= 4, $"expected several embed tasks, got {embedTasks.Count}");
        Assert.All(embedTasks, t => Assert.Equal(embedSilo, t.Worker));

        var otherTasks = new List<TaskStats>();
        foreach (var stage in new[] { ReadStage.StageName, NormalizeStageSpec.TypeName, ExactDedupStageSpec.TypeName, TokenizeStageSpec.TypeName })
            otherTasks.AddRange(await TaskStatsAsync(stores, Spec(), stage));
        var otherWorkers = otherTasks.Select(t => t.Worker).Distinct().ToList();
        Assert.True(otherWorkers.Count == 3, $"{otherTasks.Count} tasks of other stages ran only on {string.Join(", ", otherWorkers)}");
    }

    [Fact]
    public async Task Embeddings_semantic_dedup_and_d4_are_the_same_on_one_and_three_silos_and_cover_exactly_the_kept_documents()
    {
        var one = Stores("one");
        await using (var cluster = await CurationCluster.StartAsync(1, () => one))
            Assert.Equal(JobState.Completed, (await cluster.RunAsync(Spec(), TimeSpan.FromMinutes(5))).State);
        var three = Stores("three");
        await using (var cluster = await CurationCluster.StartAsync(3, () => three))
            Assert.Equal(JobState.Completed, (await cluster.RunAsync(Spec(), TimeSpan.FromMinutes(5))).State);

        var a = await ReadEmbeddingsAsync(one);
        var b = await ReadEmbeddingsAsync(three);
        var output = await CuratedOutput.ReadAsync(one.DataStore, "curated/embed");
        var outputThree = await CuratedOutput.ReadAsync(three.DataStore, "curated/embed");
        Assert.Equal(output.ShardHashes, outputThree.ShardHashes);
        Assert.Equal(output.Drops, outputThree.Drops);
        Assert.Contains(output.Drops, d => d.Reason == SemanticDedupStage.DuplicateReason);
        Assert.Contains(output.Drops, d => d.Reason == D4Stage.PrototypicalReason);
        Assert.Equal(2, output.Manifest.Reports.Count);
        Assert.Equal(output.KeptIds.Order(StringComparer.Ordinal), a.Keys.Order(StringComparer.Ordinal));
        Assert.Equal(a.Keys.Order(StringComparer.Ordinal), b.Keys.Order(StringComparer.Ordinal));
        foreach (var (id, vector) in a)
        {
            Assert.Equal(384, vector.Length);
            var other = b[id];
            for (var i = 0; i < vector.Length; i++) Assert.True(Math.Abs(vector[i] - other[i]) <= 1e-5f, $"{id}[{i}]: {vector[i]} vs {other[i]}");
            var norm = Math.Sqrt(vector.Sum(v => (double)v * v));
            Assert.InRange(norm, 0.999, 1.001);
        }
        Assert.Equal(output.Manifest.Shards.Count, output.Manifest.Embeddings.Count);
    }

    private static async Task<Dictionary<string, float[]>> ReadEmbeddingsAsync(IStoreResolver stores)
    {
        var (manifest, _) = await stores.DataStore.TryReadJsonAsync<Manifest>("curated/embed/manifest.json", CurationJson.Options);
        var result = new Dictionary<string, float[]>();
        foreach (var file in manifest!.Embeddings)
        {
            var (ids, vectors, dimensions) = await EmbeddingFile.ReadAllAsync(new MemoryStream(await stores.DataStore.ReadBytesAsync("curated/embed/" + file.Key)));
            for (var i = 0; i < ids.Count; i++) result[ids[i]] = vectors.AsSpan(i * dimensions, dimensions).ToArray();
        }
        return result;
    }
}
