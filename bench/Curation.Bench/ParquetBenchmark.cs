using System.Diagnostics;
using System.Text;
using Curation.Pipelines.IO;
using Curation.Pipelines.Model;
using Parquet;
using Parquet.Schema;

namespace Curation.Bench;

/// <summary>
/// <c>parquet</c>: our <see cref="ParquetTableWriter"/>/<see cref="ParquetTableReader"/> (RecordBatch of 8192 rows per
/// row group) against a bare Parquet.Net loop writing and reading the same columns as arrays, same schema, same
/// compression (Snappy), same target (a MemoryStream, or a temp file with --file). Goal: ours/bare ≥ 0.9.
/// </summary>
public static class ParquetBenchmark
{
    private const int RowGroupRows = 8192;
    private const double Goal = 0.9;

    public static async Task<int> RunAsync(BenchOptions options)
    {
        var rows = options.Rows;
        var repeat = options.Repeat ?? 5;
        Console.WriteLine($"{rows:N0} rows of (id, text ~500 chars, source, position), {RowGroupRows} rows per row group, Snappy, " +
                          $"target {(options.UseFile ? "temp file" : "MemoryStream")}; median of {repeat} runs per side after two warm-ups each");
        var generation = Stopwatch.StartNew();
        var data = Data.Generate(rows, options.Seed);
        Console.WriteLine($"data:     {Measure.Size(data.LogicalBytes)} logical (UTF-8 strings + 8 bytes per position), text avg {data.AverageTextChars:0} chars " +
                          $"(generated in {generation.Elapsed.TotalSeconds:0.0} s, not timed)");

        await using var target = new Target(options.UseFile);
        var ours = new Side("ours (ParquetTableWriter/Reader)", () => OursWriteAsync(data, target), () => OursReadAsync(target));
        var bare = new Side("bare Parquet.Net loop", () => BareWriteAsync(data, target), () => BareReadAsync(target));

        // Warm-up (JIT tiers, pools, the MemoryStream's capacity), twice, then pairs run back to back in alternating order:
        // each pair's ratio compares two runs a second apart, which cancels most of what else the machine is doing.
        for (var i = 0; i < 2; i++)
            foreach (var side in new[] { ours, bare }) await side.RunOnceAsync(data, target, record: false);
        List<double> writeRatios = [], readRatios = [], writeCpuRatios = [], readCpuRatios = [];
        for (var i = 0; i < repeat; i++)
        {
            foreach (var side in i % 2 == 0 ? new[] { ours, bare } : new[] { bare, ours })
                await side.RunOnceAsync(data, target, record: true);
            writeRatios.Add(bare.Write[^1].Seconds / ours.Write[^1].Seconds);
            readRatios.Add(bare.Read[^1].Seconds / ours.Read[^1].Seconds);
            writeCpuRatios.Add(bare.Write[^1].CpuSeconds / ours.Write[^1].CpuSeconds);
            readCpuRatios.Add(bare.Read[^1].CpuSeconds / ours.Read[^1].CpuSeconds);
        }

        Console.WriteLine();
        Console.WriteLine($"{"side",-34} {"op",-6} {"median s",9} {"best s",8} {"CPU s",7} {"rows/s",10} {"MiB/s",7} {"alloc MiB",10} {"file MiB",9}");
        foreach (var side in new[] { ours, bare })
        {
            side.Print("write", side.Write, data);
            side.Print("read", side.Read, data);
        }

        static string List(List<double> ratios) => string.Join(" ", ratios.Select(r => r.ToString("0.00")));
        var write = Measure.Median(writeRatios);
        var read = Measure.Median(readRatios);
        var writeCpu = Measure.Median(writeCpuRatios);
        var readCpu = Measure.Median(readCpuRatios);
        Console.WriteLine("(median s, CPU s (process CPU time: GC threads included), alloc: medians of the runs; rows/s and MiB/s from median s;");
        Console.WriteLine(" MiB/s counts the logical bytes above)");
        Console.WriteLine();
        Console.WriteLine($"paired ratios ours/bare per run, wall: write {List(writeRatios)}; read {List(readRatios)}");
        Console.WriteLine($"paired ratios ours/bare per run, CPU:  write {List(writeCpuRatios)}; read {List(readCpuRatios)}");
        Console.WriteLine($"ratio ours/bare (throughput = bare time / our time, median of paired runs, higher is better; goal ≥ {Goal:0.00}):");
        Console.WriteLine($"  wall time: write {write:0.00}, read {read:0.00}");
        Console.WriteLine($"  CPU time:  write {writeCpu:0.00}, read {readCpu:0.00}   (less disturbed than wall time by other work on the machine)");
        foreach (var (name, ratio) in new[] { ("write (wall)", write), ("read (wall)", read), ("write (CPU)", writeCpu), ("read (CPU)", readCpu) })
            if (ratio < Goal) Console.WriteLine($"BELOW GOAL: {name} ratio {ratio:0.00} < {Goal:0.00}");
        return 0;
    }

    /// <summary>The same rows in both sides' natural in-memory forms, built before any clock starts.</summary>
    private sealed class Data
    {
        public required List<RecordBatch> Batches { get; init; }
        public required List<(string[] Ids, string[] Texts, string[] Sources, long[] Positions)> Groups { get; init; }
        public required int Rows { get; init; }
        public required long LogicalBytes { get; init; }
        public required long TextChars { get; init; }
        public double AverageTextChars => (double)TextChars / Rows;

        public static Data Generate(int rows, int seed)
        {
            var gen = new TextGen(seed);
            var batches = new List<RecordBatch>();
            var groups = new List<(string[], string[], string[], long[])>();
            long logical = 0, chars = 0;
            for (var start = 0; start < rows; start += RowGroupRows)
            {
                var n = Math.Min(RowGroupRows, rows - start);
                var batch = RecordBatch.ForDocuments(n);
                var (ids, texts, sources, positions) = (new string[n], new string[n], new string[n], new long[n]);
                for (var i = 0; i < n; i++)
                {
                    var row = start + i;
                    var random = gen.For(row);
                    ids[i] = $"doc-{row:D9}";
                    texts[i] = gen.Prose(random, 250 + random.Next(300));
                    sources[i] = $"crawl/part-{row / 10_000:D4}.jsonl";
                    positions[i] = row % 10_000;
                    batch.AddDocument(ids[i], texts[i], sources[i], positions[i]);
                    logical += Encoding.UTF8.GetByteCount(ids[i]) + Encoding.UTF8.GetByteCount(texts[i]) + Encoding.UTF8.GetByteCount(sources[i]) + 8;
                    chars += texts[i].Length;
                }
                batches.Add(batch);
                groups.Add((ids, texts, sources, positions));
            }
            return new Data { Batches = batches, Groups = groups, Rows = rows, LogicalBytes = logical, TextChars = chars };
        }
    }

    /// <summary>Where both sides write and read: one MemoryStream reused (capacity kept), or one temp file rewritten.</summary>
    private sealed class Target(bool useFile) : IAsyncDisposable
    {
        private readonly MemoryStream _memory = new();
        private readonly string _path = Path.Combine(Path.GetTempPath(), $"curation-bench-{Guid.NewGuid():N}.parquet");

        public long Length => useFile ? new FileInfo(_path).Length : _memory.Length;

        public Stream OpenWrite()
        {
            if (useFile) return new FileStream(_path, FileMode.Create, FileAccess.ReadWrite, FileShare.None, 1 << 16, FileOptions.Asynchronous);
            _memory.SetLength(0);
            return new NonClosingStream(_memory);
        }

        public Stream OpenRead()
        {
            if (useFile) return new FileStream(_path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.Asynchronous);
            _memory.Position = 0;
            return new NonClosingStream(_memory);
        }

        public ValueTask DisposeAsync()
        {
            _memory.Dispose();
            try { File.Delete(_path); } catch (IOException) { }
            return ValueTask.CompletedTask;
        }
    }

    private sealed record Run(double Seconds, double CpuSeconds, long Allocated, long FileBytes);

    /// <summary>What a read returns, to check both sides read the same thing (and so the reads cannot be skipped).</summary>
    private readonly record struct Digest(long Rows, long TextChars, long PositionSum);

    private sealed class Side(string name, Func<Task> write, Func<Task<Digest>> read)
    {
        public List<Run> Write { get; } = [];
        public List<Run> Read { get; } = [];

        public async Task RunOnceAsync(Data data, Target target, bool record)
        {
            Measure.Settle();
            var allocated = GC.GetTotalAllocatedBytes(precise: true);
            var cpu = CpuTime();
            var clock = Stopwatch.StartNew();
            await write();
            var writeSeconds = clock.Elapsed.TotalSeconds;
            var writeCpu = CpuTime() - cpu;
            var writeAllocated = GC.GetTotalAllocatedBytes(precise: true) - allocated;
            var fileBytes = target.Length;

            Measure.Settle();
            allocated = GC.GetTotalAllocatedBytes(precise: true);
            cpu = CpuTime();
            clock.Restart();
            var digest = await read();
            var readSeconds = clock.Elapsed.TotalSeconds;
            var readCpu = CpuTime() - cpu;
            var readAllocated = GC.GetTotalAllocatedBytes(precise: true) - allocated;

            var expected = new Digest(data.Rows, data.TextChars, data.Groups.Sum(g => g.Positions.Sum()));
            if (digest != expected) throw new InvalidOperationException($"{name} read back {digest}, expected {expected}");
            if (!record) return;
            Write.Add(new Run(writeSeconds, writeCpu, writeAllocated, fileBytes));
            Read.Add(new Run(readSeconds, readCpu, readAllocated, fileBytes));
        }

        private static double CpuTime() => Process.GetCurrentProcess().TotalProcessorTime.TotalSeconds;

        public void Print(string op, List<Run> runs, Data data)
        {
            var seconds = Measure.Median(runs.Select(r => r.Seconds));
            var best = runs.Min(r => r.Seconds);
            var cpu = Measure.Median(runs.Select(r => r.CpuSeconds));
            var allocated = (long)Measure.Median(runs.Select(r => (double)r.Allocated));
            Console.WriteLine($"{name,-34} {op,-6} {seconds,9:0.000} {best,8:0.000} {cpu,7:0.000} {Measure.Rate(data.Rows, seconds),10} {Measure.MiBps(data.LogicalBytes, seconds),7} " +
                              $"{allocated / Measure.MiB,10:N1} {runs[0].FileBytes / Measure.MiB,9:N1}");
        }
    }

    // ---- ours ----

    private static async Task OursWriteAsync(Data data, Target target)
    {
        await using var stream = target.OpenWrite();
        await using var writer = await ParquetTableWriter.CreateAsync(stream, Columns.Core);
        foreach (var batch in data.Batches) await writer.WriteAsync(batch);
    }

    private static async Task<Digest> OursReadAsync(Target target)
    {
        long rows = 0, chars = 0, positions = 0;
        await using var stream = target.OpenRead();
        await using var reader = await ParquetTableReader.OpenAsync(stream);
        await foreach (var batch in reader.ReadAllAsync())
        {
            rows += batch.RowCount;
            foreach (var text in batch.Texts.List) chars += text.Length;
            foreach (var position in batch.Positions.List) positions += position;
        }
        return new Digest(rows, chars, positions);
    }

    // ---- bare Parquet.Net: the same schema (nullable strings, required int64) written from and read into arrays ----

    private static readonly DataField IdField = new(Columns.Id, typeof(string), isNullable: true);
    private static readonly DataField TextField = new(Columns.Text, typeof(string), isNullable: true);
    private static readonly DataField SourceField = new(Columns.Source, typeof(string), isNullable: true);
    private static readonly DataField PositionField = new(Columns.Position, typeof(long), isNullable: false);

    private static async Task BareWriteAsync(Data data, Target target)
    {
        await using var stream = target.OpenWrite();
        var schema = new ParquetSchema(IdField, TextField, SourceField, PositionField);
        await using var writer = await ParquetWriter.CreateAsync(schema, stream, new ParquetOptions { CompressionMethod = CompressionMethod.Snappy });
        foreach (var (ids, texts, sources, positions) in data.Groups)
        {
            using var group = writer.CreateRowGroup();
            await group.WriteAsync(IdField, ids);
            await group.WriteAsync(TextField, texts);
            await group.WriteAsync(SourceField, sources);
            await group.WriteAsync<long>(PositionField, positions);
        }
    }

    private static async Task<Digest> BareReadAsync(Target target)
    {
        long rows = 0, chars = 0, positionSum = 0;
        await using var stream = target.OpenRead();
        await using var reader = await ParquetReader.CreateAsync(stream);
        var fields = reader.Schema.GetDataFields();
        for (var g = 0; g < reader.RowGroupCount; g++)
        {
            using var group = reader.OpenRowGroupReader(g);
            var n = checked((int)group.RowCount);
            var (ids, texts, sources, positions) = (new string?[n], new string?[n], new string?[n], new long[n]);
            await group.ReadAsync(fields[0], ids.AsMemory());
            await group.ReadAsync(fields[1], texts.AsMemory());
            await group.ReadAsync(fields[2], sources.AsMemory());
            await group.ReadAsync<long>(fields[3], positions.AsMemory());
            rows += n;
            foreach (var text in texts) chars += text!.Length;
            foreach (var position in positions) positionSum += position;
        }
        return new Digest(rows, chars, positionSum);
    }
}
