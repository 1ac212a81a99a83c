using Curation.Pipelines.Spec;
using Curation.Pipelines.Stages;
using Curation.Pipelines.Storage;
using Curation.Testing;

namespace Curation.Grains.Tests;

/// <summary>Whole jobs on real in-process Orleans clusters over a real (local folder) store.</summary>
public sealed class JobExecutionTests : IDisposable
{
    private readonly TempDirectory _temp = new("jobs");
    private readonly TestCorpus _corpus = TestCorpus.Generate(originals: 600, copies: 150);
    private readonly string _input;

    public JobExecutionTests()
    {
        _input = _temp.Combine("corpus");
        _corpus.WriteJsonl(_input, files: 12);
    }

    public void Dispose() => _temp.Dispose();

    private JobSpec Spec(string name = "exact") => new()
    {
        Name = name,
        Inputs = [new InputSpec { Path = Path.Combine(_input, "*.jsonl"), IdField = "id" }],
        Sharding = new ShardingSpec { TargetShardBytes = 48 * 1024 },
        Stages =
        [
            new NormalizeStageSpec(),
            new QualityFilterStageSpec { MinChars = 20, MinWords = 3 },
            new ExactDedupStageSpec { Partitions = 4 },
        ],
        Output = new OutputSpec { Path = "curated/" + name },
    };

    private IStoreResolver Stores(string dataFolder) =>
        CurationStoreServiceCollectionExtensions.CreateResolver(new CurationStoreOptions { RootPath = _temp.Combine(dataFolder) });

    [Fact]
    public async Task Exact_dedup_on_one_silo_keeps_the_smallest_id_of_each_group_and_names_the_twin()
    {
        var stores = Stores("data1");
        await using var cluster = await CurationCluster.StartAsync(1, () => stores);
        var status = await cluster.RunAsync(Spec());

        Assert.True(status.State == JobState.Completed, status.Error);
        var output = await CuratedOutput.ReadAsync(stores.DataStore, "curated/exact");
        Assert.Equal(_corpus.ExpectedKeptIds, output.KeptIds.Order(StringComparer.Ordinal));
        var exactDrops = output.Drops.Where(d => d.Reason == ExactDedupStage.DuplicateReason).ToDictionary(d => d.Id, d => d.TwinId);
        Assert.Equal(_corpus.ExpectedDuplicates.OrderBy(p => p.Key), exactDrops.OrderBy(p => p.Key));
        Assert.Empty(status.Accounting!.Imbalances());
        Assert.Equal(_corpus.Documents.Count, status.Accounting.InputRecords);
    }

    [Fact]
    public async Task A_running_task_reports_its_documents_before_it_finishes_and_the_phase_shows_a_pace()
    {
        var stores = Stores("progress");
        // Every read task (which runs normalize and quality_filter in its own pass, FusedDocumentPass.AfterRead) is held at
        // its commit of normalize's drops, after it processed all its rows: only the progress reports can tell the
        // coordinator how far the phase is (no task has finished).
        var gate = new StoreGate();
        gate.Close();
        var held = new GatedResolver(stores, gate, call => call.InDataStore && call.IsWrite && call.Key.Contains("/01-normalize/", StringComparison.Ordinal));
        await using var cluster = await CurationCluster.StartAsync(1, () => held, o => o.ProgressInterval = TimeSpan.FromMilliseconds(200));
        var spec = Spec("progress");
        var job = cluster.Client.GetGrain<IJobGrain>(Pipelines.Execution.JobContext.JobIdOf(spec));
        await job.Submit(spec.ToJson());

        static PhaseProgress? Read(JobStatus s) => s.Phases.FirstOrDefault(p => p.Stage.EndsWith("read", StringComparison.Ordinal));
        var live = await CurationCluster.WaitAsync(job, TimeSpan.FromMinutes(2), s => s.IsFinal ||
            Read(s) is { Running: > 0, EtaSeconds: not null } p && Math.Abs(p.Fraction - (double)p.Running / p.Total) < 1e-9);
        Assert.False(live.IsFinal, $"{live.State}: {live.Error}");
        var phase = Read(live)!;
        var records = Directory.EnumerateFiles(_input, "*.jsonl").Sum(f => File.ReadLines(f).LongCount());
        Assert.Equal(0, phase.Done);
        Assert.True(phase.Total > phase.Running, "the test needs more shards than task slots");
        Assert.InRange(phase.InFlightDocuments, 1, records);
        Assert.True(phase.InFlightBytes > 0);
        Assert.True(phase.DocumentsPerSecond > 0);
        Assert.True(phase.EtaSeconds > 0);

        gate.Open();
        var done = await CurationCluster.WaitAsync(job, TimeSpan.FromMinutes(3));
        Assert.True(done.State == JobState.Completed, done.Error);
        Assert.All(done.Phases, p =>
        {
            Assert.Equal(0, p.Running);
            Assert.Equal(0, p.InFlightDocuments);
            Assert.Equal(p.Total > 0 ? 1.0 : 0.0, p.Fraction);
            Assert.Null(p.EtaSeconds);
        });
    }

    [Fact]
    public async Task One_and_three_silo_clusters_write_identical_output()
    {
        var one = Stores("one");
        await using (var cluster = await CurationCluster.StartAsync(1, () => one))
            Assert.Equal(JobState.Completed, (await cluster.RunAsync(Spec())).State);

        var three = Stores("three");
        await using (var cluster = await CurationCluster.StartAsync(3, () => three))
            Assert.Equal(JobState.Completed, (await cluster.RunAsync(Spec())).State);

        var a = await CuratedOutput.ReadAsync(one.DataStore, "curated/exact");
        var b = await CuratedOutput.ReadAsync(three.DataStore, "curated/exact");
        Assert.True(a.Manifest.Shards.Count > 3, "the test needs several shards");
        Assert.Equal(a.KeptIds, b.KeptIds);
        Assert.Equal(a.ShardHashes, b.ShardHashes);
        Assert.Equal(a.Drops, b.Drops);
    }

    [Fact]
    public async Task Interrupted_job_resumes_to_the_uninterrupted_output_without_recomputing_finished_tasks()
    {
        var reference = Stores("reference");
        await using (var cluster = await CurationCluster.StartAsync(1, () => reference))
            Assert.Equal(JobState.Completed, (await cluster.RunAsync(Spec())).State);

        var stores = Stores("interrupted");
        // Interrupt once the read phase is through (its outputs must survive and be reused): the commits of exact_dedup's
        // tasks are held (the read itself writes normalize's and quality_filter's objects, FusedDocumentPass.AfterRead), so
        // the job is surely still going when it is cancelled.
        var gate = new StoreGate();
        gate.Close();
        var held = new GatedResolver(stores, gate, call => call.InDataStore && call.IsWrite && call.Key.Contains("-exact_dedup/_tasks/", StringComparison.Ordinal));
        await using (var cluster = await CurationCluster.StartAsync(1, () => held))
        {
            var spec = Spec();
            var job = cluster.Client.GetGrain<IJobGrain>(Pipelines.Execution.JobContext.JobIdOf(spec));
            await job.Submit(spec.ToJson());
            var read = await CurationCluster.WaitAsync(job, TimeSpan.FromMinutes(2), s => s.IsFinal || s.Phases.FirstOrDefault() is { } p && p.Done == p.Total && p.Total > 0);
            Assert.False(read.IsFinal, $"{read.State}: {read.Error}");
            var cancelled = await job.Cancel();
            Assert.Equal(JobState.Cancelled, cancelled.State);
            Assert.Null(await stores.DataStore.GetInfoAsync("curated/exact/manifest.json"));
        }

        await using (var cluster = await CurationCluster.StartAsync(1, () => stores))
        {
            var status = await cluster.RunAsync(Spec());
            Assert.Equal(JobState.Completed, status.State);
            var read = status.Phases[0];
            Assert.Equal(read.Total, read.Reused);
        }

        var expected = await CuratedOutput.ReadAsync(reference.DataStore, "curated/exact");
        var actual = await CuratedOutput.ReadAsync(stores.DataStore, "curated/exact");
        Assert.Equal(expected.ShardHashes, actual.ShardHashes);
        Assert.Equal(expected.KeptIds, actual.KeptIds);
        Assert.Equal(expected.Manifest.Accounting.Stages.Select(s => (s.Stage, s.In, s.Kept)), actual.Manifest.Accounting.Stages.Select(s => (s.Stage, s.In, s.Kept)));
    }

    [Fact]
    public async Task A_silo_killed_mid_job_loses_and_doubles_nothing()
    {
        var reference = Stores("ref-kill");
        await using (var cluster = await CurationCluster.StartAsync(1, () => reference))
            Assert.Equal(JobState.Completed, (await cluster.RunAsync(Spec())).State);

        var stores = Stores("killed");
        // The kill lands mid-job: after the first read task commits, the other read tasks' commit markers are held.
        var gate = new StoreGate();
        gate.Close();
        var committed = 0;
        var held = new GatedResolver(stores, gate, call => call.InDataStore && call.IsWrite && call.Key.Contains("/00-read/_tasks/", StringComparison.Ordinal)
                                                             && Interlocked.Increment(ref committed) > 1);
        // One attempt per task: a dispatch lost with the killed silo must cost none (it is retried until membership decides).
        await using (var cluster = await CurationCluster.StartAsync(3, () => held, o => o.MaxTaskAttempts = 1))
        {
            var spec = Spec();
            var job = cluster.Client.GetGrain<IJobGrain>(Pipelines.Execution.JobContext.JobIdOf(spec));
            await job.Submit(spec.ToJson());
            var before = await CurationCluster.WaitAsync(job, TimeSpan.FromMinutes(2), s => s.IsFinal || s.Phases.Any(p => p.Done > 0));
            Assert.False(before.IsFinal, $"{before.State}: {before.Error}");
            await cluster.Cluster.KillSiloAsync(cluster.Cluster.Silos[^1]);
            gate.Open();
            var status = await CurationCluster.WaitAsync(job, TimeSpan.FromMinutes(3));
            Assert.True(status.State == JobState.Completed, status.Error);
        }

        var expected = await CuratedOutput.ReadAsync(reference.DataStore, "curated/exact");
        var actual = await CuratedOutput.ReadAsync(stores.DataStore, "curated/exact");
        Assert.Equal(expected.ShardHashes, actual.ShardHashes);
        Assert.Equal(expected.KeptIds, actual.KeptIds);
    }

    [Fact]
    public async Task A_job_writing_to_another_jobs_output_fails_naming_the_path_and_overwrites_nothing()
    {
        var stores = Stores("conflict");
        await using var cluster = await CurationCluster.StartAsync(1, () => stores, o => o.MaxTaskAttempts = 2);
        Assert.Equal(JobState.Completed, (await cluster.RunAsync(Spec())).State);
        var before = await CuratedOutput.ReadAsync(stores.DataStore, "curated/exact");

        var other = Spec() with { Stages = [new NormalizeStageSpec(), new ExactDedupStageSpec { Partitions = 2 }] };
        var status = await cluster.RunAsync(other);

        Assert.Equal(JobState.Failed, status.State);
        Assert.Contains("curated/exact", status.Error);
        Assert.Contains("another job", status.Error);
        // Refused when planned, before any stage ran (it was found by the output's last task, after every stage, four times).
        Assert.StartsWith("Invalid job spec: output.path: ", status.Error, StringComparison.Ordinal);
        Assert.All(status.Phases, p => Assert.Equal(0, p.Done));
        var after = await CuratedOutput.ReadAsync(stores.DataStore, "curated/exact");
        Assert.Equal(before.ShardHashes, after.ShardHashes);
        Assert.Equal(before.Manifest.JobId, after.Manifest.JobId);

        // A versioned corpus is not written into a plain output's folder, nor a plain output into a corpus.
        var corpus = await cluster.RunAsync(Spec() with { Output = new OutputSpec { Path = "curated/exact", Snapshots = true } });
        Assert.Equal(JobState.Failed, corpus.State);
        Assert.Contains("not a versioned corpus", corpus.Error);
        Assert.Equal(JobState.Completed, (await cluster.RunAsync(Spec() with { Output = new OutputSpec { Path = "curated/news", Snapshots = true } })).State);
        var plain = await cluster.RunAsync(other with { Output = new OutputSpec { Path = "curated/news" } });
        Assert.Equal(JobState.Failed, plain.State);
        Assert.Contains("holds a versioned corpus (current.json, snapshot 1)", plain.Error);
    }

    [Fact]
    public async Task A_job_whose_output_another_running_job_writes_is_refused_before_it_plans_and_runs_once_that_job_ends()
    {
        // Two specs into one output path at once both ran every stage; the second failed at its manifest, four times.
        var stores = Stores("claim");
        var gate = new StoreGate();
        gate.Close();
        var held = new GatedResolver(stores, gate, call => call.InDataStore && call.IsWrite && call.Key.Contains("/01-normalize/", StringComparison.Ordinal));
        await using var cluster = await CurationCluster.StartAsync(1, () => held);
        var first = Spec("claim");
        var writing = cluster.Client.GetGrain<IJobGrain>(Pipelines.Execution.JobContext.JobIdOf(first));
        await writing.Submit(first.ToJson());
        await CurationCluster.WaitAsync(writing, TimeSpan.FromMinutes(2), s => s.IsFinal || s.Phases.Any(p => p.Running > 0));

        var second = Spec("claim") with { Stages = [new NormalizeStageSpec(), new ExactDedupStageSpec { Partitions = 2 }] };
        var refused = await cluster.RunAsync(second, TimeSpan.FromMinutes(1));
        Assert.Equal(JobState.Failed, refused.State);
        Assert.Equal($"Invalid job spec: output.path: {stores.DataStore.Location.TrimEnd('/')}/curated/claim is being written by job {writing.GetPrimaryKeyString()}, " +
                     $"which is running: two jobs never write one output folder; wait for it to finish or cancel it (curate cancel {writing.GetPrimaryKeyString()}), " +
                     "or choose another output.path", refused.Error);
        Assert.Empty(refused.Phases); // refused before it was planned
        Assert.Null(await stores.DataStore.GetInfoAsync(new Pipelines.Execution.JobLayout(refused.JobId).PlanKey));

        // Once the first job has ended (cancelled: it wrote no output), the second takes the folder over and completes.
        Assert.Equal(JobState.Cancelled, (await writing.Cancel()).State);
        gate.Open();
        var resubmitted = cluster.Client.GetGrain<IJobGrain>(refused.JobId);
        await resubmitted.Submit(second.ToJson());
        var done = await CurationCluster.WaitAsync(resubmitted, TimeSpan.FromMinutes(3));
        Assert.True(done.State == JobState.Completed, done.Error);
        Assert.Equal(refused.JobId, (await CuratedOutput.ReadAsync(stores.DataStore, "curated/claim")).Manifest.JobId);
    }

    [Fact]
    public async Task A_completed_job_whose_output_was_deleted_writes_it_again_from_its_stage_outputs_when_run_again()
    {
        var stores = Stores("lost");
        await using var cluster = await CurationCluster.StartAsync(1, () => stores);
        var first = await cluster.RunAsync(Spec());
        Assert.True(first.State == JobState.Completed, first.Error);
        var before = await CuratedOutput.ReadAsync(stores.DataStore, "curated/exact");

        Directory.Delete(_temp.Combine("lost", "curated", "exact"), recursive: true);
        var again = await cluster.RunAsync(Spec());

        Assert.True(again.State == JobState.Completed, again.Error);
        var after = await CuratedOutput.ReadAsync(stores.DataStore, "curated/exact");
        Assert.Equal(before.ShardHashes, after.ShardHashes);
        Assert.Equal(before.KeptIds, after.KeptIds);
        Assert.Equal(before.Drops.Count, after.Drops.Count);
        Assert.Equal(System.Text.Json.JsonSerializer.Serialize(first.Accounting), System.Text.Json.JsonSerializer.Serialize(again.Accounting));
        // Only the output stage ran again: every other phase's tasks were found committed.
        Assert.All(again.Phases.Where(p => !p.Stage.EndsWith("-output", StringComparison.Ordinal)), p => Assert.Equal(p.Total, p.Reused));
        Assert.All(again.Phases.Where(p => p.Stage.EndsWith("-output", StringComparison.Ordinal)), p => Assert.Equal(0, p.Reused));

        // With the output there, running it again only shows it.
        var shown = await cluster.RunAsync(Spec());
        Assert.Equal(again.CompletedAt, shown.CompletedAt);

        // The job's own data gone too (the data folder's jobs/ wiped, its state kept): it runs from the start.
        Directory.Delete(_temp.Combine("lost", "curated", "exact"), recursive: true);
        Directory.Delete(_temp.Combine("lost", "jobs"), recursive: true);
        var fresh = await cluster.RunAsync(Spec());
        Assert.True(fresh.State == JobState.Completed, fresh.Error);
        Assert.Equal(before.ShardHashes, (await CuratedOutput.ReadAsync(stores.DataStore, "curated/exact")).ShardHashes);
        Assert.All(fresh.Phases, p => Assert.Equal(0, p.Reused));
    }

    [Fact]
    public async Task A_refresh_reports_the_snapshot_it_published_and_warns_of_input_objects_that_vanished()
    {
        var stores = Stores("snapshots");
        await using var cluster = await CurationCluster.StartAsync(1, () => stores);
        var spec = Spec("corpus") with { Output = new OutputSpec { Path = "curated/corpus", Snapshots = true } };
        var first = await cluster.RunAsync(spec);
        Assert.True(first.State == JobState.Completed, first.Error);
        Assert.Equal((1, (int?)null, 0L, first.Accounting!.Kept, 12, 0), (first.Snapshot!.Number, first.Snapshot.Previous,
            first.Snapshot.CarriedDocuments, first.Snapshot.NewDocuments, first.Snapshot.ReadObjects, first.Snapshot.VanishedObjects));

        var gone = Directory.GetFiles(_input, "*.jsonl").Order(StringComparer.Ordinal).First();
        File.Delete(gone);
        var second = await cluster.RunAsync(spec with { RunKey = "2" });
        Assert.True(second.State == JobState.Completed, second.Error);
        var snapshot = second.Snapshot!;
        Assert.Equal((2, (int?)1, first.Accounting.Kept, 0L, 0, 11, 1), (snapshot.Number, snapshot.Previous, snapshot.CarriedDocuments,
            snapshot.NewDocuments, snapshot.ReadObjects, snapshot.SkippedObjects, snapshot.VanishedObjects));
        Assert.Contains(second.Warnings, w => w.Contains($"no longer in the inputs ({Path.GetFileName(gone)})", StringComparison.Ordinal));
        Assert.Null(first.Warnings.FirstOrDefault(w => w.Contains("no longer", StringComparison.Ordinal)));
    }
}
