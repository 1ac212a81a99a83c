using System.Runtime.InteropServices;
using Curation.Pipelines.IO;
using Curation.Pipelines.Model;
using Curation.Pipelines.Storage;

namespace Curation.Pipelines.Stages;

/// <summary>Reading and writing a stage's scratch objects (Parquet tables and raw number arrays), create-once.</summary>
internal static class StageObjects
{
    public static Task WriteParquetAsync(IObjectStore store, string key, RecordBatch batch, Dictionary<string, string>? metadata, CancellationToken cancellationToken) =>
        WriteParquetAsync(store, key, batch.Schema, [batch], metadata, cancellationToken);

    /// <summary>A table written a row group per batch (the batches are enumerated once, as they are written).</summary>
    public static async Task WriteParquetAsync(IObjectStore store, string key, IReadOnlyList<ColumnSchema> schema, IEnumerable<RecordBatch> batches,
        Dictionary<string, string>? metadata, CancellationToken cancellationToken)
    {
        await using var spool = SpoolFile.Create();
        await using (var writer = await ParquetTableWriter.CreateAsync(spool.Stream, schema, metadata, cancellationToken).ConfigureAwait(false))
            foreach (var batch in batches) await writer.WriteAsync(batch, cancellationToken).ConfigureAwait(false);
        await spool.CommitOnceAsync(store, key, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>A whole (small) table in memory; large tables are streamed with <see cref="ParquetTableReader"/> instead.</summary>
    public static async Task<RecordBatch> ReadParquetAsync(IObjectStore store, string key, CancellationToken cancellationToken)
    {
        await using var input = await store.OpenReadAsync(key, cancellationToken).ConfigureAwait(false);
        await using var reader = await ParquetTableReader.OpenAsync(input, cancellationToken).ConfigureAwait(false);
        var result = RecordBatch.WithSchema(reader.Schema);
        await foreach (var batch in reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
            foreach (var column in batch.AllColumns)
                foreach (var value in column.Values) result.Find(column.Name)!.Values.Add(value);
        return result;
    }

    public static Task WriteArrayAsync<T>(IObjectStore store, string key, T[] values, CancellationToken cancellationToken) where T : unmanaged =>
        store.CreateOnceAsync(key, (stream, ct) => stream.WriteAsync(MemoryMarshal.AsBytes(values.AsSpan()).ToArray(), ct).AsTask(), cancellationToken);

    public static async Task<T[]> ReadArrayAsync<T>(IObjectStore store, string key, CancellationToken cancellationToken) where T : unmanaged =>
        MemoryMarshal.Cast<byte, T>(await store.ReadBytesAsync(key, cancellationToken).ConfigureAwait(false)).ToArray();

    /// <summary>
    /// Writes one partition of a durable dedup index into the snapshot folder of a versioned corpus (create-once; the
    /// folder belongs to this job) and describes it for the snapshot manifest.
    /// </summary>
    public static Task<Execution.SnapshotIndex> WriteIndexAsync(TaskContext task, string name, int partition, RecordBatch batch,
        CancellationToken cancellationToken) =>
        WriteIndexAsync(task, name, partition, batch.Schema, null, (writer, ct) => writer.WriteAsync(batch, ct), cancellationToken);

    /// <summary>
    /// <see cref="WriteIndexAsync(TaskContext, string, int, RecordBatch, CancellationToken)"/> for an index partition
    /// too large to hold at once: <paramref name="write"/> streams its row groups (e.g. the base's rows, then this run's).
    /// </summary>
    public static async Task<Execution.SnapshotIndex> WriteIndexAsync(TaskContext task, string name, int partition, IReadOnlyList<ColumnSchema> schema,
        Dictionary<string, string>? metadata, Func<ParquetTableWriter, CancellationToken, Task> write, CancellationToken cancellationToken)
    {
        var job = task.Job;
        var relative = $"{job.Refresh!.Folder}/index/{task.Stage.Folder}/{name}-{partition:D5}.parquet";
        await using var spool = SpoolFile.Create();
        long rows;
        await using (var writer = await ParquetTableWriter.CreateAsync(spool.Stream, schema, metadata, cancellationToken).ConfigureAwait(false))
        {
            await write(writer, cancellationToken).ConfigureAwait(false);
            rows = writer.RowsWritten;
        }
        var length = spool.Length;
        await spool.CommitOnceAsync(job.Output, job.OutputKeyOf(relative), cancellationToken).ConfigureAwait(false);
        return new Execution.SnapshotIndex(task.Stage.Folder, name, partition, relative, rows, length);
    }

    /// <summary>Every row group of a durable index partition (written by <c>WriteIndexAsync</c>, possibly by an earlier snapshot).</summary>
    public static async IAsyncEnumerable<RecordBatch> ReadIndexAsync(Execution.JobContext job, Execution.SnapshotIndex index,
        [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await using var input = await job.Output.OpenReadAsync(job.OutputKeyOf(index.Key), cancellationToken).ConfigureAwait(false);
        await using var reader = await ParquetTableReader.OpenAsync(input, cancellationToken).ConfigureAwait(false);
        await foreach (var batch in reader.ReadAllAsync(cancellationToken).ConfigureAwait(false)) yield return batch;
    }

    /// <summary>A (small) durable index partition in memory, with its file metadata.</summary>
    public static async Task<(RecordBatch Table, IReadOnlyDictionary<string, string> Metadata)> ReadSmallIndexAsync(Execution.JobContext job,
        Execution.SnapshotIndex index, CancellationToken cancellationToken)
    {
        await using var input = await job.Output.OpenReadAsync(job.OutputKeyOf(index.Key), cancellationToken).ConfigureAwait(false);
        await using var reader = await ParquetTableReader.OpenAsync(input, cancellationToken).ConfigureAwait(false);
        var result = RecordBatch.WithSchema(reader.Schema);
        await foreach (var batch in reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
            foreach (var column in batch.AllColumns)
                foreach (var value in column.Values) result.Find(column.Name)!.Values.Add(value);
        return (result, new Dictionary<string, string>(reader.Metadata));
    }

    /// <summary>A small JSON object, create-once (a retried task writes the same content).</summary>
    public static Task WriteJsonOnceAsync<T>(IObjectStore store, string key, T value, CancellationToken cancellationToken)
    {
        var bytes = System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(value, CurationJson.Options);
        return store.CreateOnceAsync(key, (stream, ct) => stream.WriteAsync(bytes, ct).AsTask(), cancellationToken);
    }

    /// <summary>A histogram stored sparsely as (bin, count) pairs: most bins of a fine histogram are empty.</summary>
    public static Task WriteSparseHistogramAsync(IObjectStore store, string key, long[] histogram, CancellationToken cancellationToken)
    {
        var pairs = new List<long>();
        for (var bin = 0; bin < histogram.Length; bin++)
            if (histogram[bin] != 0) { pairs.Add(bin); pairs.Add(histogram[bin]); }
        return WriteArrayAsync(store, key, pairs.ToArray(), cancellationToken);
    }

    /// <summary>Adds a sparse histogram written by <see cref="WriteSparseHistogramAsync"/> into <paramref name="histogram"/>.</summary>
    public static async Task AddSparseHistogramAsync(IObjectStore store, string key, long[] histogram, CancellationToken cancellationToken)
    {
        var pairs = await ReadArrayAsync<long>(store, key, cancellationToken).ConfigureAwait(false);
        for (var i = 0; i < pairs.Length; i += 2) histogram[pairs[i]] += pairs[i + 1];
    }
}
