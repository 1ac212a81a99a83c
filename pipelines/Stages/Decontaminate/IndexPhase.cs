using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Curation.Pipelines.Execution;
using Curation.Pipelines.Model;
using Curation.Pipelines.Spec;

namespace Curation.Pipelines.Stages;

// The index phase: one partition of the evaluation sets' n-gram index.
public sealed partial class DecontaminateStage
{
    private async Task<TaskStats> IndexAsync(TaskContext task, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        var partition = task.Task;
        var entries = new List<(ulong Hash, int Item)>();
        var items = RecordBatch.WithSchema(ItemSchema);
        var ngrams = new EvaluationNgrams(spec.Ngram);
        var tokens = new List<NgramToken>();
        var hashes = new List<ulong>();
        var distinct = new HashSet<ulong>();
        long tooShort = 0, indexed = 0;
        for (var b = 0; b < spec.Benchmarks.Count; b++)
            await foreach (var (id, text) in ReadItemsAsync(task.Job, spec.Benchmarks[b], cancellationToken).ConfigureAwait(false))
            {
                ngrams.Tokenize(text, tokens);
                ngrams.Ngrams(tokens, hashes);
                distinct.Clear();
                distinct.UnionWith(hashes);
                var item = items.RowCount;
                items.GetColumn<int>("benchmark").Add(b);
                items.GetColumn<string>("item_id").Add(id);
                items.GetColumn<int>("ngrams").Add(distinct.Count);
                if (distinct.Count == 0) tooShort++;
                indexed += distinct.Count;
                foreach (var hash in distinct)
                    if (PartitionOf(hash) == partition) entries.Add((hash, item));
            }

        entries.Sort();
        var table = RecordBatch.WithSchema(IndexSchema, entries.Count);
        var (hashColumn, itemColumn) = (table.GetColumn<long>("hash"), table.GetColumn<int>("item"));
        foreach (var (hash, item) in entries)
        {
            hashColumn.Add(unchecked((long)hash));
            itemColumn.Add(item);
        }
        await StageObjects.WriteParquetAsync(task.Job.Data, IndexKey(task, partition), table, null, cancellationToken).ConfigureAwait(false);
        if (partition == 0) await StageObjects.WriteParquetAsync(task.Job.Data, ItemsKey(task), items, null, cancellationToken).ConfigureAwait(false);

        var stats = new TaskStats { In = entries.Count, Seconds = clock.Elapsed.TotalSeconds, Metrics = { ["index_entries"] = entries.Count } };
        if (partition == 0)
        {
            stats.Metrics["items"] = items.RowCount;
            stats.Metrics["items_too_short"] = tooShort;
            stats.Metrics["item_ngrams"] = indexed;
        }
        return stats;
    }

    /// <summary>
    /// The items of one evaluation set: (id, text) per JSONL line; blank lines are skipped. A line that is not an object
    /// with a string text fails the task, naming the benchmark, file and line: a silently skipped item would leave its
    /// contamination in the corpus.
    /// </summary>
    private static async IAsyncEnumerable<(string Id, string Text)> ReadItemsAsync(JobContext job, EvaluationSetSpec set,
        [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var location = StoreLocation.Parse(set.Path);
        if (location.Prefix.Length == 0) throw new FileNotFoundException($"benchmark '{set.Name}': {set.Path} is not a file");
        var store = job.Stores.Resolve(location);
        await using var stream = await store.OpenReadAsync(location.Prefix, cancellationToken).ConfigureAwait(false);
        using var reader = new StreamReader(stream);
        var number = 0;
        while (await reader.ReadLineAsync(cancellationToken).ConfigureAwait(false) is { } line)
        {
            number++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            string? text = null, id = null;
            try
            {
                using var document = JsonDocument.Parse(line);
                var root = document.RootElement;
                if (root.ValueKind == JsonValueKind.Object && root.TryGetProperty(set.TextField, out var value) && value.ValueKind == JsonValueKind.String)
                    text = value.GetString();
                if (root.ValueKind == JsonValueKind.Object && root.TryGetProperty(set.IdField, out var idValue))
                    id = idValue.ValueKind == JsonValueKind.String ? idValue.GetString() : idValue.GetRawText();
            }
            catch (JsonException e)
            {
                throw new InvalidDataException($"benchmark '{set.Name}' ({set.Path}) line {number}: not valid JSON ({e.Message})", e);
            }
            if (text is null) throw new InvalidDataException($"benchmark '{set.Name}' ({set.Path}) line {number}: no string field '{set.TextField}'");
            yield return (id ?? number.ToString(CultureInfo.InvariantCulture), text);
        }
    }
}
