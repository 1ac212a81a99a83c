using Curation.Grains;
using Curation.Pipelines.Execution;
using Curation.Pipelines.Stages;

namespace Curation.Silo.Api;

/// <summary>A job as the API shows it: the coordinator's status plus per-stage progress, throughput and the dedup funnel.</summary>
public sealed record JobView
{
    public required string JobId { get; init; }
    public string Name { get; init; } = "";
    public JobState State { get; init; }
    public string? Error { get; init; }
    public DateTimeOffset? StartedAt { get; init; }
    public DateTimeOffset? CompletedAt { get; init; }
    /// <summary>Wall time so far (running) or in all (final).</summary>
    public double? ElapsedSeconds { get; init; }
    public string? Output { get; init; }
    public int Shards { get; init; }
    public IReadOnlyList<StageView> Stages { get; init; } = [];
    public IReadOnlyList<PhaseProgress> Phases { get; init; } = [];
    /// <summary>The books (in/kept/dropped by reason/quarantined per stage), once the job completed.</summary>
    public Accounting? Accounting { get; init; }
    /// <summary>in → filtered → exact → near → semantic → kept, for the steps this job has.</summary>
    public IReadOnlyList<FunnelStep> Funnel { get; init; } = [];
    public IReadOnlyList<string> Warnings { get; init; } = [];
    /// <summary>For a completed refresh of a versioned corpus: the snapshot it published and what it holds.</summary>
    public PublishedSnapshot? Snapshot { get; init; }

    public static JobView Of(JobStatus status, DateTimeOffset now)
    {
        var stageSeconds = StageTimes.Of(status.Phases);
        var stages = status.Phases.GroupBy(p => p.Stage).Select(g =>
        {
            var account = status.Accounting?.Stages.FirstOrDefault(a => a.Stage == g.Key);
            // Wall time, with the share of an earlier pass a fused stage's work took (StageTimes).
            var wall = stageSeconds.GetValueOrDefault(g.Key);
            var documents = g.Max(p => p.DocumentsIn + p.InFlightDocuments);
            var current = g.FirstOrDefault(p => p.Done < p.Total);
            var total = g.Sum(p => p.Total);
            return new StageView
            {
                Stage = g.Key,
                Total = g.Sum(p => p.Total),
                Done = g.Sum(p => p.Done),
                Reused = g.Sum(p => p.Reused),
                Retries = g.Sum(p => p.Retries),
                CurrentPhase = current?.Phase ?? g.Last().Phase,
                Fraction = total > 0 ? g.Sum(p => p.Fraction * p.Total) / total : 0,
                InFlightDocuments = current?.InFlightDocuments ?? 0,
                PhaseDocumentsPerSecond = current?.DocumentsPerSecond,
                PhaseEtaSeconds = current?.EtaSeconds,
                DocumentsIn = documents,
                WallSeconds = wall,
                TaskSeconds = g.Sum(p => p.TaskSeconds),
                DocumentsPerSecond = wall > 0 ? documents / wall : 0,
                In = account?.In,
                Kept = account?.Kept,
                Dropped = account?.Dropped ?? [],
                Quarantined = account?.Quarantined ?? [],
            };
        }).ToList();
        var end = status.CompletedAt ?? (status.IsFinal ? null : now);
        return new JobView
        {
            JobId = status.JobId, Name = status.Name, State = status.State, Error = status.Error,
            StartedAt = status.StartedAt, CompletedAt = status.CompletedAt,
            ElapsedSeconds = status.StartedAt is { } start && end is { } e ? Math.Max(0, (e - start).TotalSeconds) : null,
            Output = status.Output, Shards = status.Shards, Stages = stages, Phases = status.Phases,
            Accounting = status.Accounting, Funnel = FunnelOf(status.Accounting), Warnings = status.Warnings,
            Snapshot = status.Snapshot,
        };
    }

    /// <summary>The dedup funnel from the books: the count left after each kind of step the job has.</summary>
    public static IReadOnlyList<FunnelStep> FunnelOf(Accounting? books)
    {
        if (books is null || books.Stages.Count == 0) return [];
        var steps = new List<FunnelStep> { new("in", books.InputRecords) };
        // One step per stage that removes documents by its role (Stage attribute): each filter by name, each dedup by kind.
        foreach (var stage in books.Stages)
            if (StageRegistry.FindByStageName(stage.Stage)?.FunnelStep is { } step)
                steps.Add(new FunnelStep(step, stage.Kept));
        steps.Add(new FunnelStep("kept", books.Kept));
        return steps;
    }
}

public sealed record StageView
{
    public required string Stage { get; init; }
    public int Total { get; init; }
    public int Done { get; init; }
    public int Reused { get; init; }
    public int Retries { get; init; }
    public string CurrentPhase { get; init; } = "";
    /// <summary>How far the stage is, 0–1, counting its running tasks' reported progress.</summary>
    public double Fraction { get; init; }
    /// <summary>Documents the current phase's running tasks have done (live).</summary>
    public long InFlightDocuments { get; init; }
    /// <summary>The current phase's documents per second and its time left, while it runs.</summary>
    public double? PhaseDocumentsPerSecond { get; init; }
    public double? PhaseEtaSeconds { get; init; }
    public long DocumentsIn { get; init; }
    public double WallSeconds { get; init; }
    public double TaskSeconds { get; init; }
    public double DocumentsPerSecond { get; init; }
    public long? In { get; init; }
    public long? Kept { get; init; }
    public Dictionary<string, long> Dropped { get; init; } = [];
    public Dictionary<string, long> Quarantined { get; init; } = [];
}

public sealed record FunnelStep(string Step, long Count);

/// <summary>One row of the job list.</summary>
public sealed record JobSummary(string JobId, string Name, JobState State, DateTimeOffset? StartedAt, DateTimeOffset? CompletedAt,
    int TasksDone, int TasksTotal, long? InputRecords, long? Kept, string? Error);

/// <summary>A silo of the cluster: its address, status and roles.</summary>
public sealed record SiloView(string Address, string Name, string Status, IReadOnlyList<string> Roles, bool Healthy,
    DateTimeOffset? StartedAt, DateTimeOffset? LastAlive);

public sealed record SubmitResult(string JobId, JobState State, string Location);

public sealed record ValidationProblem(string Error, IReadOnlyList<FieldError> Errors);

public sealed record FieldError(string Field, string Message);

public sealed record DocumentView(string Id, string Source, string Text);
