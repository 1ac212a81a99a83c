using System.Diagnostics;
using Curation.Grains;
using Curation.Grains.Hosting;
using Curation.Pipelines;
using Curation.Pipelines.Execution;
using Curation.Pipelines.Spec;
using Curation.Pipelines.Storage;
using Curation.Testing;
using Xunit.Abstractions;

namespace Curation.Cluster.Tests;

/// <summary>Clustering through Redis: two silo processes form a cluster and run the demo job together.</summary>
[Collection(ClusterCollection.Name)]
public sealed class RedisClusterTests(ClusterServices services, ITestOutputHelper output) : IDisposable
{
    private readonly TempDirectory _temp = new("redis-cluster");

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task Two_silos_clustered_through_redis_run_the_demo_job()
    {
        var samples = Path.Combine(RepositoryRoot.Get(), "samples");
        var spec = JobSpec.Parse(await File.ReadAllTextAsync(Path.Combine(samples, "demo.job.json"))).WithPathsRelativeTo(samples);
        var store = new StoreSettings("LocalFolder", RootPath: _temp.Combine("data"));
        var clock = Stopwatch.StartNew();
        await using var cluster = await ProcessCluster.StartAsync(services, ClusteringKind.Redis, store, silos: 2, roles: _ => ["cpu", "embed"],
            fastFailureDetection: false);
        output.WriteLine($"2 silos up through Redis {services.RedisEndpoint} in {clock.Elapsed.TotalSeconds:F1} s");

        var job = await cluster.SubmitAsync(spec);
        var status = await cluster.WaitAsync(job, TimeSpan.FromMinutes(8));
        output.WriteLine($"demo job {status.State} in {clock.Elapsed.TotalSeconds:F1} s: {status.Accounting?.Kept} of {status.Accounting?.InputRecords} kept");
        Assert.True(status.State == JobState.Completed, $"{status.State}: {status.Error}\n{cluster.Diagnostics()}");

        var stores = CurationStoreServiceCollectionExtensions.CreateResolver(new CurationStoreOptions { RootPath = store.RootPath! });
        var result = await CuratedOutput.ReadAsync(stores.DataStore, spec.Output.Path);
        Assert.Empty(result.Manifest.Accounting.Imbalances());
        Assert.Equal(2000, result.Manifest.Accounting.InputRecords);

        // Both silos worked: every task's commit marker names the silo that ran it.
        var tasksOf = new Dictionary<string, int>();
        await foreach (var info in stores.DataStore.ListAsync(new JobLayout(JobContext.JobIdOf(spec)).Root))
            if (info.Key.Contains("/_tasks/", StringComparison.Ordinal))
            {
                var worker = (await stores.DataStore.TryReadJsonAsync<TaskStats>(info.Key, CurationJson.Options)).Value!.Worker!;
                tasksOf[worker] = tasksOf.GetValueOrDefault(worker) + 1;
            }
        var ran = string.Join(", ", tasksOf.Select(w => $"{w.Key}: {w.Value} tasks"));
        output.WriteLine(ran);
        Assert.True(tasksOf.Count == 2, $"{ran}; membership: {await cluster.MembershipAsync()}\n{cluster.Diagnostics()}");
    }
}
