using System.Diagnostics;
using System.IO.Hashing;
using System.Text;
using Curation.Pipelines.Execution;
using Curation.Pipelines.IO;
using Curation.Pipelines.Spec;
using Curation.Pipelines.Stages;
using Curation.Pipelines.Storage;

namespace Curation.Bench;

/// <summary>
/// <c>read</c>: one generated JSONL object of <c>--bytes</c> read by the read stage split into parts of
/// <c>--shard-mb</c> (prepare → index → read, <c>--threads</c> tasks at once, in-process as the coordinator runs them)
/// against the reference, the same stage reading the object unsplit in one task, in the same run. Both must give the
/// same documents (ids, positions, texts: an order-free hash of every row).
/// </summary>
public static class ReadBenchmark
{
    public static async Task<int> RunAsync(BenchOptions options)
    {
        var root = Path.Combine(Path.GetTempPath(), $"curation-bench-read-{Guid.NewGuid():N}");
        try
        {
            var folder = Path.Combine(root, "corpus");
            Directory.CreateDirectory(folder);
            var file = Path.Combine(folder, "big.jsonl");
            var clock = Stopwatch.StartNew();
            var (bytes, lines) = Generate(file, options.Bytes, options.Seed);
            Console.WriteLine($"object:    one JSONL file, {Measure.Size(bytes)}, {lines:N0} lines (generated in {clock.Elapsed.TotalSeconds:0.0} s, not timed)");
            Console.WriteLine($"ours:      split into parts of {options.ShardMiB} MiB, {options.Threads} tasks at once (prepare, index, read phases)");
            Console.WriteLine("reference: the same read stage, the object unsplit (one task)");

            var reference = await ReadAsync(root, "reference", file, long.MaxValue / 4, 1);
            var ours = await ReadAsync(root, "ours", file, (long)options.ShardMiB << 20, options.Threads);
            Console.WriteLine($"reference: {reference.Seconds,7:0.00} s  {Measure.MiBps(bytes, reference.Seconds),8} MiB/s  1 task, {reference.Rows:N0} documents");
            Console.WriteLine($"ours:      {ours.Seconds,7:0.00} s  {Measure.MiBps(bytes, ours.Seconds),8} MiB/s  {ours.Tasks} read tasks, {ours.Rows:N0} documents");
            Console.WriteLine($"ratio:     {reference.Seconds / ours.Seconds:0.00} × the unsplit read's speed on {options.Threads} threads");
            if (ours.Rows != reference.Rows || ours.Hash != reference.Hash)
            {
                Console.WriteLine($"FAILED: the split read differs from the unsplit one ({ours.Rows:N0} vs {reference.Rows:N0} rows, hash {ours.Hash:x} vs {reference.Hash:x})");
                return 1;
            }
            Console.WriteLine("output:    identical documents (ids, positions, texts)");
            return ours.Tasks >= 3 ? 0 : 1;
        }
        finally
        {
            try { Directory.Delete(root, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }

    /// <summary>Lines of random words up to about <paramref name="size"/> bytes, written straight (no serializer: generation is not timed but should be quick).</summary>
    private static (long Bytes, long Lines) Generate(string path, long size, int seed)
    {
        var random = new Random(seed);
        var words = Enumerable.Range(0, 20_000).Select(i => $"w{i:x}{(char)('a' + i % 26)}").ToArray();
        using var output = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20);
        var line = new StringBuilder();
        long lines = 0;
        while (output.Length < size)
        {
            line.Clear().Append("{\"n\":").Append(lines).Append(",\"text\":\"");
            var count = 20 + random.Next(300);
            for (var w = 0; w < count; w++) line.Append(w == 0 ? "" : " ").Append(words[random.Next(words.Length)]);
            line.Append("\"}\n");
            output.Write(Encoding.UTF8.GetBytes(line.ToString()));
            lines++;
        }
        return (output.Length, lines);
    }

    private static async Task<(double Seconds, int Tasks, long Rows, ulong Hash)> ReadAsync(string root, string name, string file, long target, int threads)
    {
        var stores = CurationStoreServiceCollectionExtensions.CreateResolver(new CurationStoreOptions { RootPath = Path.Combine(root, name) });
        var spec = new JobSpec
        {
            Name = "bench-read-" + name, Inputs = [new InputSpec { Path = file }], Sharding = new ShardingSpec { TargetShardBytes = target },
            Stages = [], Output = new OutputSpec { Path = "curated/bench-read" },
        };
        using var services = StageServices.CreateDefault();
        Measure.Settle();
        var clock = Stopwatch.StartNew();
        var job = await JobContext.CreateOrLoadAsync(spec, stores);
        foreach (var (stage, phase) in job.Phases().Where(p => p.Stage.Index == 0))
            await Parallel.ForEachAsync(Enumerable.Range(0, phase.TaskCount), new ParallelOptions { MaxDegreeOfParallelism = threads },
                async (task, ct) => await JobExecutor.RunTaskAsync(job, stage.Index, phase.Name, task, services, ct));
        var seconds = clock.Elapsed.TotalSeconds;

        long rows = 0;
        ulong hash = 0;
        for (var shard = 0; shard < job.Plan.ShardCount; shard++)
        {
            await using var content = await stores.DataStore.OpenReadAsync(job.Layout.ShardData(0, ReadStage.StageName, shard));
            await using var reader = await ParquetTableReader.OpenAsync(content);
            await foreach (var batch in reader.ReadAllAsync())
                for (var i = 0; i < batch.RowCount; i++)
                {
                    rows++;
                    hash += XxHash64.HashToUInt64(Encoding.UTF8.GetBytes($"{batch.Ids[i]}\0{batch.Positions[i]}\0{batch.Texts[i]}"));
                }
        }
        return (seconds, job.Plan.ShardCount, rows, hash);
    }
}
