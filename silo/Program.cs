using System.CommandLine;
using Curation.Silo.Commands;

// Written to a file or a pipe (CI logs, `| tee`), Spectre would wrap tables and sentences at 80 columns: use the width
// COLUMNS gives, else 160.
if (Console.IsOutputRedirected)
    Spectre.Console.AnsiConsole.Profile.Width = int.TryParse(Environment.GetEnvironmentVariable("COLUMNS"), out var columns) && columns > 0 ? columns : 160;

var root = new RootCommand("Curation: turns raw text corpora into curated training corpora on Microsoft Orleans.");
root.Subcommands.Add(RunCommand.Create());
root.Subcommands.Add(SiloCommand.Create());
root.Subcommands.Add(ApiClientCommands.Submit());
root.Subcommands.Add(ApiClientCommands.Status());
root.Subcommands.Add(ApiClientCommands.Cancel());
root.Subcommands.Add(ScheduleCommands.Create());
root.Subcommands.Add(InspectCommand.Create());
try
{
    // Ctrl+C (SIGINT) and SIGTERM cancel the command's token, and its action gets up to 10 s to say what it stopped (a
    // followed job keeps running; `curate run` cancels its job): System.CommandLine 2.0.0 leaves the signal unhandled
    // unless the timeout is set, and the process ended at once, saying nothing.
    return await root.Parse(args).InvokeAsync(new InvocationConfiguration
    {
        EnableDefaultExceptionHandler = false,
        ProcessTerminationTimeout = TimeSpan.FromSeconds(10),
    });
}
catch (Exception e) when (Curation.Silo.Hosting.ConfigurationErrors.Describe(e) is { } problem)
{
    // A wrong setting is one sentence, not a stack trace.
    Console.Error.WriteLine($"curate: configuration error: {problem}");
    Console.Error.WriteLine("  (from appsettings.json next to curate or in the current folder, or a Curation__… environment variable)");
    return 2;
}
catch (OperationCanceledException)
{
    return 130; // stopped with Ctrl+C, as a shell reports it
}
catch (Exception e)
{
    Console.Error.WriteLine($"Unhandled exception: {e}");
    return 1;
}
