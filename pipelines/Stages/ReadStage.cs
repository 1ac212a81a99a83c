using Curation.Pipelines.Execution;
using Curation.Pipelines.IO;
using Curation.Pipelines.IO.Readers;
using Curation.Pipelines.Spec;
using Curation.Pipelines.Storage;

namespace Curation.Pipelines.Stages;

/// <summary>
/// Stage 0: streams a shard's source objects (or parts of them: <see cref="ObjectSplitter"/>) into the internal document
/// format (id, text, source, position). Bad records are quarantined with object and position; a corrupt object stops
/// at the corruption, is reported by name, and the rest of the shard goes on. When the plan split objects, the
/// <see cref="ReadParts"/> phases run first.
/// </summary>
public sealed class ReadStage() : PipelineStage(0)
{
    public const string StageName = "read";
    public const string ReadPhase = "read";

    public override string Name => StageName;

    protected override IReadOnlyList<StagePhase> DeclarePhases(JobPlan plan)
    {
        var phases = new List<StagePhase>();
        if (ReadParts.NeedsPrepare(plan)) phases.Add(new(ReadParts.PreparePhase, TaskScope.Shard, plan.ShardCount, ReadParts.PrepareAsync));
        if (ReadParts.NeedsIndex(plan)) phases.Add(new(ReadParts.IndexPhase, TaskScope.Single, 1, ReadParts.IndexAsync));
        phases.Add(new(ReadPhase, TaskScope.Shard, plan.ShardCount, ReadAsync, producesShardOutput: true));
        return phases;
    }

    private async Task<TaskStats> ReadAsync(TaskContext task, CancellationToken cancellationToken)
    {
        var job = task.Job;
        var shard = job.Plan.Shards[task.Task];
        long bytesIn = 0;
        IReadOnlyDictionary<string, long[]>? firstLines = null;

        var fieldColumns = await FieldSchema.ForJobAsync(job, cancellationToken).ConfigureAwait(false);
        // The document stages right after the read run in this pass (FusedDocumentPass.AfterRead): the read stage's shard is not written.
        var fused = FusedDocumentPass.AfterRead(job);
        await using var sink = await ReadSink.CreateAsync(job, fieldColumns,
            fused.Count == 0 ? null : await DocumentStage.BindAsync(fused, task.Services, cancellationToken).ConfigureAwait(false),
            FusedDocumentPass.TapOfNextWhenFused(job, fused.Count == 0 ? this : fused[^1], task.Task), cancellationToken).ConfigureAwait(false);
        TaskProgress.Expect(0, shard.Objects.Sum(o => o.ReadBytes));
        foreach (var obj in shard.Objects)
        {
            bytesIn += obj.ReadBytes;
            if (obj.Part is { Unit: PartUnit.Stream })
            {
                await ReadParts.CopyPartAsync(task, obj, sink, cancellationToken).ConfigureAwait(false);
                TaskProgress.Add(0, obj.ReadBytes); // a stream part was read (decompressed) by the prepare phase
                continue;
            }
            var part = obj.Part;
            if (part is { Unit: PartUnit.Bytes, Part: > 0 })
            {
                firstLines ??= await ReadParts.FirstLinesAsync(task, cancellationToken).ConfigureAwait(false);
                part = part with { FirstRecord = firstLines[obj.Source][part.Part] };
            }
            var (store, input) = await OpenCheckedAsync(job, obj, cancellationToken).ConfigureAwait(false);
            var reader = InputReaders.For(input, obj.Key);
            await using var content = new ProgressStream(await store.OpenReadAsync(obj.Key, cancellationToken).ConfigureAwait(false));
            await foreach (var record in reader.ReadAsync(content, new InputObject(obj.Source, obj.Size, input) { Part = part }, cancellationToken).ConfigureAwait(false))
                await sink.AddAsync(obj.Source, record, cancellationToken).ConfigureAwait(false);
        }
        var quarantineKey = job.Layout.ShardQuarantine(Index, Name, task.Task);
        if (fused.Count == 0)
            await sink.CommitAsync(job.Data, task.OutputShardKey(task.Task), quarantineKey, cancellationToken).ConfigureAwait(false);
        else
            await sink.CommitFusedAsync(job.Data, job.Layout, task.Task, job.Layout.ShardData(fused[^1].Index, fused[^1].Name, task.Task), quarantineKey,
                (stats, ct) => FusedDocumentPass.RecordAsync(job, fused, 0, task.Task, stats, ct), cancellationToken).ConfigureAwait(false);
        return new TaskStats
        {
            In = sink.Records, Kept = sink.Kept, Quarantined = sink.Quarantined, BytesIn = bytesIn, Errors = sink.Errors,
        };
    }

    /// <summary>The store of a planned object, checked to hold the very version the job planned.</summary>
    internal static async Task<(IObjectStore Store, InputSpec Input)> OpenCheckedAsync(JobContext job, PlannedObject obj, CancellationToken cancellationToken)
    {
        var input = job.Spec.Inputs[obj.Input];
        var store = job.Stores.Resolve(StoreLocation.Parse(input.Path));
        var current = await store.GetInfoAsync(obj.Key, cancellationToken).ConfigureAwait(false);
        if (current is null || current.ETag != obj.ETag)
            throw new InvalidOperationException(
                $"{store.Location}/{obj.Key} changed or vanished since job {job.JobId} was planned (ETag {obj.ETag} → {current?.ETag ?? "missing"}); " +
                "a job reads exactly the objects it planned: submit it again under a new name to read the new version.");
        return (store, input);
    }

    /// <summary>
    /// Id of a document whose input has no id field: source object + zero-padded record position, so ordinal order
    /// of ids is source order.
    /// </summary>
    public static string DerivedId(string source, long position) => $"{source}#{position:D10}";
}
