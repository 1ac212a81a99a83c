using System.Diagnostics;
using Curation.Pipelines.Execution;
using Curation.Pipelines.IO;
using Curation.Pipelines.Model;

namespace Curation.Pipelines.Stages;

/// <summary>
/// A pure per-document step (datatrove habit): transforms a batch in place and drops rows with reasons.
/// It may add columns (declared in <see cref="AddedColumns"/>) and must fill them for every row.
/// </summary>
public interface IDocumentTransform
{
    IReadOnlyList<ColumnSchema> AddedColumns { get; }

    void Process(RecordBatch batch, DropCollector drops);
}

/// <summary>A stage made of one transform applied to every shard: one phase, one task per shard.</summary>
public sealed class DocumentStage(int index, string name, IDocumentTransform transform) : PipelineStage(index)
{
    public const string ApplyPhase = "apply";

    public override string Name => name;

    public IDocumentTransform Transform => transform;

    public override IReadOnlyList<PhaseInfo> Phases(JobPlan plan) => [new(ApplyPhase, TaskScope.Shard, plan.ShardCount, ProducesShardOutput: true)];

    public override async Task<TaskStats> RunAsync(TaskContext task, CancellationToken cancellationToken)
    {
        // Only the run's first member decides whether to fuse (its silo's setting); a later member always looks for the
        // stats a fused head recorded first, so silos with different settings still agree on one shard's path.
        var members = FusedDocumentPass.Members(task.Job, this);
        if (members.Count > 1 && members[0] == this && FusedDocumentPass.Enabled)
            return await FusedDocumentPass.RunAsync(task, members, cancellationToken).ConfigureAwait(false);
        if (members.Count > 1 && members[0] != this && await FusedDocumentPass.RecordedAsync(task, cancellationToken).ConfigureAwait(false) is { } recorded)
            return recorded;
        return await ShardTransformer.RunAsync(task, task.Task, transform, cancellationToken).ConfigureAwait(false);
    }
}

/// <summary>
/// Streams one shard through a transform: previous output → transform → kept rows and drops, each spooled locally
/// and committed create-once (drops first, data last). One row group in memory at a time.
/// </summary>
public static class ShardTransformer
{
    public static async Task<TaskStats> RunAsync(TaskContext task, int shard, IDocumentTransform transform, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        var data = task.Job.Data;
        long rowsIn = 0, kept = 0, bytesIn = 0;
        var dropped = new Dictionary<string, long>();

        await using var dataSpool = SpoolFile.Create();
        await using var dropsSpool = SpoolFile.Create();
        await using (var input = await data.OpenReadAsync(task.InputShardKey(shard), cancellationToken).ConfigureAwait(false))
        await using (var reader = await ParquetTableReader.OpenAsync(input, cancellationToken).ConfigureAwait(false))
        {
            TaskProgress.Expect(reader.RowCount);
            var schema = reader.Schema.Concat(transform.AddedColumns.Where(c => reader.Schema.All(s => s.Name != c.Name))).ToArray();
            await using var dataWriter = await ParquetTableWriter.CreateAsync(dataSpool.Stream, schema, cancellationToken: cancellationToken).ConfigureAwait(false);
            await using var dropsWriter = await ParquetTableWriter.CreateAsync(dropsSpool.Stream, DropsSchema.Columns, cancellationToken: cancellationToken).ConfigureAwait(false);
            await foreach (var batch in reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
            {
                rowsIn += batch.RowCount;
                var batchBytes = 0L;
                foreach (var text in batch.Texts.List) batchBytes += System.Text.Encoding.UTF8.GetByteCount(text);
                bytesIn += batchBytes;
                var drops = new DropCollector(batch, task.Stage.Name);
                transform.Process(batch, drops);
                batch.Validate();
                var keptRows = drops.KeptRows();
                kept += keptRows.Count;
                drops.CountReasons(dropped);
                await dataWriter.WriteAsync(keptRows.Count == batch.RowCount ? batch : batch.Select(keptRows), cancellationToken).ConfigureAwait(false);
                if (drops.Count > 0) await dropsWriter.WriteAsync(drops.ToDropsBatch(), cancellationToken).ConfigureAwait(false);
                TaskProgress.Add(batch.RowCount, batchBytes);
            }
        }

        await dropsSpool.CommitOnceAsync(data, task.DropsKey(shard), cancellationToken).ConfigureAwait(false);
        await dataSpool.CommitOnceAsync(data, task.OutputShardKey(shard), cancellationToken).ConfigureAwait(false);
        return new TaskStats { In = rowsIn, Kept = kept, Dropped = dropped, BytesIn = bytesIn, Seconds = clock.Elapsed.TotalSeconds };
    }
}
