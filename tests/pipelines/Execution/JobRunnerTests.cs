using System.Collections.Concurrent;
using Curation.Pipelines.Execution;
using Curation.Pipelines.Spec;
using Curation.Pipelines.Stages;
using Curation.Pipelines.Storage;
using Curation.Testing;
using Xunit.Abstractions;

namespace Curation.Pipelines.Tests.Execution;

/// <summary>
/// The coordinators' <see cref="JobRunner"/> with a dispatcher that runs the real tasks in this process and fails at
/// random (seeded, the seed printed): retries, the failure policy, committed tasks, converged rounds, fan-out and progress.
/// </summary>
public sealed class JobRunnerTests : IDisposable
{
    private static readonly Lazy<TestCorpus> Corpus = new(() => TestCorpus.Generate(originals: 240, copies: 80, seed: 13));
    private readonly ITestOutputHelper _log;
    private readonly TempDirectory _temp = new("runner");
    private readonly string _input;
    private readonly StageServices _services = StageServices.CreateDefault();

    public JobRunnerTests(ITestOutputHelper log)
    {
        _log = log;
        _input = _temp.Combine("corpus");
        Corpus.Value.WriteJsonl(_input, files: 4);
    }

    public void Dispose()
    {
        _services.Dispose();
        _temp.Dispose();
    }

    private JobSpec Spec() => new()
    {
        Name = "runner",
        Inputs = [new InputSpec { Path = Path.Combine(_input, "*.jsonl"), IdField = "id" }],
        Sharding = new ShardingSpec { TargetShardBytes = 16 * 1024 },
        Stages = [new NormalizeStageSpec(), new ExactDedupStageSpec { Partitions = 3 }, new NearDedupStageSpec { Partitions = 2, OneTaskComponentsEdges = 0 }],
        Output = new OutputSpec { Path = "curated/runner" },
    };

    private IStoreResolver Stores(string name) =>
        CurationStoreServiceCollectionExtensions.CreateResolver(new CurationStoreOptions { RootPath = _temp.Combine(name) });

    /// <summary>Repeats a run's random choices: the seed it printed.</summary>
    public const string SeedVariable = "CURATION_RUNNER_SEED";

    private int Seed()
    {
        var seed = int.TryParse(Environment.GetEnvironmentVariable(SeedVariable), out var given) ? given : Environment.TickCount & 0x7fffffff;
        _log.WriteLine($"seed {seed} ({SeedVariable}={seed} repeats these choices)");
        return seed;
    }

    private static readonly JobRunnerOptions Fast = new()
    {
        MaxTasksInFlight = 3, MaxTaskAttempts = 4, RetryDelay = TimeSpan.Zero, WorkerLossRetryTime = TimeSpan.FromMinutes(1),
        MaxWorkerLossBackoff = TimeSpan.FromMilliseconds(1),
    };

    private async Task<CuratedOutput> CleanOutputAsync()
    {
        var stores = Stores("clean");
        if (await stores.DataStore.GetInfoAsync("curated/runner/" + Manifest.FileName) is null)
            await InProcessJob.RunAsync(Spec(), stores, _services);
        return await CuratedOutput.ReadAsync(stores.DataStore, "curated/runner");
    }

    [Fact]
    public async Task A_runner_plans_the_jobs_phases_in_order_and_refuses_settings_it_cannot_run_with()
    {
        var job = await JobContext.CreateOrLoadAsync(Spec(), Stores("plan"));
        var runner = new JobRunner(job, new LocalTaskDispatcher(job, _services), Fast);
        Assert.Equal(job.Phases().Select(p => (p.Stage.Folder, p.Phase.Name, p.Phase.TaskCount)),
            runner.Phases.Select(p => (p.Stage.Folder, p.Info.Name, p.Info.TaskCount)));
        Assert.Equal(Enumerable.Range(0, runner.Phases.Count), runner.Phases.Select(p => p.Index));
        Assert.Equal(runner.Phases.Select(p => (p.Stage.Folder, p.Info.Name, p.Info.TaskCount)),
            runner.Tallies.Select(t => (t.Stage, t.Phase, t.Total)));
        Assert.All(runner.Tallies, t => Assert.Equal(0, t.Done));
        Assert.Null(runner.Running);

        var error = Assert.Throws<ArgumentException>(() => new JobRunner(job, new LocalTaskDispatcher(job, _services),
            new JobRunnerOptions { MaxTasksInFlight = 0, MaxTaskAttempts = 0, SettingsSection = "Curation:Execution" }));
        Assert.Contains("Curation:Execution:MaxTasksInFlight must be ≥ 1", error.Message);
        Assert.Contains("Curation:Execution:MaxTaskAttempts must be ≥ 1", error.Message);
    }

    [Fact]
    public async Task A_stage_fused_into_the_read_is_marked_so_its_time_is_not_read_as_its_own_wall_time()
    {
        // normalize runs inside the read's pass: its tasks only return the stats that pass recorded (its transform's
        // seconds), so its phase's wall time was a few milliseconds and its documents per second in the millions.
        var stores = Stores("fused-tally");
        var job = await JobContext.CreateOrLoadAsync(Spec(), stores);
        var runner = new JobRunner(job, new LocalTaskDispatcher(job, _services), Fast);
        using (FusedDocumentPass.Use(true))
            await runner.RunAsync();
        var fused = runner.Tallies.Where(t => t.Fused).Select(t => $"{t.Stage}/{t.Phase}").ToList();
        Assert.Equal(["01-normalize/apply"], fused);
        var normalize = runner.Tallies.Single(t => t.Fused);
        Assert.True(normalize.TaskSeconds > 0 && normalize.DocumentsIn > 0);

        var unfusedJob = await JobContext.CreateOrLoadAsync(Spec(), Stores("unfused-tally"));
        var unfused = new JobRunner(unfusedJob, new LocalTaskDispatcher(unfusedJob, _services), Fast);
        using (FusedDocumentPass.Use(false))
            await unfused.RunAsync();
        Assert.DoesNotContain(unfused.Tallies, t => t.Fused);
    }

    [Fact]
    public async Task Tasks_that_fail_at_random_or_lose_their_worker_are_retried_and_the_output_is_the_clean_runs()
    {
        var reference = await CleanOutputAsync();
        var stores = Stores("flaky");
        var job = await JobContext.CreateOrLoadAsync(Spec(), stores);
        var dispatcher = new FlakyDispatcher(job, _services, new Random(Seed())) { FailureRate = 0.15, LossRate = 0.1 };
        var runner = new JobRunner(job, dispatcher, Fast with { MaxTaskAttempts = 12 }); // 0.15^12: never exhausted by chance
        await runner.RunAsync();

        var output = await CuratedOutput.ReadAsync(stores.DataStore, "curated/runner");
        Assert.Equal(reference.ShardHashes, output.ShardHashes);
        Assert.Equal(reference.KeptIds, output.KeptIds);
        Assert.Equal(reference.Drops, output.Drops);

        var tallies = runner.Tallies;
        _log.WriteLine($"{dispatcher.Calls.Count} calls, {dispatcher.Failures} failures, {dispatcher.Losses} lost, at most {dispatcher.MaxConcurrent} at once");
        Assert.True(dispatcher.Failures + dispatcher.Losses > 0, "the dispatcher injected no failure");
        Assert.Equal(dispatcher.Failures + dispatcher.Losses, tallies.Sum(t => t.Retries));
        Assert.All(tallies, t => Assert.Equal(t.Total, t.Done));
        Assert.InRange(dispatcher.MaxConcurrent, 1, Fast.MaxTasksInFlight);

        // Routing: each dispatch of a task gets the next call number (a fresh worker), with its phase as declared.
        foreach (var group in dispatcher.Calls.GroupBy(c => c.Task))
            Assert.Equal(Enumerable.Range(1, group.Count()), group.Select(c => c.Call).Order());
        var declared = runner.Phases.ToDictionary(p => (p.Stage.Index, p.Info.Name), p => p.Info);
        Assert.All(dispatcher.Calls, c => Assert.Same(declared[(c.Task.Stage, c.Task.Phase)], c.Phase));
    }

    [Fact]
    public async Task A_task_failing_on_its_own_every_attempt_fails_the_run_naming_it_and_a_rerun_resumes()
    {
        var reference = await CleanOutputAsync();
        var stores = Stores("failing");
        var job = await JobContext.CreateOrLoadAsync(Spec(), stores);
        var random = new Random(Seed());
        var phases = job.Phases().ToList();
        var candidates = phases.Where(p => p.Stage.Index is > 0 and <= 2).ToList(); // normalize and exact dedup: always dispatched
        var (stage, phase) = candidates[random.Next(candidates.Count)];
        var doomed = new TaskRef(job.JobId, stage.Index, phase.Name, random.Next(phase.TaskCount));
        _log.WriteLine($"failing {doomed}");
        var dispatcher = new FlakyDispatcher(job, _services, random) { AlwaysFails = doomed };

        var error = await Assert.ThrowsAsync<TaskFailedException>(() => new JobRunner(job, dispatcher, Fast with { SettingsSection = "Test" }).RunAsync());
        Assert.Contains(doomed.ToString(), error.Message);
        Assert.Contains("failed 4 time(s) on its own (Test:MaxTaskAttempts = 4)", error.Message);
        Assert.Contains(FlakyDispatcher.InjectedMessage, error.Message);
        Assert.Equal(4, dispatcher.Calls.Count(c => c.Task == doomed));
        // The phase stopped there: nothing after it was dispatched.
        var failedAt = phases.FindIndex(p => p.Stage.Index == doomed.Stage && p.Phase.Name == doomed.Phase);
        var later = phases.Skip(failedAt + 1).Select(p => (p.Stage.Index, p.Phase.Name)).ToHashSet();
        Assert.DoesNotContain(dispatcher.Calls, c => later.Contains((c.Task.Stage, c.Task.Phase)));

        var healthy = new FlakyDispatcher(job, _services, random);
        var rerun = new JobRunner(job, healthy, Fast);
        await rerun.RunAsync();
        var output = await CuratedOutput.ReadAsync(stores.DataStore, "curated/runner");
        Assert.Equal(reference.ShardHashes, output.ShardHashes);
        Assert.Equal(reference.Drops, output.Drops);
        Assert.True(rerun.Tallies.Sum(t => t.Reused) > 0, "the rerun recomputed every task");
    }

    [Fact]
    public async Task A_lost_worker_costs_no_attempt_and_a_worker_lost_for_good_fails_the_run_naming_the_setting()
    {
        var stores = Stores("lost");
        var job = await JobContext.CreateOrLoadAsync(Spec(), stores);
        var random = new Random(Seed());
        var once = Fast with { MaxTaskAttempts = 1 };
        var lossy = new FlakyDispatcher(job, _services, random) { LossRate = 0.3 };
        await new JobRunner(job, lossy, once).RunAsync();
        Assert.True(lossy.Losses > 0);
        Assert.Equal((await CleanOutputAsync()).ShardHashes, (await CuratedOutput.ReadAsync(stores.DataStore, "curated/runner")).ShardHashes);

        var other = await JobContext.CreateOrLoadAsync(Spec() with { Name = "runner-lost" }, Stores("lost-for-good"));
        var gone = new TaskRef(other.JobId, 0, other.Stages[0].Phases(other.Plan)[0].Name, 0);
        var dead = new FlakyDispatcher(other, _services, random) { AlwaysLost = gone };
        var settings = once with
        {
            WorkerLossRetryTime = TimeSpan.FromMilliseconds(300),
            SettingsSection = "Curation:Execution",
            SettingNames = new Dictionary<string, string> { [nameof(JobRunnerOptions.WorkerLossRetryTime)] = "SiloLossRetryTime" },
        };
        var error = await Assert.ThrowsAsync<WorkerLossTimeoutException>(() => new JobRunner(other, dead, settings).RunAsync());
        Assert.Contains(gone.ToString(), error.Message);
        Assert.Contains("Curation:Execution:SiloLossRetryTime", error.Message);
        Assert.True(dead.Calls.Count(c => c.Task == gone) > 1, "a lost worker was not dispatched again");
    }

    [Fact]
    public async Task Committed_tasks_are_read_not_dispatched_and_converged_rounds_are_not_dispatched()
    {
        var stores = Stores("committed");
        var job = await JobContext.CreateOrLoadAsync(Spec(), stores);
        var first = new FlakyDispatcher(job, _services, new Random(1));
        var run = new JobRunner(job, first, Fast);
        await run.RunAsync();

        // Converged connected-components rounds: counted as 0 tasks and never dispatched.
        var skipped = run.Tallies.Where(t => t.Total == 0).Select(t => t.Phase).ToHashSet();
        _log.WriteLine($"skipped: {string.Join(", ", skipped)}");
        Assert.NotEmpty(skipped);
        Assert.All(skipped, p => Assert.StartsWith(NearDedupStage.RoundPhasePrefix, p, StringComparison.Ordinal));
        Assert.DoesNotContain(first.Calls, c => skipped.Contains(c.Task.Phase));
        Assert.Equal(run.Tallies.Sum(t => t.Total), first.Calls.Count);

        // Run again: every task is found committed, none dispatched, the same counters as reused.
        var again = new FlakyDispatcher(job, _services, new Random(1)) { FailureRate = 1 };
        var rerun = new JobRunner(job, again, Fast);
        await rerun.RunAsync();
        Assert.Empty(again.Calls);
        Assert.Equal(run.Tallies.Select(t => (t.Stage, t.Phase, t.Total, t.Done, t.DocumentsIn)),
            rerun.Tallies.Select(t => (t.Stage, t.Phase, t.Total, t.Done, t.DocumentsIn)));
        Assert.All(rerun.Tallies, t => Assert.Equal(t.Done, t.Reused));
    }

    [Fact]
    public async Task Progress_of_the_running_phase_counts_its_unfinished_tasks_only()
    {
        var job = await JobContext.CreateOrLoadAsync(Spec(), Stores("progress"));
        var held = new TaskCompletionSource();
        var started = new TaskCompletionSource();
        var dispatcher = new FlakyDispatcher(job, _services, new Random(1)) { Hold = (task => task.Task == 0, started, held.Task) };
        var runner = new JobRunner(job, dispatcher, Fast);
        var run = runner.RunAsync(CancellationToken.None, maxPhases: 1);
        await started.Task.WaitAsync(TimeSpan.FromMinutes(1));

        var phase = runner.Running!;
        var task0 = phase.Task(job.JobId, 0);
        Assert.False(runner.ReportProgress(task0 with { Phase = "elsewhere" }, new TaskProgressSample(5, 50, 10, 100)));
        Assert.True(runner.ReportProgress(task0, new TaskProgressSample(5, 50, 10, 100)));
        await WaitUntilAsync(() => runner.Tallies[0].Done == phase.Info.TaskCount - 1);
        var pace = runner.Pace()[0];
        Assert.Equal(1, pace.Running);
        Assert.Equal(5, pace.InFlightDocuments);
        Assert.Equal((phase.Info.TaskCount - 1 + 0.5) / phase.Info.TaskCount, pace.Fraction, 6);

        held.SetResult();
        await run;
        Assert.Null(runner.Running);
        Assert.False(runner.ReportProgress(task0, new TaskProgressSample(10, 100, 10, 100))); // late: not counted twice
        Assert.Equal(0, runner.Pace()[0].InFlightDocuments);
        Assert.Equal(1, runner.Pace()[0].Fraction);
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (!condition())
        {
            if (clock.Elapsed > TimeSpan.FromMinutes(1)) throw new TimeoutException("the condition never held");
            await Task.Delay(10);
        }
    }

    /// <summary>
    /// Runs tasks in this process like <see cref="LocalTaskDispatcher"/>, and fails some: before the task runs, or after it
    /// committed (the answer lost), on its own or as a lost worker. Records every call and the most calls at once.
    /// </summary>
    private sealed class FlakyDispatcher(JobContext job, StageServices services, Random random) : ITaskDispatcher
    {
        public const string InjectedMessage = "injected failure";
        private readonly Lock _lock = new();
        private int _running;

        public double FailureRate { get; init; }
        public double LossRate { get; init; }
        public TaskRef? AlwaysFails { get; init; }
        public TaskRef? AlwaysLost { get; init; }
        public (Func<TaskRef, bool> Which, TaskCompletionSource Started, Task Until)? Hold { get; init; }
        public ConcurrentQueue<(TaskRef Task, PhaseInfo Phase, int Call)> Calls { get; } = new();
        public int Failures { get; private set; }
        public int Losses { get; private set; }
        public int MaxConcurrent { get; private set; }

        public async Task<TaskStats> RunAsync(TaskRef task, PhaseInfo phase, int call, CancellationToken cancellationToken)
        {
            Calls.Enqueue((task, phase, call));
            double roll, when;
            lock (_lock)
            {
                roll = random.NextDouble();
                when = random.NextDouble();
                MaxConcurrent = Math.Max(MaxConcurrent, ++_running);
            }
            try
            {
                if (task == AlwaysFails) throw new InvalidOperationException(InjectedMessage);
                if (task == AlwaysLost) throw new LostWorkerException();
                var fails = roll < FailureRate;
                var lost = !fails && roll < FailureRate + LossRate;
                if ((fails || lost) && when < 0.5) Throw(lost); // before the task ran
                if (Hold is { } hold && hold.Which(task))
                {
                    hold.Started.TrySetResult();
                    await hold.Until.WaitAsync(cancellationToken);
                }
                var stats = await Task.Run(() => JobExecutor.RunTaskAsync(job, task.Stage, task.Phase, task.Task, services, cancellationToken), cancellationToken);
                if (fails || lost) Throw(lost); // after it committed: the answer was lost
                return stats;
            }
            finally
            {
                lock (_lock) _running--;
            }
        }

        private void Throw(bool lost)
        {
            lock (_lock)
            {
                if (lost) Losses++;
                else Failures++;
            }
            throw lost ? new LostWorkerException() : new InvalidOperationException(InjectedMessage);
        }

        public bool IsWorkerLoss(Exception error) => error is LostWorkerException;
    }

    private sealed class LostWorkerException() : Exception("the worker is gone");
}
