using System.Diagnostics;
using System.Runtime.CompilerServices;
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
        ShardOccurrences shard;
        await using (var input = await data.OpenReadAsync(inputKey, cancellationToken).ConfigureAwait(false))
            shard = await CollectAsync(input, inputKey, cancellationToken).ConfigureAwait(false);
        await data.CreateOnceAsync(IdsKey(task, task.Task), (stream, ct) => stream.WriteAsync(shard.EncodedIds, ct).AsTask(), cancellationToken).ConfigureAwait(false);
        await using (var routed = await RoutedTableWriter.CreateAsync(OccurrenceSchema, cancellationToken).ConfigureAwait(false))
        {
            await shard.WriteAsync(routed, cancellationToken).ConfigureAwait(false);
            await routed.CommitOnceAsync(data, OccurrencesKey(task, task.Task), cancellationToken).ConfigureAwait(false);
        }
        return new TaskStats
        {
            In = shard.Documents, BytesIn = shard.BytesIn, Seconds = clock.Elapsed.TotalSeconds,
            Metrics = { ["units"] = shard.Units, ["document_units"] = shard.Occurrences },
        };
    }

    /// <summary>
    /// The hash phase's work on one shard in memory: its texts read as UTF-8 bytes, cut into units, each unit normalised
    /// and hashed, each document's distinct hashes listed per partition, and the shard's ids ranked (internal: the bench
    /// profiles the phase piece by piece with it).
    /// </summary>
    internal async Task<ShardOccurrences> CollectAsync(Stream input, string inputKey, CancellationToken cancellationToken)
    {
        // One pass over (id, text): the occurrences are held per partition (fixed-width, a shard's worth) until every id
        // is known, then each gets its document's rank in the keep order, and the ids go to resolve in that order, so the
        // shuffle rows need no id.
        var ids = new List<string>();
        var targets = new OccurrenceColumns?[spec.Partitions];
        var units = new List<LineUnit>();
        var hasher = new Utf8LineUnits();
        var distinct = new DistinctUnits();
        var row = 0;
        long bytesIn = 0, unitCount = 0, occurrences = 0;
        // The texts are hashed from their UTF-8 bytes (as the shard stores them): no string per document.
        // Called once per row group, so it would run unoptimised code (tier 0) for most of a shard: compiled optimised at once.
        await ShardTexts.ForEachRowGroupAsync(input, inputKey, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (batchIds, texts) =>
        {
            ids.AddRange(batchIds);
            for (var i = 0; i < texts.Length; i++, row++)
            {
                var text = texts[i].Span;
                bytesIn += text.Length;
                Utf8LineUnits.Split(text, spec.Unit, units);
                unitCount += units.Count;
                distinct.Reset(units.Count);
                for (var u = 0; u < units.Count; u++) distinct.Add(hasher.Hash(text, units[u]), u);
                for (var d = 0; d < distinct.Count; d++)
                {
                    var hash = distinct.Hash(d);
                    (targets[hash.PartitionOf(spec.Partitions)] ??= new OccurrenceColumns()).Add(hash, row, distinct.Unit(d));
                }
                occurrences += distinct.Count;
            }
        }, cancellationToken).ConfigureAwait(false);

        var (ranks, order) = RankedIds.Rank(ids);
        var encoded = RankedIds.Encode(ids, order);
        for (var partition = 0; partition < targets.Length; partition++) targets[partition]?.FillRanks(ranks);
        return new ShardOccurrences(targets, encoded, row, bytesIn, unitCount, occurrences);
    }

    /// <summary>One shard's hash phase result: the occurrence rows per partition (ranked), the ids in rank order, counts.</summary>
    internal sealed class ShardOccurrences
    {
        private readonly OccurrenceColumns?[] _targets;

        internal ShardOccurrences(OccurrenceColumns?[] targets, byte[] encodedIds, int documents, long bytesIn, long units, long occurrences) =>
            (_targets, EncodedIds, Documents, BytesIn, Units, Occurrences) = (targets, encodedIds, documents, bytesIn, units, occurrences);

        public byte[] EncodedIds { get; }
        public int Documents { get; }
        public long BytesIn { get; }
        public long Units { get; }
        public long Occurrences { get; }

        /// <summary>One routed segment per partition holding occurrences, in partition order.</summary>
        public async Task WriteAsync(RoutedTableWriter routed, CancellationToken cancellationToken)
        {
            for (var partition = 0; partition < _targets.Length; partition++)
                if (_targets[partition] is { } target) await routed.WriteAsync(partition, target.Batch, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>The hash phase's rows for one partition: a unit hash, the document's row (and rank, once known), the unit's index.</summary>
    internal sealed class OccurrenceColumns
    {
        private readonly Column<long> _high, _low;
        private readonly Column<int> _rows, _units;

        public OccurrenceColumns()
        {
            (_high, _low) = (Batch.GetColumn<long>(HashHigh), Batch.GetColumn<long>(HashLow));
            (_rows, _units) = (Batch.GetColumn<int>(Row), Batch.GetColumn<int>(Unit));
        }

        public RecordBatch Batch { get; } = RecordBatch.WithSchema(OccurrenceSchema);

        public void Add(ContentHash hash, int row, int unit)
        {
            _high.Add(hash.High);
            _low.Add(hash.Low);
            _rows.Add(row);
            _units.Add(unit);
        }

        /// <summary>Fills in each row's document rank from <paramref name="rankOfRow"/>.</summary>
        public void FillRanks(int[] rankOfRow)
        {
            var ranks = Batch.GetColumn<int>(Rank).List;
            foreach (var row in _rows.List) ranks.Add(rankOfRow[row]);
        }
    }
}
