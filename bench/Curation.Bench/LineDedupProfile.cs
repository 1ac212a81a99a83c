using System.Diagnostics;
using System.Runtime.CompilerServices;
using Curation.Pipelines.Execution;
using Curation.Pipelines.IO;
using Curation.Pipelines.Model;
using Curation.Pipelines.Stages;
using Curation.Pipelines.Storage;

namespace Curation.Bench;

/// <summary>
/// Where each line_dedup phase's CPU goes: after the job, the phases' pieces are run again one at a time on the job's own
/// files (one thread, CPU seconds of the process, the second of two runs): Parquet reads, the hash phase's in-memory work (cut + normalise +
/// hash, then distinct per document + rows + ranks), the shuffle and shard writes (to memory). What a phase cost beyond
/// its measured pieces (task set-up, the ids and report objects, apply's line removal and accounting, JIT and GC on the
/// way) is printed as the rest.
/// </summary>
internal static class LineDedupProfile
{
    public static async Task PrintAsync(ExactBenchmark.PipelineRun run)
    {
        var job = run.Job;
        var stage = job.Stages.OfType<LineDedupStage>().Single();
        var previous = job.Stages[stage.Index - 1];
        var (shards, partitions, data) = (job.Plan.ShardCount, stage.Spec.Partitions, job.Data);
        string InputKey(int shard) => job.Layout.ShardData(previous.Index, previous.Name, shard);
        string PhaseKey(string phase, string name) => job.Layout.PhaseRoot(stage.Index, stage.Name, phase) + name + ".parquet";
        double Phase(string phase) => run.Phases.Single(p => p.Name.EndsWith($"{LineDedupStageSpec.TypeName}/{phase}", StringComparison.Ordinal)).CpuSeconds;

        // hash: read → + cut, normalise, hash → + distinct per document, rows, ranks → shuffle write.
        var read = await CpuAsync(() => ForEachShardAsync(shards, InputKey, data, (input, key) =>
            ShardTexts.ForEachRowGroupAsync(input, key, (_, _) => { }, CancellationToken.None)));
        long sink = 0; // what the replays compute, kept so no work is skipped
        var units = await CpuAsync(() => ForEachShardAsync(shards, InputKey, data, (input, key) =>
        {
            var (list, hasher) = (new List<LineUnit>(), new Utf8LineUnits());
            // Optimised at once, as the hash phase's own row group loop is (called once per row group, it would stay in tier 0).
            return ShardTexts.ForEachRowGroupAsync(input, key, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (_, texts) =>
            {
                foreach (var text in texts)
                {
                    Utf8LineUnits.Split(text.Span, stage.Spec.Unit, list);
                    foreach (var unit in list) sink ^= hasher.Hash(text.Span, unit).Low;
                }
            }, CancellationToken.None);
        }));
        var collected = new List<LineDedupStage.ShardOccurrences>();
        var collect = await CpuAsync(() =>
        {
            collected.Clear();
            return ForEachShardAsync(shards, InputKey, data, async (input, key) => collected.Add(await stage.CollectAsync(input, key, CancellationToken.None)));
        });
        var shuffleWrite = await CpuAsync(async () =>
        {
            foreach (var shard in collected)
            {
                await using var routed = await RoutedTableWriter.CreateAsync(LineDedupStage.OccurrenceSchema, default);
                await shard.WriteAsync(routed, default);
            }
        });
        collected.Clear();

        // resolve: every partition's rows read from every shard's file.
        var shuffleRead = await CpuAsync(async () =>
        {
            for (var partition = 0; partition < partitions; partition++)
                for (var shard = 0; shard < shards; shard++)
                    await foreach (var batch in RoutedTable.ReadAsync(data, PhaseKey(LineDedupStage.HashPhase, JobLayout.ShardName(shard)), partition, default))
                        sink ^= batch.RowCount;
        });

        // apply: the removals read; the shard read with every column decoded (as the shard transformer reads it) and written back.
        var removalsRead = await CpuAsync(async () =>
        {
            for (var shard = 0; shard < shards; shard++)
                for (var partition = 0; partition < partitions; partition++)
                    await foreach (var batch in RoutedTable.ReadAsync(data, PhaseKey(LineDedupStage.ResolvePhase, $"{partition:D5}"), shard, default))
                        sink ^= batch.RowCount;
        });
        var batches = new List<(IReadOnlyList<ColumnSchema> Schema, RecordBatch Batch)>();
        var shardRead = await CpuAsync(() =>
        {
            batches.Clear();
            return ForEachShardAsync(shards, InputKey, data, async (input, _) =>
            {
                await using var reader = await ParquetTableReader.OpenAsync(input);
                await foreach (var batch in reader.ReadAllAsync()) batches.Add((reader.Schema, batch));
            });
        });
        var shardWrite = await CpuAsync(async () =>
        {
            foreach (var (schema, batch) in batches)
            {
                await using var writer = await ParquetTableWriter.CreateAsync(new MemoryStream(), schema, null);
                await writer.WriteAsync(batch);
            }
        });
        batches.Clear();

        var (hash, resolve, apply) = (Phase(LineDedupStage.HashPhase), Phase(LineDedupStage.ResolvePhase), Phase(LineDedupStage.ApplyPhase));
        Console.WriteLine();
        Console.WriteLine($"profile (CPU s; each piece re-run alone on the job's files, one thread, second of two runs; rest = phase CPU − pieces):");
        Console.WriteLine($"  hash    {hash,5:0.00} = Parquet read {read:0.00} + cut/normalise/hash {units - read:0.00} + distinct/rows/ranks {collect - units:0.00} " +
                          $"+ shuffle write {shuffleWrite:0.00} + rest {hash - collect - shuffleWrite:0.00}");
        Console.WriteLine($"  resolve {resolve,5:0.00} = shuffle read {shuffleRead:0.00} + count/resolve/removals write and rest {resolve - shuffleRead:0.00}");
        Console.WriteLine($"  apply   {apply,5:0.00} = removals read {removalsRead:0.00} + shard read (all columns) {shardRead:0.00} + shard write {shardWrite:0.00} " +
                          $"+ line removal and rest {apply - removalsRead - shardRead - shardWrite:0.00}");
    }

    private static async Task ForEachShardAsync(int shards, Func<int, string> key, IObjectStore data, Func<Stream, string, Task> action)
    {
        for (var shard = 0; shard < shards; shard++)
        {
            await using var input = await data.OpenReadAsync(key(shard), default);
            await action(input, key(shard));
        }
    }

    /// <summary>The CPU seconds of the second of two runs of <paramref name="action"/> (the first compiles what it calls).</summary>
    private static async Task<double> CpuAsync(Func<Task> action)
    {
        await action();
        Measure.Settle();
        var before = Process.GetCurrentProcess().TotalProcessorTime;
        await action();
        return (Process.GetCurrentProcess().TotalProcessorTime - before).TotalSeconds;
    }
}
