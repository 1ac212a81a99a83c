using System.Globalization;
using Curation.Pipelines.Model;
using Curation.Pipelines.Storage;

namespace Curation.Pipelines.IO;

/// <summary>
/// A Parquet file of a shuffle: each row group is addressed to one target (a partition or a shard), listed in the
/// file's metadata, so a reader task opens every sender's file and decodes only the row groups addressed to it.
/// </summary>
public static class RoutedTable
{
    public const string TargetsMetadata = "curation.targets";

    /// <summary>Writes <paramref name="groups"/> (target → rows) as one row group per non-empty target, in target order, and commits it create-once.</summary>
    public static async Task WriteAsync(IObjectStore store, string key, IReadOnlyList<ColumnSchema> schema,
        IEnumerable<KeyValuePair<int, RecordBatch>> groups, CancellationToken cancellationToken)
    {
        await using var writer = await RoutedTableWriter.CreateAsync(schema, cancellationToken).ConfigureAwait(false);
        foreach (var (target, batch) in groups.OrderBy(g => g.Key)) await writer.WriteAsync(target, batch, cancellationToken).ConfigureAwait(false);
        await writer.CommitOnceAsync(store, key, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Every row group of <paramref name="key"/> addressed to <paramref name="target"/> (none when there are none).</summary>
    public static async IAsyncEnumerable<RecordBatch> ReadAsync(IObjectStore store, string key, int target,
        [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await using var input = await store.OpenReadAsync(key, cancellationToken).ConfigureAwait(false);
        await using var reader = await ParquetTableReader.OpenAsync(input, cancellationToken).ConfigureAwait(false);
        var listed = reader.Metadata.GetValueOrDefault(TargetsMetadata, "");
        if (listed.Length == 0) yield break;
        var wanted = target.ToString(CultureInfo.InvariantCulture);
        var targets = listed.Split(',');
        for (var rowGroup = 0; rowGroup < targets.Length; rowGroup++)
            if (targets[rowGroup] == wanted)
                yield return await reader.ReadRowGroupAsync(rowGroup, cancellationToken).ConfigureAwait(false);
    }
}

/// <summary>
/// Writes a <see cref="RoutedTable"/> incrementally into a local spool file (bounded memory: a target may receive
/// several row groups), then commits it create-once.
/// </summary>
public sealed class RoutedTableWriter : IAsyncDisposable
{
    private readonly SpoolFile _spool;
    private readonly ParquetTableWriter _writer;
    private readonly List<int> _targets = [];
    private bool _closed;

    private RoutedTableWriter(SpoolFile spool, ParquetTableWriter writer) => (_spool, _writer) = (spool, writer);

    public long Rows { get; private set; }

    public static async Task<RoutedTableWriter> CreateAsync(IReadOnlyList<ColumnSchema> schema, CancellationToken cancellationToken)
    {
        var spool = SpoolFile.Create();
        var writer = await ParquetTableWriter.CreateAsync(spool.Stream, schema,
            new Dictionary<string, string> { [RoutedTable.TargetsMetadata] = "" }, cancellationToken).ConfigureAwait(false);
        return new RoutedTableWriter(spool, writer);
    }

    /// <summary>Appends one row group addressed to <paramref name="target"/>; an empty batch writes nothing.</summary>
    public async Task WriteAsync(int target, RecordBatch batch, CancellationToken cancellationToken)
    {
        if (batch.RowCount == 0) return;
        await _writer.WriteAsync(batch, cancellationToken).ConfigureAwait(false);
        _targets.Add(target);
        Rows += batch.RowCount;
    }

    public async Task CommitOnceAsync(IObjectStore store, string key, CancellationToken cancellationToken)
    {
        _writer.SetMetadata(RoutedTable.TargetsMetadata, string.Join(',', _targets));
        await _writer.DisposeAsync().ConfigureAwait(false);
        _closed = true;
        await _spool.CommitOnceAsync(store, key, cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        if (!_closed) await _writer.DisposeAsync().ConfigureAwait(false);
        await _spool.DisposeAsync().ConfigureAwait(false);
    }
}
