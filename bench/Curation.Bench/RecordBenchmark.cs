using System.Diagnostics;
using System.Text;
using Curation.Pipelines.Execution;
using Curation.Pipelines.Spec;
using Curation.Pipelines.Stages;
using Curation.Pipelines.Storage;

namespace Curation.Bench;

/// <summary>
/// <c>record</c>: one record of N MB (a JSONL line) through four stages (normalize, quality_filter, exact_dedup,
/// near_dedup) and the output, in-process as the coordinator runs it; prints the process's peak RSS (VmHWM, reset
/// before the run) against the reference measured in the same run: the RSS before the job, and the record's size.
/// Goal: a 60 MB record peaks below 1 GB.
/// </summary>
public static class RecordBenchmark
{
    public static async Task<int> RunAsync(BenchOptions options)
    {
        var root = Path.Combine(Path.GetTempPath(), $"curation-bench-record-{Guid.NewGuid():N}");
        try
        {
            var corpus = Path.Combine(root, "corpus");
            Directory.CreateDirectory(corpus);
            var recordBytes = (long)options.RecordMiB * 1024 * 1024;
            await WriteRecordAsync(Path.Combine(corpus, "big.jsonl"), recordBytes, options.Seed);
            var spec = new JobSpec
            {
                Name = "bench-record",
                Inputs = [new InputSpec { Path = Path.Combine(corpus, "*.jsonl"), MaxRecordBytes = (int)Math.Min(JobLimits.HardMaxRecordBytes, recordBytes + 65536) }],
                Stages = [new NormalizeStageSpec(), new QualityFilterStageSpec { MaxChars = int.MaxValue }, new ExactDedupStageSpec { Partitions = 2 },
                          new NearDedupStageSpec { Partitions = 2 }],
                Output = new OutputSpec { Path = "curated/bench-record" },
            };
            Console.WriteLine($"record:    one JSONL line, {Measure.Size(recordBytes)} of text (words of a generated vocabulary, line breaks every ~80 chars)");
            Console.WriteLine("job:       read → normalize → quality_filter → exact_dedup → near_dedup → output, in-process, local folder store");

            Measure.Settle();
            var idle = Rss("VmRSS");
            ResetPeak();
            var clock = Stopwatch.StartNew();
            using var services = StageServices.CreateDefault();
            var stores = CurationStoreServiceCollectionExtensions.CreateResolver(new CurationStoreOptions { RootPath = Path.Combine(root, "data") });
            // What such a record costs, whatever the configured ceiling (Curation:Limits:MaxRecordBytes) would allow.
            var job = await JobContext.CreateOrLoadAsync(spec, stores, limits: new JobLimits { MaxRecordBytes = JobLimits.HardMaxRecordBytes });
            var books = new List<string>();
            var tasks = new List<string>();
            var peak = Rss("VmHWM"); // planning
            foreach (var (stage, phase) in job.Phases())
                for (var task = 0; task < phase.TaskCount; task++)
                {
                    // Each task's own peak (the kernel's high-water mark, reset before it) and what it allocated.
                    var allocated = GC.GetTotalAllocatedBytes(precise: true);
                    ResetPeak();
                    var before = Rss("VmRSS");
                    var stats = await JobExecutor.RunTaskAsync(job, stage.Index, phase.Name, task, services);
                    var taskPeak = Rss("VmHWM");
                    peak = Math.Max(peak, taskPeak);
                    var taskAllocated = GC.GetTotalAllocatedBytes(precise: true) - allocated;
                    if (taskAllocated > recordBytes / 2) // the tasks that touched the record's text
                        tasks.Add($"{stage.Folder}/{phase.Name}#{task} {Measure.Size(taskPeak)} (from {Measure.Size(before)}; allocated {Measure.Size(taskAllocated)})");
                    books.AddRange(stats.Dropped.Concat(stats.Quarantined).Select(d => $"{stage.Folder}: {d.Key} {d.Value}"));
                }
            var seconds = clock.Elapsed.TotalSeconds;
            peak = Math.Max(peak, Rss("VmHWM"));
            var (manifest, _) = await job.Output.TryReadJsonAsync<Manifest>(job.ManifestKey);
            var kept = manifest?.Accounting.Kept ?? 0;
            var shard = new DirectoryInfo(Path.Combine(root, "data", "curated", "bench-record")).EnumerateFiles("part-*.parquet").Sum(f => f.Length);
            Console.WriteLine($"reference: RSS before the job {Measure.Size(idle)}; record {Measure.Size(recordBytes)}");
            Console.WriteLine($"peak RSS:  {Measure.Size(peak)} ({(peak - idle) / (double)recordBytes:0.0} × the record above the RSS before); goal < 1 GiB: " +
                              $"{(peak < 1L << 30 ? "met" : "NOT MET")} (the default ceiling of maxRecordBytes is {Measure.Size(JobLimits.Default.MaxRecordBytes)})");
            Console.WriteLine($"per task:  peak RSS of each task holding the record: {string.Join("; ", tasks)}");
            if (books.Count > 0) Console.WriteLine($"dropped:   {string.Join(", ", books)}");
            Console.WriteLine($"output:    {kept} document kept, curated shard {Measure.Size(shard)} ({shard / (double)recordBytes:0.00} × the record); {seconds:0.0} s");
            return peak < 1L << 30 && kept == 1 ? 0 : 1;
        }
        finally
        {
            try { Directory.Delete(root, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }

    /// <summary>One JSONL line of about <paramref name="bytes"/> bytes of text, written in pieces (never whole in memory).</summary>
    private static async Task WriteRecordAsync(string path, long bytes, int seed)
    {
        var random = new Random(seed);
        string[] vocabulary = [.. Enumerable.Range(0, 5000).Select(i => new string(Enumerable.Range(0, 3 + random.Next(8)).Select(_ => (char)('a' + random.Next(26))).ToArray()))];
        await using var file = new StreamWriter(path, false, new UTF8Encoding(false), 1 << 20);
        await file.WriteAsync("{\"text\":\"");
        var written = 0L;
        var line = 0;
        var piece = new StringBuilder();
        while (written < bytes)
        {
            piece.Clear();
            while (piece.Length < 4096)
            {
                var word = vocabulary[random.Next(vocabulary.Length)];
                piece.Append(word);
                line += word.Length + 1;
                if (line > 80) { piece.Append("\\n"); line = 0; } else piece.Append(' ');
            }
            await file.WriteAsync(piece.ToString());
            written += piece.Length;
        }
        await file.WriteAsync("\"}\n");
    }

    /// <summary>A figure of /proc/self/status in bytes (VmRSS now, VmHWM the peak since the last reset).</summary>
    private static long Rss(string field)
    {
        foreach (var line in File.ReadLines("/proc/self/status"))
            if (line.StartsWith(field + ":", StringComparison.Ordinal))
                return long.Parse(line[(field.Length + 1)..].Trim().Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture) * 1024;
        return Environment.WorkingSet;
    }

    /// <summary>Resets the kernel's peak RSS (VmHWM) of this process, so the peak is this run's.</summary>
    private static void ResetPeak() => File.WriteAllText("/proc/self/clear_refs", "5");
}
