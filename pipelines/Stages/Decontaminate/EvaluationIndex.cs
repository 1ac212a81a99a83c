using Curation.Pipelines.Execution;
using Curation.Pipelines.IO;

namespace Curation.Pipelines.Stages;

/// <summary>
/// The evaluation sets' n-gram index in memory, for one match task: n-gram hash → the items holding it, and every item's
/// benchmark, id and n-gram count. Its size is the evaluation sets' (about 20 bytes per n-gram), never the corpus'.
/// </summary>
public sealed class EvaluationIndex
{
    private readonly Dictionary<ulong, (int Start, int Count)> _postings;
    private readonly int[] _items;

    private EvaluationIndex(Dictionary<ulong, (int, int)> postings, int[] items, int[] benchmarks, string[] ids, int[] ngrams) =>
        (_postings, _items, Benchmarks, Ids, Ngrams) = (postings, items, benchmarks, ids, ngrams);

    /// <summary>Benchmark (position in the spec) of each item.</summary>
    public int[] Benchmarks { get; }

    public string[] Ids { get; }

    /// <summary>Distinct n-grams of each item (0: shorter than one n-gram, never matched).</summary>
    public int[] Ngrams { get; }

    public long Entries => _items.Length;

    /// <summary>The items holding n-gram <paramref name="hash"/> (empty when none).</summary>
    public ReadOnlySpan<int> ItemsOf(ulong hash) =>
        _postings.TryGetValue(hash, out var range) ? _items.AsSpan(range.Start, range.Count) : [];

    private static readonly object Gate = new();
    private static (string Key, Task<EvaluationIndex> Index)? _shared;

    /// <summary>
    /// The index of one job's stage, loaded once per process and shared by the match tasks running here (the latest one
    /// stays until another job's is asked for: one index in memory at a time). The index objects are created once and
    /// never change, so a shared copy is the same as a fresh one. A failed load is not kept.
    /// </summary>
    internal static Task<EvaluationIndex> SharedAsync(JobContext job, string itemsKey, string[] partitionKeys)
    {
        var key = $"{job.Data.Location}|{itemsKey}";
        lock (Gate)
        {
            if (_shared is { } shared && shared.Key == key && !shared.Index.IsFaulted && !shared.Index.IsCanceled) return shared.Index;
            var load = LoadAsync(job, itemsKey, partitionKeys, CancellationToken.None);
            _shared = (key, load);
            return load;
        }
    }

    /// <summary>Loads the items table and every partition of the index (each sorted by hash).</summary>
    internal static async Task<EvaluationIndex> LoadAsync(JobContext job, string itemsKey, IEnumerable<string> partitionKeys, CancellationToken cancellationToken)
    {
        var table = await ShuffleTable.ReadAllAsync<DecontaminateStage.ItemRow>(job.Data, itemsKey, cancellationToken).ConfigureAwait(false);
        var benchmarks = table.Select(r => r.Benchmark).ToArray();
        var ids = table.Select(r => r.ItemId).ToArray();
        var ngrams = table.Select(r => r.Ngrams).ToArray();

        var postings = new Dictionary<ulong, (int, int)>();
        var items = new List<int>();
        foreach (var key in partitionKeys)
        {
            await using var input = await job.Data.OpenReadAsync(key, cancellationToken).ConfigureAwait(false);
            await using var reader = await ParquetTableReader.OpenAsync(input, cancellationToken).ConfigureAwait(false);
            postings.EnsureCapacity(postings.Count + (int)reader.RowCount);
            await foreach (var rows in ShuffleTable.ReadAsync<DecontaminateStage.IndexRow>(reader, key, cancellationToken).ConfigureAwait(false))
            {
                foreach (var row in rows)
                {
                    var hash = unchecked((ulong)row.Hash);
                    // Rows are sorted by hash (and a hash lives in one partition), so one hash's items are consecutive.
                    ref var range = ref System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrAddDefault(postings, hash, out var exists);
                    range = exists ? (range.Item1, range.Item2 + 1) : (items.Count, 1);
                    items.Add(row.Item);
                }
            }
        }
        return new EvaluationIndex(postings, items.ToArray(), benchmarks, ids, ngrams);
    }
}
