using System.Diagnostics;

namespace Curation.Testing;

/// <summary>Runs a node script of a repo-local tools/ folder and returns what it printed (throws, with its stderr, when it fails).</summary>
public static class NodeScript
{
    public static string Run(string folder, string script, IEnumerable<string> arguments)
    {
        var start = new ProcessStartInfo("node", [Path.Combine(folder, script), .. arguments])
        {
            RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = folder,
        };
        using var process = Process.Start(start) ?? throw new InvalidOperationException("node did not start");
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0) throw new InvalidOperationException($"node {script} failed ({process.ExitCode}): {stderr.Result}");
        return stdout;
    }
}
