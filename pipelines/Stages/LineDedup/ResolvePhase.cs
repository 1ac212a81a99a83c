using System.Diagnostics;
using System.Runtime.CompilerServices;
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

        // Pass 1: per hash, the number of documents and, per shard, its first `keep` holders by rank (the keep order
        // within a shard). Memory: one entry per distinct unit hash this run found in this partition, candidates only for
        // hashes seen twice, and 24 bytes per occurrence (so pass 2 does not read and decode every shard's file again).
        var entries = new Dictionary<ContentHash, Entry>();
        var indexing = task.Job.Refresh is not null;
        var seen = new List<Occurrence>[shards];
        long occurrences = 0;
        for (var shard = 0; shard < shards; shard++)
        {
            var list = seen[shard] = [];
            await foreach (var batch in RoutedTable.ReadAsync(task.Job.Data, OccurrencesKey(task, shard), partition, cancellationToken).ConfigureAwait(false))
                occurrences += CountOccurrences(batch, shard, keep, list, entries);
        }

        // A versioned corpus: its base snapshot's line index of this partition is streamed against these units. The
        // corpus' documents come before every new one (the CCNet rule "keep the first"), so the corpus documents keeping
        // a unit are its first keepers and a new document keeps it only while fewer than `keep` corpus documents do.
        var baseIndex = await CorpusIndex.BaseAsync(task, IndexName, spec.Partitions, partition, cancellationToken).ConfigureAwait(false);
        var indexed = baseIndex is null ? 0 : await JoinBaseIndexAsync(task, baseIndex, entries, cancellationToken).ConfigureAwait(false);

        // The keepers of every unit found in more than `keep` documents: the first `keep` by (id, shard, row). Ids are
        // read back (from the hash phase's ranked ids) only where the candidates lie in more than one shard, and, for a
        // versioned corpus' index, for the first keeper of every unit new to the corpus.
        var toResolve = new List<ContentHash>();
        var needed = new SortedDictionary<int, HashSet<int>>();
        void Need(Holder holder)
        {
            if (holder.Shard < 0) return; // a corpus keeper: its id is in the index
            if (!needed.TryGetValue(holder.Shard, out var set)) needed[holder.Shard] = set = [];
            set.Add(holder.Rank);
        }
        foreach (var (hash, entry) in entries)
        {
            var isNew = indexing && entry.Indexed == 0;
            if (entry.Count <= keep && !isNew) continue;
            if (entry.Candidates is not null) toResolve.Add(hash);
            if (entry.SpansShards) entry.Candidates!.ForEach(Need);
            else if (isNew) Need(entry.Keeper);
        }
        // Every shard is asked for a few ids: each object is read front to back for just those (not held whole).
        var ids = new Dictionary<(int Shard, int Rank), string>();
        foreach (var (shard, wanted) in needed)
        {
            var key = IdsKey(task, shard);
            var ranks = wanted.Order().ToArray();
            string[] found;
            await using (var input = await task.Job.Data.OpenReadAsync(key, cancellationToken).ConfigureAwait(false))
                found = await RankedIds.ReadAsync(input, key, ranks, cancellationToken).ConfigureAwait(false);
            for (var i = 0; i < ranks.Length; i++) ids[(shard, ranks[i])] = found[i];
        }
        foreach (var hash in toResolve) CollectionsMarshal.GetValueRefOrNullRef(entries, hash).Resolve(keep, ids);

        // Pass 2: every occurrence of a unit found in more than `keep` documents, outside its keepers, is removed. Most
        // units occur once: the few repeated ones are looked up in a set of their own (small, in cache) before the entries.
        var repeated = new HashSet<ContentHash>();
        foreach (var (hash, entry) in entries)
            if (entry.Count > keep) repeated.Add(hash);
        var removals = new SortedDictionary<int, RecordBatch>();
        long removed = 0, ofCorpus = 0;
        for (var shard = 0; shard < shards; shard++)
        {
            var (lost, ofCorpusHere) = RemovalsOf(shard, keep, seen[shard], repeated, entries);
            if (lost is not null)
            {
                removals[shard] = lost;
                removed += lost.RowCount;
            }
            ofCorpus += ofCorpusHere;
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
        var indexes = await WriteIndexAsync(task, partition, baseIndex, entries, ids, cancellationToken).ConfigureAwait(false);

        var stats = new TaskStats
        {
            In = occurrences, Seconds = clock.Elapsed.TotalSeconds, Indexes = indexes,
            Metrics =
            {
                ["distinct_units"] = entries.Count,
                ["repeated_units"] = entries.Values.Count(e => e.Removed(keep) > 0),
                ["occurrences_removed"] = removed,
            },
        };
        if (indexing)
        {
            stats.Metrics["indexed_units"] = indexed;
            stats.Metrics["occurrences_removed_of_corpus"] = ofCorpus;
        }
        return stats;
    }

    // The two loops over every occurrence run once per shard file: compiled optimised at once (not tier 0 for most of the work).

    /// <summary>Pass 1 over one row group of a shard's occurrences: each hash's document count and keeper candidates.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static int CountOccurrences(RecordBatch batch, int shard, int keep, List<Occurrence> list, Dictionary<ContentHash, Entry> entries)
    {
        var (high, low) = (batch.GetColumn<long>(HashHigh).List, batch.GetColumn<long>(HashLow).List);
        var (ranks, rows, units) = (batch.GetColumn<int>(Rank).List, batch.GetColumn<int>(Row).List, batch.GetColumn<int>(Unit).List);
        list.EnsureCapacity(list.Count + batch.RowCount);
        for (var i = 0; i < batch.RowCount; i++)
        {
            var hash = new ContentHash(high[i], low[i]);
            list.Add(new Occurrence(hash, rows[i], units[i]));
            var holder = new Holder(shard, ranks[i], rows[i]);
            ref var entry = ref CollectionsMarshal.GetValueRefOrAddDefault(entries, hash, out var exists);
            if (!exists) entry = new Entry(holder);
            else entry.Add(holder, keep);
        }
        return batch.RowCount;
    }

    /// <summary>
    /// Pass 2 over one shard's occurrences: those of <paramref name="repeated"/> units outside their keepers, as removal
    /// rows (null when none), and how many of them lose the unit to corpus documents alone.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static (RecordBatch? Removals, long OfCorpus) RemovalsOf(int shard, int keep, List<Occurrence> seen, HashSet<ContentHash> repeated,
        Dictionary<ContentHash, Entry> entries)
    {
        RecordBatch? target = null;
        Column<int>? rows = null, units = null;
        Column<long>? high = null, low = null;
        long ofCorpus = 0;
        foreach (var occurrence in seen)
        {
            if (!repeated.Contains(occurrence.Hash)) continue;
            var entry = entries[occurrence.Hash];
            if (entry.Count <= keep || entry.Keeps(shard, occurrence.Row)) continue;
            if (entry.Kept(keep) == entry.Indexed) ofCorpus++;
            if (target is null)
            {
                target = RecordBatch.WithSchema(RemovalSchema);
                (rows, units, high, low) = (target.GetColumn<int>(Row), target.GetColumn<int>(Unit), target.GetColumn<long>(HashHigh), target.GetColumn<long>(HashLow));
            }
            rows!.Add(occurrence.Row);
            units!.Add(occurrence.Unit);
            high!.Add(occurrence.Hash.High);
            low!.Add(occurrence.Hash.Low);
        }
        return (target, ofCorpus);
    }

    /// <summary>One document holding a unit, as pass 2 needs it: its row and the unit's index there.</summary>
    private readonly record struct Occurrence(ContentHash Hash, int Row, int Unit);

    /// <summary>A document holding a unit: its shard, its rank in the shard's id order, its row (shard −1: a corpus document of the base's index).</summary>
    private readonly record struct Holder(int Shard, int Rank, int Row);

    /// <summary>
    /// One unit hash: the documents it occurs in and its keeper candidates: <see cref="First"/> alone until a second
    /// document holds it, then <see cref="Candidates"/>: per shard its first <c>maxOccurrences</c> holders by rank
    /// (shards arrive in order, so the current shard's are the list's tail); after <see cref="Resolve"/> the keepers.
    /// A unit of a versioned corpus' index gets its <see cref="Indexed"/> corpus keepers (shard −1, counted in
    /// <see cref="Count"/>) by <see cref="WithCorpus"/>: they come before every document of this run.
    /// </summary>
    private struct Entry(Holder first)
    {
        public long Count { get; private set; } = 1;
        public Holder First { get; } = first;
        public List<Holder>? Candidates { get; private set; }

        /// <summary>Corpus documents keeping the unit (from the base snapshot's index; the first one's id is there).</summary>
        public int Indexed { get; private init; }

        /// <summary>
        /// This run's entry of a unit that <paramref name="kept"/> corpus documents keep: their first <paramref name="keep"/>
        /// come before this run's candidates (which are kept per shard, so prepending them changes no shard's list).
        /// </summary>
        public readonly Entry WithCorpus(int kept, int keep)
        {
            var candidates = new List<Holder>();
            for (var rank = 0; rank < Math.Min(kept, keep); rank++) candidates.Add(new Holder(-1, rank, -1));
            candidates.AddRange(Candidates ?? [First]);
            return new Entry(candidates[0]) { Count = Count + kept, Indexed = kept, Candidates = candidates };
        }

        /// <summary>The first keeper (after <see cref="Resolve"/> where the candidates span shards).</summary>
        public readonly Holder Keeper => Candidates is { Count: > 0 } list ? list[0] : First;

        /// <summary>Documents keeping the unit after this run: the corpus' keepers, then new ones up to <c>keep</c> in all.</summary>
        public readonly int Kept(int keep) => (int)Math.Max(Indexed, Math.Min(keep, Count));

        /// <summary>This run's occurrences that lose the unit.</summary>
        public readonly long Removed(int keep) => Count - Kept(keep);

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
                    if ((a.Shard < 0) != (b.Shard < 0)) return a.Shard < 0 ? -1 : 1;
                    if (a.Shard < 0) return a.Rank.CompareTo(b.Rank);
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
