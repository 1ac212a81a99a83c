using System.Net;
using Azure.Core.Pipeline;
using Curation.Pipelines.Execution;
using Curation.Pipelines.Spec;
using Curation.Pipelines.Stages;
using Curation.Pipelines.Storage;
using Curation.Testing;

namespace Curation.Grains.Tests;

/// <summary>
/// Jobs whose input and data store sit on an object store that fails: a fault-injecting HTTP handler in front of
/// Azurite answers some requests with 503 (before or after passing them on), holds some past the attempt timeout
/// (before or after the server applied them) and slows others. The output must be exactly the clean run's, and the
/// job must say how many store operations it retried.
/// </summary>
public sealed class StorageFaultTests(AzuriteFixture azurite) : IClassFixture<AzuriteFixture>, IDisposable
{
    /// <summary>Per-attempt limit in the faulty runs: short, so that injected timeouts cost little.</summary>
    private static readonly TimeSpan AttemptTimeout = TimeSpan.FromSeconds(2);

    private static readonly SemaphoreSlim BaselineGate = new(1, 1);
    private static (string ConnectionString, string InputContainer, string DataContainer, TestCorpus Corpus)? _baseline;

    private readonly TempDirectory _temp = new("storage-faults");

    public void Dispose() => _temp.Dispose();

    private static JobSpec Spec(string inputContainer) => new()
    {
        Name = "faults",
        Inputs = [new InputSpec { Path = $"az://{inputContainer}/corpus/*.jsonl", IdField = "id" }],
        Sharding = new ShardingSpec { TargetShardBytes = 24 * 1024 },
        Stages = [new NormalizeStageSpec(), new QualityFilterStageSpec { MinChars = 20, MinWords = 3 }, new ExactDedupStageSpec { Partitions = 4 }],
        // Relative: inside each run's own data store, so the clean and faulty runs share one spec (one job id).
        Output = new OutputSpec { Path = "curated/faults" },
    };

    private const string OutputPrefix = "curated/faults";

    private IStoreResolver Resolver(string dataContainer, FaultInjectingHandler? faults, ObjectStoreResilienceOptions? resilience = null) =>
        CurationStoreServiceCollectionExtensions.CreateResolver(new CurationStoreOptions
        {
            Kind = DataStoreKind.AzureBlob,
            ConnectionString = azurite.ConnectionString,
            ContainerName = dataContainer,
            Resilience = resilience ?? new ObjectStoreResilienceOptions(),
            Transport = faults is null ? null : new HttpClientTransport(new HttpClient(faults) { Timeout = Timeout.InfiniteTimeSpan }),
        });

    /// <summary>The corpus in its input container, and a clean run of the job (once per Azurite, shared by the tests).</summary>
    private async Task<(string InputContainer, IObjectStore CleanData, TestCorpus Corpus)> BaselineAsync()
    {
        await BaselineGate.WaitAsync();
        try
        {
            if (_baseline is { } done && done.ConnectionString == azurite.ConnectionString)
                return (done.InputContainer, Resolver(done.DataContainer, null).DataStore, done.Corpus);

            var corpus = TestCorpus.Generate(originals: 320, copies: 90, seed: 23);
            var folder = _temp.Combine("corpus");
            corpus.WriteJsonl(folder, files: 8);
            var inputContainer = AzuriteFixture.NewContainerName("fault-corpus");
            var dataContainer = AzuriteFixture.NewContainerName("fault-clean");
            var clean = Resolver(dataContainer, null);
            var inputs = clean.Resolve(StoreLocation.Parse($"az://{inputContainer}/x"));
            foreach (var file in Directory.GetFiles(folder))
                await inputs.WriteBytesAsync($"corpus/{Path.GetFileName(file)}", await File.ReadAllBytesAsync(file), WriteCondition.CreateOnly);

            await using (var cluster = await CurationCluster.StartAsync(3, () => clean))
            {
                var status = await cluster.RunAsync(Spec(inputContainer));
                Assert.True(status.State == JobState.Completed, status.Error);
                Assert.Equal(0L, status.StoreRetries);
                Assert.True(status.Shards >= 4, $"the corpus should make several shards, got {status.Shards}");
            }
            _baseline = (azurite.ConnectionString, inputContainer, dataContainer, corpus);
            return (inputContainer, clean.DataStore, corpus);
        }
        finally
        {
            BaselineGate.Release();
        }
    }

    [Fact]
    public async Task A_job_on_a_store_that_fails_ten_percent_of_requests_writes_the_clean_runs_output_and_counts_its_retries()
    {
        var (inputContainer, cleanData, corpus) = await BaselineAsync();
        var faults = new FaultInjectingHandler(seed: 7, AttemptTimeout)
        {
            FailBefore = 0.035, FailAfter = 0.035, TimeoutBefore = 0.015, TimeoutAfter = 0.015, Slow = 0.10,
        };
        var resilience = new ObjectStoreResilienceOptions
        {
            MaxRetryAttempts = 10, BaseDelay = TimeSpan.FromMilliseconds(20), MaxDelay = TimeSpan.FromMilliseconds(500), AttemptTimeout = AttemptTimeout,
        };
        var dataContainer = AzuriteFixture.NewContainerName("fault-faulty");
        var faulty = Resolver(dataContainer, faults, resilience);

        JobStatus status;
        await using (var cluster = await CurationCluster.StartAsync(3, () => faulty))
            status = await cluster.RunAsync(Spec(inputContainer), TimeSpan.FromMinutes(6));

        Assert.True(status.State == JobState.Completed, status.Error);
        var expected = await CuratedOutput.ReadAsync(cleanData, OutputPrefix);
        var written = Resolver(dataContainer, null).DataStore; // read back without faults
        var actual = await CuratedOutput.ReadAsync(written, OutputPrefix);
        Assert.Equal(corpus.ExpectedKeptIds, actual.KeptIds.Order(StringComparer.Ordinal));
        Assert.Equal(expected.KeptIds, actual.KeptIds);
        Assert.Equal(expected.ShardHashes, actual.ShardHashes);
        Assert.Equal(expected.Drops, actual.Drops);
        Assert.Equal(expected.Quarantine, actual.Quarantine);
        Assert.Equal(await ManifestBytesAsync(cleanData), await ManifestBytesAsync(written));

        // The faults happened, on writes too (answers lost after the server applied them), and were retried and counted.
        var report = faults.Report();
        Console.WriteLine($"storage faults: {report}; job store retries {status.StoreRetries}; " +
                          $"per phase: {string.Join(", ", status.Phases.Where(p => p.StoreRetries > 0).Select(p => $"{p.Stage}/{p.Phase} {p.StoreRetries}"))}");
        Assert.True(faults.Injected > 0.05 * faults.Requests, report);
        Assert.True(faults.InjectedAfterWriteApplied > 0, $"no write lost its answer after being applied: {report}");
        Assert.True(faults.TimedOut > 0, report);
        Assert.True(status.StoreRetries > 0, $"retries were not counted: {report}");
        Assert.True(status.Phases.Sum(p => p.StoreRetries) > 0, "the tasks' retries were not counted per phase");
        Assert.Equal(expected.Manifest.Accounting.Kept, status.Accounting!.Kept);
    }

    [Fact]
    public async Task An_object_whose_retries_run_out_fails_the_job_naming_it_without_a_manifest_and_running_again_completes()
    {
        var (inputContainer, cleanData, _) = await BaselineAsync();
        const string broken = "/02-quality_filter/00001.parquet";
        var faults = new FaultInjectingHandler(seed: 1, AttemptTimeout) { FailAlways = path => path.EndsWith(broken, StringComparison.Ordinal) };
        var resilience = new ObjectStoreResilienceOptions
        {
            MaxRetryAttempts = 2, BaseDelay = TimeSpan.FromMilliseconds(10), MaxDelay = TimeSpan.FromMilliseconds(50), AttemptTimeout = AttemptTimeout,
        };
        var dataContainer = AzuriteFixture.NewContainerName("fault-exhausted");
        var stores = Resolver(dataContainer, faults, resilience);
        var spec = Spec(inputContainer);

        await using var cluster = await CurationCluster.StartAsync(3, () => stores, o => o.MaxTaskAttempts = 2);
        var failed = await cluster.RunAsync(spec);

        Assert.Equal(JobState.Failed, failed.State);
        Assert.Contains($"jobs/{JobContext.JobIdOf(spec)}{broken}: write failed after 3 attempts with transient errors (last: HTTP 503 ServerBusy)", failed.Error);
        Assert.Null(await stores.DataStore.GetInfoAsync($"{OutputPrefix}/{Manifest.FileName}"));
        Assert.Null(await stores.DataStore.GetInfoAsync($"jobs/{JobContext.JobIdOf(spec)}/02-quality_filter/_tasks/apply-00001.stats.json"));
        Assert.True(faults.Injected >= 2 * 3, faults.Report()); // two task attempts of three store attempts each, at least
        // The read tasks that committed before the job stopped (how many of the others had finished then depends on timing:
        // in-flight tasks are stopped with the job): only shard 1's can never have.
        // Listed until two listings half a second apart agree, so a stopped task's late commit cannot land after it.
        List<string> committedReads = [], previous;
        do
        {
            previous = committedReads;
            await Task.Delay(TimeSpan.FromMilliseconds(500));
            committedReads = [];
            await foreach (var info in stores.DataStore.ListAsync($"jobs/{JobContext.JobIdOf(spec)}/00-read/_tasks/read-"))
                committedReads.Add(info.Key);
        }
        while (!committedReads.SequenceEqual(previous));
        Assert.DoesNotContain(committedReads, key => key.EndsWith("read-00001.stats.json", StringComparison.Ordinal));

        faults.FailAlways = null; // the store recovers: running the job again resumes it
        var resumed = await cluster.RunAsync(spec);

        Assert.True(resumed.State == JobState.Completed, resumed.Error);
        // Finished tasks are not run again: exactly the read tasks committed before the failure are reused. The broken object
        // is written by the read task of shard 1 (the read runs normalize and quality_filter in its own pass,
        // FusedDocumentPass.AfterRead), so that task never finished and runs again.
        var read = resumed.Phases.First(p => p.Stage == "00-read");
        Assert.Equal(committedReads.Count, read.Reused);
        var expected = await CuratedOutput.ReadAsync(cleanData, OutputPrefix);
        var written = Resolver(dataContainer, null).DataStore;
        var actual = await CuratedOutput.ReadAsync(written, OutputPrefix);
        Assert.Equal(expected.KeptIds, actual.KeptIds);
        Assert.Equal(expected.ShardHashes, actual.ShardHashes);
        Assert.Equal(expected.Drops, actual.Drops);
        Assert.Equal(await ManifestBytesAsync(cleanData), await ManifestBytesAsync(written));
    }

    private static Task<byte[]> ManifestBytesAsync(IObjectStore store) => store.ReadBytesAsync($"{OutputPrefix}/{Manifest.FileName}");
}

/// <summary>
/// Sits between the Azure SDK and Azurite and, from a seeded random draw per request, fails it with 503 before
/// passing it on or after (the server applied it, the answer is lost), holds it past the attempt timeout before or
/// after passing it on, or slows it; or fails every request whose path matches <see cref="FailAlways"/>.
/// </summary>
public sealed class FaultInjectingHandler(int seed, TimeSpan attemptTimeout) : DelegatingHandler(new SocketsHttpHandler())
{
    private readonly Random _random = new(seed);
    private long _requests, _failedBefore, _failedAfter, _timedOutBefore, _timedOutAfter, _slowed, _alwaysFailed, _afterWriteApplied;

    public double FailBefore { get; init; }
    public double FailAfter { get; init; }
    public double TimeoutBefore { get; init; }
    public double TimeoutAfter { get; init; }
    public double Slow { get; init; }

    /// <summary>Requests whose URL path this matches fail with 503, every time, until it is set to null.</summary>
    public volatile Func<string, bool>? FailAlways;

    public long Requests => Interlocked.Read(ref _requests);
    public long TimedOut => Interlocked.Read(ref _timedOutBefore) + Interlocked.Read(ref _timedOutAfter);
    public long Injected => Interlocked.Read(ref _failedBefore) + Interlocked.Read(ref _failedAfter) + TimedOut + Interlocked.Read(ref _alwaysFailed);

    /// <summary>Writes (PUT) that reached the server and succeeded there, whose answer was then replaced by a fault.</summary>
    public long InjectedAfterWriteApplied => Interlocked.Read(ref _afterWriteApplied);

    public string Report() =>
        $"{Requests} requests: 503 before {_failedBefore}, 503 after {_failedAfter}, timeout before {_timedOutBefore}, " +
        $"timeout after {_timedOutAfter}, always-failing {_alwaysFailed}, slowed {_slowed}; applied writes whose answer was lost {_afterWriteApplied}";

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _requests);
        if (FailAlways is { } always && always(request.RequestUri!.AbsolutePath))
        {
            Interlocked.Increment(ref _alwaysFailed);
            return Unavailable(request);
        }
        double draw, slowBy;
        lock (_random) (draw, slowBy) = (_random.NextDouble(), _random.NextDouble());
        var holdPastTimeout = attemptTimeout + TimeSpan.FromSeconds(1);

        if ((draw -= FailBefore) < 0)
        {
            Interlocked.Increment(ref _failedBefore);
            return Unavailable(request);
        }
        if ((draw -= TimeoutBefore) < 0)
        {
            Interlocked.Increment(ref _timedOutBefore);
            await Task.Delay(holdPastTimeout, cancellationToken); // the client gives up first
            return Unavailable(request);
        }
        if ((draw -= Slow) < 0)
        {
            Interlocked.Increment(ref _slowed);
            await Task.Delay(TimeSpan.FromMilliseconds(20 + 400 * slowBy), cancellationToken);
            return await base.SendAsync(request, cancellationToken);
        }

        var response = await base.SendAsync(request, cancellationToken);
        var failAfter = (draw -= FailAfter) < 0;
        var timeoutAfter = !failAfter && (draw -= TimeoutAfter) < 0;
        if (!failAfter && !timeoutAfter) return response;

        if (request.Method == HttpMethod.Put && response.IsSuccessStatusCode) Interlocked.Increment(ref _afterWriteApplied);
        response.Dispose(); // the server applied the request; its answer is lost
        if (failAfter)
        {
            Interlocked.Increment(ref _failedAfter);
            return Unavailable(request);
        }
        Interlocked.Increment(ref _timedOutAfter);
        await Task.Delay(holdPastTimeout, cancellationToken);
        return Unavailable(request);
    }

    private static HttpResponseMessage Unavailable(HttpRequestMessage request)
    {
        var response = new HttpResponseMessage(HttpStatusCode.ServiceUnavailable) { RequestMessage = request, Content = new ByteArrayContent([]) };
        response.Headers.TryAddWithoutValidation("x-ms-error-code", "ServerBusy");
        return response;
    }
}
