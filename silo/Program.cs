using System.CommandLine;
using Curation.Silo.Commands;

var root = new RootCommand("Curation: turns raw text corpora into curated training corpora on Microsoft Orleans.");
root.Subcommands.Add(RunCommand.Create());
root.Subcommands.Add(SiloCommand.Create());
root.Subcommands.Add(ApiClientCommands.Submit());
root.Subcommands.Add(ApiClientCommands.Status());
root.Subcommands.Add(ApiClientCommands.Cancel());
root.Subcommands.Add(ScheduleCommands.Create());
root.Subcommands.Add(InspectCommand.Create());
return await root.Parse(args).InvokeAsync();
