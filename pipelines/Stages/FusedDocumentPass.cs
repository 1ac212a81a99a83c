using System.Diagnostics;
using Curation.Pipelines.Execution;
using Curation.Pipelines.IO;
using Curation.Pipelines.Model;
using Curation.Pipelines.Storage;

namespace Curation.Pipelines.Stages;

/// <summary>
/// Consecutive <see cref="DocumentStage"/>s run as one pass over a shard: the first member's task reads the shard once,
/// applies every member's transform in order, writes each member's drops to its own drops key (its own stage name and
/// reasons), the surviving rows once to the last member's shard key, and each later member's stats create-once; later
/// members' tasks only read their recorded stats. Row groups are cut exactly where the unfused chain cuts them (one per
/// non-empty batch), so the output bytes, drops, books and manifest are those of the unfused chain.
/// </summary>
public static class FusedDocumentPass
{
    /// <summary>Off runs every document stage on its own (reference for identity tests and benchmarks).</summary>
    public static bool Enabled { get; set; } = Environment.GetEnvironmentVariable("CURATION_FUSE_DOCUMENT_STAGES") != "0";

    /// <summary>The run of consecutive document stages that contains <paramref name="stage"/>.</summary>
    public static IReadOnlyList<DocumentStage> Members(JobContext job, PipelineStage stage)
    {
        var first = stage.Index;
        while (first > 0 && job.Stages[first - 1] is DocumentStage) first--;
        var last = stage.Index;
        while (last + 1 < job.Stages.Count && job.Stages[last + 1] is DocumentStage) last++;
        return [.. Enumerable.Range(first, last - first + 1).Select(i => (DocumentStage)job.Stages[i])];
    }

    /// <summary>Where the head's pass records a later member's stats for one shard.</summary>
    public static string MemberStatsKey(JobContext job, PipelineStage member, int shard) =>
        job.Layout.PhaseRoot(member.Index, member.Name, "fused") + JobLayout.ShardName(shard) + ".stats.json";

    public static async Task<TaskStats> RunAsync(TaskContext task, IReadOnlyList<DocumentStage> members, CancellationToken cancellationToken)
    {
        var job = task.Job;
        var data = job.Data;
        var shard = task.Task;
        var clock = Stopwatch.StartNew();
        var last = members[^1];
        var rowsIn = new long[members.Count];
        var kept = new long[members.Count];
        var bytesIn = new long[members.Count];
        var dropped = members.Select(_ => new Dictionary<string, long>()).ToArray();
        var seconds = new double[members.Count];

        await using var dataSpool = SpoolFile.Create();
        var dropsSpools = new SpoolFile[members.Count];
        for (var m = 0; m < members.Count; m++) dropsSpools[m] = SpoolFile.Create();
        try
        {
            await using (var input = await data.OpenReadAsync(task.InputShardKey(shard), cancellationToken).ConfigureAwait(false))
            await using (var reader = await ParquetTableReader.OpenAsync(input, cancellationToken).ConfigureAwait(false))
            {
                TaskProgress.Expect(reader.RowCount);
                IEnumerable<ColumnSchema> schema = reader.Schema;
                foreach (var member in members)
                {
                    var current = schema.ToArray();
                    schema = current.Concat(member.Transform.AddedColumns.Where(c => current.All(s => s.Name != c.Name)));
                }

                await using var dataWriter = await ParquetTableWriter.CreateAsync(dataSpool.Stream, [.. schema], cancellationToken: cancellationToken).ConfigureAwait(false);
                var dropsWriters = new ParquetTableWriter[members.Count];
                for (var m = 0; m < members.Count; m++)
                    dropsWriters[m] = await ParquetTableWriter.CreateAsync(dropsSpools[m].Stream, DropsSchema.Columns, cancellationToken: cancellationToken).ConfigureAwait(false);
                try
                {
                    var step = Stopwatch.StartNew();
                    await foreach (var read in reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
                    {
                        var batch = read;
                        var headBytes = bytesIn[0];
                        for (var m = 0; m < members.Count && batch.RowCount > 0; m++)
                        {
                            step.Restart();
                            rowsIn[m] += batch.RowCount;
                            foreach (var text in batch.Texts.List) bytesIn[m] += System.Text.Encoding.UTF8.GetByteCount(text);
                            var drops = new DropCollector(batch, members[m].Name);
                            members[m].Transform.Process(batch, drops);
                            batch.Validate();
                            var keptRows = drops.KeptRows();
                            kept[m] += keptRows.Count;
                            drops.CountReasons(dropped[m]);
                            if (drops.Count > 0) await dropsWriters[m].WriteAsync(drops.ToDropsBatch(), cancellationToken).ConfigureAwait(false);
                            batch = keptRows.Count == batch.RowCount ? batch : batch.Select(keptRows);
                            seconds[m] += step.Elapsed.TotalSeconds;
                        }

                        await dataWriter.WriteAsync(batch, cancellationToken).ConfigureAwait(false);
                        TaskProgress.Add(read.RowCount, bytesIn[0] - headBytes);
                    }
                }
                finally
                {
                    foreach (var writer in dropsWriters) await writer.DisposeAsync().ConfigureAwait(false);
                }
            }

            for (var m = 0; m < members.Count; m++)
                await dropsSpools[m].CommitOnceAsync(data, job.Layout.ShardDrops(members[m].Index, members[m].Name, shard), cancellationToken).ConfigureAwait(false);
            for (var m = 1; m < members.Count; m++)
            {
                var stats = new TaskStats { In = rowsIn[m], Kept = kept[m], Dropped = dropped[m], BytesIn = bytesIn[m], Seconds = seconds[m] };
                try
                {
                    await data.WriteJsonAsync(MemberStatsKey(job, members[m], shard), stats, WriteCondition.CreateOnly, cancellationToken: cancellationToken).ConfigureAwait(false);
                }
                catch (ObjectAlreadyExistsException)
                {
                    // A killed or duplicate attempt recorded them first; the pass is deterministic, so they are the same.
                }
            }

            await dataSpool.CommitOnceAsync(data, job.Layout.ShardData(last.Index, last.Name, shard), cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            foreach (var spool in dropsSpools) await spool.DisposeAsync().ConfigureAwait(false);
        }

        return new TaskStats { In = rowsIn[0], Kept = kept[0], Dropped = dropped[0], BytesIn = bytesIn[0], Seconds = clock.Elapsed.TotalSeconds };
    }

    /// <summary>A later member's task: the stats the head's pass recorded, or null when the head ran unfused.</summary>
    public static async Task<TaskStats?> RecordedAsync(TaskContext task, CancellationToken cancellationToken)
    {
        var (stats, _) = await task.Job.Data.TryReadJsonAsync<TaskStats>(MemberStatsKey(task.Job, task.Stage, task.Task), cancellationToken: cancellationToken).ConfigureAwait(false);
        return stats;
    }
}
