using System.Diagnostics;
using System.Reflection;
using System.Runtime;
using System.Runtime.InteropServices;
using Curation.Pipelines.IO;

namespace Curation.Bench;

/// <summary>The common header: what the numbers were measured on.</summary>
public static class Machine
{
#if DEBUG
    public static readonly string Configuration = "Debug";
#else
    public static readonly string Configuration = "Release";
#endif

    public static void PrintHeader(BenchOptions options)
    {
        Console.WriteLine("Curation benchmarks");
        Console.WriteLine($"machine:  {CpuModel()}, {Environment.ProcessorCount} logical cores, {TotalMemory()}");
        Console.WriteLine($"os:       {OsName()} ({RuntimeInformation.OSArchitecture})");
        Console.WriteLine($".net:     {RuntimeInformation.FrameworkDescription}, {(GCSettings.IsServerGC ? "server" : "workstation")} GC" +
                          $"{(GCSettings.LatencyMode == GCLatencyMode.Batch ? "" : ", concurrent")}");
        Console.WriteLine($"build:    {Configuration} (bench), {AssemblyConfiguration(typeof(ParquetTableWriter).Assembly)} (Curation.Pipelines)");
        Console.WriteLine($"options:  rows={options.Rows:N0} repeat={options.Repeat?.ToString() ?? "default"} target={(options.UseFile ? "file" : "memory")} " +
                          $"docs={options.Docs:N0} threads={options.Threads} shard-mb={options.ShardMiB} " +
                          $"embed-docs={options.EmbedDocs:N0} fixed-docs={options.FixedDocs:N0} fixed-tokens={options.FixedTokens} seed={options.Seed}");
        Console.WriteLine($"date:     {DateTimeOffset.UtcNow:yyyy-MM-dd HH:mm} UTC");
        Console.WriteLine($"load:     {Load()}");
    }

    /// <summary>False, with the reason, when this program or the pipeline library was compiled without optimisation.</summary>
    public static bool IsOptimizedBuild(out string why)
    {
        if (Configuration == "Debug") { why = "this benchmark was built in Debug"; return false; }
        foreach (var assembly in new[] { typeof(Machine).Assembly, typeof(ParquetTableWriter).Assembly })
            if (AssemblyConfiguration(assembly) == "Debug")
            {
                why = $"{assembly.GetName().Name} was built without optimisation (Debug)";
                return false;
            }
        why = "";
        return true;
    }

    private static string AssemblyConfiguration(Assembly assembly) =>
        assembly.GetCustomAttribute<DebuggableAttribute>()?.IsJITOptimizerDisabled == true ? "Debug" : "Release";

    private static string CpuModel()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/cpuinfo"))
                if (line.StartsWith("model name", StringComparison.Ordinal))
                    return line[(line.IndexOf(':') + 1)..].Trim();
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        return $"unknown CPU ({RuntimeInformation.ProcessArchitecture})";
    }

    private static string TotalMemory()
    {
        var bytes = GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;
        return $"{bytes / (1024.0 * 1024 * 1024):0.0} GiB memory";
    }

    private static string OsName()
    {
        var kernel = ReadFirstLine("/proc/sys/kernel/osrelease");
        return kernel is null ? RuntimeInformation.OSDescription : $"{RuntimeInformation.OSDescription}, kernel {kernel}";
    }

    /// <summary>
    /// The 1-minute load average against the core count: other work on the machine (builds, tests) makes every
    /// figure noisy, and the reader of a result should know.
    /// </summary>
    public static string Load()
    {
        var fields = ReadFirstLine("/proc/loadavg")?.Split(' ');
        if (fields is null || fields.Length < 3) return "load: unknown";
        var busy = double.TryParse(fields[0], System.Globalization.CultureInfo.InvariantCulture, out var load) && load > Environment.ProcessorCount * 0.75;
        return $"load average {fields[0]} {fields[1]} {fields[2]} on {Environment.ProcessorCount} cores" +
               (busy ? " (WARNING: the machine is busy with other work; expect noisy absolute figures; the ratios against a reference measured alongside are the robust ones)" : "");
    }

    private static string? ReadFirstLine(string path)
    {
        try { return File.ReadLines(path).FirstOrDefault()?.Trim(); }
        catch (IOException) { return null; }
        catch (UnauthorizedAccessException) { return null; }
    }
}
