using Curation.Pipelines.Spec;
using Curation.Pipelines.Stages;
using Curation.Pipelines.Storage;
using Curation.Testing;

namespace Curation.Grains.Tests;

/// <summary>line_dedup on real in-process Orleans clusters: the silo count never changes which lines are kept.</summary>
public sealed class LineDedupJobTests : IDisposable
{
    private readonly TempDirectory _temp = new("line-jobs");
    private readonly LineDedupCorpus _corpus = LineDedupCorpus.Generate(documents: 400, plantedIn: [2, 7, 40, 400], seed: 5);
    private readonly string _input;

    public LineDedupJobTests()
    {
        _input = _temp.Combine("corpus");
        _corpus.WriteJsonl(_input, files: 4);
    }

    public void Dispose() => _temp.Dispose();

    private JobSpec Spec() => new()
    {
        Name = "lines",
        Inputs = [new InputSpec { Path = Path.Combine(_input, "*.jsonl"), IdField = "id" }],
        Sharding = new ShardingSpec { TargetShardBytes = 32 * 1024 },
        Stages = [new NormalizeStageSpec(), new LineDedupStageSpec { Partitions = 3 }],
        Output = new OutputSpec { Path = "curated/lines" },
    };

    private IStoreResolver Stores(string dataFolder) =>
        CurationStoreServiceCollectionExtensions.CreateResolver(new CurationStoreOptions { RootPath = _temp.Combine(dataFolder) });

    [Fact]
    public async Task One_and_three_silo_clusters_remove_the_same_lines()
    {
        var one = Stores("one");
        await using (var cluster = await CurationCluster.StartAsync(1, () => one))
        {
            var status = await cluster.RunAsync(Spec());
            Assert.True(status.State == JobState.Completed, status.Error);
        }
        var three = Stores("three");
        await using (var cluster = await CurationCluster.StartAsync(3, () => three))
        {
            var status = await cluster.RunAsync(Spec());
            Assert.True(status.State == JobState.Completed, status.Error);
        }

        var a = await CuratedOutput.ReadAsync(one.DataStore, "curated/lines");
        var b = await CuratedOutput.ReadAsync(three.DataStore, "curated/lines");
        Assert.True(a.Manifest.Shards.Count > 3, "the test needs several shards");
        Assert.Equal(a.ShardHashes, b.ShardHashes);
        Assert.Equal(a.Drops, b.Drops);
        Assert.Empty(b.Manifest.Accounting.Imbalances());
        var problems = _corpus.Check(await LineDedupCorpus.ReadTextsAsync(three.DataStore, "curated/lines", b));
        Assert.True(problems.Count == 0, string.Join("\n", problems.Take(10)));
    }

    [Fact]
    public async Task One_and_three_silo_clusters_refresh_a_versioned_corpus_identically()
    {
        var corpus = LineDedupRefreshCorpus.Generate(seed: 3);
        var input = _temp.Combine("versioned");
        JobSpec Refresh(string runKey) => new()
        {
            Name = "lines",
            RunKey = runKey,
            Inputs = [new InputSpec { Path = Path.Combine(input, "*.jsonl"), IdField = "id" }],
            Sharding = new ShardingSpec { TargetShardBytes = 8 * 1024 },
            Stages = [new LineDedupStageSpec { Partitions = 3 }],
            Output = new OutputSpec { Path = "curated/versioned", Snapshots = true },
        };
        var (one, three) = (Stores("v-one"), Stores("v-three"));
        // The snapshot, then the refresh, each on a fresh 1-silo and 3-silo cluster (the corpus lives in the store).
        for (var part = 1; part <= 2; part++)
        {
            corpus.WritePart(input, part);
            foreach (var (silos, stores) in new[] { ((short)1, one), ((short)3, three) })
            {
                await using var cluster = await CurationCluster.StartAsync(silos, () => stores);
                var status = await cluster.RunAsync(Refresh(part.ToString(System.Globalization.CultureInfo.InvariantCulture)));
                Assert.True(status.State == JobState.Completed, status.Error);
            }
        }

        var x = await CuratedSnapshot.ReadAsync(one.DataStore, "curated/versioned");
        var y = await CuratedSnapshot.ReadAsync(three.DataStore, "curated/versioned");
        Assert.Equal(2, y.Manifest.Snapshot!.Number);
        Assert.True(y.Manifest.Shards.Count > 2, "the refresh needs several shards");
        Assert.Equal(x.ShardHashes, y.ShardHashes);
        Assert.Equal(x.Drops, y.Drops);
        Assert.Equal(x.Manifest.Snapshot!.Indexes, y.Manifest.Snapshot.Indexes);
        var (texts, _) = corpus.Expected(2);
        Assert.Equal(texts.OrderBy(t => t.Key, StringComparer.Ordinal), y.Texts.OrderBy(t => t.Key, StringComparer.Ordinal));
    }
}
