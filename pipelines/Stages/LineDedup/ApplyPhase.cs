using System.Globalization;
using System.Text;
using System.Text.Unicode;
using Curation.Pipelines.Execution;
using Curation.Pipelines.IO;
using Curation.Pipelines.Model;
using Curation.Pipelines.Storage;
using Curation.Pipelines.Text;

namespace Curation.Pipelines.Stages;

// The apply phase: the decided units removed from each document of the shard.
public sealed partial class LineDedupStage
{
    private async Task<TaskStats> ApplyAsync(TaskContext task, CancellationToken cancellationToken)
    {
        // Per row, the units it loses: (unit index, hash), the index ~negated where the document holds the unit twice or more.
        var removals = new Dictionary<int, List<(int Unit, ContentHash Hash)>>();
        for (var partition = 0; partition < spec.Partitions; partition++)
            await foreach (var batch in RoutedTable.ReadAsync(task.Job.Data, RemovalsKey(task, partition), task.Task, cancellationToken).ConfigureAwait(false))
            {
                var (rows, units) = (batch.GetColumn<int>(Row).List, batch.GetColumn<int>(Unit).List);
                var (high, low) = (batch.GetColumn<long>(HashHigh).List, batch.GetColumn<long>(HashLow).List);
                for (var i = 0; i < batch.RowCount; i++)
                {
                    if (!removals.TryGetValue(rows[i], out var list)) removals[rows[i]] = list = [];
                    list.Add((units[i], new ContentHash(high[i], low[i])));
                }
            }
        var top = (await TopUnitsAsync(task, cancellationToken).ConfigureAwait(false)).Select(u => ContentHash.Parse(u.Hash)).ToHashSet();

        var transform = new RemoveUnits(spec, removals, top);
        // The pass hands its rows to the next stage's tap as it writes them (the output's report tally, exact_dedup's hashes).
        var (stats, seconds) = await ShardTransformer.RunAsync(task, task.Task, [new ShardTransformer.Member(this, transform)], task.OutputShardKey(task.Task),
            (_, ct) => StageObjects.WriteJsonOnceAsync(task.Job.Data, SamplesKey(task, task.Task), transform.Samples, ct), cancellationToken).ConfigureAwait(false);
        var result = stats[0] with { Seconds = seconds };
        result.Metrics["units_removed"] = transform.UnitsRemoved;
        result.Metrics["chars_removed"] = transform.CharsRemoved;
        result.Metrics["chars_in"] = transform.CharsIn;
        result.Metrics["documents_changed"] = transform.DocumentsChanged;
        return result;
    }

    /// <summary>The job's most repeated units: the top of every partition's top list (a hash lives in one partition).</summary>
    private async Task<List<RepeatedUnit>> TopUnitsAsync(TaskContext task, CancellationToken cancellationToken)
    {
        var all = new List<RepeatedUnit>();
        for (var partition = 0; partition < spec.Partitions; partition++)
        {
            var (listed, _) = await task.Job.Data.TryReadJsonAsync<RepeatedUnit[]>(TopKey(task, partition), cancellationToken: cancellationToken).ConfigureAwait(false);
            all.AddRange(listed ?? throw new InvalidOperationException($"{this}: the top units of partition {partition} are missing."));
        }
        return all.OrderByDescending(u => u.Documents).ThenBy(u => u.Hash, StringComparer.Ordinal).Take(spec.TopLines).ToList();
    }

    /// <summary>
    /// The apply phase's transform: removes the decided units of each row (by running row number) by their index, as the
    /// hash phase found them (<see cref="UnitRemoval"/>). A text column still held as the UTF-8 the shard stores is
    /// rewritten on its bytes, in place (no string per document, nothing copied for the rows left alone; the writer writes
    /// the bytes back as they are); a text that is not valid UTF-8 is decoded, as the shard reader's strings are, so it is
    /// written as its decoded text's UTF-8 (the column is then rebuilt into a new buffer).
    /// </summary>
    internal sealed class RemoveUnits(LineDedupStageSpec spec, Dictionary<int, List<(int Unit, ContentHash Hash)>> removals, HashSet<ContentHash> top)
        : IDocumentTransform
    {
        private readonly UnitRemoval _removal = new(spec.Unit);
        private readonly HashSet<ContentHash> _sampled = [];
        private int _offset;

        public IReadOnlyList<ColumnSchema> AddedColumns { get; } = [new(LinesRemovedColumn, typeof(int))];

        /// <summary>The first text this shard saw of each of the job's most repeated units (hash → truncated sample).</summary>
        public SortedDictionary<string, string> Samples { get; } = new(StringComparer.Ordinal);

        public long UnitsRemoved { get; private set; }
        public long CharsRemoved { get; private set; }
        public long CharsIn { get; private set; }
        public long DocumentsChanged { get; private set; }

        public void Process(RecordBatch batch, DropCollector drops)
        {
            var counts = batch.ResetColumn<int>(LinesRemovedColumn, batch.RowCount);
            if (batch.Texts.Utf8 is { } utf8)
            {
                var inPlace = utf8.OwnsBuffer;
                for (var i = 0; i < utf8.Count && inPlace; i++) inPlace = Utf8.IsValid(utf8.Span(i));
                if (inPlace) ProcessInPlace(utf8, counts, drops);
                else if (utf8.TotalBytes() <= Array.MaxLength / 3) // a text not valid UTF-8 grows up to 3 times as its decoded text's UTF-8
                    batch.ResetColumn<string>(Columns.Text).SetUtf8(ProcessInto(utf8, counts, drops));
                else ProcessStrings(batch.Texts.List, counts, drops);
            }
            else ProcessStrings(batch.Texts.List, counts, drops);
            _offset += batch.RowCount;
        }

        /// <summary>Every text valid UTF-8 and the column's own: each changed text is rewritten in its own bytes.</summary>
        private void ProcessInPlace(Utf8Values texts, Column<int> counts, DropCollector drops)
        {
            for (var i = 0; i < texts.Count; i++)
            {
                var bytes = texts.Span(i);
                if (removals.GetValueOrDefault(_offset + i) is not { } lost)
                {
                    Unchanged(Encoding.UTF8.GetCharCount(bytes), counts);
                    continue;
                }
                _removal.Find(bytes, lost, _offset + i);
                SampleTop(null, bytes);
                texts.Shorten(i, _removal.Write(bytes, texts.Writable(i)));
                Changed(i, counts, drops);
            }
        }

        /// <summary>
        /// A column holding a text that is not valid UTF-8 (or sharing its buffer): the texts are written into a new one,
        /// an invalid text as its decoded text's UTF-8 (as the shard reader's string would be written).
        /// </summary>
        private Utf8Values ProcessInto(Utf8Values texts, Column<int> counts, DropCollector drops)
        {
            var target = new Utf8Values.Builder(texts.Count, (int)texts.TotalBytes());
            for (var i = 0; i < texts.Count; i++)
            {
                var bytes = texts.Span(i);
                var lost = removals.GetValueOrDefault(_offset + i);
                if (!Utf8.IsValid(bytes))
                {
                    var kept = Process(i, Encoding.UTF8.GetString(bytes), lost, counts, drops);
                    target.Commit(Encoding.UTF8.GetBytes(kept, target.Reserve(Encoding.UTF8.GetByteCount(kept))));
                }
                else if (lost is null)
                {
                    Unchanged(Encoding.UTF8.GetCharCount(bytes), counts);
                    if (texts.IsNull(i)) target.AddNull();
                    else target.Add(bytes);
                }
                else
                {
                    _removal.Find(bytes, lost, _offset + i);
                    SampleTop(null, bytes);
                    target.Commit(_removal.Write(bytes, target.Reserve(_removal.KeptLength(bytes.Length))));
                    Changed(i, counts, drops);
                }
            }
            return target.Build();
        }

        private void ProcessStrings(List<string> texts, Column<int> counts, DropCollector drops)
        {
            for (var i = 0; i < texts.Count; i++)
                texts[i] = Process(i, texts[i], removals.GetValueOrDefault(_offset + i), counts, drops);
        }

        /// <summary>Row <paramref name="i"/>'s decoded text without its lost units.</summary>
        private string Process(int i, string text, List<(int Unit, ContentHash Hash)>? lost, Column<int> counts, DropCollector drops)
        {
            if (lost is null)
            {
                Unchanged(text.Length, counts);
                return text;
            }
            var kept = _removal.Remove(text, lost, _offset + i);
            SampleTop(text, default);
            Changed(i, counts, drops);
            return kept;
        }

        private void Unchanged(int chars, Column<int> counts)
        {
            CharsIn += chars;
            counts.Add(0);
        }

        /// <summary>Samples the job's most repeated units among those just found lost in <paramref name="text"/> (or its <paramref name="bytes"/>), before it is rewritten.</summary>
        private void SampleTop(string? text, ReadOnlySpan<byte> bytes)
        {
            for (var u = 0; u < _removal.Units.Count; u++)
            {
                if (!_removal.IsRemoved(u, out var hash) || !top.Contains(hash) || !_sampled.Add(hash)) continue;
                var unit = _removal.Units[u];
                Samples[hash.ToString()] = Sample(text?.Substring(unit.Start, unit.Length) ?? Encoding.UTF8.GetString(bytes[unit.Start..unit.End]));
            }
        }

        /// <summary>Accounts for the units just removed from row <paramref name="i"/>, and drops it when too little is left.</summary>
        private void Changed(int i, Column<int> counts, DropCollector drops)
        {
            var removed = _removal.Removed;
            counts.Add(removed);
            UnitsRemoved += removed;
            CharsIn += _removal.CharsIn;
            CharsRemoved += _removal.CharsIn - _removal.CharsKept;
            DocumentsChanged++;
            var left = _removal.CharsLeft;
            if (left < spec.MinChars)
                drops.Drop(i, EmptyReason, string.Create(CultureInfo.InvariantCulture,
                    $"{left} chars left < minChars {spec.MinChars} after removing {removed} repeated {(spec.Unit == LineDedupUnit.Line ? "lines" : "paragraphs")}"));
        }

        private static string Sample(string unit)
        {
            var collapsed = string.Join(' ', unit.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries));
            return collapsed.Length <= SampleChars ? collapsed : collapsed[..SampleChars] + "…";
        }
    }
}
