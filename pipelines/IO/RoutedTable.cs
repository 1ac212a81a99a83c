using Curation.Pipelines.Model;
using Curation.Pipelines.Storage;

namespace Curation.Pipelines.IO;

/// <summary>
/// One sender's object of a shuffle: each target's rows (a partition's or a shard's) are a self-contained Parquet
/// segment, and a side index at the end (<see cref="RoutedIndex"/>) lists target → byte range and rows. A reader task
/// opens every sender's object but reads only the index (28 bytes per segment) and its own segments: nothing addressed
/// to it costs a few kilobytes, not a decode of a footer listing every target.
/// </summary>
public static class RoutedTable
{
    /// <summary>Writes <paramref name="groups"/> (target → rows) as one segment per non-empty target, in target order, and commits it create-once.</summary>
    public static async Task WriteAsync(IObjectStore store, string key, IReadOnlyList<ColumnSchema> schema,
        IEnumerable<KeyValuePair<int, RecordBatch>> groups, CancellationToken cancellationToken)
    {
        await using var writer = await RoutedTableWriter.CreateAsync(schema, cancellationToken).ConfigureAwait(false);
        foreach (var (target, batch) in groups.OrderBy(g => g.Key)) await writer.WriteAsync(target, batch, cancellationToken).ConfigureAwait(false);
        await writer.CommitOnceAsync(store, key, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Every row group of <paramref name="key"/> addressed to <paramref name="target"/>, in the order written (none when there are none).</summary>
    public static async IAsyncEnumerable<RecordBatch> ReadAsync(IObjectStore store, string key, int target,
        [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await using var input = await store.OpenReadAsync(key, cancellationToken).ConfigureAwait(false);
        var segments = await RoutedIndex.FindAsync(input, key, target, cancellationToken).ConfigureAwait(false);
        foreach (var segment in segments)
        {
            await using var reader = await OpenSegmentAsync(input, key, segment, cancellationToken).ConfigureAwait(false);
            for (var rowGroup = 0; rowGroup < reader.RowGroupCount; rowGroup++)
                yield return await reader.ReadRowGroupAsync(rowGroup, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Every row group of <paramref name="key"/>, whatever its target, in object order, with only <paramref name="columns"/>
    /// (all when null): for the sender's own later reads of what it routed (exact_dedup's apply reads its shard's hashes).
    /// </summary>
    public static async IAsyncEnumerable<RecordBatch> ReadAllAsync(IObjectStore store, string key, IReadOnlyCollection<string>? columns,
        [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await using var input = await store.OpenReadAsync(key, cancellationToken).ConfigureAwait(false);
        var segments = await RoutedIndex.AllAsync(input, key, cancellationToken).ConfigureAwait(false);
        foreach (var segment in segments)
        {
            await using var reader = await OpenSegmentAsync(input, key, segment, cancellationToken).ConfigureAwait(false);
            for (var rowGroup = 0; rowGroup < reader.RowGroupCount; rowGroup++)
                yield return await reader.ReadRowGroupAsync(rowGroup, cancellationToken, columns).ConfigureAwait(false);
        }
    }

    /// <summary>The rows of <paramref name="key"/>, all targets, from its index alone.</summary>
    public static async Task<long> RowCountAsync(IObjectStore store, string key, CancellationToken cancellationToken)
    {
        await using var input = await store.OpenReadAsync(key, cancellationToken).ConfigureAwait(false);
        var segments = await RoutedIndex.AllAsync(input, key, cancellationToken).ConfigureAwait(false);
        return segments.Sum(s => s.Rows);
    }

    /// <summary>A segment's Parquet reader; fails naming the object and the segment when it is not the file its index entry says.</summary>
    private static async Task<ParquetTableReader> OpenSegmentAsync(Stream input, string key, RoutedSegment segment, CancellationToken cancellationToken)
    {
        ParquetTableReader reader;
        try
        {
            reader = await ParquetTableReader.OpenAsync(WindowStream.Reading(input, segment.Offset, segment.Length), cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            throw new InvalidDataException($"{key}: the segment of target {segment.Target} at bytes {segment.Offset}+{segment.Length} is not a readable Parquet file: {e.Message}", e);
        }
        if (reader.RowCount == segment.Rows) return reader;
        await reader.DisposeAsync().ConfigureAwait(false);
        throw new InvalidDataException($"{key}: the segment of target {segment.Target} at bytes {segment.Offset}+{segment.Length} holds {reader.RowCount} rows; its index entry says {segment.Rows}.");
    }
}

/// <summary>
/// Writes a <see cref="RoutedTable"/> incrementally into a local spool file (bounded memory: a target may receive
/// several batches; consecutive ones are row groups of one segment, and a target written again later gets another
/// segment), then appends the index and commits it create-once.
/// </summary>
public sealed class RoutedTableWriter : IAsyncDisposable
{
    private readonly SpoolFile _spool;
    private readonly IReadOnlyList<ColumnSchema> _schema;
    private readonly List<RoutedSegment> _segments = [];
    private ParquetTableWriter? _segment;
    private int _segmentTarget;
    private long _segmentStart, _segmentRows;

    private RoutedTableWriter(SpoolFile spool, IReadOnlyList<ColumnSchema> schema) => (_spool, _schema) = (spool, schema);

    public long Rows { get; private set; }

    public static Task<RoutedTableWriter> CreateAsync(IReadOnlyList<ColumnSchema> schema, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return Task.FromResult(new RoutedTableWriter(SpoolFile.Create(), schema));
    }

    /// <summary>Appends one row group addressed to <paramref name="target"/>; an empty batch writes nothing.</summary>
    public async Task WriteAsync(int target, RecordBatch batch, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(target);
        ArgumentNullException.ThrowIfNull(batch);
        if (batch.RowCount == 0) return;
        if (_segment is null || _segmentTarget != target)
        {
            await EndSegmentAsync().ConfigureAwait(false);
            (_segmentTarget, _segmentStart, _segmentRows) = (target, _spool.Stream.Position, 0);
            _segment = await ParquetTableWriter.CreateAsync(WindowStream.Appending(_spool.Stream), _schema, null, cancellationToken).ConfigureAwait(false);
        }
        await _segment.WriteAsync(batch, cancellationToken).ConfigureAwait(false);
        _segmentRows += batch.RowCount;
        Rows += batch.RowCount;
    }

    /// <summary>Closes the open segment (its Parquet footer) and lists it in the index.</summary>
    private async Task EndSegmentAsync()
    {
        if (_segment is null) return;
        await _segment.DisposeAsync().ConfigureAwait(false);
        _segment = null;
        _segments.Add(new RoutedSegment(_segmentTarget, _segmentStart, _spool.Stream.Position - _segmentStart, _segmentRows));
    }

    public async Task CommitOnceAsync(IObjectStore store, string key, CancellationToken cancellationToken)
    {
        await EndSegmentAsync().ConfigureAwait(false);
        await RoutedIndex.WriteAsync(_spool.Stream, _segments, cancellationToken).ConfigureAwait(false);
        await _spool.CommitOnceAsync(store, key, cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        if (_segment is not null) await _segment.DisposeAsync().ConfigureAwait(false);
        await _spool.DisposeAsync().ConfigureAwait(false);
    }
}
