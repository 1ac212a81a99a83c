using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace Curation.Silo.Tests;

/// <summary>
/// A <c>curate</c> command in its own process whose output is watched while it runs (wait for a line, then signal it as a
/// terminal's Ctrl+C does), for tests of what a command does when interrupted.
/// </summary>
public sealed class CurateProcess : IDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly List<(Func<string, bool> Match, TaskCompletionSource Seen)> _waits = [];

    public CurateProcess(string workingDirectory, IDictionary<string, string> environment, params string[] args)
    {
        var start = new ProcessStartInfo("dotnet", ["exec", Path.Combine(AppContext.BaseDirectory, "curate.dll"), .. args])
        {
            RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = workingDirectory,
        };
        foreach (var (k, v) in environment) start.Environment[k] = v;
        start.Environment["COLUMNS"] = "200";
        _process = Process.Start(start)!;
        _process.OutputDataReceived += OnLine;
        _process.ErrorDataReceived += OnLine;
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    public string Output
    {
        get { lock (_output) return _output.ToString(); }
    }

    public bool HasExited => _process.HasExited;

    public int ExitCode => _process.ExitCode;

    private void OnLine(object? sender, DataReceivedEventArgs e)
    {
        if (e.Data is null) return;
        lock (_output)
        {
            _output.AppendLine(e.Data);
            foreach (var (match, seen) in _waits)
                if (match(e.Data)) seen.TrySetResult();
        }
    }

    /// <summary>Waits for a line the predicate accepts (lines already printed count); false when the process ended first or the time ran out.</summary>
    public async Task<bool> WaitForLineAsync(Func<string, bool> match, TimeSpan timeout)
    {
        var seen = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_output)
        {
            if (_output.ToString().Split('\n').Any(l => match(l.TrimEnd('\r')))) return true;
            _waits.Add((match, seen));
        }
        return await Task.WhenAny(seen.Task, _process.WaitForExitAsync(), Task.Delay(timeout)) == seen.Task;
    }

    /// <summary>SIGINT, what Ctrl+C in a terminal sends.</summary>
    public async Task InterruptAsync()
    {
        using var kill = Process.Start("kill", ["-INT", _process.Id.ToString(CultureInfo.InvariantCulture)])!;
        await kill.WaitForExitAsync();
    }

    /// <summary>Waits for the process to exit (false after <paramref name="timeout"/>), then for its last output lines.</summary>
    public async Task<bool> WaitForExitAsync(TimeSpan timeout)
    {
        using var cancel = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(cancel.Token);
        }
        catch (OperationCanceledException)
        {
            return false;
        }
        _process.WaitForExit(); // the redirected streams' last lines
        return true;
    }

    public void Dispose()
    {
        if (!_process.HasExited) _process.Kill(entireProcessTree: true);
        _process.Dispose();
    }
}
