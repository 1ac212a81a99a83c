using System.Diagnostics;
using Curation.Pipelines.Execution;
using Curation.Pipelines.IO;
using Curation.Pipelines.IO.Readers;
using Curation.Pipelines.Model;
using Curation.Pipelines.Spec;

namespace Curation.Pipelines.Stages;

/// <summary>
/// Stage 0: streams a shard's source objects into the internal document format (id, text, source, position).
/// Bad records are quarantined with object and position; a corrupt object stops at the corruption, is reported by
/// name, and the rest of the shard goes on.
/// </summary>
public sealed class ReadStage() : PipelineStage(0)
{
    public const string StageName = "read";
    public const string ReadPhase = "read";

    /// <summary>Rows per row group; also caps the text held in memory (<see cref="MaxBatchChars"/>).</summary>
    private const int MaxBatchRows = 8192;
    private const long MaxBatchChars = 32L * 1024 * 1024;

    public override string Name => StageName;

    public override IReadOnlyList<PhaseInfo> Phases(JobPlan plan) => [new(ReadPhase, TaskScope.Shard, plan.ShardCount, ProducesShardOutput: true)];

    public override async Task<TaskStats> RunAsync(TaskContext task, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        var job = task.Job;
        var shard = job.Plan.Shards[task.Task];
        long records = 0, kept = 0, bytesIn = 0;
        var quarantined = new Dictionary<string, long>();
        var errors = new List<string>();

        await using var dataSpool = SpoolFile.Create();
        await using var quarantineSpool = SpoolFile.Create();
        await using (var dataWriter = await ParquetTableWriter.CreateAsync(dataSpool.Stream, Columns.Core, cancellationToken: cancellationToken).ConfigureAwait(false))
        await using (var quarantineWriter = await ParquetTableWriter.CreateAsync(quarantineSpool.Stream, QuarantineSchema.Columns, cancellationToken: cancellationToken).ConfigureAwait(false))
        {
            var batch = RecordBatch.ForDocuments(MaxBatchRows);
            var bad = RecordBatch.WithSchema(QuarantineSchema.Columns);
            long batchChars = 0;
            foreach (var obj in shard.Objects)
            {
                var input = job.Spec.Inputs[obj.Input];
                var store = job.Stores.Resolve(StoreLocation.Parse(input.Path));
                var current = await store.GetInfoAsync(obj.Key, cancellationToken).ConfigureAwait(false);
                if (current is null || current.ETag != obj.ETag)
                    throw new InvalidOperationException(
                        $"{store.Location}/{obj.Key} changed or vanished since job {job.JobId} was planned (ETag {obj.ETag} → {current?.ETag ?? "missing"}); " +
                        "a job reads exactly the objects it planned: submit it again under a new name to read the new version.");
                bytesIn += obj.Size;

                var reader = InputReaders.For(input, obj.Key);
                await using var content = await store.OpenReadAsync(obj.Key, cancellationToken).ConfigureAwait(false);
                await foreach (var record in reader.ReadAsync(content, new InputObject(obj.Source, obj.Size, input), cancellationToken).ConfigureAwait(false))
                {
                    records++;
                    if (record.IsQuarantined)
                    {
                        quarantined[record.Problem!] = quarantined.GetValueOrDefault(record.Problem!) + 1;
                        bad.Sources.Add(obj.Source);
                        bad.Positions.Add(record.Position);
                        bad.GetColumn<string>(DropsSchema.Reason).Add(record.Problem!);
                        bad.GetColumn<string>(DropsSchema.Detail).Add(record.Detail ?? "");
                        if (record.Problem == QuarantineReasons.CorruptObject) errors.Add(record.Detail ?? $"{obj.Source}: corrupt object");
                        continue;
                    }
                    kept++;
                    batch.AddDocument(record.Id ?? DerivedId(obj.Source, record.Position), record.Text!, obj.Source, record.Position);
                    batchChars += record.Text!.Length;
                    if (batch.RowCount >= MaxBatchRows || batchChars >= MaxBatchChars)
                    {
                        await dataWriter.WriteAsync(batch, cancellationToken).ConfigureAwait(false);
                        batch = RecordBatch.ForDocuments(MaxBatchRows);
                        batchChars = 0;
                    }
                }
            }
            await dataWriter.WriteAsync(batch, cancellationToken).ConfigureAwait(false);
            await quarantineWriter.WriteAsync(bad, cancellationToken).ConfigureAwait(false);
        }

        await quarantineSpool.CommitOnceAsync(job.Data, job.Layout.ShardQuarantine(Index, Name, task.Task), cancellationToken).ConfigureAwait(false);
        await dataSpool.CommitOnceAsync(job.Data, task.OutputShardKey(task.Task), cancellationToken).ConfigureAwait(false);
        return new TaskStats
        {
            In = records, Kept = kept, Quarantined = quarantined, BytesIn = bytesIn, Errors = errors,
            Seconds = clock.Elapsed.TotalSeconds,
        };
    }

    /// <summary>
    /// Id of a document whose input has no id field: source object + zero-padded record position, so ordinal order
    /// of ids is source order.
    /// </summary>
    public static string DerivedId(string source, long position) => $"{source}#{position:D10}";
}
