using System.Diagnostics;
using Curation.Grains;
using Curation.Grains.Hosting;
using Curation.Pipelines.Execution;
using Curation.Pipelines.Spec;
using Curation.Pipelines.Stages;
using Curation.Pipelines.Storage;
using Curation.Testing;
using Xunit.Abstractions;

namespace Curation.Cluster.Tests;

/// <summary>
/// A real cluster loses nothing: 3 <c>curate silo</c> processes clustered through Azurite tables, data and grain state
/// in Azurite blobs; one silo SIGKILLed at a chosen moment, or the whole cluster killed and started again. Every run's
/// kept ids, shard SHA-256s and drops must equal an uninterrupted run's.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class ClusterFailureTests : IDisposable
{
    private static readonly TimeSpan JobTimeout = TimeSpan.FromMinutes(5);
    private readonly ClusterServices _services;
    private readonly ITestOutputHelper _output;
    private readonly TempDirectory _temp = new("cluster-failures");
    private readonly JobSpec _spec;

    public ClusterFailureTests(ClusterServices services, ITestOutputHelper output)
    {
        _services = services;
        _output = output;
        var corpus = _temp.Combine("corpus");
        TestCorpus.Generate(originals: 2400, copies: 500, seed: 11).WriteJsonl(corpus, files: 24);
        _spec = new JobSpec
        {
            Name = "cluster-failures",
            Inputs = [new InputSpec { Path = Path.Combine(corpus, "*.jsonl"), IdField = "id" }],
            Sharding = new ShardingSpec { TargetShardBytes = 8 * 1024 },
            Stages = [new NormalizeStageSpec(), new QualityFilterStageSpec { MinChars = 10, MinWords = 2 }, new ExactDedupStageSpec { Partitions = 8 }],
            Output = new OutputSpec { Path = "curated/cluster" },
        };
    }

    public void Dispose() => _temp.Dispose();

    private static readonly SemaphoreSlim ReferenceLock = new(1, 1);
    private static CuratedOutput? _reference;

    /// <summary>The uninterrupted run: the same job executed start to finish in this process, on a local folder.</summary>
    private async Task<CuratedOutput> ReferenceAsync()
    {
        await ReferenceLock.WaitAsync();
        try
        {
            if (_reference is not null) return _reference;
            var stores = CurationStoreServiceCollectionExtensions.CreateResolver(new CurationStoreOptions { RootPath = _temp.Combine("reference") });
            using var services = StageServices.CreateDefault();
            await InProcessJob.RunAsync(_spec, stores, services);
            return _reference = await CuratedOutput.ReadAsync(stores.DataStore, "curated/cluster");
        }
        finally
        {
            ReferenceLock.Release();
        }
    }

    /// <summary>A new container that every silo reaches through its own holding proxy.</summary>
    private SiloStoreProxies Proxies(string hint) => new(_services.BlobEndpoint, AzuriteFixture.NewContainerName(hint));

    private async Task AssertSameOutputAsync(StoreSettings store)
    {
        var reference = await ReferenceAsync();
        var actual = await CuratedOutput.ReadAsync(AzureBlobStore.Create(store.ConnectionString!, store.ContainerName!), "curated/cluster");
        Assert.Equal(reference.KeptIds.Count, actual.KeptIds.Count);
        Assert.Equal(reference.KeptIds.Order(StringComparer.Ordinal), actual.KeptIds.Order(StringComparer.Ordinal));
        Assert.Equal(actual.KeptIds.Count, actual.KeptIds.Distinct().Count()); // nothing doubled
        Assert.Equal(reference.ShardHashes, actual.ShardHashes);
        Assert.Equal(reference.Drops, actual.Drops);
        Assert.Empty(actual.Manifest.Accounting.Imbalances());
    }

    /// <summary>The phase the job is in: the first one not finished.</summary>
    private static PhaseProgress? Current(JobStatus status) => status.Phases.FirstOrDefault(p => p.Done < p.Total);

    public static TheoryData<string, string, string> Moments => new()
    {
        { "read", $"00-{ReadStage.StageName}", ReadStage.ReadPhase },
        { "dedup", $"03-{ExactDedupStageSpec.TypeName}", ExactDedupStage.ApplyPhase },
        { "write", $"04-{OutputStage.StageName}", OutputStage.WritePhase },
    };

    [Theory]
    [MemberData(nameof(Moments))]
    public async Task A_silo_killed_mid_job_loses_and_doubles_nothing(string moment, string stage, string phase)
    {
        await using var proxies = Proxies($"kill-{moment}");
        await using var cluster = await ProcessCluster.StartAsync(_services, ClusteringKind.AzureTable, proxies.Direct, silos: 3, storeOf: proxies.StoreOf);
        var clock = Stopwatch.StartNew();
        var victimIndex = new Random(moment.Length).Next(cluster.Silos.Count);
        var victim = cluster.Silos[victimIndex];

        // The moment, held still: two tasks of the phase have committed, the others' commit markers wait in the proxies;
        // the victim has at least one of them in flight.
        proxies.HoldCommits(stage, phase, letThrough: 2);
        var job = await cluster.SubmitAsync(_spec);
        await proxies.WaitUntilAsync(p => p[victimIndex].Held >= 1 && p.Held >= 3, JobTimeout, $"{stage}/{phase} tasks in flight");
        var status = await cluster.WaitAsync(job, JobTimeout, s => s.IsFinal || Current(s) is { } p && p.Stage == stage && p.Phase == phase && p.Done > 0);
        Assert.False(status.IsFinal, $"{status.State}: {status.Error}");
        var at = Current(status)!;
        var held = (Victim: proxies[victimIndex].Held, All: proxies.Held);
        victim.Kill();
        proxies.Release();
        _output.WriteLine($"{moment}: killed {victim.Name} (pid {victim.Id}) at {at.Stage}/{at.Phase} {at.Done}/{at.Total} with {held.Victim} of " +
                          $"{held.All} held tasks after {clock.Elapsed.TotalSeconds:F1} s");

        status = await cluster.WaitAsync(job, JobTimeout);
        _output.WriteLine($"{moment}: {status.State} after {clock.Elapsed.TotalSeconds:F1} s; {status.Accounting?.Kept} of {status.Accounting?.InputRecords} kept; " +
                          $"{proxies.Dropped} held requests of dead clients dropped");
        Assert.True(status.State == JobState.Completed, $"{status.State}: {status.Error}\n{cluster.Diagnostics()}");
        await AssertSameOutputAsync(proxies.Direct);
    }

    [Fact]
    public async Task The_whole_cluster_stopped_mid_job_and_started_again_finishes_with_the_same_output()
    {
        await using var proxies = Proxies("restart");
        var clock = Stopwatch.StartNew();
        var stage = $"02-{QualityFilterStageSpec.TypeName}";
        await using (var cluster = await ProcessCluster.StartAsync(_services, ClusteringKind.AzureTable, proxies.Direct, silos: 3, storeOf: proxies.StoreOf))
        {
            proxies.HoldCommits(stage, DocumentStage.ApplyPhase, letThrough: 2);
            var job = await cluster.SubmitAsync(_spec);
            await proxies.WaitUntilAsync(p => p.Held >= 3, JobTimeout, $"{stage} tasks in flight");
            var status = await cluster.WaitAsync(job, JobTimeout, s => s.IsFinal || Current(s) is { } p && p.Stage == stage && p.Done > 0);
            Assert.False(status.IsFinal, $"{status.State}: {status.Error}");
            cluster.KillAll();
            proxies.Release();
            _output.WriteLine($"all 3 silos killed at {Current(status)!.Stage} {Current(status)!.Done}/{Current(status)!.Total} after {clock.Elapsed.TotalSeconds:F1} s");
        }

        // A new cluster over the same storage: its resume scan finds the job Running and its coordinator carries on.
        await using (var cluster = await ProcessCluster.StartAsync(_services, ClusteringKind.AzureTable, proxies.Direct, silos: 3, storeOf: i => proxies.StoreOf(3 + i)))
        {
            var job = cluster.Client.GetGrain<IJobGrain>(JobContext.JobIdOf(_spec));
            var status = await cluster.WaitAsync(job, JobTimeout);
            _output.WriteLine($"after restart: {status.State} at {clock.Elapsed.TotalSeconds:F1} s");
            Assert.True(status.State == JobState.Completed, $"{status.State}: {status.Error}\n{cluster.Diagnostics()}");
        }
        await AssertSameOutputAsync(proxies.Direct);
    }
}
