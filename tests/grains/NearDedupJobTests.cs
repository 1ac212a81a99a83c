using Curation.Pipelines.Spec;
using Curation.Pipelines.Stages;
using Curation.Pipelines.Storage;
using Curation.Testing;

namespace Curation.Grains.Tests;

/// <summary>near_dedup on real in-process Orleans clusters: the silo count never changes what is kept.</summary>
public sealed class NearDedupJobTests : IDisposable
{
    private readonly TempDirectory _temp = new("near-jobs");
    private readonly NearDupCorpus _corpus = NearDupCorpus.Generate(originals: 300, nearPerLevel: 6, chains: 5, seed: 23);
    private readonly string _input;

    public NearDedupJobTests()
    {
        _input = _temp.Combine("corpus");
        _corpus.WriteJsonl(_input, files: 6);
    }

    public void Dispose() => _temp.Dispose();

    private JobSpec Spec() => new()
    {
        Name = "near",
        Inputs = [new InputSpec { Path = Path.Combine(_input, "*.jsonl"), IdField = "id" }],
        Sharding = new ShardingSpec { TargetShardBytes = 64 * 1024 },
        Stages = [new NormalizeStageSpec(), new ExactDedupStageSpec { Partitions = 3 }, new NearDedupStageSpec { Partitions = 3, MaxRounds = 8 }],
        Output = new OutputSpec { Path = "curated/near" },
    };

    private IStoreResolver Stores(string dataFolder) =>
        CurationStoreServiceCollectionExtensions.CreateResolver(new CurationStoreOptions { RootPath = _temp.Combine(dataFolder) });

    [Fact]
    public async Task One_and_three_silo_clusters_keep_the_same_documents_and_name_the_same_twins()
    {
        var one = Stores("one");
        await using (var cluster = await CurationCluster.StartAsync(1, () => one))
        {
            var status = await cluster.RunAsync(Spec());
            Assert.True(status.State == JobState.Completed, status.Error);
            // The converged connected-components rounds were not dispatched: they show no tasks; every other phase ran all its tasks.
            var rounds = status.Phases.Where(p => p.Phase.StartsWith(NearDedupStage.RoundPhasePrefix, StringComparison.Ordinal)).ToList();
            Assert.Contains(rounds, p => p.Total == 0);
            Assert.Equal(Enumerable.Repeat(0, rounds.Count(p => p.Total == 0)), rounds.SkipWhile(p => p.Total > 0).Select(p => p.Total));
            Assert.All(status.Phases, p => Assert.Equal(p.Total, p.Done));
        }
        var three = Stores("three");
        await using (var cluster = await CurationCluster.StartAsync(3, () => three))
        {
            var status = await cluster.RunAsync(Spec());
            Assert.True(status.State == JobState.Completed, status.Error);
        }

        var a = await CuratedOutput.ReadAsync(one.DataStore, "curated/near");
        var b = await CuratedOutput.ReadAsync(three.DataStore, "curated/near");
        Assert.True(a.Manifest.Shards.Count > 3, "the test needs several shards");
        Assert.Equal(a.KeptIds, b.KeptIds);
        Assert.Equal(a.ShardHashes, b.ShardHashes);
        Assert.Equal(a.Drops, b.Drops);
        Assert.Empty(b.Manifest.Accounting.Imbalances());

        var near = a.Drops.Where(d => d.Reason == NearDedupStage.DuplicateReason).ToList();
        Assert.NotEmpty(near);
        foreach (var (first, second, third) in _corpus.Chains)
        {
            var keeper = new[] { first, second, third }.Min(StringComparer.Ordinal)!;
            Assert.Contains(keeper, a.KeptIds);
            Assert.All(new[] { first, second, third }.Where(id => id != keeper),
                id => Assert.Contains(near, d => d.Id == id && d.TwinId == keeper));
        }
    }
}
