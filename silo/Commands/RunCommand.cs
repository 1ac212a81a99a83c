using System.CommandLine;
using Curation.Grains;
using Curation.Grains.Hosting;
using Curation.Pipelines.Execution;
using Curation.Pipelines.Spec;
using Curation.Pipelines.Storage;
using Curation.Silo.Hosting;
using Microsoft.Extensions.Options;
using Spectre.Console;

namespace Curation.Silo.Commands;

/// <summary>
/// <c>curate run job.json</c>: starts an embedded single silo (localhost clustering, local folder store), runs the job
/// with live progress, prints the books, exits non-zero unless the job completed. Running it again resumes (a job that
/// had completed is shown, saying so); <c>--run-key</c> makes a new job of the same spec, which for a versioned corpus
/// (<c>output.snapshots</c>) is the next refresh.
/// </summary>
public static class RunCommand
{
    public static Command Create()
    {
        var jobFile = new Argument<FileInfo>("job") { Description = "Job spec (JSON); relative paths (inputs, files stages read) are relative to this file." };
        var data = new Option<string?>("--data") { Description = "Data store folder (default: Curation:Store:RootPath, ./data)." };
        var runKey = ApiClientCommands.RunKeyOption();
        var command = new Command("run", "Run a job on an embedded single silo and wait for it.") { jobFile, data, runKey };
        command.SetAction((parse, cancellationToken) => RunAsync(parse.GetValue(jobFile)!, parse.GetValue(data), parse.GetValue(runKey), cancellationToken));
        return command;
    }

    private static async Task<int> RunAsync(FileInfo jobFile, string? dataRoot, string? runKey, CancellationToken cancellationToken)
    {
        JobSpec spec;
        try
        {
            spec = await JobFile.ReadAsync(jobFile, cancellationToken);
            if (runKey is not null) spec = spec.ForRun(runKey);
        }
        catch (Exception e) when (e is JobSpecException or IOException)
        {
            return Invalid(jobFile, e);
        }

        if (dataRoot is not null && File.Exists(dataRoot))
        {
            AnsiConsole.MarkupLine($"[red]{Markup.Escape($"--data '{Path.GetFullPath(dataRoot)}' is a file: the data store is a folder (it is created when missing).")}[/]");
            return 2;
        }

        var ports = LoopbackPorts.Free(2);
        var overrides = new Dictionary<string, string?>
        {
            ["Curation:Cluster:Clustering"] = "Localhost",
            ["Curation:Cluster:SiloPort"] = ports[0].ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Curation:Cluster:GatewayPort"] = ports[1].ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Curation:Cluster:ClusterId"] = "curate-run-" + Environment.ProcessId,
        };
        if (dataRoot is not null)
        {
            overrides["Curation:Store:Kind"] = "LocalFolder";
            overrides["Curation:Store:RootPath"] = dataRoot;
        }

        var builder = CurationHost.CreateBuilder([], overrides, quiet: true);
        var validated = ConfigurationErrors.ValidatedOptions(builder.Services);
        using var host = builder.Build();
        ConfigurationErrors.ValidateNow(host.Services, validated);
        try
        {
            // With the configured limits (Curation:Limits) and the data store this run uses (its own folders are off limits).
            JobSpecValidator.ThrowIfInvalid(spec, host.Services.GetRequiredService<IOptions<JobLimits>>().Value,
                host.Services.GetRequiredService<IStoreResolver>().DataStore.Location);
        }
        catch (JobSpecException e)
        {
            return Invalid(jobFile, e);
        }
        await host.StartAsync(cancellationToken);
        // Ctrl+C (SIGINT) and SIGTERM reach the host's console lifetime, which stops the application rather than the
        // command's token: either one interrupts the job.
        using var interrupted = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken,
            host.Services.GetRequiredService<IHostApplicationLifetime>().ApplicationStopping);
        var jobId = JobContext.JobIdOf(spec);
        var job = host.Services.GetRequiredService<IGrainFactory>().GetGrain<IJobGrain>(jobId);
        AnsiConsole.MarkupLine($"Job [bold]{Markup.Escape(jobId)}[/] on an embedded silo");

        var completed = (await job.GetStatus()).State == JobState.Completed;

        JobStatus status;
        try
        {
            var submitted = await job.Submit(spec.ToJson());
            if (completed)
            {
                // The same spec (and run key) is the same job: it is shown, not run again, and new input is not read, unless
                // its output is gone, which it writes again.
                AnsiConsole.MarkupLine(submitted.State != JobState.Completed
                    ? "[yellow]This job had completed, but its output manifest is gone (deleted or moved): writing the output again.[/]"
                    : $"[yellow]This job had already completed{(spec.Output.Snapshots
                        ? ": to refresh the corpus with new or changed input, run again with --run-key and a new value (e.g. the date)"
                        : "; its result is shown")}.[/]");
                if (submitted.State == JobState.Completed && !spec.Output.Snapshots
                    && await InputChangesAsync(jobId, spec, host.Services.GetRequiredService<IStoreResolver>(), cancellationToken) is { Any: true } changes)
                    AnsiConsole.MarkupLine($"[yellow]{Markup.Escape($"Its inputs changed since it ran ({changes}): the result shown is of the objects it " +
                        "read then. To curate them as they are now, run it with --run-key and a new value (e.g. the date), or write a versioned " +
                        "corpus (output.snapshots) and refresh it.")}[/]");
            }
            status = await JobStatusView.FollowAsync(job.GetStatus, TimeSpan.FromMilliseconds(250), interrupted.Token);
        }
        catch (OperationCanceledException) when (interrupted.IsCancellationRequested)
        {
            AnsiConsole.MarkupLine("[yellow]Interrupted: cancelling the job (finished tasks are kept; run again to resume).[/]");
            status = await job.Cancel();
        }
        JobStatusView.WriteSummary(status);
        // Read before stopping the host: stopping it fires ApplicationStopping, which would make every failed job look interrupted.
        var wasInterrupted = interrupted.IsCancellationRequested;
        await host.StopAsync(CancellationToken.None);
        return status.State == JobState.Completed ? 0 : wasInterrupted ? 130 : 1; // 130: stopped with Ctrl+C, as a shell reports it
    }

    /// <summary>How the job's inputs changed since it was planned; null when that cannot be told (plan gone, a store that does not answer).</summary>
    private static async Task<InputChanges?> InputChangesAsync(string jobId, JobSpec spec, IStoreResolver stores, CancellationToken cancellationToken)
    {
        try
        {
            return await InputChanges.SinceAsync(jobId, spec, stores, cancellationToken);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            return null;
        }
    }

    private static int Invalid(FileInfo jobFile, Exception e)
    {
        AnsiConsole.MarkupLine($"[red]{Markup.Escape(jobFile.FullName)}[/]:");
        foreach (var line in e is JobSpecException s ? s.Errors.Select(x => x.ToString()) : [e is JobFileException f ? f.Reason : e.Message])
            AnsiConsole.MarkupLine($"  [red]{Markup.Escape(line)}[/]");
        return 2;
    }
}
