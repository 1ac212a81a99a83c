using System.Diagnostics;
using Curation.Pipelines.Execution;
using Curation.Pipelines.Spec;
using Curation.Pipelines.Storage;

namespace Curation.Bench;

/// <summary>
/// <c>plan</c>: planning a job whose N inputs each name one file of one folder (the shape that used to list the folder
/// once per input: O(inputs × objects)) against the reference, one glob input over the same folder (one listing), in
/// the same run. Goal: 10,000 inputs plan in under 5 s.
/// </summary>
public static class PlanBenchmark
{
    public static async Task<int> RunAsync(BenchOptions options)
    {
        var root = Path.Combine(Path.GetTempPath(), $"curation-bench-plan-{Guid.NewGuid():N}");
        try
        {
            var folder = Path.Combine(root, "corpus");
            Directory.CreateDirectory(folder);
            var files = Enumerable.Range(0, options.Inputs).Select(i => Path.Combine(folder, $"doc-{i:D6}.jsonl")).ToArray();
            foreach (var file in files) await File.WriteAllTextAsync(file, "{\"text\":\"one small document\"}\n");
            Console.WriteLine($"corpus:    {files.Length:N0} files of one document in one folder");
            Console.WriteLine($"ours:      {files.Length:N0} inputs, each naming one file (absolute path)");
            Console.WriteLine($"reference: one input, {folder}/*.jsonl (the same objects, one listing)");

            var stores = CurationStoreServiceCollectionExtensions.CreateResolver(new CurationStoreOptions { RootPath = Path.Combine(root, "data") });
            var many = Spec(files);
            var glob = Spec([Path.Combine(folder, "*.jsonl")]);
            var repeat = options.Repeat ?? 3;
            await PlanAsync(glob, stores); // warm-up: JIT, the file system's cache
            await PlanAsync(many, stores);
            var reference = new List<double>();
            var ours = new List<double>();
            for (var i = 0; i < repeat; i++)
            {
                reference.Add(await PlanAsync(glob, stores));
                ours.Add(await PlanAsync(many, stores));
            }
            var (r, o) = (Measure.Median(reference), Measure.Median(ours));
            Console.WriteLine($"reference: {r:0.000} s (median of {repeat})");
            Console.WriteLine($"ours:      {o:0.000} s (median of {repeat}; {files.Length / o:N0} inputs/s)");
            Console.WriteLine($"ratio:     {o / r:0.00} × the one-listing reference; goal < 5 s: {(o < 5 ? "met" : "NOT MET")}");
            return o < 5 ? 0 : 1;
        }
        finally
        {
            try { Directory.Delete(root, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }

    private static JobSpec Spec(IEnumerable<string> paths) => new()
    {
        Name = "bench-plan", Inputs = paths.Select(p => new InputSpec { Path = p }).ToArray(), Stages = [],
        Output = new OutputSpec { Path = "curated/bench-plan" },
    };

    private static async Task<double> PlanAsync(JobSpec spec, IStoreResolver stores)
    {
        var clock = Stopwatch.StartNew();
        JobSpecValidator.ThrowIfInvalid(spec);
        var plan = await JobPlanner.PlanAsync("bench-plan", spec, stores);
        if (plan.ObjectCount != spec.Inputs.Count && spec.Inputs.Count > 1) throw new InvalidOperationException($"planned {plan.ObjectCount} objects");
        return clock.Elapsed.TotalSeconds;
    }
}
