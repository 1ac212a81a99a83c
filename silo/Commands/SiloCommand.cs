using System.CommandLine;
using Curation.Silo.Hosting;
using Microsoft.Extensions.Hosting;

namespace Curation.Silo.Commands;

/// <summary><c>curate silo</c>: a long-lived silo configured from appsettings.json and the environment.</summary>
public static class SiloCommand
{
    public static Command Create()
    {
        var command = new Command("silo", "Start a long-lived silo configured from appsettings.json (and Curation__* environment variables).");
        command.SetAction(async (parse, cancellationToken) =>
        {
            using var host = CurationHost.CreateBuilder([]).Build();
            await host.RunAsync(cancellationToken);
            return 0;
        });
        return command;
    }
}
