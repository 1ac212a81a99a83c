using Curation.Pipelines.IO;
using Curation.Pipelines.Model;

namespace Curation.Pipelines.Stages;

/// <summary>
/// Collects the rows a stage drops from one batch, each with a reason (a counter name), an optional detail for
/// humans and, for duplicates, the id of the kept twin (lineage).
/// </summary>
public sealed class DropCollector(RecordBatch batch, string stage)
{
    private readonly Dictionary<int, DropEntry> _drops = [];
    private Dictionary<string, MeasureCounts>? _measures;

    public RecordBatch Batch => batch;

    public int Count => _drops.Count;

    public void Drop(int row, string reason, string? detail = null, string? twinId = null)
    {
        if (!_drops.ContainsKey(row)) _drops[row] = new DropEntry(reason, detail, twinId);
    }

    public bool IsDropped(int row) => _drops.ContainsKey(row);

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
        var kept = new List<int>(batch.RowCount - _drops.Count);
        for (var row = 0; row < batch.RowCount; row++)
            if (!_drops.ContainsKey(row)) kept.Add(row);
        return kept;
    }

    public void CountReasons(Dictionary<string, long> counters)
    {
        foreach (var drop in _drops.Values) counters[drop.Reason] = counters.GetValueOrDefault(drop.Reason) + 1;
    }

    /// <summary>The dropped rows in the drops-file schema, in row order.</summary>
    public RecordBatch ToDropsBatch()
    {
        var result = RecordBatch.WithSchema(DropsSchema.Columns, _drops.Count);
        foreach (var (row, drop) in _drops.OrderBy(d => d.Key))
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
