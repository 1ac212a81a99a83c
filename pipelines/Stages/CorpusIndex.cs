using Curation.Pipelines.Execution;
using Curation.Pipelines.IO;
using Curation.Pipelines.Model;

namespace Curation.Pipelines.Stages;

/// <summary>
/// A stage's durable index of a versioned corpus, one partition at a time: the base snapshot's partition (the one a
/// refresh deduplicates against), and the next snapshot's partition — the base's object carried by reference when this
/// run adds nothing to it, else a new object that merges the base's rows with this run's (create-once, streamed).
/// </summary>
internal static class CorpusIndex
{
    /// <summary>
    /// The base snapshot's partition <paramref name="partition"/> of index <paramref name="name"/>, or null when the job
    /// refreshes no base snapshot (a first snapshot, or not a versioned corpus). Fails, naming the index, when the base
    /// has another partition count (see <see cref="JobContext.BaseIndexAsync"/>).
    /// </summary>
    public static async Task<SnapshotIndex?> BaseAsync(TaskContext task, string name, int partitions, int partition, CancellationToken cancellationToken) =>
        task.Job.Refresh is null ? null
            : (await task.Job.BaseIndexAsync(task.Stage.Folder, name, partitions, cancellationToken).ConfigureAwait(false)).ElementAtOrDefault(partition);

    /// <summary>
    /// The next snapshot's partition of index <paramref name="name"/>: <paramref name="baseIndex"/> itself when
    /// <paramref name="addsNothing"/> (no copy of an unchanged partition), otherwise a new object whose rows
    /// <paramref name="merge"/> writes, given the base's row groups (none without a base) to stream through in order.
    /// </summary>
    public static async Task<SnapshotIndex> MergeOrCarryAsync(TaskContext task, string name, int partition, SnapshotIndex? baseIndex, bool addsNothing,
        IReadOnlyList<ColumnSchema> schema, Dictionary<string, string>? metadata,
        Func<ParquetTableWriter, IAsyncEnumerable<RecordBatch>, CancellationToken, Task> merge, CancellationToken cancellationToken)
    {
        if (baseIndex is not null && addsNothing) return baseIndex;
        return await StageObjects.WriteIndexAsync(task, name, partition, schema, metadata,
            (writer, ct) => merge(writer, baseIndex is null ? AsyncEnumerable.Empty<RecordBatch>() : StageObjects.ReadIndexAsync(task.Job, baseIndex, ct), ct),
            cancellationToken)
            .ConfigureAwait(false);
    }

    /// <summary><see cref="MergeOrCarryAsync"/> for an index whose rows are a shuffle row type (<see cref="ShuffleTable"/>).</summary>
    public static Task<SnapshotIndex> MergeOrCarryAsync<TRow>(TaskContext task, string name, int partition, SnapshotIndex? baseIndex, bool addsNothing,
        Dictionary<string, string>? metadata, Func<ParquetTableWriter, IAsyncEnumerable<RecordBatch>, CancellationToken, Task> merge,
        CancellationToken cancellationToken) =>
        MergeOrCarryAsync(task, name, partition, baseIndex, addsNothing, ShuffleTable.Schema<TRow>(), metadata, merge, cancellationToken);
}
