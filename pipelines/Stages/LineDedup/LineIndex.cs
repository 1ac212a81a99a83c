using System.Runtime.InteropServices;
using Curation.Pipelines.Execution;
using Curation.Pipelines.IO;
using Curation.Pipelines.Model;
using Curation.Pipelines.Text;

namespace Curation.Pipelines.Stages;

// The durable line index of a versioned corpus: per hash partition, every distinct unit of the corpus (sorted by hash)
// with the number of corpus documents keeping it and the first of them. A refresh's resolve streams the base's partition
// twice against this run's units, never holding it: once to learn which of this run's units the corpus keeps (hash and
// count columns only), once to write the merged partition.
public sealed partial class LineDedupStage
{
    /// <summary>The index's name in the snapshot manifest (<c>index/{stage}/lines-{partition}.parquet</c>).</summary>
    public const string IndexName = "lines";

    private const string UnitMetadata = "curation.line_dedup.unit";
    private const string Kept = "kept";

    /// <summary>
    /// Rows per row group of a merged index partition: bounds what the merge holds besides this run's units. A test that
    /// merges across many row groups picks a smaller figure for its own flow (<see cref="UseIndexRowGroupRows"/>), never
    /// for the process: tests running beside it must write the default layout (the layout never changes an index's rows,
    /// but it does change its bytes, which resume tests compare).
    /// </summary>
    internal static int IndexRowGroupRows => RowGroupRows.Value;

    private static readonly FlowSetting<int> RowGroupRows = new(64 * 1024);

    /// <summary><see cref="IndexRowGroupRows"/> for the calling async flow (and the jobs it runs) until disposed.</summary>
    internal static IDisposable UseIndexRowGroupRows(int rows) => RowGroupRows.Use(rows);

    private static readonly IReadOnlyList<ColumnSchema> IndexSchema =
        [new(HashHigh, typeof(long)), new(HashLow, typeof(long)), new(Columns.Id, typeof(string)), new(Kept, typeof(int))];

    /// <summary>
    /// A refresh: joins the base snapshot's line index of this partition into this run's <paramref name="entries"/>,
    /// streaming its hash and count columns (never its ids): a unit of this run that corpus documents already keep gets
    /// them as its first keepers (<see cref="Entry.WithCorpus"/>). Returns the number of units the base indexes. A base
    /// indexed with the other unit (lines vs paragraphs) fails naming the setting (its hashes would never match); one not
    /// sorted by hash, or with a unit kept by no document, fails naming the object.
    /// </summary>
    private async Task<long> JoinBaseIndexAsync(TaskContext task, SnapshotIndex baseIndex, Dictionary<ContentHash, Entry> entries,
        CancellationToken cancellationToken)
    {
        var key = task.Job.OutputKeyOf(baseIndex.Key);
        await using var input = await task.Job.Output.OpenReadAsync(key, cancellationToken).ConfigureAwait(false);
        await using var reader = await ParquetTableReader.OpenAsync(input, cancellationToken).ConfigureAwait(false);
        var unit = reader.Metadata.GetValueOrDefault(UnitMetadata);
        if (unit != UnitName)
            throw new InvalidOperationException(
                $"{this}: the base snapshot {task.Job.Refresh!.BaseSnapshot} indexed unit = {unit ?? "?"}, this job asks for unit = {UnitName}: " +
                "a refresh needs the same unit (start a new corpus instead).");
        var keep = spec.MaxOccurrences;
        long rows = 0;
        ContentHash? previous = null;
        await foreach (var batch in reader.ReadColumnsAsync([HashHigh, HashLow, Kept], cancellationToken).ConfigureAwait(false))
        {
            var (high, low, kept) = (batch.GetColumn<long>(HashHigh).List, batch.GetColumn<long>(HashLow).List, batch.GetColumn<int>(Kept).List);
            for (var i = 0; i < batch.RowCount; i++, rows++)
            {
                var hash = new ContentHash(high[i], low[i]);
                if (previous is { } before && CompareHashes(before, hash) >= 0)
                    throw new InvalidDataException($"{key}: row {rows:N0} (hash {hash}) does not follow {before}: a line index is sorted by hash, each once.");
                if (kept[i] < 1) throw new InvalidDataException($"{key}: row {rows:N0} (hash {hash}) says {kept[i]} documents keep the unit (at least 1).");
                previous = hash;
                ref var entry = ref CollectionsMarshal.GetValueRefOrNullRef(entries, hash);
                if (!System.Runtime.CompilerServices.Unsafe.IsNullRef(ref entry)) entry = entry.WithCorpus(kept[i], keep);
            }
        }
        return rows;
    }

    /// <summary>
    /// A versioned corpus: this partition's index for the snapshot this job writes — the base's rows merged in hash order
    /// with this run's units, each of those with its keepers after this run — or the base's object by reference when this
    /// run added no unit and no keeper here. Streams the base; holds one row group of the output besides this run's units.
    /// </summary>
    /// <param name="ids">The ids resolve read back, holding every new unit's first keeper.</param>
    private async Task<List<SnapshotIndex>?> WriteIndexAsync(TaskContext task, int partition, SnapshotIndex? baseIndex,
        Dictionary<ContentHash, Entry> entries, Dictionary<(int Shard, int Rank), string> ids, CancellationToken cancellationToken)
    {
        if (task.Job.Refresh is null) return null;
        var keep = spec.MaxOccurrences;
        var addsNothing = !entries.Values.Any(e => e.Kept(keep) != e.Indexed);
        return [await CorpusIndex.MergeOrCarryAsync(task, IndexName, partition, baseIndex, addsNothing, IndexSchema,
            new Dictionary<string, string> { [UnitMetadata] = UnitName }, async (writer, baseRows, ct) =>
            {
                var fresh = entries.Keys.ToArray();
                Array.Sort(fresh, CompareHashes);
                var next = 0;
                var index = RecordBatch.WithSchema(IndexSchema);
                async Task AddAsync(ContentHash hash, string id, int kept)
                {
                    index.GetColumn<long>(HashHigh).Add(hash.High);
                    index.GetColumn<long>(HashLow).Add(hash.Low);
                    index.Ids.Add(id);
                    index.GetColumn<int>(Kept).Add(kept);
                    if (index.RowCount < IndexRowGroupRows) return;
                    await writer.WriteAsync(index, ct).ConfigureAwait(false);
                    index = RecordBatch.WithSchema(IndexSchema);
                }
                // This run's unit: its first keeper is a corpus document (the base row's id) or one of this run's.
                Task AddFreshAsync(ContentHash hash, string? corpusId)
                {
                    var entry = entries[hash];
                    var keeper = entry.Keeper;
                    var id = keeper.Shard >= 0 ? ids[(keeper.Shard, keeper.Rank)]
                        : corpusId ?? throw new InvalidOperationException($"{this}: unit {hash} has a corpus keeper but is not in the base's index.");
                    return AddAsync(hash, id, entry.Kept(keep));
                }
                await foreach (var batch in baseRows.ConfigureAwait(false))
                {
                    var (high, low, kept) = (batch.GetColumn<long>(HashHigh).List, batch.GetColumn<long>(HashLow).List, batch.GetColumn<int>(Kept).List);
                    for (var i = 0; i < batch.RowCount; i++)
                    {
                        var hash = new ContentHash(high[i], low[i]);
                        while (next < fresh.Length && CompareHashes(fresh[next], hash) < 0) await AddFreshAsync(fresh[next++], null).ConfigureAwait(false);
                        if (next < fresh.Length && fresh[next] == hash) await AddFreshAsync(fresh[next++], batch.Ids[i]).ConfigureAwait(false);
                        else await AddAsync(hash, batch.Ids[i], kept[i]).ConfigureAwait(false);
                    }
                }
                while (next < fresh.Length) await AddFreshAsync(fresh[next++], null).ConfigureAwait(false);
                await writer.WriteAsync(index, ct).ConfigureAwait(false);
            }, cancellationToken).ConfigureAwait(false)];
    }

    /// <summary>The index's order: by the hash's high, then low half (signed).</summary>
    private static int CompareHashes(ContentHash a, ContentHash b) => a.High != b.High ? a.High.CompareTo(b.High) : a.Low.CompareTo(b.Low);

    private string UnitName => spec.Unit == LineDedupUnit.Line ? "line" : "paragraph";
}
