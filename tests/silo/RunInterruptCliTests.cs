using System.Diagnostics;
using System.Globalization;
using Curation.Testing;

namespace Curation.Silo.Tests;

/// <summary>
/// Ctrl+C on <c>curate run</c> (SIGINT, at a moment drawn at random while the job runs): the job is cancelled at once,
/// said in one sentence, exit code 130, no Orleans log lines or stack traces; running it again resumes and completes.
/// SIGINT went to the host's console lifetime, which stopped nothing the command watched: the job ran to its end.
/// </summary>
public sealed class RunInterruptCliTests(Xunit.Abstractions.ITestOutputHelper log) : IDisposable
{
    private const string SeedVariable = "CURATION_INTERRUPT_SEED";

    private readonly TempDirectory _temp = new("run-interrupt");

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task Ctrl_c_cancels_the_job_says_so_and_running_again_resumes_it()
    {
        var seed = int.TryParse(Environment.GetEnvironmentVariable(SeedVariable), CultureInfo.InvariantCulture, out var s) ? s : Random.Shared.Next(1_000_000);
        var delay = TimeSpan.FromMilliseconds(new Random(seed).Next(0, 3000));
        log.WriteLine($"interrupt seed {seed} ({SeedVariable}={seed} repeats it): SIGINT {delay.TotalSeconds:0.00} s after the embed phase is first shown");

        // The embed stage (shipped model, CPU) on 400 documents runs for tens of seconds on two cores.
        var job = new SmallJob(_temp.Combine("job"), "interrupt", originals: 400, copies: 20, files: 4);
        var specFile = Path.Combine(job.Folder, "job.json");
        await File.WriteAllTextAsync(specFile, job.SpecJson(semantic: true));
        var data = _temp.Combine("data");

        using var process = new CurateProcess(job.Folder, new Dictionary<string, string>(), "run", specFile, "--data", data);
        Assert.True(await process.WaitForLineAsync(l => l.Contains("-embed embed", StringComparison.Ordinal), TimeSpan.FromMinutes(3)),
            $"the embed phase was never shown:\n{process.Output}");
        await Task.Delay(delay);
        Assert.False(process.HasExited, $"the job ended before the interrupt:\n{process.Output}");
        await process.InterruptAsync();
        var clock = Stopwatch.StartNew();
        Assert.True(await process.WaitForExitAsync(TimeSpan.FromSeconds(60)), $"still running 60 s after SIGINT:\n{process.Output}");
        log.WriteLine($"exited {clock.Elapsed.TotalSeconds:0.0} s after SIGINT with code {process.ExitCode}:\n{process.Output}");

        var text = process.Output;
        Assert.Equal(130, process.ExitCode);
        Assert.Contains("Interrupted: cancelling the job (finished tasks are kept; run again to resume).", text, StringComparison.Ordinal);
        Assert.Matches(@"Job interrupt-\w+: Cancelled\s*\n", text);
        Assert.Contains("No output was written; running or submitting the same spec again resumes from the finished tasks.", text, StringComparison.Ordinal);
        Assert.DoesNotContain("fail:", text, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", text, StringComparison.Ordinal);
        Assert.DoesNotContain("Completed", text, StringComparison.Ordinal);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), $"{clock.Elapsed.TotalSeconds:0.0} s from SIGINT to exit");
        Assert.False(File.Exists(Path.Combine(data, "curated", "interrupt", "manifest.json")));

        var (code, again) = await CliTests.CurateAsync(job.Folder, new Dictionary<string, string>(), "run", specFile, "--data", data);
        Assert.True(code == 0, again);
        Assert.Contains("Completed → ", again, StringComparison.Ordinal);
        Assert.Matches(@"in = kept \+ dropped \+ quarantined: 42\d = \d+ \+ \d+ \+ 0", again);
        Assert.True(File.Exists(Path.Combine(data, "curated", "interrupt", "manifest.json")));
    }
}
