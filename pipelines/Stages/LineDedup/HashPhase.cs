using System.Diagnostics;
using Curation.Pipelines.Execution;
using Curation.Pipelines.IO;
using Curation.Pipelines.Model;
using Curation.Pipelines.Storage;
using Curation.Pipelines.Text;

namespace Curation.Pipelines.Stages;

// The hash phase: every document's distinct unit hashes, routed by hash partition as fixed-width rows.
public sealed partial class LineDedupStage
{
    private async Task<TaskStats> HashAsync(TaskContext task, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        var data = task.Job.Data;
        var inputKey = task.InputShardKey(task.Task);

        // The shard's ids first (one small column): each document's rank in the keep order, and the ids in that order
        // for resolve, so the shuffle rows need no id.
        var ids = new List<string>();
        await using (var input = await data.OpenReadAsync(inputKey, cancellationToken).ConfigureAwait(false))
        await using (var reader = await ParquetTableReader.OpenAsync(input, cancellationToken).ConfigureAwait(false))
            await foreach (var batch in reader.ReadColumnsAsync([Columns.Id], cancellationToken).ConfigureAwait(false))
                ids.AddRange(batch.Ids.List);
        var (ranks, order) = RankedIds.Rank(ids);
        var encoded = RankedIds.Encode(ids, order);
        await data.CreateOnceAsync(IdsKey(task, task.Task), (stream, ct) => stream.WriteAsync(encoded, ct).AsTask(), cancellationToken).ConfigureAwait(false);
        ids.Clear();

        var units = new List<LineUnit>();
        var firstUnit = new Dictionary<ContentHash, int>();
        var row = 0;
        long bytesIn = 0, unitCount = 0, occurrences = 0;
        await using var routed = await RoutedTableWriter.CreateAsync(OccurrenceSchema, cancellationToken).ConfigureAwait(false);
        await using (var input = await data.OpenReadAsync(inputKey, cancellationToken).ConfigureAwait(false))
        await using (var reader = await ParquetTableReader.OpenAsync(input, cancellationToken).ConfigureAwait(false))
            await foreach (var batch in reader.ReadColumnsAsync([Columns.Text], cancellationToken).ConfigureAwait(false))
            {
                var targets = new OccurrenceColumns?[spec.Partitions];
                var texts = batch.Texts;
                for (var i = 0; i < batch.RowCount; i++, row++)
                {
                    var text = texts[i];
                    bytesIn += System.Text.Encoding.UTF8.GetByteCount(text);
                    LineUnits.Split(text, spec.Unit, units);
                    unitCount += units.Count;
                    firstUnit.Clear();
                    for (var u = 0; u < units.Count; u++)
                    {
                        var hash = LineUnits.Hash(text, units[u]);
                        // A unit repeated within the document is one occurrence; its first unit is marked (~index) so
                        // apply looks for the later copies of that one hash only.
                        if (firstUnit.TryGetValue(hash, out var first))
                        {
                            if (first >= 0) firstUnit[hash] = ~first;
                            continue;
                        }
                        firstUnit[hash] = u;
                    }
                    foreach (var (hash, unit) in firstUnit)
                        (targets[hash.PartitionOf(spec.Partitions)] ??= new OccurrenceColumns()).Add(hash, ranks[row], row, unit);
                    occurrences += firstUnit.Count;
                }
                for (var partition = 0; partition < spec.Partitions; partition++)
                    if (targets[partition] is { } target) await routed.WriteAsync(partition, target.Batch, cancellationToken).ConfigureAwait(false);
            }
        await routed.CommitOnceAsync(data, OccurrencesKey(task, task.Task), cancellationToken).ConfigureAwait(false);
        return new TaskStats
        {
            In = row, BytesIn = bytesIn, Seconds = clock.Elapsed.TotalSeconds,
            Metrics = { ["units"] = unitCount, ["document_units"] = occurrences },
        };
    }

    /// <summary>The hash phase's rows for one partition: a unit hash, the document's rank and row, the unit's index.</summary>
    private sealed class OccurrenceColumns
    {
        private readonly Column<long> _high, _low;
        private readonly Column<int> _ranks, _rows, _units;

        public OccurrenceColumns()
        {
            Batch = RecordBatch.WithSchema(OccurrenceSchema);
            (_high, _low) = (Batch.GetColumn<long>(HashHigh), Batch.GetColumn<long>(HashLow));
            (_ranks, _rows, _units) = (Batch.GetColumn<int>(Rank), Batch.GetColumn<int>(Row), Batch.GetColumn<int>(Unit));
        }

        public RecordBatch Batch { get; }

        public void Add(ContentHash hash, int rank, int row, int unit)
        {
            _high.Add(hash.High);
            _low.Add(hash.Low);
            _ranks.Add(rank);
            _rows.Add(row);
            _units.Add(unit);
        }
    }
}
