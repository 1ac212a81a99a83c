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
return await root.Parse(args).InvokeAsync();
