using Curation.Grains;
using Spectre.Console;

namespace Curation.Silo.Commands;

/// <summary>How the CLI shows a job: live progress bars per phase, then a summary table of the books.</summary>
public static class JobStatusView
{
    /// <summary>Polls <paramref name="poll"/> and draws one progress bar per phase until the job is final.</summary>
    public static async Task<JobStatus> FollowAsync(Func<Task<JobStatus>> poll, TimeSpan interval, CancellationToken cancellationToken)
    {
        JobStatus status = await poll();
        await AnsiConsole.Progress()
            .AutoClear(false)
            .HideCompleted(false)
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(),
                new ElapsedTimeColumn(), new SpinnerColumn())
            .StartAsync(async context =>
            {
                var bars = new Dictionary<string, ProgressTask>();
                while (true)
                {
                    // One bar per stage: all of its phases' tasks (k-means alone has two phases per iteration).
                    foreach (var stage in status.Phases.GroupBy(p => p.Stage))
                    {
                        var total = stage.Sum(p => p.Total);
                        var done = stage.Sum(p => p.Done);
                        // Finished tasks plus the running tasks' own progress: a long single task moves the bar too.
                        var progressed = stage.Sum(p => p.Fraction * p.Total);
                        var running = stage.FirstOrDefault(p => p.Done < p.Total);
                        var current = running?.Phase ?? stage.Last().Phase;
                        if (!bars.TryGetValue(stage.Key, out var bar))
                            bars[stage.Key] = bar = context.AddTask(Markup.Escape(stage.Key), autoStart: false, maxValue: Math.Max(1, total));
                        bar.Description = Markup.Escape($"{stage.Key} {current}{Pace(running)}");
                        if ((done > 0 || progressed > 0) && !bar.IsStarted) bar.StartTask();
                        bar.Value = Math.Max(done, progressed);
                        if (done >= total && total > 0) bar.StopTask();
                    }
                    if (status.IsFinal) break;
                    await Task.Delay(interval, cancellationToken);
                    status = await poll();
                }
            });
        return status;
    }

    /// <summary>A running phase's pace for the CLI: documents done by running tasks, documents/s and time left.</summary>
    public static string Pace(PhaseProgress? phase)
    {
        if (phase is null || phase.Running == 0 && phase.Done == 0) return "";
        var text = $" · {phase.DocumentsIn + phase.InFlightDocuments:N0} docs · {phase.DocumentsPerSecond:N0} docs/s";
        return phase.EtaSeconds is { } eta ? $"{text} · ETA {TimeSpan.FromSeconds(Math.Round(eta)):g}" : text;
    }

    public static void WriteSummary(JobStatus status)
    {
        var color = status.State switch { JobState.Completed => "green", JobState.Failed => "red", _ => "yellow" };
        // A failed or cancelled job wrote no output: its location is not shown as if it held one.
        AnsiConsole.MarkupLine($"Job [bold]{Markup.Escape(status.JobId)}[/]: [{color}]{status.State}[/]" +
            (status.Output is null || status.State is JobState.Failed or JobState.Cancelled ? "" : $" → {Markup.Escape(status.Output)}"));
        if (status.State == JobState.Cancelled)
            AnsiConsole.MarkupLine("[yellow]No output was written; running or submitting the same spec again resumes from the finished tasks.[/]");
        // Errors and warnings may quote input (an id, a key): shown as text, no control character reaches the terminal.
        if (status.Error is not null) AnsiConsole.MarkupLine($"[red]{Markup.Escape(InspectOutputCommands.Visible(status.Error, -1, oneLine: false))}[/]");

        if (status.Accounting is { } books)
        {
            var table = new Table().Border(TableBorder.Rounded)
                .AddColumn("stage").AddColumn(new TableColumn("in").RightAligned()).AddColumn(new TableColumn("kept").RightAligned())
                .AddColumn("dropped").AddColumn("quarantined").AddColumn(new TableColumn("docs/s").RightAligned());
            var stageSeconds = StageTimes.Of(status.Phases);
            foreach (var stage in books.Stages)
            {
                var seconds = stageSeconds.GetValueOrDefault(stage.Stage);
                table.AddRow(
                    Markup.Escape(stage.Stage), $"{stage.In:N0}", $"{stage.Kept:N0}",
                    Markup.Escape(Reasons(stage.Dropped)), Markup.Escape(Reasons(stage.Quarantined)),
                    seconds > 0 ? $"{stage.In / seconds:N0}" : "-");
            }
            table.AddRow("[bold]total[/]", $"[bold]{books.InputRecords:N0}[/]", $"[bold]{books.Kept:N0}[/]",
                $"[bold]{books.Dropped:N0}[/]", $"[bold]{books.Quarantined:N0}[/]", "");
            AnsiConsole.Write(table);
            var wall = (status.CompletedAt - status.StartedAt)?.TotalSeconds ?? 0;
            if (wall > 0)
                AnsiConsole.MarkupLine($"{books.InputRecords:N0} record{(books.InputRecords == 1 ? "" : "s")} in {wall:0.0} s ({books.InputRecords / wall:N0} records/s); " +
                    $"in = kept + dropped + quarantined: [green]{books.InputRecords:N0} = {books.Kept:N0} + {books.Dropped:N0} + {books.Quarantined:N0}[/]");
        }
        if (status.Snapshot is { } snapshot) AnsiConsole.MarkupLine(Markup.Escape(SnapshotLine(snapshot)));
        if (status.StoreRetries > 0)
            AnsiConsole.MarkupLine($"object store: {status.StoreRetries:N0} operation{(status.StoreRetries == 1 ? "" : "s")} retried after transient failures" +
                (status.State == JobState.Completed ? " (the output is unaffected)" : ""));
        foreach (var warning in status.Warnings)
            AnsiConsole.MarkupLine($"[yellow]warning:[/] {Markup.Escape(InspectOutputCommands.Visible(warning, -1, oneLine: false))}");
    }

    /// <summary>What a refresh published: <c>snapshot 2 (refreshes 1): 1,300 documents = 1,000 carried + 300 new; input objects: …</c>.</summary>
    public static string SnapshotLine(PublishedSnapshot s)
    {
        var objects = new List<string> { $"{s.ReadObjects:N0} read" + (s.ChangedObjects > 0 ? $" ({s.ChangedObjects:N0} changed)" : "") };
        if (s.SkippedObjects > 0) objects.Add($"{s.SkippedObjects:N0} unchanged (skipped)");
        if (s.VanishedObjects > 0) objects.Add($"{s.VanishedObjects:N0} no longer in the inputs");
        return $"snapshot {s.Number}" + (s.Previous is { } previous ? $" (refreshes {previous})" : " (the corpus' first)") +
            $": {s.Documents:N0} documents = {s.CarriedDocuments:N0} carried + {s.NewDocuments:N0} new; input objects: {string.Join(", ", objects)}";
    }

    private static string Reasons(Dictionary<string, long> counts) =>
        counts.Count == 0 ? "" : string.Join(", ", counts.OrderByDescending(c => c.Value).ThenBy(c => c.Key).Select(c => $"{c.Key} {c.Value:N0}"));
}
