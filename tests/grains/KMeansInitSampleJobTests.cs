using Curation.Pipelines.Spec;
using Curation.Pipelines.Storage;
using Curation.Testing;

namespace Curation.Grains.Tests;

/// <summary>
/// A corpus over the k-means init sample's maximum (<c>initSampleMax</c>, small here) clusters identically on one and
/// three silos: the same bounded sample (the smallest seeded id hashes), the same centroids, the same output.
/// </summary>
public sealed class KMeansInitSampleJobTests : IDisposable
{
    private const int Cap = 20;
    private readonly TempDirectory _temp = new("kmeans-init-sample-jobs");
    private readonly string _input;
    private readonly TestCorpus _corpus = TestCorpus.Generate(originals: 90, copies: 10, seed: 13);

    public KMeansInitSampleJobTests()
    {
        _input = _temp.Combine("corpus");
        _corpus.WriteJsonl(_input, files: 5);
    }

    public void Dispose() => _temp.Dispose();

    private JobSpec Spec() => new()
    {
        Name = "init-cap-silos",
        Inputs = [new InputSpec { Path = Path.Combine(_input, "*.jsonl"), IdField = "id" }],
        Sharding = new ShardingSpec { TargetShardBytes = 4096 },
        Stages =
        [
            new EmbedStageSpec { Model = new ModelSpec { Kind = ModelKind.InputMean } },
            new SemanticDedupStageSpec { Clusters = 4, MaxIterations = 4, Eps = 0.05, Partitions = 2, StickyCosine = 1, InitSampleMax = Cap },
            new D4StageSpec { KeepFraction = 0.6, Clusters = 3, MaxIterations = 4, InitSampleMax = Cap },
        ],
        Output = new OutputSpec { Path = "curated/init-cap" },
    };

    private IStoreResolver Stores(string folder) =>
        CurationStoreServiceCollectionExtensions.CreateResolver(new CurationStoreOptions { RootPath = _temp.Combine(folder) });

    /// <summary>Every centroids object of the job (both stages, every iteration), by path below the store.</summary>
    private SortedDictionary<string, byte[]> Centroids(string folder)
    {
        var root = _temp.Combine(folder);
        return new SortedDictionary<string, byte[]>(Directory.GetFiles(root, "*.bin", SearchOption.AllDirectories)
            .Where(f => Path.GetFileName(Path.GetDirectoryName(f)) == "centroids")
            .ToDictionary(f => Path.GetRelativePath(root, f), File.ReadAllBytes), StringComparer.Ordinal);
    }

    [Fact]
    public async Task A_capped_init_sample_gives_the_same_clusters_and_output_on_one_and_three_silos()
    {
        var one = Stores("one");
        await using (var cluster = await CurationCluster.StartAsync(1, () => one))
        {
            var status = await cluster.RunAsync(Spec(), TimeSpan.FromMinutes(5));
            Assert.True(status.State == JobState.Completed, status.Error);
        }
        var three = Stores("three");
        await using (var cluster = await CurationCluster.StartAsync(3, () => three))
        {
            var status = await cluster.RunAsync(Spec(), TimeSpan.FromMinutes(5));
            Assert.True(status.State == JobState.Completed, status.Error);
        }

        var expected = await CuratedOutput.ReadAsync(one.DataStore, "curated/init-cap");
        Assert.Empty(expected.Manifest.Accounting.Imbalances());
        foreach (var type in new[] { SemanticDedupStageSpec.TypeName, D4StageSpec.TypeName })
        {
            var metrics = expected.Manifest.Metrics.Single(m => m.Key.EndsWith(type, StringComparison.Ordinal)).Value;
            Assert.Equal(Cap, metrics["init_sample"]);
            Assert.True(metrics["init_sample_capped"] > 0, $"{type}: the corpus must be over the maximum");
        }
        var centroids = Centroids("one");
        Assert.True(centroids.Count >= 4, $"{centroids.Count} centroids objects");
        Assert.Equal(centroids, Centroids("three"));
        var actual = await CuratedOutput.ReadAsync(three.DataStore, "curated/init-cap");
        Assert.Equal(expected.ShardHashes, actual.ShardHashes);
        Assert.Equal(expected.Drops, actual.Drops);
        Assert.Equal(expected.KeptIds, actual.KeptIds);
    }
}
