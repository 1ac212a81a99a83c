using System.Text.Json;
using Curation.Pipelines.Execution;
using Curation.Pipelines.Storage;
using Curation.Testing;

namespace Curation.Silo.Tests;

/// <summary>
/// <c>curate run</c> on a versioned corpus: running the same spec again shows the completed job and says how to refresh;
/// <c>--run-key</c> makes the next refresh, which reads only the new input object.
/// </summary>
public sealed class RunCommandCliTests(Xunit.Abstractions.ITestOutputHelper log) : IDisposable
{
    private readonly TempDirectory _temp = new("run-command");

    public void Dispose() => _temp.Dispose();

    /// <summary><c>curate</c> in its own process, its output redirected (as in a CI log: COLUMNS=200, so lines are not wrapped).</summary>
    private static Task<(int Code, string Output)> CurateAsync(string workingDirectory, params string[] args) =>
        CliTests.CurateAsync(workingDirectory, new Dictionary<string, string>(), args);

    [Fact]
    public async Task Running_a_completed_versioned_job_again_says_how_to_refresh_and_run_key_refreshes()
    {
        var job = new SmallJob(_temp.Combine("corpus-job"), "refresh", originals: 30, copies: 5, files: 2);
        var specFile = Path.Combine(job.Folder, "job.json");
        await File.WriteAllTextAsync(specFile, job.SpecJson(snapshots: true));
        var data = _temp.Combine("data");

        var first = await CurateAsync(job.Folder, "run", specFile, "--data", data);
        Assert.True(first.Code == 0, first.Output);
        Assert.DoesNotContain("already completed", first.Output, StringComparison.Ordinal);
        var firstKept = first.Output.Split('\n').Single(l => l.StartsWith("snapshot 1 ", StringComparison.Ordinal));
        Assert.Matches(@"^snapshot 1 \(the corpus' first\): (\d+) documents = 0 carried \+ \1 new; input objects: 2 read$", firstKept.TrimEnd());
        var kept = int.Parse(firstKept.Split(' ')[5], System.Globalization.CultureInfo.InvariantCulture);

        // New input: two new documents and an exact copy of one already in the corpus.
        var known = File.ReadLines(Directory.EnumerateFiles(Path.Combine(job.Folder, "corpus")).Order(StringComparer.Ordinal).First())
            .Select(line => JsonDocument.Parse(line).RootElement.GetProperty("text").GetString()!).First(t => t.Length > 40);
        await File.WriteAllLinesAsync(Path.Combine(job.Folder, "corpus", "new.jsonl"),
        [
            JsonSerializer.Serialize(new { id = "new-1", text = "A river runs through the valley below the old stone bridge every spring." }),
            JsonSerializer.Serialize(new { id = "new-2", text = "The library opens at nine and closes late on Thursdays for the reading club." }),
            JsonSerializer.Serialize(new { id = "new-3", text = known }),
        ]);

        // The same spec is the same job: shown as completed, the new file not read, and the way to refresh said.
        var again = await CurateAsync(job.Folder, "run", specFile, "--data", data);
        Assert.True(again.Code == 0, again.Output);
        Assert.Contains("This job had already completed: to refresh the corpus with new or changed input, run again with --run-key", again.Output,
            StringComparison.Ordinal);
        var store = new LocalFolderStore(data);
        Assert.Equal(1, (await CorpusSnapshots.ReadCurrentAsync(store, "curated/refresh")).Value!.Snapshot);

        var refresh = await CurateAsync(job.Folder, "run", specFile, "--data", data, "--run-key", "2026-12-07");
        Assert.True(refresh.Code == 0, refresh.Output);
        Assert.DoesNotContain("already completed", refresh.Output, StringComparison.Ordinal);
        Assert.Equal(2, (await CorpusSnapshots.ReadCurrentAsync(store, "curated/refresh")).Value!.Snapshot);
        var manifest = (await CorpusSnapshots.ReadCurrentManifestAsync(store, "curated/refresh"))!;
        Assert.Equal(3, manifest.Accounting.Stages[0].In); // only the new object was read
        Assert.Equal(2, manifest.Accounting.Kept);
        Assert.Equal(1, manifest.Accounting.Stages.Sum(s => s.Dropped.GetValueOrDefault("exact_duplicate")));
        Assert.Contains("in = kept + dropped + quarantined: 3 = 2 + 1 + 0", refresh.Output, StringComparison.Ordinal); // one line, not wrapped
        Assert.Contains($"snapshot 2 (refreshes 1): {kept + 2} documents = {kept} carried + 2 new; input objects: 1 read, 2 unchanged (skipped)",
            refresh.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Running_a_completed_job_whose_output_was_deleted_writes_the_output_again_and_says_so()
    {
        var job = new SmallJob(_temp.Combine("lost-job"), "lost", originals: 30, copies: 5, files: 2);
        var specFile = Path.Combine(job.Folder, "job.json");
        await File.WriteAllTextAsync(specFile, job.SpecJson());
        var data = _temp.Combine("lost-data");
        var first = await CurateAsync(job.Folder, "run", specFile, "--data", data);
        Assert.True(first.Code == 0, first.Output);
        var shard = Path.Combine(data, "curated", "lost", "part-00000.parquet");
        var bytes = await File.ReadAllBytesAsync(shard);

        Directory.Delete(Path.Combine(data, "curated", "lost"), recursive: true);
        var again = await CurateAsync(job.Folder, "run", specFile, "--data", data);
        Assert.True(again.Code == 0, again.Output);
        Assert.Contains("This job had completed, but its output manifest is gone (deleted or moved): writing the output again.", again.Output,
            StringComparison.Ordinal);
        Assert.Equal(bytes, await File.ReadAllBytesAsync(shard));
        Assert.True(File.Exists(Path.Combine(data, "curated", "lost", "manifest.json")));

        // Inputs edited after the job completed: the old result is shown, and said to be of the objects it read then.
        var unchanged = await CurateAsync(job.Folder, "run", specFile, "--data", data);
        Assert.DoesNotContain("inputs changed", unchanged.Output, StringComparison.Ordinal);
        var corpus = Path.Combine(job.Folder, "corpus");
        var files = Directory.GetFiles(corpus, "*.jsonl").Order(StringComparer.Ordinal).ToArray();
        await File.AppendAllTextAsync(files[0], "{\"id\":\"late\",\"text\":\"a document appended after the job completed, long enough\"}\n");
        await File.WriteAllTextAsync(Path.Combine(corpus, "zz-added.jsonl"), "{\"id\":\"added\",\"text\":\"a document in a file added later, long enough\"}\n");
        var edited = await CurateAsync(job.Folder, "run", specFile, "--data", data);
        Assert.True(edited.Code == 0, edited.Output);
        Assert.Contains("This job had already completed; its result is shown.", edited.Output, StringComparison.Ordinal);
        Assert.Contains($"Its inputs changed since it ran (1 changed, 1 new input objects: {Path.GetFileName(files[0])} (changed), zz-added.jsonl (new)): " +
                        "the result shown is of the objects it read then. To curate them as they are now, run it with --run-key and a new value",
            edited.Output.Replace("\n", "", StringComparison.Ordinal), StringComparison.Ordinal);
        Assert.Equal(bytes, await File.ReadAllBytesAsync(shard));
    }

    [Fact]
    public async Task A_warning_quoting_an_input_id_shows_it_as_text()
    {
        // The shared-id warning quotes an id from the input: one holding a terminal escape sequence reached the terminal.
        var folder = _temp.Combine("escape-job");
        Directory.CreateDirectory(folder);
        await File.WriteAllLinesAsync(Path.Combine(folder, "in.jsonl"), Enumerable.Range(0, 2).Select(i =>
            JsonSerializer.Serialize(new { id = "\u001b[2J\u001b[31mred", text = $"document {i} reusing one id, with enough words to be kept" })));
        await File.WriteAllTextAsync(Path.Combine(folder, "job.json"),
            """{ "name": "escape", "inputs": [{ "path": "in.jsonl", "idField": "id" }], "stages": [], "output": { "path": "curated/escape" } }""");
        var (code, output) = await CurateAsync(folder, "run", "job.json", "--data", _temp.Combine("escape-data"));
        Assert.True(code == 0, output);
        Assert.Contains(@"(the first: '\u001B[2J\u001B[31mred', 2 documents)", output, StringComparison.Ordinal);
        Assert.DoesNotContain("\u001b[2J", output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("run", "Curation__Execution__MaxTaskAttempts", "0", "Curation:Execution:MaxTaskAttempts must be ≥ 1.")]
    [InlineData("run", "Curation__Execution__MaxTaskAttempts", "abc", "Curation:Execution:MaxTaskAttempts: 'abc' is not a whole number.")]
    [InlineData("run", "Curation__Execution__RetryDelay", "5s", "Curation:Execution:RetryDelay: '5s' is not a time span (hh:mm:ss, e.g. 00:05:00).")]
    [InlineData("run", "Curation__Embedding__Provider", "tpu", "Curation:Embedding:Provider: 'tpu' is not one of Auto, Cpu, Cuda.")]
    [InlineData("run", "Curation__Embedding__MaxConcurrentInferences", "0", "Curation:Embedding:MaxConcurrentInferences must be ≥ 1.")]
    [InlineData("silo", "Curation__Api__Keys__0__Role", "admin", "Curation:Api:Keys:0:Role 'admin' is not a role: use operator or viewer.")]
    // A misspelt key was silently ignored: the silo ran on the default (./data for a misspelt store section).
    [InlineData("run", "Curation__Execution__MaxTaskAttempt", "3", "Curation:Execution:MaxTaskAttempt: 'MaxTaskAttempt' is not a setting the silo " +
        "reads (Curation:Execution has HistoryInterval, MaxSiloLossBackoff, MaxTaskAttempts, MaxTasksInFlight, ProgressInterval, " +
        "ResumeScanInterval, RetryDelay, SiloLossRetryTime, TaskSlots, TaskTimeout); did you mean Curation:Execution:MaxTaskAttempts?")]
    [InlineData("silo", "Curation__Storage__RootPath", "/srv/data", "Curation:Storage:RootPath: 'Storage' is not a setting the silo reads " +
        "(Curation has Api, Cluster, Embedding, Execution, Jobs, Limits, Schedules, Silo, Store); did you mean Curation:Store?")]
    [InlineData("silo", "Curation__Silo__Role__0", "gpu", "Curation:Silo:Role:0: 'Role' is not a setting the silo reads (Curation:Silo has " +
        "Roles, ShutdownTimeout); did you mean Curation:Silo:Roles?")]
    public async Task A_wrong_setting_is_one_sentence_naming_the_key_and_exit_code_2(string command, string variable, string value, string expected)
    {
        var job = new SmallJob(_temp.Combine("config-job"), "config", originals: 3, copies: 0, files: 1);
        var specFile = Path.Combine(job.Folder, "job.json");
        await File.WriteAllTextAsync(specFile, job.SpecJson());
        var environment = new Dictionary<string, string> { [variable] = value, ["Curation__Api__Keys__0__Key"] = "k-0123456789abcdef0123" };
        if (command == "silo") environment["Curation__Api__Urls"] = "http://127.0.0.1:0";
        string[] args = command == "run" ? ["run", specFile, "--data", _temp.Combine("config-data")] : ["silo"];

        var (code, output) = await CliTests.CurateAsync(job.Folder, environment, args);
        Assert.True(code == 2, $"exit code {code}: {output}");
        Assert.Contains($"curate: configuration error: {expected}", output, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", output, StringComparison.Ordinal);   // no stack trace
        Assert.DoesNotContain("Unhandled exception", output, StringComparison.Ordinal);
        Assert.DoesNotContain("Hosting failed to start", output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("run")]
    [InlineData("submit")]
    [InlineData("schedule")]
    public async Task A_job_file_that_cannot_be_read_is_one_sentence_naming_it(string command)
    {
        var folder = Directory.CreateDirectory(_temp.Combine("job-files-" + command)).FullName;
        var missing = Path.Combine(folder, "missing.json");
        string[] Args(string file) => command switch
        {
            "run" => ["run", file, "--data", _temp.Combine("job-files-data")],
            "submit" => ["submit", file, "--url", "http://127.0.0.1:9", "--key", "k-0123456789abcdef0123"],
            _ => ["schedule", "create", "nightly", file, "--cron", "0 3 * * *", "--url", "http://127.0.0.1:9", "--key", "k-0123456789abcdef0123"],
        };
        // A folder given for the job file was a stack trace ("Access to the path … is denied") or "failed unexpectedly".
        foreach (var (file, reason) in new[] { (folder, "is a folder, not a job spec file"), (missing, "no such file") })
        {
            var (code, output) = await CurateAsync(folder, Args(file));
            Assert.True(code == 2, $"{command} {file}: exit code {code}: {output}");
            Assert.Contains(reason, output, StringComparison.Ordinal);
            Assert.Contains(file, output.Replace("\n", "", StringComparison.Ordinal), StringComparison.Ordinal);
            Assert.DoesNotContain("   at ", output, StringComparison.Ordinal);
            Assert.DoesNotContain("Unhandled exception", output, StringComparison.Ordinal);
            Assert.DoesNotContain("unexpectedly", output, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task A_job_that_fails_exits_1_not_as_if_interrupted_and_an_az_path_without_an_account_names_the_setting()
    {
        // Every failed `curate run` exited 130 ("stopped with Ctrl+C"): stopping the embedded silo fired the signal token.
        var folder = _temp.Combine("az-job");
        Directory.CreateDirectory(folder);
        await File.WriteAllTextAsync(Path.Combine(folder, "job.json"),
            """{ "name": "az", "inputs": [{ "path": "az://raw/corpus/*.jsonl" }], "stages": [], "output": { "path": "curated/az" } }""");
        var (code, output) = await CurateAsync(folder, "run", "job.json", "--data", _temp.Combine("az-data"));
        Assert.True(code == 1, $"exit code {code}: {output}");
        Assert.Contains("Failed", output, StringComparison.Ordinal);
        Assert.Contains("az://raw/corpus/*.jsonl: no Azure Storage account is configured", output, StringComparison.Ordinal);
        Assert.Contains("set Curation:Store:ConnectionString", output, StringComparison.Ordinal);
        Assert.Contains("Curation__Store__ConnectionString", output, StringComparison.Ordinal);
        Assert.DoesNotContain("Interrupted", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_data_store_that_is_a_file_is_one_sentence()
    {
        var job = new SmallJob(_temp.Combine("data-file-job"), "data-file", originals: 3, copies: 0, files: 1);
        var specFile = Path.Combine(job.Folder, "job.json");
        await File.WriteAllTextAsync(specFile, job.SpecJson());
        var file = Path.Combine(job.Folder, "not-a-folder");
        await File.WriteAllTextAsync(file, "x");
        // Through --data (it was a stack trace from the first write) and through the configuration (curate silo, run without --data).
        var (code, output) = await CurateAsync(job.Folder, "run", specFile, "--data", file);
        Assert.True(code == 2, output);
        Assert.Contains($"--data '{file}' is a file: the data store is a folder", output, StringComparison.Ordinal);
        (code, output) = await CliTests.CurateAsync(job.Folder, new Dictionary<string, string> { ["Curation__Store__RootPath"] = file }, "run", specFile);
        Assert.True(code == 2, output);
        Assert.Contains($"curate: configuration error: Curation:Store:RootPath '{file}' is a file", output, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Two_runs_of_one_job_on_one_data_store_leave_it_to_one_coordinator()
    {
        // Two `curate run` of the same job at once on one data store are two coordinators: the job state's ETag lets one
        // write; the other stopped with its storage's stack trace and the state's ETag message. Now it says why, and the
        // job completes once (which of the two wins is timing; both completing, one after the other, is fine too).
        var job = new SmallJob(_temp.Combine("twice-job"), "twice", originals: 3000, copies: 500, files: 4);
        var specFile = Path.Combine(job.Folder, "job.json");
        await File.WriteAllTextAsync(specFile, job.SpecJson(targetShardBytes: 16384));
        var data = _temp.Combine("twice-data");
        var runs = await Task.WhenAll(Enumerable.Range(0, 2).Select(_ => Task.Run(() => CurateAsync(job.Folder, "run", specFile, "--data", data))));
        foreach (var (code, output) in runs)
        {
            log.WriteLine($"exit code {code}: {output.Split('\n').LastOrDefault(l => l.Trim().Length > 0)}");
            Assert.DoesNotContain("   at ", output, StringComparison.Ordinal);
            if (code != 0) Assert.Contains("another coordinator is running this job", output, StringComparison.Ordinal);
        }
        Assert.Contains(runs, r => r.Code == 0);
        var again = await CurateAsync(job.Folder, "run", specFile, "--data", data);
        Assert.True(again.Code == 0, again.Output);
        Assert.Contains("already completed", again.Output, StringComparison.Ordinal);
    }
}
