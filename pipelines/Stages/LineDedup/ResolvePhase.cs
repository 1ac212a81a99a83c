using System.Diagnostics;
using System.Runtime.InteropServices;
using Curation.Pipelines.Execution;
using Curation.Pipelines.IO;
using Curation.Pipelines.Model;
using Curation.Pipelines.Storage;
using Curation.Pipelines.Text;

namespace Curation.Pipelines.Stages;

// The resolve phase: per hash of one partition, which documents keep the unit and which lose it.
public sealed partial class LineDedupStage
{
    private async Task<TaskStats> ResolveAsync(TaskContext task, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        var partition = task.Task;
        var shards = task.Job.Plan.ShardCount;
        var keep = spec.MaxOccurrences;

        // Pass 1: per hash, the number of documents and, per shard, its first `keep` holders by rank (the keep order
        // within a shard). Memory: one entry per distinct unit hash of this partition, candidates only for hashes seen
        // twice, and 24 bytes per occurrence (so pass 2 does not read and decode every shard's file again).
        var entries = new Dictionary<ContentHash, Entry>();
        var seen = new List<Occurrence>[shards];
        long occurrences = 0;
        for (var shard = 0; shard < shards; shard++)
        {
            var list = seen[shard] = [];
            await foreach (var batch in RoutedTable.ReadAsync(task.Job.Data, OccurrencesKey(task, shard), partition, cancellationToken).ConfigureAwait(false))
            {
                var (high, low) = (batch.GetColumn<long>(HashHigh).List, batch.GetColumn<long>(HashLow).List);
                var (ranks, rows, units) = (batch.GetColumn<int>(Rank).List, batch.GetColumn<int>(Row).List, batch.GetColumn<int>(Unit).List);
                for (var i = 0; i < batch.RowCount; i++)
                {
                    occurrences++;
                    var hash = new ContentHash(high[i], low[i]);
                    list.Add(new Occurrence(hash, rows[i], units[i]));
                    var holder = new Holder(shard, ranks[i], rows[i]);
                    ref var entry = ref CollectionsMarshal.GetValueRefOrAddDefault(entries, hash, out var exists);
                    if (!exists) entry = new Entry(holder);
                    else entry.Add(holder, keep);
                }
            }
        }

        // The keepers of every unit found in more than `keep` documents: the first `keep` by (id, shard, row). Ids are
        // read back (from the hash phase's ranked ids) only where the candidates lie in more than one shard.
        var repeated = new List<ContentHash>();
        var needed = new SortedDictionary<int, HashSet<int>>();
        foreach (var (hash, entry) in entries)
        {
            if (entry.Count <= keep) continue;
            repeated.Add(hash);
            if (!entry.SpansShards) continue;
            foreach (var holder in entry.Candidates!)
            {
                if (!needed.TryGetValue(holder.Shard, out var set)) needed[holder.Shard] = set = [];
                set.Add(holder.Rank);
            }
        }
        var ids = new Dictionary<(int Shard, int Rank), string>();
        foreach (var (shard, wanted) in needed)
        {
            var key = IdsKey(task, shard);
            var ranked = new RankedIds(await task.Job.Data.ReadBytesAsync(key, cancellationToken).ConfigureAwait(false), key);
            foreach (var rank in wanted) ids[(shard, rank)] = ranked[rank];
        }
        foreach (var hash in repeated) CollectionsMarshal.GetValueRefOrNullRef(entries, hash).Resolve(keep, ids);

        // Pass 2: every occurrence of a unit found in more than `keep` documents, outside its keepers, is removed.
        var removals = new SortedDictionary<int, RecordBatch>();
        long removed = 0;
        for (var shard = 0; shard < shards; shard++)
        {
            Column<int>? rows = null, units = null;
            Column<long>? high = null, low = null;
            foreach (var occurrence in seen[shard])
            {
                var entry = entries[occurrence.Hash];
                if (entry.Count <= keep || entry.Keeps(shard, occurrence.Row)) continue;
                if (rows is null)
                {
                    var target = removals[shard] = RecordBatch.WithSchema(RemovalSchema);
                    (rows, units, high, low) = (target.GetColumn<int>(Row), target.GetColumn<int>(Unit), target.GetColumn<long>(HashHigh), target.GetColumn<long>(HashLow));
                }
                rows.Add(occurrence.Row);
                units!.Add(occurrence.Unit);
                high!.Add(occurrence.Hash.High);
                low!.Add(occurrence.Hash.Low);
                removed++;
            }
            seen[shard] = [];
        }
        await RoutedTable.WriteAsync(task.Job.Data, RemovalsKey(task, partition), RemovalSchema, removals, cancellationToken).ConfigureAwait(false);

        // The partition's most repeated units: the job's top list is the top of these lists (a hash lives in one partition).
        var top = entries.Where(e => e.Value.Count > keep)
            .OrderByDescending(e => e.Value.Count).ThenBy(e => e.Key.High).ThenBy(e => e.Key.Low)
            .Take(spec.TopLines)
            .Select(e => new RepeatedUnit(e.Key.ToString(), e.Value.Count, e.Value.Count - keep, null))
            .ToArray();
        await StageObjects.WriteJsonOnceAsync(task.Job.Data, TopKey(task, partition), top, cancellationToken).ConfigureAwait(false);

        return new TaskStats
        {
            In = occurrences, Seconds = clock.Elapsed.TotalSeconds,
            Metrics =
            {
                ["distinct_units"] = entries.Count,
                ["repeated_units"] = repeated.Count,
                ["occurrences_removed"] = removed,
            },
        };
    }

    /// <summary>One document holding a unit, as pass 2 needs it: its row and the unit's index there.</summary>
    private readonly record struct Occurrence(ContentHash Hash, int Row, int Unit);

    /// <summary>A document holding a unit: its shard, its rank in the shard's id order, its row.</summary>
    private readonly record struct Holder(int Shard, int Rank, int Row);

    /// <summary>
    /// One unit hash: the documents it occurs in and its keeper candidates: <see cref="First"/> alone until a second
    /// document holds it, then <see cref="Candidates"/>: per shard its first <c>maxOccurrences</c> holders by rank
    /// (shards arrive in order, so the current shard's are the list's tail); after <see cref="Resolve"/> the keepers.
    /// </summary>
    private struct Entry(Holder first)
    {
        public long Count { get; private set; } = 1;
        public Holder First { get; } = first;
        public List<Holder>? Candidates { get; private set; }

        public readonly bool SpansShards => Candidates is { } list && list[0].Shard != list[^1].Shard;

        public void Add(Holder holder, int keep)
        {
            Count++;
            var list = Candidates ??= [First];
            var tail = list.Count;
            while (tail > 0 && list[tail - 1].Shard == holder.Shard) tail--;
            if (list.Count - tail == keep)
            {
                if (holder.Rank >= list[^1].Rank) return;
                list.RemoveAt(list.Count - 1);
            }
            var at = list.Count;
            while (at > tail && list[at - 1].Rank > holder.Rank) at--;
            list.Insert(at, holder);
        }

        /// <summary>Keeps the first <paramref name="keep"/> candidates by (id, shard, rank); ids only across shards.</summary>
        public void Resolve(int keep, Dictionary<(int Shard, int Rank), string> ids)
        {
            var list = Candidates!;
            if (SpansShards)
                list.Sort((a, b) =>
                {
                    var byId = string.CompareOrdinal(ids[(a.Shard, a.Rank)], ids[(b.Shard, b.Rank)]);
                    if (byId != 0) return byId;
                    return a.Shard != b.Shard ? a.Shard.CompareTo(b.Shard) : a.Rank.CompareTo(b.Rank);
                });
            if (list.Count > keep) list.RemoveRange(keep, list.Count - keep);
        }

        /// <summary>Whether the document at (<paramref name="shard"/>, <paramref name="row"/>) keeps the unit (after <see cref="Resolve"/>).</summary>
        public readonly bool Keeps(int shard, int row)
        {
            if (Candidates is null) return First.Shard == shard && First.Row == row;
            foreach (var k in Candidates) if (k.Shard == shard && k.Row == row) return true;
            return false;
        }
    }
}
