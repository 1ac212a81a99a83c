using Curation.Pipelines.Execution;
using Curation.Pipelines.IO;
using Curation.Pipelines.Model;
using Curation.Pipelines.Storage;

namespace Curation.Pipelines.Stages;

/// <summary>
/// Where a read task puts what it reads: documents into a Parquet spool of the internal format (row groups of bounded
/// rows and text), bad records into a quarantine spool, with the counts the task reports. Committed create-once.
/// Fused (<see cref="CreateAsync(JobContext, IReadOnlyList{ColumnSchema}, IReadOnlyList{ShardTransformer.Member}, IShardTap, CancellationToken)"/> given the stages), each row group goes straight into the document stages that follow instead
/// (<see cref="DocumentPassWriter"/>): the same batches they would read back from the read stage's shard, which is not written.
/// Unfused, the next stage's tap (<see cref="IShardTap"/>: the output's report tally, exact_dedup's hashes) sees the rows
/// as they are written to the shard, so that stage does not read the shard again.
/// </summary>
internal sealed class ReadSink : IAsyncDisposable
{
    /// <summary>Rows per row group; also caps the text held in memory (<see cref="MaxBatchChars"/>).</summary>
    private const int MaxBatchRows = 8192;
    private const long MaxBatchChars = 32L * 1024 * 1024;

    private readonly SpoolFile _dataSpool;
    private readonly SpoolFile _quarantineSpool;
    private ParquetTableWriter? _dataWriter;
    private DocumentPassWriter? _pass;
    private IShardTap? _tap; // unfused: the next stage's tap on the rows this sink writes to the shard
    private ParquetTableWriter? _quarantineWriter;
    private readonly IReadOnlyList<ColumnSchema> _schema;
    private readonly FieldColumns _fields;
    private RecordBatch _batch;
    private readonly RecordBatch _bad = RecordBatch.WithSchema(QuarantineSchema.Columns);
    private long _batchChars;

    private ReadSink(SpoolFile data, SpoolFile quarantine, IReadOnlyList<ColumnSchema> fieldColumns)
    {
        _dataSpool = data;
        _quarantineSpool = quarantine;
        _schema = [.. Columns.Core, .. fieldColumns];
        _fields = new FieldColumns(fieldColumns);
        _batch = RecordBatch.WithSchema(_schema, MaxBatchRows);
    }

    public long Records { get; private set; }
    public long Kept { get; private set; }

    /// <summary>Characters of text kept so far.</summary>
    public long TextChars { get; private set; }

    public Dictionary<string, long> Quarantined { get; } = [];
    public List<string> Errors { get; } = [];

    /// <summary>
    /// A sink of <paramref name="job"/> writing the core columns and the job's passthrough columns to the read stage's shard
    /// (<paramref name="intermediate"/>: to a part file, which only the read stage reads back).
    /// </summary>
    public static Task<ReadSink> CreateAsync(JobContext job, IReadOnlyList<ColumnSchema> fieldColumns, bool intermediate, CancellationToken cancellationToken) =>
        CreateAsync(job, fieldColumns, null, null, intermediate, cancellationToken);

    /// <summary>
    /// A sink writing the core columns and the job's passthrough columns (<see cref="FieldSchema"/>) to the read stage's shard
    /// (<see cref="CommitAsync"/>); or, given <paramref name="fused"/> (the document stages after the read), running them over
    /// each row group as it is cut and writing their drops, their surviving rows and <paramref name="tap"/> (<see cref="CommitFusedAsync"/>).
    /// </summary>
    public static Task<ReadSink> CreateAsync(JobContext job, IReadOnlyList<ColumnSchema> fieldColumns, IReadOnlyList<ShardTransformer.Member>? fused,
        IShardTap? tap, CancellationToken cancellationToken) =>
        CreateAsync(job, fieldColumns, fused, tap, intermediate: false, cancellationToken);

    private static async Task<ReadSink> CreateAsync(JobContext job, IReadOnlyList<ColumnSchema> fieldColumns, IReadOnlyList<ShardTransformer.Member>? fused,
        IShardTap? tap, bool intermediate, CancellationToken cancellationToken)
    {
        var sink = new ReadSink(SpoolFile.Create(), SpoolFile.Create(), fieldColumns);
        try
        {
            if (fused is null)
            {
                var compression = intermediate ? ShardCompression.Intermediate(job) : ShardCompression.OfShard(job, 0);
                sink._dataWriter = await ParquetTableWriter.CreateAsync(sink._dataSpool.Stream, sink._schema, compression, cancellationToken: cancellationToken)
                    .ConfigureAwait(false);
                sink._tap = tap;
            }
            else
                sink._pass = await DocumentPassWriter.CreateAsync(job, fused, sink._schema, sink._dataSpool.Stream, tap, cancellationToken).ConfigureAwait(false);
            sink._quarantineWriter = await ParquetTableWriter.CreateAsync(sink._quarantineSpool.Stream, QuarantineSchema.Columns, cancellationToken: cancellationToken)
                .ConfigureAwait(false);
        }
        catch
        {
            await sink.DisposeAsync().ConfigureAwait(false);
            throw;
        }
        return sink;
    }

    /// <summary>One record a reader yielded from <paramref name="source"/>.</summary>
    public async Task AddAsync(string source, InputRecord record, CancellationToken cancellationToken)
    {
        if (record.IsQuarantined)
        {
            AddQuarantined(source, record.Position, record.Problem!, record.Detail ?? "");
            return;
        }
        Records++;
        Kept++;
        TaskProgress.Add(1);
        _batch.AddDocument(record.Id ?? ReadStage.DerivedId(source, record.Position), record.Text!, source, record.Position);
        _fields.Add(_batch, record.Fields);
        _batchChars += record.Text!.Length;
        TextChars += record.Text!.Length;
        if (_batch.RowCount >= MaxBatchRows || _batchChars >= MaxBatchChars) await FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    public void AddQuarantined(string source, long position, string reason, string detail)
    {
        Records++;
        Quarantined[reason] = Quarantined.GetValueOrDefault(reason) + 1;
        _bad.Sources.Add(source);
        _bad.Positions.Add(position);
        _bad.GetColumn<string>(DropsSchema.Reason).Add(reason);
        _bad.GetColumn<string>(DropsSchema.Detail).Add(detail);
        if (reason == QuarantineReasons.CorruptObject) Errors.Add(detail.Length > 0 ? detail : $"{source}: corrupt object");
    }

    /// <summary>Documents already in the internal format (a part file), after everything added before.</summary>
    public async Task AddDocumentsAsync(RecordBatch documents, CancellationToken cancellationToken)
    {
        if (documents.RowCount == 0) return;
        await FlushAsync(cancellationToken).ConfigureAwait(false);
        Records += documents.RowCount;
        Kept += documents.RowCount;
        foreach (var text in documents.Texts.List) TextChars += text.Length;
        await WriteAsync(documents, cancellationToken).ConfigureAwait(false);
    }

    private async Task FlushAsync(CancellationToken cancellationToken)
    {
        if (_batch.RowCount == 0) return;
        await WriteAsync(_batch, cancellationToken).ConfigureAwait(false);
        _batch = RecordBatch.WithSchema(_schema, MaxBatchRows);
        _batchChars = 0;
    }

    /// <summary>One row group: to the shard, or (fused) through the document stages, as the strings a reader of the shard would see.</summary>
    private async Task WriteAsync(RecordBatch batch, CancellationToken cancellationToken)
    {
        if (_pass is null)
        {
            await WriteShardRowsAsync(batch, cancellationToken).ConfigureAwait(false);
            return;
        }
        if (batch.RowCount == 0) return;
        Utf8StringColumn.AsStored(batch);
        await _pass.AddAsync(batch, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Unfused: one row group to the shard, and to the tap as the strings a reader of the shard will see.</summary>
    private async Task WriteShardRowsAsync(RecordBatch batch, CancellationToken cancellationToken)
    {
        if (_tap is not null && batch.RowCount > 0)
        {
            Utf8StringColumn.AsStored(batch);
            _tap.Add(batch);
        }
        await _dataWriter!.WriteAsync(batch, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Finishes both files and uploads them create-once: quarantine first, then what the tap gathered, then the data file
    /// (it marks the shard read).
    /// </summary>
    public async Task CommitAsync(IObjectStore store, string dataKey, string quarantineKey, CancellationToken cancellationToken)
    {
        await WriteShardRowsAsync(_batch, cancellationToken).ConfigureAwait(false);
        await _quarantineWriter!.WriteAsync(_bad, cancellationToken).ConfigureAwait(false);
        await CloseWritersAsync().ConfigureAwait(false);
        await _quarantineSpool.CommitOnceAsync(store, quarantineKey, cancellationToken).ConfigureAwait(false);
        if (_tap is not null) await _tap.CommitAsync(cancellationToken).ConfigureAwait(false);
        await _dataSpool.CommitOnceAsync(store, dataKey, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Fused: commits the quarantine, then the pass (every member's drops, <paramref name="beforeData"/>, the tap), then the last
    /// member's shard under <paramref name="dataKey"/> (it marks the pass done); returns each member's stats.
    /// </summary>
    public async Task<TaskStats[]> CommitFusedAsync(IObjectStore store, Execution.JobLayout layout, int shard, string dataKey, string quarantineKey,
        Func<TaskStats[], CancellationToken, Task> beforeData, CancellationToken cancellationToken)
    {
        await FlushAsync(cancellationToken).ConfigureAwait(false);
        await _quarantineWriter!.WriteAsync(_bad, cancellationToken).ConfigureAwait(false);
        await CloseWritersAsync().ConfigureAwait(false);
        await _quarantineSpool.CommitOnceAsync(store, quarantineKey, cancellationToken).ConfigureAwait(false);
        var stats = await _pass!.CommitAsync(store, layout, shard, beforeData, cancellationToken).ConfigureAwait(false);
        await _dataSpool.CommitOnceAsync(store, dataKey, cancellationToken).ConfigureAwait(false);
        return stats;
    }

    private async Task CloseWritersAsync()
    {
        if (_dataWriter is not null) await _dataWriter.DisposeAsync().ConfigureAwait(false);
        if (_quarantineWriter is not null) await _quarantineWriter.DisposeAsync().ConfigureAwait(false);
        _dataWriter = _quarantineWriter = null;
    }

    public async ValueTask DisposeAsync()
    {
        await CloseWritersAsync().ConfigureAwait(false);
        if (_pass is not null) await _pass.DisposeAsync().ConfigureAwait(false);
        await _dataSpool.DisposeAsync().ConfigureAwait(false);
        await _quarantineSpool.DisposeAsync().ConfigureAwait(false);
    }
}
