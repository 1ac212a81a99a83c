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

        // One pass over (id, text): the occurrences are held per partition (fixed-width, a shard's worth) until every id
        // is known, then each gets its document's rank in the keep order, and the ids go to resolve in that order, so the
        // shuffle rows need no id.
        var ids = new List<string>();
        var targets = new OccurrenceColumns?[spec.Partitions];
        var units = new List<LineUnit>();
        var hasher = new Utf8LineUnits();
        var firstUnit = new Dictionary<ContentHash, int>();
        var row = 0;
        long bytesIn = 0, unitCount = 0, occurrences = 0;
        // The texts are hashed from their UTF-8 bytes (as the shard stores them): no string per document.
        await using (var input = await data.OpenReadAsync(inputKey, cancellationToken).ConfigureAwait(false))
            await ShardTexts.ForEachRowGroupAsync(input, inputKey, (batchIds, texts) =>
            {
                ids.AddRange(batchIds);
                for (var i = 0; i < texts.Length; i++, row++)
                {
                    var text = texts[i].Span;
                    bytesIn += text.Length;
                    Utf8LineUnits.Split(text, spec.Unit, units);
                    unitCount += units.Count;
                    firstUnit.Clear();
                    for (var u = 0; u < units.Count; u++)
                    {
                        var hash = hasher.Hash(text, units[u]);
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
                        (targets[hash.PartitionOf(spec.Partitions)] ??= new OccurrenceColumns()).Add(hash, row, unit);
                    occurrences += firstUnit.Count;
                }
            }, cancellationToken).ConfigureAwait(false);

        var (ranks, order) = RankedIds.Rank(ids);
        var encoded = RankedIds.Encode(ids, order);
        ids.Clear();
        await data.CreateOnceAsync(IdsKey(task, task.Task), (stream, ct) => stream.WriteAsync(encoded, ct).AsTask(), cancellationToken).ConfigureAwait(false);
        await using var routed = await RoutedTableWriter.CreateAsync(OccurrenceSchema, cancellationToken).ConfigureAwait(false);
        for (var partition = 0; partition < spec.Partitions; partition++)
            if (targets[partition] is { } target) await routed.WriteAsync(partition, target.Ranked(ranks), cancellationToken).ConfigureAwait(false);
        await routed.CommitOnceAsync(data, OccurrencesKey(task, task.Task), cancellationToken).ConfigureAwait(false);
        return new TaskStats
        {
            In = row, BytesIn = bytesIn, Seconds = clock.Elapsed.TotalSeconds,
            Metrics = { ["units"] = unitCount, ["document_units"] = occurrences },
        };
    }

    /// <summary>The hash phase's rows for one partition: a unit hash, the document's row (and rank, once known), the unit's index.</summary>
    private sealed class OccurrenceColumns
    {
        private readonly RecordBatch _batch = RecordBatch.WithSchema(OccurrenceSchema);
        private readonly Column<long> _high, _low;
        private readonly Column<int> _rows, _units;

        public OccurrenceColumns()
        {
            (_high, _low) = (_batch.GetColumn<long>(HashHigh), _batch.GetColumn<long>(HashLow));
            (_rows, _units) = (_batch.GetColumn<int>(Row), _batch.GetColumn<int>(Unit));
        }

        public void Add(ContentHash hash, int row, int unit)
        {
            _high.Add(hash.High);
            _low.Add(hash.Low);
            _rows.Add(row);
            _units.Add(unit);
        }

        /// <summary>The rows with each document's rank filled in from <paramref name="rankOfRow"/>.</summary>
        public RecordBatch Ranked(int[] rankOfRow)
        {
            var ranks = _batch.GetColumn<int>(Rank).List;
            foreach (var row in _rows.List) ranks.Add(rankOfRow[row]);
            return _batch;
        }
    }
}
