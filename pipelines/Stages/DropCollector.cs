using Curation.Pipelines.IO;
using Curation.Pipelines.Model;

namespace Curation.Pipelines.Stages;

/// <summary>
/// Collects the rows a stage drops from one batch, each with a reason (a counter name), an optional detail for
/// humans and, for duplicates, the id of the kept twin (lineage).
/// </summary>
/// <remarks>
/// One bit per row says whether it is dropped and the drops are kept in the order they were made (a batch of 8192 rows
/// costs 1 KiB of bits, where a dictionary by row was resized and rehashed as a third of a batch was dropped).
/// </remarks>
public sealed class DropCollector(RecordBatch batch, string stage)
{
    private readonly List<(int Row, DropEntry Entry)> _drops = [];
    private ulong[] _dropped = [];
    private bool _outOfRowOrder;
    private Dictionary<string, MeasureCounts>? _measures;

    public RecordBatch Batch => batch;

    public int Count => _drops.Count;

    /// <summary>Drops <paramref name="row"/> with a reason; a row already dropped keeps its first reason.</summary>
    public void Drop(int row, string reason, string? detail = null, string? twinId = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(row);
        if (IsDropped(row)) return;
        if (row >> 6 >= _dropped.Length) Array.Resize(ref _dropped, Math.Max(row, batch.RowCount - 1) / 64 + 1);
        _dropped[row >> 6] |= 1UL << (row & 63);
        if (_drops.Count > 0 && row < _drops[^1].Row) _outOfRowOrder = true;
        _drops.Add((row, new DropEntry(reason, detail, twinId)));
    }

    public bool IsDropped(int row) => row >= 0 && row >> 6 < _dropped.Length && (_dropped[row >> 6] & (1UL << (row & 63))) != 0;

    /// <summary>Records one document's value of a thresholded measure for the stage's what-if histogram.</summary>
    public void Measure(ThresholdMeasure measure, double value) => CountsOf(measure).Add(value);

    /// <summary>Records one document a thresholded rule does not apply to (no threshold removes it) for the what-if.</summary>
    public void MeasureNone(ThresholdMeasure measure) => CountsOf(measure).AddUnmeasured();

    private MeasureCounts CountsOf(ThresholdMeasure measure)
    {
        _measures ??= [];
        if (!_measures.TryGetValue(measure.Field, out var counts)) _measures[measure.Field] = counts = new MeasureCounts(measure);
        return counts;
    }

    /// <summary>Adds the measures recorded from this batch to the task's metrics.</summary>
    public void AddMeasures(IDictionary<string, double> metrics)
    {
        foreach (var counts in _measures?.Values ?? Enumerable.Empty<MeasureCounts>()) counts.AddTo(metrics);
    }

    public IReadOnlyList<int> KeptRows()
    {
        var kept = new List<int>(Math.Max(0, batch.RowCount - _drops.Count));
        for (var row = 0; row < batch.RowCount; row++)
            if (!IsDropped(row)) kept.Add(row);
        return kept;
    }

    /// <summary>Adds each reason's count to <paramref name="counters"/>; a reason new to them is added in the order the drops were made.</summary>
    public void CountReasons(Dictionary<string, long> counters)
    {
        foreach (var (_, drop) in _drops)
        {
            ref var count = ref System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrAddDefault(counters, drop.Reason, out _);
            count++;
        }
    }

    /// <summary>The dropped rows in the drops-file schema, in row order.</summary>
    public RecordBatch ToDropsBatch()
    {
        var result = RecordBatch.WithSchema(DropsSchema.Columns, _drops.Count);
        foreach (var (row, drop) in _outOfRowOrder ? _drops.OrderBy(d => d.Row) : (IEnumerable<(int Row, DropEntry Entry)>)_drops)
            DropsSchema.Append(result, batch.Ids.ValueAt(row), batch.Sources.ValueAt(row), batch.Positions[row], stage, drop.Reason, drop.Detail, drop.TwinId);
        return result;
    }

    private readonly record struct DropEntry(string Reason, string? Detail, string? TwinId);
}

/// <summary>Schema of the drops files: every dropped document with stage, reason and the kept twin's id.</summary>
public static class DropsSchema
{
    public const string Stage = "stage";
    public const string Reason = "reason";
    public const string Detail = "detail";
    public const string TwinId = "twin_id";

    public static readonly IReadOnlyList<ColumnSchema> Columns = ShuffleTable.Schema<DropRow>();

    public static void Append(RecordBatch drops, string id, string source, long position, string stage, string reason, string? detail, string? twinId)
    {
        drops.Ids.Add(id);
        drops.Sources.Add(source);
        drops.Positions.Add(position);
        drops.GetColumn<string>(Stage).Add(stage);
        drops.GetColumn<string>(Reason).Add(reason);
        drops.GetColumn<string>(Detail).Add(detail ?? "");
        drops.GetColumn<string>(TwinId).Add(twinId ?? "");
    }
}

/// <summary>A row of a drops file: the document, the stage that dropped it, why (detail: the measured value and threshold), and the twin it duplicates.</summary>
public readonly record struct DropRow(string Id, string Source, long Position, string Stage, string Reason, string Detail, string TwinId);

/// <summary>Schema of the quarantine files: records that could not be read, with object, position and reason.</summary>
public static class QuarantineSchema
{
    public static readonly IReadOnlyList<ColumnSchema> Columns =
    [
        new(Model.Columns.Source, typeof(string)), new(Model.Columns.Position, typeof(long)),
        new(DropsSchema.Reason, typeof(string)), new(DropsSchema.Detail, typeof(string)),
    ];
}
