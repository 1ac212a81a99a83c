using System.Diagnostics;
using Curation.Pipelines.Execution;
using Curation.Pipelines.Storage;

namespace Curation.Pipelines.Stages;

// The report phase: the stage's report summed from every task's stats and the shards' samples.
public sealed partial class LineDedupStage
{
    private async Task<TaskStats> ReportAsync(TaskContext task, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        Task<Dictionary<string, double>> SumAsync(string phase, int tasks) => StageReports.SumPhaseAsync(task, phase, tasks, cancellationToken);

        var shards = task.Job.Plan.ShardCount;
        var hash = await SumAsync(HashPhase, shards).ConfigureAwait(false);
        var resolve = await SumAsync(ResolvePhase, spec.Partitions).ConfigureAwait(false);
        var apply = await SumAsync(ApplyPhase, shards).ConfigureAwait(false);

        // Each top unit's sample: the one of the lowest shard that removed it (deterministic).
        var samples = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var shard = 0; shard < shards; shard++)
        {
            var (found, _) = await task.Job.Data.TryReadJsonAsync<Dictionary<string, string>>(SamplesKey(task, shard), cancellationToken: cancellationToken)
                .ConfigureAwait(false);
            foreach (var (key, sample) in found ?? []) samples.TryAdd(key, sample);
        }
        var top = (await TopUnitsAsync(task, cancellationToken).ConfigureAwait(false))
            .Select(u => u with { Sample = samples.GetValueOrDefault(u.Hash) }).ToArray();

        var charsIn = (long)apply.GetValueOrDefault("chars_in");
        var charsRemoved = (long)apply.GetValueOrDefault("chars_removed");
        var documents = (long)apply.GetValueOrDefault("");
        var report = new LineDedupReport
        {
            Unit = spec.Unit, MaxOccurrences = spec.MaxOccurrences, MinChars = spec.MinChars,
            Documents = documents,
            Units = (long)hash.GetValueOrDefault("units"),
            DistinctUnits = (long)resolve.GetValueOrDefault("distinct_units"),
            RepeatedUnits = (long)resolve.GetValueOrDefault("repeated_units"),
            UnitsRemoved = (long)apply.GetValueOrDefault("units_removed"),
            DocumentsChanged = (long)apply.GetValueOrDefault("documents_changed"),
            DocumentsDropped = documents - (long)apply.GetValueOrDefault("kept"),
            CharsIn = charsIn,
            CharsRemoved = charsRemoved,
            CharsRemovedFraction = charsIn == 0 ? 0 : Math.Round((double)charsRemoved / charsIn, 6),
            TopRemoved = top,
            CorpusUnits = resolve.TryGetValue("indexed_units", out var indexed) ? (long)indexed : null,
            UnitsRemovedOfCorpus = resolve.TryGetValue("occurrences_removed_of_corpus", out var ofCorpus) ? (long)ofCorpus : null,
        };
        await StageReports.WriteAsync(task, report, cancellationToken).ConfigureAwait(false);
        return new TaskStats { Seconds = clock.Elapsed.TotalSeconds };
    }
}

/// <summary>
/// A unit found in more than <c>maxOccurrences</c> documents: its hash (the 128-bit <see cref="Text.ContentHash"/> of the
/// normalised unit), the documents it occurs in, how many lost it, and the start of its text (<see cref="LineDedupStage.SampleChars"/> characters).
/// </summary>
public sealed record RepeatedUnit(string Hash, long Documents, long Removed, string? Sample);

/// <summary>What line_dedup did, for the manifest's <c>reports</c>.</summary>
public sealed record LineDedupReport
{
    public LineDedupUnit Unit { get; init; }
    public int MaxOccurrences { get; init; }
    public int MinChars { get; init; }
    public long Documents { get; init; }

    /// <summary>Non-blank units of all documents.</summary>
    public long Units { get; init; }
    public long DistinctUnits { get; init; }

    /// <summary>Distinct units found in more than <c>maxOccurrences</c> documents.</summary>
    public long RepeatedUnits { get; init; }
    public long UnitsRemoved { get; init; }
    public long DocumentsChanged { get; init; }

    /// <summary>Documents left below <c>minChars</c> (<c>empty_after_line_dedup</c>).</summary>
    public long DocumentsDropped { get; init; }
    public long CharsIn { get; init; }
    public long CharsRemoved { get; init; }
    public double CharsRemovedFraction { get; init; }

    /// <summary>A refresh of a versioned corpus: distinct units in the base snapshot's line index (null otherwise).</summary>
    public long? CorpusUnits { get; init; }

    /// <summary>A refresh: units removed from new documents because corpus documents already keep them (null otherwise).</summary>
    public long? UnitsRemovedOfCorpus { get; init; }

    /// <summary>The most repeated removed units, most documents first (ties by hash).</summary>
    public IReadOnlyList<RepeatedUnit> TopRemoved { get; init; } = [];
}
