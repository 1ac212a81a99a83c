using System.Buffers;
using System.Security.Cryptography;
using System.Text;
using Curation.Pipelines.Execution;
using Curation.Pipelines.IO;
using Curation.Pipelines.IO.Readers;
using Curation.Pipelines.Storage;

namespace Curation.Pipelines.Stages;

/// <summary>
/// The phases a read runs before reading when the plan split objects (<see cref="ObjectSplitter"/>):
/// <c>prepare</c> counts the newlines of every byte part but the last (in parallel, one task per shard) and inflates
/// each compressed stream into its part files; <c>index</c> (one task) turns the counts into the position of each byte
/// part's first record, so a part numbers its records exactly as an unsplit read does.
/// </summary>
internal static class ReadParts
{
    public const string PreparePhase = "prepare";
    public const string IndexPhase = "index";
    private const string LinesFile = "lines.json";

    public static bool NeedsPrepare(JobPlan plan) =>
        plan.Shards.Any(s => s.Objects.Any(o => o.Part is { Unit: PartUnit.Stream } or { Unit: PartUnit.Bytes, IsLast: false }));

    public static bool NeedsIndex(JobPlan plan) => plan.Shards.Any(s => s.Objects.Any(o => o.Part is { Unit: PartUnit.Bytes }));

    /// <summary>A compressed object's part files: documents and quarantined records of part N, written by part 0's task.</summary>
    public static string PartData(JobContext job, int stageIndex, string stageName, PlannedObject obj, int part) =>
        $"{PartFolder(job, stageIndex, stageName, obj)}{part:D5}.parquet";

    public static string PartQuarantine(JobContext job, int stageIndex, string stageName, PlannedObject obj, int part) =>
        $"{PartFolder(job, stageIndex, stageName, obj)}{part:D5}.quarantine.parquet";

    private static string PartFolder(JobContext job, int stageIndex, string stageName, PlannedObject obj) =>
        $"{job.Layout.PhaseRoot(stageIndex, stageName, PreparePhase)}parts/{Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(obj.Source)))[..24]}/";

    private static string CountsKey(JobContext job, int stageIndex, string stageName, int shard) =>
        $"{job.Layout.PhaseRoot(stageIndex, stageName, PreparePhase)}{JobLayout.ShardName(shard)}.newlines.json";

    private static string LinesKey(JobContext job, int stageIndex, string stageName) =>
        $"{job.Layout.PhaseRoot(stageIndex, stageName, IndexPhase)}{LinesFile}";

    /// <summary>Newlines of one byte part, counted over [start − 1, end − 1): summed over the parts before part k, the newlines before its first line.</summary>
    private sealed record NewlineCount(string Source, int Part, long Newlines);

    public static async Task<TaskStats> PrepareAsync(TaskContext task, CancellationToken cancellationToken)
    {
        var job = task.Job;
        var stage = task.Stage;
        var counts = new List<NewlineCount>();
        long bytes = 0;
        foreach (var obj in job.Plan.Shards[task.Task].Objects)
        {
            switch (obj.Part)
            {
                case { Unit: PartUnit.Bytes, IsLast: false } part:
                    var (store, _) = await ReadStage.OpenCheckedAsync(job, obj, cancellationToken).ConfigureAwait(false);
                    counts.Add(new NewlineCount(obj.Source, part.Part, await CountNewlinesAsync(store, obj.Key, Math.Max(0, part.Start - 1), part.End - 1, cancellationToken).ConfigureAwait(false)));
                    bytes += part.Bytes;
                    break;
                case { Unit: PartUnit.Stream, Part: 0 }:
                    await InflateAsync(task, obj, cancellationToken).ConfigureAwait(false);
                    bytes += obj.Size;
                    break;
            }
        }
        if (counts.Count > 0)
            await job.Data.CreateOnceAsync(CountsKey(job, stage.Index, stage.Name, task.Task),
                (stream, ct) => stream.WriteAsync(System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(counts, CurationJson.Compact), ct).AsTask(),
                cancellationToken).ConfigureAwait(false);
        return new TaskStats { BytesIn = bytes };
    }

    /// <summary>The position of each byte part's first record, from every part's newline count.</summary>
    public static async Task<TaskStats> IndexAsync(TaskContext task, CancellationToken cancellationToken)
    {
        var job = task.Job;
        var stage = task.Stage;
        var newlines = new Dictionary<(string Source, int Part), long>();
        foreach (var shard in job.Plan.Shards)
        {
            if (!shard.Objects.Any(o => o.Part is { Unit: PartUnit.Bytes, IsLast: false })) continue;
            var (counts, _) = await job.Data.TryReadJsonAsync<List<NewlineCount>>(CountsKey(job, stage.Index, stage.Name, shard.Index), CurationJson.Options, cancellationToken).ConfigureAwait(false);
            if (counts is null) throw new InvalidOperationException($"{stage}: the newline counts of shard {shard.Index} are missing; its prepare task did not finish.");
            foreach (var c in counts) newlines[(c.Source, c.Part)] = c.Newlines;
        }
        var firstLines = new SortedDictionary<string, long[]>(StringComparer.Ordinal);
        foreach (var obj in job.Plan.Shards.SelectMany(s => s.Objects).Where(o => o.Part is { Unit: PartUnit.Bytes }))
        {
            if (firstLines.ContainsKey(obj.Source)) continue;
            var parts = obj.Part!.Parts;
            var first = new long[parts];
            long before = 0;
            for (var p = 1; p < parts; p++)
            {
                if (!newlines.TryGetValue((obj.Source, p - 1), out var n))
                    throw new InvalidOperationException($"{stage}: no newline count for part {p} of {obj.Source}.");
                before += n;
                first[p] = before + 1; // line 0 starts at byte 0; each newline before start − 1 starts another
            }
            firstLines[obj.Source] = first;
        }
        await job.Data.CreateOnceAsync(LinesKey(job, stage.Index, stage.Name),
            (stream, ct) => stream.WriteAsync(System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(firstLines, CurationJson.Compact), ct).AsTask(),
            cancellationToken).ConfigureAwait(false);
        return new TaskStats();
    }

    /// <summary>For each split source, the position of every byte part's first record (read by tasks holding a byte part past the first).</summary>
    public static async Task<IReadOnlyDictionary<string, long[]>> FirstLinesAsync(TaskContext task, CancellationToken cancellationToken)
    {
        var (lines, _) = await task.Job.Data.TryReadJsonAsync<Dictionary<string, long[]>>(LinesKey(task.Job, task.Stage.Index, task.Stage.Name), CurationJson.Options, cancellationToken).ConfigureAwait(false);
        return lines ?? throw new InvalidOperationException($"{task.Stage}: {LinesFile} is missing; the index phase did not finish.");
    }

    private static async Task<long> CountNewlinesAsync(IObjectStore store, string key, long start, long end, CancellationToken cancellationToken)
    {
        await using var content = await store.OpenReadAsync(key, cancellationToken).ConfigureAwait(false);
        content.Seek(start, SeekOrigin.Begin);
        var buffer = ArrayPool<byte>.Shared.Rent(1 << 20);
        try
        {
            long count = 0, left = end - start;
            while (left > 0)
            {
                var read = await content.ReadAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, left)), cancellationToken).ConfigureAwait(false);
                if (read == 0) break;
                count += buffer.AsSpan(0, read).Count((byte)'\n');
                left -= read;
            }
            return count;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>
    /// Reads a compressed object whole and writes its parts' files: records go, in order, to part ⌊text characters before
    /// them / target⌋ (the last part takes the rest), so every part holds about a shard's worth and later stages spread.
    /// Parts the data does not reach are written empty.
    /// </summary>
    private static async Task InflateAsync(TaskContext task, PlannedObject obj, CancellationToken cancellationToken)
    {
        var job = task.Job;
        var stage = task.Stage;
        var part = obj.Part!;
        if (await job.Data.GetInfoAsync(PartData(job, stage.Index, stage.Name, obj, part.Parts - 1), cancellationToken).ConfigureAwait(false) is not null)
            return; // an earlier attempt wrote them all (the last part file is written last)
        var (store, input) = await ReadStage.OpenCheckedAsync(job, obj, cancellationToken).ConfigureAwait(false);
        var target = job.Spec.Sharding.TargetShardBytes;
        var reader = InputReaders.For(input, obj.Key);
        var current = 0;
        var fieldColumns = await FieldSchema.ForJobAsync(job, cancellationToken).ConfigureAwait(false);
        var sink = await ReadSink.CreateAsync(job, fieldColumns, intermediate: true, cancellationToken).ConfigureAwait(false);
        try
        {
            await using var content = await store.OpenReadAsync(obj.Key, cancellationToken).ConfigureAwait(false);
            long chars = 0;
            await foreach (var record in reader.ReadAsync(content, new InputObject(obj.Source, obj.Size, input), cancellationToken).ConfigureAwait(false))
            {
                var target_part = (int)Math.Min(part.Parts - 1, chars / target);
                while (current < target_part)
                {
                    await sink.CommitAsync(job.Data, PartData(job, stage.Index, stage.Name, obj, current), PartQuarantine(job, stage.Index, stage.Name, obj, current), cancellationToken).ConfigureAwait(false);
                    await sink.DisposeAsync().ConfigureAwait(false);
                    sink = await ReadSink.CreateAsync(job, fieldColumns, intermediate: true, cancellationToken).ConfigureAwait(false);
                    current++;
                }
                await sink.AddAsync(obj.Source, record, cancellationToken).ConfigureAwait(false);
                if (!record.IsQuarantined) chars += record.Text!.Length;
            }
            while (true)
            {
                await sink.CommitAsync(job.Data, PartData(job, stage.Index, stage.Name, obj, current), PartQuarantine(job, stage.Index, stage.Name, obj, current), cancellationToken).ConfigureAwait(false);
                if (++current == part.Parts) break;
                await sink.DisposeAsync().ConfigureAwait(false);
                sink = await ReadSink.CreateAsync(job, fieldColumns, intermediate: true, cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            await sink.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Adds part <paramref name="obj"/>'s records, written by the inflating task, to <paramref name="sink"/>.</summary>
    public static async Task CopyPartAsync(TaskContext task, PlannedObject obj, ReadSink sink, CancellationToken cancellationToken)
    {
        var job = task.Job;
        var stage = task.Stage;
        var part = obj.Part!.Part;
        await using (var quarantine = await job.Data.OpenReadAsync(PartQuarantine(job, stage.Index, stage.Name, obj, part), cancellationToken).ConfigureAwait(false))
        await using (var reader = await ParquetTableReader.OpenAsync(quarantine, cancellationToken).ConfigureAwait(false))
            await foreach (var b in reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
                for (var i = 0; i < b.RowCount; i++)
                    sink.AddQuarantined(b.Sources[i], b.Positions[i], b.GetColumn<string>(DropsSchema.Reason)[i], b.GetColumn<string>(DropsSchema.Detail)[i]);
        await using (var data = await job.Data.OpenReadAsync(PartData(job, stage.Index, stage.Name, obj, part), cancellationToken).ConfigureAwait(false))
        await using (var reader = await ParquetTableReader.OpenAsync(data, cancellationToken).ConfigureAwait(false))
            await foreach (var b in reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
                await sink.AddDocumentsAsync(b, cancellationToken).ConfigureAwait(false);
    }
}
