using Curation.Pipelines.Execution;
using Curation.Pipelines.IO;
using Curation.Pipelines.Model;
using Curation.Pipelines.Storage;

namespace Curation.Pipelines.Stages;

/// <summary>One decided row of a shard: dropped with a reason, a detail for humans and the kept twin's id (lineage).</summary>
public readonly record struct ShardDecision(string Reason, string? Detail = null, string? TwinId = null);

/// <summary>
/// The one "apply per-shard decisions by row" mechanism of every dedup/selection stage: each task of a stage's resolve step
/// writes the rows it decided, of every shard, as one small create-once object (row → reason, detail, twin; a
/// <see cref="RoutedTable"/> addressed by shard; <see cref="WriteAsync"/>); the apply of a shard reads its own segment of each of
/// them back (<see cref="ReadShardAsync"/>: the index and that segment only)
/// and runs <see cref="ApplyDecisionsTransform"/> over the shard, either in the stage's own apply phase or, deferred
/// (<see cref="PipelineStage.DeferredApplyAsync"/>), inside the next stage's pass over the same rows (one read and one write of
/// the shard less). Either way the drops go under the deciding stage's own name, and its apply phase's books are
/// <see cref="StatsOf"/>: the same counts whichever path ran.
/// </summary>
public static class ShardDecisions
{
    private const string RowColumn = "row";

    public static readonly IReadOnlyList<ColumnSchema> Schema =
    [
        new(RowColumn, typeof(long)), new(DropsSchema.Reason, typeof(string)), new(DropsSchema.Detail, typeof(string)),
        new(DropsSchema.TwinId, typeof(string)),
    ];

    /// <summary>
    /// Writes one resolver task's decided rows create-once under <paramref name="key"/>: <paramref name="decisions"/>[s] are
    /// shard s's (in the given order), as a routed table addressed by shard (a segment per shard that has any);
    /// nothing when no shard has any. One object (one flush to disk) per resolver task, not one per shard and task.
    /// </summary>
    public static async Task WriteAsync(IObjectStore store, string key, IReadOnlyList<IReadOnlyList<(long Row, ShardDecision Decision)>> decisions,
        CancellationToken cancellationToken)
    {
        if (decisions.All(d => d.Count == 0)) return;
        await using var writer = await RoutedTableWriter.CreateAsync(Schema, cancellationToken).ConfigureAwait(false);
        for (var shard = 0; shard < decisions.Count; shard++)
        {
            if (decisions[shard].Count == 0) continue;
            var batch = RecordBatch.WithSchema(Schema, decisions[shard].Count);
            var (rows, reasons, details, twins) = (batch.GetColumn<long>(RowColumn), batch.GetColumn<string>(DropsSchema.Reason),
                batch.GetColumn<string>(DropsSchema.Detail), batch.GetColumn<string>(DropsSchema.TwinId));
            foreach (var (row, decision) in decisions[shard])
            {
                rows.Add(row);
                reasons.Add(decision.Reason);
                details.Add(decision.Detail ?? "");
                twins.Add(decision.TwinId ?? "");
            }
            await writer.WriteAsync(shard, batch, cancellationToken).ConfigureAwait(false);
        }
        await writer.CommitOnceAsync(store, key, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Every decision of shard <paramref name="shard"/>: its segment of each resolver task's object under
    /// <paramref name="folder"/>, merged. An object of an older layout (a plain Parquet file) is refused with an error naming
    /// it, as every routed table refuses one: jobs resume within one output format version.
    /// </summary>
    public static async Task<Dictionary<long, ShardDecision>> ReadShardAsync(IObjectStore store, string folder, int shard,
        CancellationToken cancellationToken)
    {
        var decisions = new Dictionary<long, ShardDecision>();
        await foreach (var info in store.ListAsync(folder, cancellationToken).ConfigureAwait(false))
            await foreach (var batch in RoutedTable.ReadAsync(store, info.Key, shard, cancellationToken).ConfigureAwait(false))
                Add(batch);
        return decisions;

        void Add(RecordBatch batch)
        {
            var (rows, reasons, details, twins) = (batch.GetColumn<long>(RowColumn), batch.GetColumn<string>(DropsSchema.Reason),
                batch.GetColumn<string>(DropsSchema.Detail), batch.GetColumn<string>(DropsSchema.TwinId));
            for (var i = 0; i < batch.RowCount; i++)
                decisions[rows[i]] = new ShardDecision(reasons[i], NullIfEmpty(details[i]), NullIfEmpty(twins[i]));
        }
    }

    /// <summary>
    /// The books of applying <paramref name="decisions"/> to a shard of <paramref name="rows"/> rows, exactly as
    /// <see cref="ShardTransformer"/> counts them when it runs <see cref="ApplyDecisionsTransform"/> (no measures, no metrics).
    /// </summary>
    public static TaskStats StatsOf(long rows, IReadOnlyDictionary<long, ShardDecision> decisions)
    {
        var dropped = new Dictionary<string, long>();
        foreach (var (row, decision) in decisions)
        {
            if (row < 0 || row >= rows)
                throw new InvalidOperationException($"decision for row {row} of a shard of {rows} rows: the decisions do not belong to this shard.");
            dropped[decision.Reason] = dropped.GetValueOrDefault(decision.Reason) + 1;
        }
        return new TaskStats { In = rows, Kept = rows - decisions.Count, Dropped = dropped };
    }

    /// <summary>The rows of a stored shard (its footer only).</summary>
    public static async Task<long> RowCountAsync(IObjectStore store, string key, CancellationToken cancellationToken)
    {
        await using var input = await store.OpenReadAsync(key, cancellationToken).ConfigureAwait(false);
        await using var reader = await ParquetTableReader.OpenAsync(input, cancellationToken).ConfigureAwait(false);
        return reader.RowCount;
    }

    private static string? NullIfEmpty(string value) => value.Length == 0 ? null : value;
}

/// <summary>
/// The one apply-decisions transform: drops each decided row (by running row number over the shard) with its decision's
/// reason, detail and twin; optionally fills columns it adds to every row first (<paramref name="fill"/> gets the batch and
/// the shard row number of its first row).
/// </summary>
public sealed class ApplyDecisionsTransform(IReadOnlyDictionary<long, ShardDecision> decisions, IReadOnlyList<ColumnSchema>? added = null,
    Action<RecordBatch, long>? fill = null) : IDocumentTransform
{
    private long _offset;

    public IReadOnlyList<ColumnSchema> AddedColumns { get; } = added ?? [];

    public void Process(RecordBatch batch, DropCollector drops)
    {
        fill?.Invoke(batch, _offset);
        if (decisions.Count > 0)
            for (var i = 0; i < batch.RowCount; i++)
                if (decisions.TryGetValue(_offset + i, out var decision)) drops.Drop(i, decision.Reason, decision.Detail, decision.TwinId);
        _offset += batch.RowCount;
    }
}
