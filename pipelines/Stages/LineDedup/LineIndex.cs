using Curation.Pipelines.Execution;
using Curation.Pipelines.IO;
using Curation.Pipelines.Model;
using Curation.Pipelines.Text;

namespace Curation.Pipelines.Stages;

// The durable line index of a versioned corpus: per hash partition, every distinct unit of the corpus with the number
// of corpus documents keeping it and the first of them. Loaded by a refresh's resolve, merged and written per snapshot.
public sealed partial class LineDedupStage
{
    /// <summary>The index's name in the snapshot manifest (<c>index/{stage}/lines-{partition}.parquet</c>).</summary>
    public const string IndexName = "lines";

    private const string UnitMetadata = "curation.line_dedup.unit";

    private static readonly IReadOnlyList<ColumnSchema> IndexSchema =
        [new(HashHigh, typeof(long)), new(HashLow, typeof(long)), new(Columns.Id, typeof(string)), new("kept", typeof(int))];

    /// <summary>
    /// A refresh: the base snapshot's line index of this partition (null for a plain output or the first snapshot),
    /// each row handed to <paramref name="add"/> as (hash, first keeper's id, documents keeping it). A base indexed with
    /// the other unit (lines vs paragraphs) fails naming the setting: its hashes would never match.
    /// </summary>
    private async Task<SnapshotIndex?> LoadBaseIndexAsync(TaskContext task, int partition, Action<ContentHash, string, int> add,
        CancellationToken cancellationToken)
    {
        if (task.Job.Refresh is null) return null;
        var found = (await task.Job.BaseIndexAsync(Folder, IndexName, spec.Partitions, cancellationToken).ConfigureAwait(false)).ElementAtOrDefault(partition);
        if (found is null) return null;
        await using var input = await task.Job.Output.OpenReadAsync(task.Job.OutputKeyOf(found.Key), cancellationToken).ConfigureAwait(false);
        await using var reader = await ParquetTableReader.OpenAsync(input, cancellationToken).ConfigureAwait(false);
        var unit = reader.Metadata.GetValueOrDefault(UnitMetadata);
        if (unit != UnitName)
            throw new InvalidOperationException(
                $"{this}: the base snapshot {task.Job.Refresh.BaseSnapshot} indexed unit = {unit ?? "?"}, this job asks for unit = {UnitName}: " +
                "a refresh needs the same unit (start a new corpus instead).");
        await foreach (var batch in reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
        {
            var (high, low, ids, kept) = (batch.GetColumn<long>(HashHigh), batch.GetColumn<long>(HashLow), batch.Ids, batch.GetColumn<int>("kept"));
            for (var i = 0; i < batch.RowCount; i++) add(new ContentHash(high[i], low[i]), ids[i], kept[i]);
        }
        return found;
    }

    /// <summary>
    /// A versioned corpus: this partition's index for the snapshot this job writes — the base's units and this run's,
    /// sorted by hash, each with its keepers after this run — or the base's object by reference when this run added no
    /// unit and no keeper here.
    /// </summary>
    /// <param name="ids">The ids resolve read back, holding every new unit's first keeper.</param>
    private async Task<List<SnapshotIndex>?> WriteIndexAsync(TaskContext task, int partition, SnapshotIndex? baseIndex,
        Dictionary<ContentHash, Entry> entries, Dictionary<(int Shard, int Rank), string> ids, CancellationToken cancellationToken)
    {
        if (task.Job.Refresh is null) return null;
        var keep = spec.MaxOccurrences;
        if (baseIndex is not null && !entries.Values.Any(e => e.Kept(keep) != e.Indexed)) return [baseIndex];
        var index = RecordBatch.WithSchema(IndexSchema, entries.Count);
        var (high, low, column, kept) = (index.GetColumn<long>(HashHigh), index.GetColumn<long>(HashLow), index.Ids, index.GetColumn<int>("kept"));
        foreach (var (hash, entry) in entries.OrderBy(e => e.Key.High).ThenBy(e => e.Key.Low))
        {
            high.Add(hash.High);
            low.Add(hash.Low);
            var keeper = entry.Keeper;
            column.Add(keeper.Shard < 0 ? entry.CorpusId! : ids[(keeper.Shard, keeper.Rank)]);
            kept.Add(entry.Kept(keep));
        }
        return [await StageObjects.WriteIndexAsync(task, IndexName, partition, IndexSchema, new Dictionary<string, string> { [UnitMetadata] = UnitName },
            (writer, ct) => writer.WriteAsync(index, ct), cancellationToken).ConfigureAwait(false)];
    }

    private string UnitName => spec.Unit == LineDedupUnit.Line ? "line" : "paragraph";
}
