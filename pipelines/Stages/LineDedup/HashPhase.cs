using System.Diagnostics;
using Curation.Pipelines.Execution;
using Curation.Pipelines.IO;
using Curation.Pipelines.Model;
using Curation.Pipelines.Text;

namespace Curation.Pipelines.Stages;

// The hash phase: every document's distinct unit hashes, routed by hash partition.
public sealed partial class LineDedupStage
{
    private async Task<TaskStats> HashAsync(TaskContext task, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        var units = new List<LineUnit>();
        var distinct = new HashSet<ContentHash>();
        long row = 0, bytesIn = 0, unitCount = 0, occurrences = 0;
        await using var routed = await RoutedTableWriter.CreateAsync(OccurrenceSchema, cancellationToken).ConfigureAwait(false);
        await using (var input = await task.Job.Data.OpenReadAsync(task.InputShardKey(task.Task), cancellationToken).ConfigureAwait(false))
        await using (var reader = await ParquetTableReader.OpenAsync(input, cancellationToken).ConfigureAwait(false))
            await foreach (var batch in reader.ReadColumnsAsync([Columns.Id, Columns.Text], cancellationToken).ConfigureAwait(false))
            {
                var byPartition = new SortedDictionary<int, RecordBatch>();
                var columns = new (Column<long> High, Column<long> Low, Column<string> Ids, Column<long> Rows)?[spec.Partitions];
                var (texts, documentIds) = (batch.Texts, batch.Ids);
                for (var i = 0; i < batch.RowCount; i++, row++)
                {
                    var text = texts[i];
                    bytesIn += System.Text.Encoding.UTF8.GetByteCount(text);
                    LineUnits.Split(text, spec.Unit, units);
                    unitCount += units.Count;
                    distinct.Clear();
                    foreach (var unit in units)
                    {
                        var hash = LineUnits.Hash(text, unit);
                        if (!distinct.Add(hash)) continue;
                        var partition = hash.PartitionOf(spec.Partitions);
                        if (columns[partition] is null)
                        {
                            var target = byPartition[partition] = RecordBatch.WithSchema(OccurrenceSchema);
                            columns[partition] = (target.GetColumn<long>("hash_hi"), target.GetColumn<long>("hash_lo"), target.Ids, target.GetColumn<long>(Row));
                        }
                        var (high, low, ids, rows) = columns[partition]!.Value;
                        high.Add(hash.High);
                        low.Add(hash.Low);
                        ids.Add(documentIds[i]);
                        rows.Add(row);
                    }
                    occurrences += distinct.Count;
                }
                foreach (var (partition, entries) in byPartition) await routed.WriteAsync(partition, entries, cancellationToken).ConfigureAwait(false);
            }
        await routed.CommitOnceAsync(task.Job.Data, OccurrencesKey(task, task.Task), cancellationToken).ConfigureAwait(false);
        return new TaskStats
        {
            In = row, BytesIn = bytesIn, Seconds = clock.Elapsed.TotalSeconds,
            Metrics = { ["units"] = unitCount, ["document_units"] = occurrences },
        };
    }
}
