using Curation.Pipelines;
using Curation.Pipelines.Execution;
using Curation.Pipelines.Spec;
using Curation.Pipelines.Stages;
using Curation.Pipelines.Storage;
using Curation.Testing;
using Xunit.Abstractions;

namespace Curation.Grains.Tests;

/// <summary>One big JSONL object is read by several tasks spread over the silos, with the output of a one-silo run.</summary>
public sealed class SplitReadClusterTests(ITestOutputHelper output) : IDisposable
{
    private readonly TempDirectory _temp = new("split-cluster");

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task A_single_big_jsonl_object_is_read_by_several_tasks_on_several_silos_with_the_one_silo_output()
    {
        var input = _temp.Combine("corpus");
        Directory.CreateDirectory(input);
        var bytes = new BigObjectCorpus(seed: 3).Jsonl(24_000_000);
        await File.WriteAllBytesAsync(Path.Combine(input, "corpus.jsonl"), bytes);
        var spec = new JobSpec
        {
            Name = "big-object",
            Inputs = [new InputSpec { Path = Path.Combine(input, "corpus.jsonl") }],
            Sharding = new ShardingSpec { TargetShardBytes = 3L << 20 },
            Stages = [new NormalizeStageSpec(), new QualityFilterStageSpec { MinChars = 20, MinWords = 3 }, new ExactDedupStageSpec { Partitions = 4 }],
            Output = new OutputSpec { Path = "curated/big" },
        };

        var one = Stores("one");
        await using (var cluster = await CurationCluster.StartAsync(1, () => one))
        {
            var status = await cluster.RunAsync(spec, TimeSpan.FromMinutes(5));
            Assert.True(status.State == JobState.Completed, status.Error);
        }
        var three = Stores("three");
        await using (var cluster = await CurationCluster.StartAsync(3, () => three))
        {
            var status = await cluster.RunAsync(spec, TimeSpan.FromMinutes(5));
            Assert.True(status.State == JobState.Completed, status.Error);
            Assert.Empty(status.Accounting!.Imbalances());
        }

        var reads = await ReadTaskStatsAsync(three, spec);
        var workers = reads.Select(t => t.Worker).Distinct().ToList();
        output.WriteLine($"{bytes.Length:N0} bytes read by {reads.Count} tasks on {workers.Count} silos: " +
            string.Join(", ", reads.Select(t => $"{t.In} records/{t.BytesIn:N0} bytes")));
        Assert.True(reads.Count >= 3, $"read by {reads.Count} task(s)");
        Assert.True(workers.Count > 1, $"every read task ran on {string.Join(", ", workers)}");
        Assert.Equal(bytes.Length, reads.Sum(t => t.BytesIn));

        var a = await CuratedOutput.ReadAsync(one.DataStore, "curated/big");
        var b = await CuratedOutput.ReadAsync(three.DataStore, "curated/big");
        Assert.Equal(a.KeptIds, b.KeptIds);
        Assert.Equal(a.ShardHashes, b.ShardHashes);
        Assert.Equal(a.Drops, b.Drops);
        Assert.Equal(a.Quarantine, b.Quarantine);
    }

    private IStoreResolver Stores(string folder) =>
        CurationStoreServiceCollectionExtensions.CreateResolver(new CurationStoreOptions { RootPath = _temp.Combine(folder) });

    /// <summary>The stats of the read phase's tasks (one per shard), with the silo that ran each.</summary>
    private static async Task<List<TaskStats>> ReadTaskStatsAsync(IStoreResolver stores, JobSpec spec)
    {
        var job = new JobLayout(JobContext.JobIdOf(spec));
        var prefix = job.StageRoot(0, ReadStage.StageName) + "_tasks/" + ReadStage.ReadPhase + "-";
        var all = new List<TaskStats>();
        await foreach (var info in stores.DataStore.ListAsync(prefix))
            all.Add((await stores.DataStore.TryReadJsonAsync<TaskStats>(info.Key, CurationJson.Options)).Value!);
        return all;
    }
}
