using System.Diagnostics;
using Curation.Pipelines.Execution;
using Curation.Pipelines.IO;
using Curation.Pipelines.Spec;
using Curation.Pipelines.Stages;
using Curation.Pipelines.Storage;
using Curation.Testing;

namespace Curation.Pipelines.Tests.Storage;

/// <summary>
/// A killed writer's temp files (local store parts, spool files) go when a task starts or a job completes, not a day
/// later; a live writer's are kept. The dead writer here is a real process holding the file's lock, SIGKILLed.
/// </summary>
public sealed class OrphanedTempFilesTests : IDisposable
{
    private readonly TempDirectory _temp = new("orphans");

    public void Dispose() => _temp.Dispose();

    /// <summary>A process holding <paramref name="file"/> with an exclusive flock, as a writer does (FileShare.None).</summary>
    private static async Task<Process> HoldAsync(string file)
    {
        var process = Process.Start(new ProcessStartInfo("flock", ["-x", file, "sleep", "120"]) { UseShellExecute = false })!;
        for (var i = 0; i < 200 && !IsLocked(file); i++) await Task.Delay(25);
        Assert.True(IsLocked(file), "the holder did not take the lock");
        return process;
    }

    /// <summary>SIGKILLs the holder and its child (a process dies with everything in it) and waits until the kernel dropped the lock.</summary>
    private static async Task KillAsync(Process holder, string file)
    {
        holder.Kill(entireProcessTree: true);
        await holder.WaitForExitAsync();
        for (var i = 0; i < 200 && IsLocked(file); i++) await Task.Delay(25);
    }

    private static bool IsLocked(string file)
    {
        try { using (new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.None)) { } return false; }
        catch (IOException) { return true; }
    }

    private static void Age(string file) => File.SetLastWriteTimeUtc(file, DateTime.UtcNow.AddMinutes(-5));

    [Fact]
    public async Task A_killed_writers_part_is_swept_and_a_live_writers_part_is_kept()
    {
        var store = new LocalFolderStore(_temp.Combine("data"));
        await store.WriteAsync("warm", (s, ct) => s.WriteAsync(new byte[1], ct).AsTask(), WriteCondition.CreateOnly);
        var dead = _temp.Combine("data", ".tmp", "killed-writer.part");
        await File.WriteAllTextAsync(dead, "half an object");
        using var holder = await HoldAsync(dead);
        Age(dead);
        Assert.Equal(0, store.SweepOrphanedParts()); // its writer is alive
        Assert.True(File.Exists(dead));
        await KillAsync(holder, dead);
        Assert.Equal(1, store.SweepOrphanedParts());
        Assert.False(File.Exists(dead));

        // A write in progress holds its part until it is committed, however old the part looks.
        var release = new TaskCompletionSource();
        var writing = store.WriteAsync("slow", async (s, ct) => { await s.WriteAsync(new byte[10], ct); await release.Task; }, WriteCondition.CreateOnly);
        string part;
        while ((part = Directory.GetFiles(_temp.Combine("data", ".tmp"), "*.part").SingleOrDefault() ?? "") == "") await Task.Delay(10);
        Age(part);
        Assert.Equal(0, store.SweepOrphanedParts());
        release.SetResult();
        Assert.Equal(10, (await writing).Size);
        Assert.Empty(Directory.GetFiles(_temp.Combine("data", ".tmp")));
    }

    [Fact]
    public async Task A_retried_task_clears_what_its_killed_attempt_left_in_the_store_and_the_spool()
    {
        var input = _temp.Combine("corpus");
        Directory.CreateDirectory(input);
        await File.WriteAllTextAsync(Path.Combine(input, "a.jsonl"), "{\"text\":\"one document of the corpus\"}\n");
        var stores = CurationStoreServiceCollectionExtensions.CreateResolver(new CurationStoreOptions { RootPath = _temp.Combine("data") });
        var spec = new JobSpec
        {
            Name = "orphans", Inputs = [new InputSpec { Path = Path.Combine(input, "*.jsonl") }], Stages = [new NormalizeStageSpec()],
            Output = new OutputSpec { Path = "curated/orphans" },
        };
        var job = await JobContext.CreateOrLoadAsync(spec, stores);

        // What a task SIGKILLed mid-write leaves: a store part and a spool file, once held by the dead process.
        Directory.CreateDirectory(_temp.Combine("data", ".tmp"));
        Directory.CreateDirectory(SpoolFile.Folder);
        var part = _temp.Combine("data", ".tmp", $"{Guid.NewGuid():N}.part");
        var spool = Path.Combine(SpoolFile.Folder, $"{Guid.NewGuid():N}.tmp");
        foreach (var file in new[] { part, spool })
        {
            await File.WriteAllTextAsync(file, "half an output");
            using var killed = await HoldAsync(file);
            await KillAsync(killed, file);
            Age(file);
        }

        using var services = StageServices.CreateDefault();
        var stats = await JobExecutor.RunTaskAsync(job, 0, job.Stages[0].Phases(job.Plan)[0].Name, 0, services); // the retry
        Assert.Equal(1, stats.Kept);
        Assert.False(File.Exists(part), "the killed attempt's store part is still there");
        Assert.False(File.Exists(spool), "the killed attempt's spool file is still there");
    }

    [Fact]
    public async Task A_completed_job_clears_what_killed_attempts_left_after_its_last_task()
    {
        var input = _temp.Combine("corpus");
        Directory.CreateDirectory(input);
        await File.WriteAllTextAsync(Path.Combine(input, "a.jsonl"), "{\"text\":\"one document of the corpus\"}\n");
        var stores = CurationStoreServiceCollectionExtensions.CreateResolver(new CurationStoreOptions { RootPath = _temp.Combine("data") });
        var spec = new JobSpec
        {
            Name = "orphans-end", Inputs = [new InputSpec { Path = Path.Combine(input, "*.jsonl") }], Stages = [new NormalizeStageSpec()],
            Output = new OutputSpec { Path = "curated/orphans-end" },
        };
        var job = await JobContext.CreateOrLoadAsync(spec, stores);
        using var services = StageServices.CreateDefault();
        var runner = new JobRunner(job, new LocalTaskDispatcher(job, services), JobRunnerOptions.Local(1));
        await runner.RunAsync();

        // A duplicate attempt of a task, killed after the job's last task ran: no later task start would sweep its files.
        Directory.CreateDirectory(_temp.Combine("data", ".tmp"));
        Directory.CreateDirectory(SpoolFile.Folder);
        var part = _temp.Combine("data", ".tmp", $"{Guid.NewGuid():N}.part");
        var spool = Path.Combine(SpoolFile.Folder, $"{Guid.NewGuid():N}.tmp");
        foreach (var file in new[] { part, spool })
        {
            await File.WriteAllTextAsync(file, "half an output");
            using var killed = await HoldAsync(file);
            await KillAsync(killed, file);
            Age(file);
        }

        var manifest = await runner.FinishAsync();
        Assert.NotNull(manifest);
        Assert.Equal(1, manifest.Accounting.Kept);
        Assert.False(File.Exists(part), "the killed attempt's store part is still there after the job completed");
        Assert.False(File.Exists(spool), "the killed attempt's spool file is still there after the job completed");
    }
}
