using System.Diagnostics;
using System.Runtime.InteropServices;
using Curation.Pipelines.Execution;
using Curation.Pipelines.IO;
using Curation.Pipelines.Model;
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

        // Pass 1: per hash, the number of documents and the first `keep` of them by (id, shard, row).
        // Memory: one entry per distinct unit hash of this partition, and 24 bytes per occurrence (hash and row, so
        // pass 2 does not read and decode every shard's file again: a (shard, row) names one occurrence of a hash).
        var entries = new Dictionary<ContentHash, Entry>();
        // A versioned corpus first loads its base snapshot's line index of this partition: the corpus' documents come
        // before every new one (the CCNet rule "keep the first"), so a unit they keep fills its keeper slots first and
        // a new document keeps it only while fewer than `keep` corpus documents do.
        var baseIndex = await LoadBaseIndexAsync(task, partition, (hash, id, kept) => entries[hash] = Entry.OfCorpus(id, kept, keep),
            cancellationToken).ConfigureAwait(false);
        var indexed = entries.Count;
        var seen = new List<(ContentHash Hash, long Row)>[shards];
        long occurrences = 0;
        for (var shard = 0; shard < shards; shard++)
        {
            var list = seen[shard] = [];
            await foreach (var batch in RoutedTable.ReadAsync(task.Job.Data, OccurrencesKey(task, shard), partition, cancellationToken).ConfigureAwait(false))
            {
                var (high, low, ids, rows) = (batch.GetColumn<long>("hash_hi"), batch.GetColumn<long>("hash_lo"), batch.Ids, batch.GetColumn<long>(Row));
                for (var i = 0; i < batch.RowCount; i++)
                {
                    occurrences++;
                    var hash = new ContentHash(high[i], low[i]);
                    var candidate = new Keeper(ids[i], shard, rows[i]);
                    list.Add((hash, rows[i]));
                    ref var entry = ref CollectionsMarshal.GetValueRefOrAddDefault(entries, hash, out var exists);
                    entry = exists ? entry.With(candidate, keep) : Entry.First(candidate, keep);
                }
            }
        }

        // Pass 2: every occurrence of a unit found in more than `keep` documents, outside its keepers, is removed.
        var removals = new SortedDictionary<int, RecordBatch>();
        long removed = 0, ofCorpus = 0;
        for (var shard = 0; shard < shards; shard++)
        {
            Column<long>? rows = null, high = null, low = null;
            foreach (var (hash, row) in seen[shard])
            {
                var entry = entries[hash];
                if (entry.Removed(keep) == 0 || entry.Keeps(shard, row)) continue;
                if (entry.Kept(keep) == entry.Indexed) ofCorpus++;
                if (rows is null)
                {
                    var target = removals[shard] = RecordBatch.WithSchema(RemovalSchema);
                    (rows, high, low) = (target.GetColumn<long>(Row), target.GetColumn<long>("hash_hi"), target.GetColumn<long>("hash_lo"));
                }
                rows.Add(row);
                high!.Add(hash.High);
                low!.Add(hash.Low);
                removed++;
            }
            seen[shard] = [];
        }
        await RoutedTable.WriteAsync(task.Job.Data, RemovalsKey(task, partition), RemovalSchema, removals, cancellationToken).ConfigureAwait(false);

        // The partition's most repeated units: the job's top list is the top of these lists (a hash lives in one partition).
        // Against a versioned corpus a unit's documents count the corpus documents keeping it too.
        var top = entries.Where(e => e.Value.Removed(keep) > 0)
            .OrderByDescending(e => e.Value.Count).ThenBy(e => e.Key.High).ThenBy(e => e.Key.Low)
            .Take(spec.TopLines)
            .Select(e => new RepeatedUnit(e.Key.ToString(), e.Value.Count, e.Value.Removed(keep), null))
            .ToArray();
        await StageObjects.WriteJsonOnceAsync(task.Job.Data, TopKey(task, partition), top, cancellationToken).ConfigureAwait(false);
        var indexes = await WriteIndexAsync(task, partition, baseIndex, entries, cancellationToken).ConfigureAwait(false);

        var stats = new TaskStats
        {
            In = occurrences, Seconds = clock.Elapsed.TotalSeconds, Indexes = indexes,
            Metrics =
            {
                ["distinct_units"] = entries.Values.Count(e => e.Count > e.Indexed),
                ["repeated_units"] = entries.Values.Count(e => e.Removed(keep) > 0),
                ["occurrences_removed"] = removed,
            },
        };
        if (task.Job.Refresh is not null)
        {
            stats.Metrics["indexed_units"] = indexed;
            stats.Metrics["occurrences_removed_of_corpus"] = ofCorpus;
        }
        return stats;
    }

    /// <summary>
    /// A document holding a unit, ordered by (id, shard, row): the keep rule's order. A corpus document of the base
    /// snapshot's index (<see cref="Shard"/> −1) comes before every document of this run.
    /// </summary>
    private readonly record struct Keeper(string Id, int Shard, long Row) : IComparable<Keeper>
    {
        public int CompareTo(Keeper other)
        {
            if ((Shard < 0) != (other.Shard < 0)) return Shard < 0 ? -1 : 1;
            var byId = string.CompareOrdinal(Id, other.Id);
            if (byId != 0) return byId;
            return Shard != other.Shard ? Shard.CompareTo(other.Shard) : Row.CompareTo(other.Row);
        }
    }

    /// <summary>
    /// One unit hash: the documents it occurs in and its keepers: <see cref="Best"/> when one document keeps it (the
    /// default), else the sorted first ones in <see cref="Firsts"/>. <see cref="Indexed"/>: the corpus documents that
    /// keep it (from the base snapshot's index), counted in <see cref="Count"/> and first among the keepers.
    /// </summary>
    private readonly record struct Entry(long Count, Keeper Best, Keeper[]? Firsts, int Indexed = 0)
    {
        public static Entry First(Keeper keeper, int keep) => new(1, keeper, keep == 1 ? null : [keeper]);

        /// <summary>A unit of the corpus' index, kept by <paramref name="kept"/> corpus documents, the first of them <paramref name="id"/>.</summary>
        public static Entry OfCorpus(string id, int kept, int keep) =>
            new(kept, new Keeper(id, -1, 0), keep == 1 ? null : Enumerable.Range(0, Math.Min(kept, keep)).Select(k => new Keeper(id, -1, k)).ToArray(), kept);

        /// <summary>Documents keeping the unit after this run: the corpus' keepers, then new ones up to <c>keep</c> in all.</summary>
        public int Kept(int keep) => (int)Math.Max(Indexed, Math.Min(keep, Count));

        /// <summary>This run's occurrences that lose the unit.</summary>
        public long Removed(int keep) => Count - Kept(keep);

        public Entry With(Keeper candidate, int keep)
        {
            if (Firsts is null) return new Entry(Count + 1, candidate.CompareTo(Best) < 0 ? candidate : Best, null, Indexed);
            if (Firsts.Length == keep && candidate.CompareTo(Firsts[^1]) >= 0) return this with { Count = Count + 1 };
            var firsts = new List<Keeper>(Firsts) { candidate };
            firsts.Sort();
            return new Entry(Count + 1, firsts[0], firsts.Take(keep).ToArray(), Indexed);
        }

        /// <summary>Whether the occurrence at (<paramref name="shard"/>, <paramref name="row"/>) is one of the keepers.</summary>
        public bool Keeps(int shard, long row)
        {
            if (Firsts is null) return Best.Shard == shard && Best.Row == row;
            foreach (var k in Firsts) if (k.Shard == shard && k.Row == row) return true;
            return false;
        }
    }
}
