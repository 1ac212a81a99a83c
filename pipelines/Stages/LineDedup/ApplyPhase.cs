using System.Globalization;
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
        var top = (await TopUnitsAsync(task, cancellationToken).ConfigureAwait(false)).Select(u => u.Hash).ToHashSet(StringComparer.Ordinal);

        var transform = new RemoveUnits(spec, removals, top);
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
    /// hash phase found them: only a unit the document holds more than once is hashed again, to find its later copies.
    /// </summary>
    private sealed class RemoveUnits(LineDedupStageSpec spec, Dictionary<int, List<(int Unit, ContentHash Hash)>> removals, HashSet<string> top)
        : IDocumentTransform
    {
        private readonly List<LineUnit> _units = [];
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
            var texts = batch.Texts;
            for (var i = 0; i < batch.RowCount; i++)
            {
                var text = texts[i];
                CharsIn += text.Length;
                if (!removals.TryGetValue(_offset + i, out var lost))
                {
                    counts.Add(0);
                    continue;
                }
                LineUnits.Split(text, spec.Unit, _units);
                var removedHash = new ContentHash?[_units.Count];
                foreach (var (unit, hash) in lost)
                {
                    var first = unit >= 0 ? unit : ~unit;
                    if (first >= _units.Count)
                        throw new InvalidDataException($"line_dedup: row {_offset + i} has {_units.Count} units, the hash phase listed unit {first}.");
                    removedHash[first] = hash;
                    if (unit < 0)
                        for (var u = first + 1; u < _units.Count; u++)
                            if (removedHash[u] is null && LineUnits.Hash(text, _units[u]) == hash) removedHash[u] = hash;
                }
                var remove = new bool[_units.Count];
                var removed = 0;
                for (var u = 0; u < _units.Count; u++)
                {
                    if (removedHash[u] is not { } hash) continue;
                    remove[u] = true;
                    removed++;
                    var key = hash.ToString();
                    if (top.Contains(key) && !Samples.ContainsKey(key)) Samples[key] = Sample(text.Substring(_units[u].Start, _units[u].Length));
                }
                counts.Add(removed);
                var kept = LineUnits.Without(text, _units, remove);
                texts[i] = kept;
                UnitsRemoved += removed;
                CharsRemoved += text.Length - kept.Length;
                DocumentsChanged++;
                var left = kept.AsSpan().Trim().Length;
                if (left < spec.MinChars)
                    drops.Drop(i, EmptyReason, string.Create(CultureInfo.InvariantCulture,
                        $"{left} chars left < minChars {spec.MinChars} after removing {removed} repeated {(spec.Unit == LineDedupUnit.Line ? "lines" : "paragraphs")}"));
            }
            _offset += batch.RowCount;
        }

        private static string Sample(string unit)
        {
            var collapsed = string.Join(' ', unit.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries));
            return collapsed.Length <= SampleChars ? collapsed : collapsed[..SampleChars] + "…";
        }
    }
}
