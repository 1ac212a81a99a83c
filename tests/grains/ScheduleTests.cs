using System.Runtime.CompilerServices;
using Curation.Grains.Jobs;
using Curation.Grains.Reminders;
using Curation.Grains.Schedules;
using Curation.Pipelines.Spec;
using Curation.Pipelines.Stages;
using Curation.Pipelines.Storage;
using Curation.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace Curation.Grains.Tests;

/// <summary>
/// Schedules on in-process clusters with a fake clock shared by the test and every silo. The reminders are the real
/// Orleans reminder service over the object-store reminder table (so they survive the silo that held them), checking
/// every second of real time; the cron ticks come from the fake clock.
/// </summary>
public sealed class ScheduleTests : IDisposable
{
    private static readonly DateTimeOffset Start = new(2025, 1, 1, 0, 2, 0, TimeSpan.Zero);
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(90);

    private readonly TempDirectory _temp = new("schedules");
    private readonly FakeTimeProvider _clock = new(Start);
    private readonly StoreGate _gate = new();
    private readonly string _input;

    public ScheduleTests()
    {
        _input = _temp.Combine("corpus");
        TestCorpus.Generate(originals: 12, copies: 3).WriteJsonl(_input, files: 2);
    }

    public void Dispose() => _temp.Dispose();

    private JobSpec Spec(string name) => new()
    {
        Name = name,
        Inputs = [new InputSpec { Path = Path.Combine(_input, "*.jsonl"), IdField = "id" }],
        Stages = [new NormalizeStageSpec()],
        Output = new OutputSpec { Path = "curated/" + name },
    };

    private Task<CurationCluster> StartAsync(short silos, IStoreResolver stores) => CurationCluster.StartAsync(silos, () => stores, silo: silo =>
    {
        silo.UseObjectStoreReminderService();
        silo.Configure<ReminderOptions>(o => o.MinimumReminderPeriod = TimeSpan.FromSeconds(1));
        silo.Services.Configure<ScheduleOptions>(o => o.CheckPeriod = TimeSpan.FromSeconds(1));
        silo.Services.AddSingleton(new ScheduleClock(_clock));
    });

    /// <summary>The data store, with reads of the input corpus held while <see cref="_gate"/> is closed (a run that is "still going").</summary>
    private IStoreResolver Stores() => new GatedResolver(
        CurationStoreServiceCollectionExtensions.CreateResolver(new CurationStoreOptions { RootPath = _temp.Combine("data") }), _gate,
        call => !call.InDataStore && !call.IsWrite);

    private static ScheduleDefinition Definition(JobSpec spec, OverlapPolicy overlap = OverlapPolicy.Skip) =>
        new() { SpecJson = spec.ToJson(), Cron = "*/5 * * * *", TimeZone = "Europe/Paris", Overlap = overlap };

    private static DateTimeOffset Tick(int n) => new DateTimeOffset(2025, 1, 1, 0, 0, 0, TimeSpan.Zero).AddMinutes(5 * n);

    /// <summary>The ids of every job the cluster knows whose name is <paramref name="name"/>.</summary>
    private static async Task<List<string>> JobsNamedAsync(IStoreResolver stores, string name)
    {
        var ids = new List<string>();
        await foreach (var (id, state) in new ObjectStoreJobRegistry(stores).ListAsync())
            if (state.Name == name) ids.Add(id);
        return ids.Order(StringComparer.Ordinal).ToList();
    }

    private static async Task<ScheduleStatus> WaitAsync(IScheduleGrain schedule, Func<ScheduleStatus, bool> until, string what,
        [CallerArgumentExpression(nameof(until))] string? condition = null)
    {
        using var deadline = new CancellationTokenSource(Wait);
        ScheduleStatus status;
        while (!until(status = await schedule.Get()))
        {
            try { await Task.Delay(200, deadline.Token); }
            catch (OperationCanceledException)
            {
                throw new TimeoutException($"{what}: {condition} not reached after {Wait}; last run {status.LastRun}, skipped {status.SkippedTicks}, queued {status.QueuedTick}");
            }
        }
        return status;
    }

    [Fact]
    public async Task A_schedule_fires_exactly_once_per_tick_on_three_silos_and_survives_a_restart_of_its_silo()
    {
        var stores = Stores();
        await using var cluster = await StartAsync(3, stores);
        var spec = Spec("tick");
        var schedule = cluster.Client.GetGrain<IScheduleGrain>("every-5");
        var created = await schedule.Put(Definition(spec));
        Assert.Equal(Tick(1), created.NextRun);
        Assert.Null(created.LastRun);

        // Nothing is due before the first tick, however often the reminder checks.
        await Task.Delay(TimeSpan.FromSeconds(2.5));
        Assert.Empty(await JobsNamedAsync(stores, "tick"));

        var expected = new List<string>();
        async Task AdvanceToTickAsync(int n)
        {
            _clock.SetUtcNow(Tick(n).AddMinutes(2)); // two minutes past the tick: it is due
            // Only the reminder fires it: wait on the store, without touching the schedule grain.
            var jobId = ScheduleRules.JobIdForTick(spec, Tick(n));
            using (var deadline = new CancellationTokenSource(Wait))
                while (!(await JobsNamedAsync(stores, "tick")).Contains(jobId))
                    await Task.Delay(200, deadline.Token);
            expected.Add(jobId);
            Assert.Equal(JobState.Completed, (await CurationCluster.WaitAsync(cluster.Client.GetGrain<IJobGrain>(jobId), Wait)).State);

            // Duplicate deliveries for the same cron tick (a retried reminder, a second caller), and more reminder
            // checks at the same fake time: nothing more runs.
            var duplicates = await Task.WhenAll(Enumerable.Range(0, 3).Select(_ => schedule.Tick()));
            Assert.All(duplicates, d => Assert.Equal(Tick(n), d.LastRun?.Tick));
            await Task.Delay(TimeSpan.FromSeconds(2.5));
            var status = await schedule.Get();
            Assert.Equal(jobId, status.LastRun!.JobId);
            Assert.Equal(JobState.Completed, status.LastRun.State);
            Assert.Equal(Tick(n + 1), status.NextRun);
            Assert.Equal(expected.Order(StringComparer.Ordinal), await JobsNamedAsync(stores, "tick"));
        }

        await AdvanceToTickAsync(1);
        await AdvanceToTickAsync(2);
        await AdvanceToTickAsync(3);

        // Kill the silo that hosts the schedule (and maybe holds its reminder's timer), start a new one: the reminder,
        // kept in the data store, is picked up by the silo now owning its range, and the next tick fires once.
        var address = await cluster.Client.GetGrain<IManagementGrain>(0).GetActivationAddress(schedule);
        Assert.NotNull(address);
        var host = cluster.Cluster.Silos.Single(s => s.SiloAddress.Equals(address));
        await cluster.Cluster.KillSiloAsync(host);
        await cluster.Cluster.StartAdditionalSiloAsync();
        Assert.Single(await stores.DataStore.ListAsync(ObjectStoreReminderTable.Prefix).ToListAsync());
        await AdvanceToTickAsync(4);

        var final = await schedule.Get();
        Assert.Equal(4, final.Runs.Count);
        Assert.Equal([Tick(4), Tick(3), Tick(2), Tick(1)], final.Runs.Select(r => r.Tick));
        Assert.Equal(0, final.SkippedTicks);
        Assert.Equal(expected.Order(StringComparer.Ordinal), await JobsNamedAsync(stores, "tick"));
        // Each run published its own corpus: {output}/runs/{tick}.
        Assert.NotNull(await stores.DataStore.GetInfoAsync($"curated/tick/runs/{ScheduleRules.RunKeyOf(Tick(4))}/manifest.json"));

        // Paused, a tick is not fired (nor later); resumed, the next one is.
        await schedule.Pause();
        _clock.SetUtcNow(Tick(5).AddMinutes(2));
        await Task.Delay(TimeSpan.FromSeconds(2.5));
        Assert.Equal(Tick(4), (await schedule.Tick()).LastRun!.Tick);
        var resumed = await schedule.Resume();
        Assert.Equal(Tick(6), resumed.NextRun);
        await AdvanceToTickAsync(6);
        Assert.Equal(5, (await JobsNamedAsync(stores, "tick")).Count);

        await schedule.Delete();
        Assert.False((await schedule.Get()).Exists);
        Assert.Empty(await ScheduleRegistry.IdsAsync(stores.DataStore));
    }

    [Fact]
    public async Task While_a_run_is_still_going_skip_skips_the_tick_and_queue_runs_exactly_one_after_it()
    {
        var stores = Stores();
        await using var cluster = await StartAsync(1, stores);
        var skipSpec = Spec("skipper");
        var queueSpec = Spec("queuer");
        var skip = cluster.Client.GetGrain<IScheduleGrain>("skip");
        var queue = cluster.Client.GetGrain<IScheduleGrain>("queue");
        await skip.Put(Definition(skipSpec, OverlapPolicy.Skip));
        await queue.Put(Definition(queueSpec, OverlapPolicy.Queue));
        Assert.Equal(new[] { "queue", "skip" }, await ScheduleRegistry.IdsAsync(stores.DataStore));

        _gate.Close(); // runs cannot read their input: they stay Running
        _clock.SetUtcNow(Tick(1).AddMinutes(1));
        await WaitAsync(skip, s => s.LastRun is { State: JobState.Running } r && r.Tick == Tick(1), "skip: first run going");
        await WaitAsync(queue, s => s.LastRun is { State: JobState.Running } r && r.Tick == Tick(1), "queue: first run going");

        _clock.SetUtcNow(Tick(2).AddMinutes(1));
        var skipped = await WaitAsync(skip, s => s.SkippedTicks == 1, "skip: tick 2 skipped");
        Assert.Equal(Tick(2), skipped.LastSkippedTick);
        var queued = await WaitAsync(queue, s => s.QueuedTick == Tick(2), "queue: tick 2 queued");
        Assert.Equal(0, queued.SkippedTicks);

        // Another tick while one is already queued: queue keeps one waiting and skips the rest.
        _clock.SetUtcNow(Tick(3).AddMinutes(1));
        await WaitAsync(skip, s => s.SkippedTicks == 2, "skip: tick 3 skipped");
        queued = await WaitAsync(queue, s => s.SkippedTicks == 1, "queue: tick 3 skipped");
        Assert.Equal(Tick(2), queued.QueuedTick);
        Assert.Equal(Tick(1), queued.LastRun!.Tick);

        _gate.Open();
        var afterQueue = await WaitAsync(queue, s => s.LastRun is { State: JobState.Completed, WasQueued: true } r && r.Tick == Tick(2), "queue: tick 2 ran");
        Assert.Null(afterQueue.QueuedTick);
        Assert.Equal([Tick(2), Tick(1)], afterQueue.Runs.Select(r => r.Tick));
        Assert.Equal(JobState.Completed, afterQueue.Runs[1].State);
        await WaitAsync(skip, s => s.LastRun?.State == JobState.Completed, "skip: tick 1 ran");
        await Task.Delay(TimeSpan.FromSeconds(2.5));

        Assert.Equal([ScheduleRules.JobIdForTick(skipSpec, Tick(1))], await JobsNamedAsync(stores, "skipper"));
        Assert.Equal(new[] { ScheduleRules.JobIdForTick(queueSpec, Tick(1)), ScheduleRules.JobIdForTick(queueSpec, Tick(2)) }.Order(StringComparer.Ordinal),
            await JobsNamedAsync(stores, "queuer"));
        Assert.Single((await skip.Get()).Runs);
    }

    [Fact]
    public void Invalid_schedules_name_the_field()
    {
        var spec = Spec("bad");
        Assert.Empty(ScheduleRules.Validate("ok", Definition(spec)));
        Assert.Equal(["id"], ScheduleRules.Validate("no/slash", Definition(spec)).Select(e => e.Field));
        Assert.Equal(["cron"], ScheduleRules.Validate("ok", Definition(spec) with { Cron = "61 * * * *" }).Select(e => e.Field));
        Assert.Equal(["cron"], ScheduleRules.Validate("ok", Definition(spec) with { Cron = "" }).Select(e => e.Field));
        // Valid syntax that no date matches was accepted and showed "next run: none" forever.
        var never = Assert.Single(ScheduleRules.Validate("ok", Definition(spec) with { Cron = "0 3 30 2 *" }));
        Assert.Equal(("cron", "'0 3 30 2 *' never fires: no date matches its day-of-month and month (such as 30 or 31 February)"), (never.Field, never.Message));
        Assert.Empty(ScheduleRules.Validate("ok", Definition(spec) with { Cron = "0 3 29 2 *" })); // leap days come
        Assert.Equal(["timeZone"], ScheduleRules.Validate("ok", Definition(spec) with { TimeZone = "Mars/Olympus" }).Select(e => e.Field));
        Assert.Equal(["spec.runKey"], ScheduleRules.Validate("ok", Definition(spec with { RunKey = "x" })).Select(e => e.Field));
        Assert.Equal(["spec.name"], ScheduleRules.Validate("ok", Definition(spec with { Name = "a b" })).Select(e => e.Field));
        Assert.Contains(ScheduleRules.Validate("ok", Definition(spec) with { SpecJson = "{\"name\":\"x\",\"bogus\":1}" }), e => e.Field.StartsWith("spec", StringComparison.Ordinal));
    }

    [Fact]
    public void Ticks_follow_the_time_zone_and_the_run_key_is_the_UTC_minute()
    {
        // 02:30 every day in Paris: 01:30 UTC in winter, 00:30 UTC in summer.
        var winter = ScheduleRules.NextAfter("30 2 * * *", "Europe/Paris", new DateTimeOffset(2025, 1, 10, 0, 0, 0, TimeSpan.Zero));
        Assert.Equal(new DateTimeOffset(2025, 1, 10, 1, 30, 0, TimeSpan.Zero), winter);
        var summer = ScheduleRules.NextAfter("30 2 * * *", "Europe/Paris", new DateTimeOffset(2025, 7, 10, 0, 0, 0, TimeSpan.Zero));
        Assert.Equal(new DateTimeOffset(2025, 7, 10, 0, 30, 0, TimeSpan.Zero), summer);
        Assert.Equal("20250710T0030Z", ScheduleRules.RunKeyOf(summer!.Value));
        // Clocks go forward (30 March 2025, 02:00 → 03:00): 02:30 does not exist and runs at the jump, 01:00 UTC.
        Assert.Equal(new DateTimeOffset(2025, 3, 30, 1, 0, 0, TimeSpan.Zero),
            ScheduleRules.NextAfter("30 2 * * *", "Europe/Paris", new DateTimeOffset(2025, 3, 30, 0, 0, 0, TimeSpan.Zero)));
        // Clocks go back (26 October 2025, 03:00 → 02:00): 02:30 happens twice and runs once.
        var autumn = ScheduleRules.Due("30 2 * * *", "Europe/Paris", new DateTimeOffset(2025, 10, 25, 12, 0, 0, TimeSpan.Zero),
            new DateTimeOffset(2025, 10, 26, 12, 0, 0, TimeSpan.Zero)).ToList();
        Assert.Equal([new DateTimeOffset(2025, 10, 26, 0, 30, 0, TimeSpan.Zero)], autumn);
        var due = ScheduleRules.Due("*/5 * * * *", "UTC", Start, Start.AddMinutes(11)).ToList();
        Assert.Equal([Tick(1), Tick(2)], due);
        var spec = Spec("keyed");
        Assert.NotEqual(ScheduleRules.JobIdForTick(spec, Tick(1)), ScheduleRules.JobIdForTick(spec, Tick(2)));
        Assert.Equal(ScheduleRules.JobIdForTick(spec, Tick(1)), ScheduleRules.JobIdForTick(spec, Tick(1)));
        Assert.Equal("curated/keyed/runs/20250101T0005Z", ScheduleRules.SpecForTick(spec, Tick(1)).Output.Path);
    }

    [Fact]
    public async Task Scheduled_ticks_of_a_versioned_corpus_are_incremental_refreshes_that_publish_one_snapshot_each()
    {
        var stores = Stores();
        await using var cluster = await StartAsync(3, stores);
        var spec = Spec("corpus") with
        {
            Stages = [new NormalizeStageSpec(), new ExactDedupStageSpec { Partitions = 2 }],
            Output = new OutputSpec { Path = "curated/corpus", Snapshots = true },
        };
        Assert.Equal(spec.Output.Path, ScheduleRules.SpecForTick(spec, Tick(1)).Output.Path); // a corpus keeps its path
        var schedule = cluster.Client.GetGrain<IScheduleGrain>("corpus-refresh");
        await schedule.Put(Definition(spec));

        async Task<JobStatus> RunTickAsync(int n)
        {
            _clock.SetUtcNow(Tick(n).AddMinutes(2));
            var status = await WaitAsync(schedule, s => s.LastRun?.Tick == Tick(n) && s.LastRun.State is JobState.Completed or JobState.Failed, $"tick {n}");
            var job = await CurationCluster.WaitAsync(cluster.Client.GetGrain<IJobGrain>(status.LastRun!.JobId), Wait);
            Assert.True(job.State == JobState.Completed, job.Error);
            return job;
        }

        var first = await RunTickAsync(1);
        // New data arrives between ticks: one new object holding one new document and an exact copy of a curated one.
        var curated = File.ReadLines(Directory.GetFiles(_input, "*.jsonl").Order(StringComparer.Ordinal).First()).First();
        var copyText = System.Text.Json.JsonDocument.Parse(curated).RootElement.GetProperty("text").GetString();
        File.WriteAllLines(Path.Combine(_input, "z-new.jsonl"),
        [
            System.Text.Json.JsonSerializer.Serialize(new { id = "new-unique", text = "A brand new document that nobody curated before, about refreshes." }),
            System.Text.Json.JsonSerializer.Serialize(new { id = "new-copy", text = copyText }),
        ]);
        var second = await RunTickAsync(2);

        var snapshots = await Curation.Pipelines.Execution.CorpusSnapshots.ListAsync(stores, spec.Output.Path);
        Assert.Equal([2, 1], snapshots.Select(s => s.Snapshot));
        Assert.True(snapshots[0].IsCurrent);
        Assert.Equal(2, second.Accounting!.InputRecords);          // only the new object was read
        Assert.Equal(1, second.Accounting.Kept);                   // its copy of a curated document was dropped
        Assert.Equal(first.Accounting!.Kept + 1, snapshots[0].Documents);
    }
}
