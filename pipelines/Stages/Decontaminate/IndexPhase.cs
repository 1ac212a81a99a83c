using System.Globalization;
using System.Text.Json;
using Curation.Pipelines.Execution;
using Curation.Pipelines.IO;
using Curation.Pipelines.IO.Readers;
using Curation.Pipelines.Spec;

namespace Curation.Pipelines.Stages;

// The ngrams and index phases: the evaluation sets read once, their n-gram index written by hash partition.
public sealed partial class DecontaminateStage
{
    /// <summary>Rows of one partition buffered before they are written as a row group of the routed n-gram table.</summary>
    private const int RoutedBatchRows = 65_536;

    /// <summary>
    /// The ngrams phase (one task): reads the evaluation sets once, lists the items (benchmark, id, distinct n-grams) and
    /// routes every item's distinct n-grams (hash, item) by hash partition; memory: the partitions' write buffers.
    /// </summary>
    private async Task<TaskStats> NgramsAsync(TaskContext task, CancellationToken cancellationToken)
    {
        var items = new ShuffleRows<ItemRow>();
        var ngrams = new EvaluationNgrams(spec.Ngram);
        var tokens = new List<NgramToken>();
        var hashes = new List<ulong>();
        var distinct = new HashSet<ulong>();
        var buffers = new ShuffleRows<IndexRow>?[spec.Partitions];
        long tooShort = 0, routed = 0;
        await using var writer = await RoutedTableWriter.CreateAsync(ShuffleTable.Schema<IndexRow>(), cancellationToken).ConfigureAwait(false);
        for (var b = 0; b < spec.Benchmarks.Count; b++)
            await foreach (var (id, text) in ReadItemsAsync(task.Job, spec.Benchmarks[b], cancellationToken).ConfigureAwait(false))
            {
                ngrams.Tokenize(text, tokens);
                ngrams.Ngrams(tokens, hashes);
                distinct.Clear();
                distinct.UnionWith(hashes);
                var item = items.Count;
                items.Add(new ItemRow(b, id, distinct.Count));
                if (distinct.Count == 0) tooShort++;
                routed += distinct.Count;
                foreach (var hash in distinct)
                {
                    var partition = PartitionOf(hash);
                    var buffer = buffers[partition] ??= new ShuffleRows<IndexRow>(RoutedBatchRows);
                    buffer.Add(new IndexRow(unchecked((long)hash), item));
                    if (buffer.Count < RoutedBatchRows) continue;
                    await writer.WriteAsync(partition, buffer.Batch, cancellationToken).ConfigureAwait(false);
                    buffers[partition] = null;
                }
            }
        for (var partition = 0; partition < buffers.Length; partition++)
            if (buffers[partition] is { } rest) await writer.WriteAsync(partition, rest.Batch, cancellationToken).ConfigureAwait(false);
        await writer.CommitOnceAsync(task.Job.Data, NgramsKey(task), cancellationToken).ConfigureAwait(false);
        await ShuffleTable.WriteAsync(task.Job.Data, ItemsKey(task), items, null, cancellationToken).ConfigureAwait(false);
        return new TaskStats
        {
            In = items.Count,
            Metrics = { ["items"] = items.Count, ["items_too_short"] = tooShort, ["item_ngrams"] = routed },
        };
    }

    /// <summary>The index phase (per partition): the partition's (hash, item) rows, sorted by hash, so one hash's items are consecutive.</summary>
    private async Task<TaskStats> IndexAsync(TaskContext task, CancellationToken cancellationToken)
    {
        var entries = new List<IndexRow>();
        await foreach (var rows in ShuffleTable.ReadRoutedAsync<IndexRow>(task.Job.Data, NgramsKey(task), task.Task, cancellationToken).ConfigureAwait(false))
            entries.AddRange(rows);
        entries.Sort((a, b) => a.Hash != b.Hash ? a.Hash.CompareTo(b.Hash) : a.Item.CompareTo(b.Item));
        var table = new ShuffleRows<IndexRow>(entries.Count);
        foreach (var entry in entries) table.Add(entry);
        await ShuffleTable.WriteAsync(task.Job.Data, IndexKey(task, task.Task), table, null, cancellationToken).ConfigureAwait(false);
        return new TaskStats { In = entries.Count, Metrics = { ["index_entries"] = entries.Count } };
    }

    /// <summary>
    /// The items of one evaluation set: (id, text) per JSONL line, or per element when the file is one JSON array (as many
    /// evaluation sets are shipped: <c>[{"question": …}, …]</c>); blank lines are skipped. A record that is not an object
    /// with a string text fails the task, naming the benchmark, file and line (or element): a silently skipped item would
    /// leave its contamination in the corpus. Without an id field an item's id is its 1-based line (element) number.
    /// </summary>
    private static async IAsyncEnumerable<(string Id, string Text)> ReadItemsAsync(JobContext job, EvaluationSetSpec set,
        [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var location = StoreLocation.Parse(set.Path);
        if (location.Prefix.Length == 0) throw new FileNotFoundException($"benchmark '{set.Name}': {set.Path} is not a file");
        var store = job.Stores.Resolve(location);
        await using var stream = await store.OpenReadAsync(location.Prefix, cancellationToken).ConfigureAwait(false);
        var (splitter, unit) = await RecordSplitters.OpenAsync(stream, int.MaxValue - 64, null, cancellationToken).ConfigureAwait(false);
        using var records = splitter;
        while (true)
        {
            try
            {
                if (!await records.MoveNextAsync(cancellationToken).ConfigureAwait(false)) yield break;
            }
            catch (FormatException e)
            {
                throw new InvalidDataException($"benchmark '{set.Name}' ({set.Path}): {e.Message}", e);
            }
            if (!ReaderText.IsBlank(records.Current.Span)) yield return Item(set, records.Current.Span, unit, records.Index + 1);
        }
    }

    private static (string Id, string Text) Item(EvaluationSetSpec set, ReadOnlySpan<byte> json, string unit, long number)
    {
        string? text = null, id = null;
        try
        {
            var reader = new Utf8JsonReader(json);
            using var document = JsonDocument.ParseValue(ref reader);
            if (reader.Read()) throw new JsonException("data after the value");
            var root = document.RootElement;
            if (root.ValueKind == JsonValueKind.Object && root.TryGetProperty(set.TextField, out var value) && value.ValueKind == JsonValueKind.String)
                text = value.GetString();
            if (root.ValueKind == JsonValueKind.Object && root.TryGetProperty(set.IdField, out var idValue))
                id = idValue.ValueKind == JsonValueKind.String ? idValue.GetString() : idValue.GetRawText();
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"benchmark '{set.Name}' ({set.Path}) {unit} {number}: not valid JSON ({e.Message})", e);
        }
        if (text is null) throw new InvalidDataException($"benchmark '{set.Name}' ({set.Path}) {unit} {number}: no string field '{set.TextField}'");
        return (id ?? number.ToString(CultureInfo.InvariantCulture), text);
    }
}
