using System.Diagnostics;
using Curation.Pipelines.Execution;
using Curation.Pipelines.IO;
using Curation.Pipelines.Model;
using Curation.Pipelines.Storage;

namespace Curation.Pipelines.Stages;

/// <summary>
/// The body of a document pass, whatever feeds it: each batch (one row group of the unfused chain) goes through every
/// member's transform in order, each member's drops into its own drops spool, the surviving rows into the data writer
/// (one row group per non-empty batch) and the tap. Fed by <see cref="ShardTransformer"/> reading a stored shard, or by the
/// read stage as it parses its sources (<see cref="FusedDocumentPass"/>): the same batches either way, so the same bytes.
/// </summary>
internal sealed class DocumentPassWriter : IAsyncDisposable
{
    private readonly IReadOnlyList<ShardTransformer.Member> _members;
    private readonly IShardTap? _tap;
    private readonly ParquetTableWriter _dataWriter;
    private readonly SpoolFile[] _dropsSpools;
    private readonly ParquetTableWriter?[] _dropsWriters;
    private readonly long[] _rowsIn, _kept, _bytesIn;
    private readonly double[] _seconds;
    private readonly Dictionary<string, long>[] _dropped;
    private readonly Dictionary<string, double>[] _metrics;
    private readonly Stopwatch _step = new();
    private bool _closed;

    private DocumentPassWriter(IReadOnlyList<ShardTransformer.Member> members, IShardTap? tap, ParquetTableWriter dataWriter)
    {
        _members = members;
        _tap = tap;
        _dataWriter = dataWriter;
        _dropsSpools = [.. members.Select(_ => SpoolFile.Create())];
        _dropsWriters = new ParquetTableWriter?[members.Count];
        (_rowsIn, _kept, _bytesIn, _seconds) = (new long[members.Count], new long[members.Count], new long[members.Count], new double[members.Count]);
        _dropped = [.. members.Select(_ => new Dictionary<string, long>())];
        _metrics = [.. members.Select(_ => new Dictionary<string, double>())];
    }

    /// <summary>
    /// A pass of <paramref name="job"/> over rows of <paramref name="inputSchema"/> writing the surviving rows into <paramref name="data"/>
    /// (compressed as the last member's shard is, <see cref="ShardCompression.OfShard"/>) and the drops as intermediate files.
    /// </summary>
    public static async Task<DocumentPassWriter> CreateAsync(JobContext job, IReadOnlyList<ShardTransformer.Member> members, IReadOnlyList<ColumnSchema> inputSchema,
        Stream data, IShardTap? tap, CancellationToken cancellationToken)
    {
        var schema = ShardTransformer.OutputSchema(inputSchema, members.Select(m => m.Transform));
        var writer = await ParquetTableWriter.CreateAsync(data, schema, ShardCompression.OfShard(job, members[^1].Stage.Index), cancellationToken: cancellationToken)
            .ConfigureAwait(false);
        var drops = ShardCompression.Intermediate(job);
        var pass = new DocumentPassWriter(members, tap, writer);
        try
        {
            for (var m = 0; m < members.Count; m++)
                pass._dropsWriters[m] = await ParquetTableWriter.CreateAsync(pass._dropsSpools[m].Stream, DropsSchema.Columns, drops, cancellationToken: cancellationToken)
                    .ConfigureAwait(false);
        }
        catch
        {
            await pass.DisposeAsync().ConfigureAwait(false);
            throw;
        }
        return pass;
    }

    /// <summary>Runs one batch through the members and writes what survives; returns the batch's text UTF-8 bytes as read.</summary>
    public async Task<long> AddAsync(RecordBatch batch, CancellationToken cancellationToken)
    {
        var readBytes = 0L;
        for (var m = 0; m < _members.Count && batch.RowCount > 0; m++)
        {
            _step.Restart();
            _rowsIn[m] += batch.RowCount;
            var batchBytes = Utf8StringColumn.Utf8Bytes(batch.Texts);
            _bytesIn[m] += batchBytes;
            if (m == 0) readBytes = batchBytes;
            var drops = new DropCollector(batch, _members[m].Stage.Name);
            _members[m].Transform.Process(batch, drops);
            batch.Validate();
            var keptRows = drops.KeptRows();
            _kept[m] += keptRows.Count;
            drops.CountReasons(_dropped[m]);
            drops.AddMeasures(_metrics[m]);
            if (drops.Count > 0) await _dropsWriters[m]!.WriteAsync(drops.ToDropsBatch(), cancellationToken).ConfigureAwait(false);
            batch = keptRows.Count == batch.RowCount ? batch : batch.Select(keptRows);
            _seconds[m] += _step.Elapsed.TotalSeconds;
        }
        await _dataWriter.WriteAsync(batch, cancellationToken).ConfigureAwait(false);
        if (batch.RowCount > 0) _tap?.Add(batch);
        return readBytes;
    }

    /// <summary>
    /// Finishes the data file (its spool is the caller's to commit), commits every member's drops create-once under its own
    /// drops key, runs <paramref name="beforeData"/>, commits the tap, and returns each member's stats.
    /// </summary>
    public async Task<TaskStats[]> CommitAsync(IObjectStore data, JobLayout layout, int shard,
        Func<TaskStats[], CancellationToken, Task>? beforeData, CancellationToken cancellationToken)
    {
        await CloseWritersAsync().ConfigureAwait(false);
        var stats = _members.Select((_, m) => new TaskStats
        {
            In = _rowsIn[m], Kept = _kept[m], Dropped = _dropped[m], BytesIn = _bytesIn[m], Seconds = _seconds[m], Metrics = _metrics[m],
        }).ToArray();
        // The members' drops are independent create-once objects: committed together, their flushes to disk overlap.
        await Task.WhenAll(_members.Select((member, m) =>
            _dropsSpools[m].CommitOnceAsync(data, layout.ShardDrops(member.Stage.Index, member.Stage.Name, shard), cancellationToken))).ConfigureAwait(false);
        if (beforeData is not null) await beforeData(stats, cancellationToken).ConfigureAwait(false);
        if (_tap is not null) await _tap.CommitAsync(cancellationToken).ConfigureAwait(false);
        return stats;
    }

    private async Task CloseWritersAsync()
    {
        if (_closed) return;
        _closed = true;
        await _dataWriter.DisposeAsync().ConfigureAwait(false);
        foreach (var writer in _dropsWriters) if (writer is not null) await writer.DisposeAsync().ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        await CloseWritersAsync().ConfigureAwait(false);
        foreach (var spool in _dropsSpools) await spool.DisposeAsync().ConfigureAwait(false);
    }
}
