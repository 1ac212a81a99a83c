using System.CommandLine;
using Curation.Silo.Api;

namespace Curation.Silo.Commands;

/// <summary>
/// <c>curate silo</c>: a long-lived silo configured from appsettings.json and the environment, serving the REST API,
/// the dashboard, <c>/healthz</c> and <c>/metrics</c> on <c>Curation:Api:Urls</c>.
/// </summary>
public static class SiloCommand
{
    public static Command Create()
    {
        var command = new Command("silo", "Start a long-lived silo with the REST API and dashboard, configured from appsettings.json (and Curation__* environment variables).");
        command.SetAction(async (parse, cancellationToken) =>
        {
            await using var app = ApiHost.Create([]);
            ShutdownWatchdog.Arm(app);
            await app.RunAsync();
            return 0;
        });
        return command;
    }
}
