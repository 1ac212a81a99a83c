using System.Text.Json;
using Curation.Pipelines.Execution;
using Curation.Pipelines.Storage;
using Curation.Testing;

namespace Curation.Silo.Tests;

/// <summary>
/// <c>curate run</c> on a versioned corpus: running the same spec again shows the completed job and says how to refresh;
/// <c>--run-key</c> makes the next refresh, which reads only the new input object.
/// </summary>
public sealed class RunCommandCliTests : IDisposable
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
    }
}
