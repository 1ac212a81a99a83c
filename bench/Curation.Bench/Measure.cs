using System.Diagnostics;

namespace Curation.Bench;

/// <summary>Formatting and process-level measurements shared by the benchmarks.</summary>
public static class Measure
{
    public const double MiB = 1024.0 * 1024.0;

    public static string Rate(double count, double seconds) => seconds <= 0 ? "∞" : (count / seconds).ToString("N0");

    public static string MiBps(long bytes, double seconds) => seconds <= 0 ? "∞" : (bytes / MiB / seconds).ToString("N1");

    public static string Size(long bytes) => bytes >= 1024L * 1024 * 1024
        ? $"{bytes / (MiB * 1024):0.00} GiB"
        : $"{bytes / MiB:0.0} MiB";

    public static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length == 0 ? double.NaN
            : sorted.Length % 2 == 1 ? sorted[sorted.Length / 2]
            : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
    }

    /// <summary>A full collection so one side's garbage is not collected on the other side's clock.</summary>
    /// <summary>Runs <paramref name="body"/> in a fresh temp folder (<c>curation-bench-{name}-…</c>) and deletes it afterwards.</summary>
    public static async Task<int> InTempFolderAsync(string name, Func<string, Task<int>> body)
    {
        var root = Path.Combine(Path.GetTempPath(), $"curation-bench-{name}-{Guid.NewGuid():N}");
        try
        {
            return await body(root);
        }
        finally
        {
            try { Directory.Delete(root, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }

    public static void Settle()
    {
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true);
        GC.WaitForPendingFinalizers();
    }
}

/// <summary>
/// What one side of a benchmark cost the process: wall time, bytes allocated, GC counts, and the largest working
/// set seen while it ran (sampled every 20 ms, since <see cref="Process.PeakWorkingSet64"/> never goes down and
/// so cannot tell two sides of one run apart). <c>sampleWorkingSet: false</c> leaves the sampler out, so that
/// nothing of ours runs beside the measured work: for sides compared with a run that has no sampler either.
/// </summary>
public sealed class ResourceProbe : IDisposable
{
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly long _allocatedBefore = GC.GetTotalAllocatedBytes(precise: true);
    private readonly int _gen0 = GC.CollectionCount(0), _gen1 = GC.CollectionCount(1), _gen2 = GC.CollectionCount(2);
    private readonly TimeSpan _cpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
    private readonly TimeSpan _jitBefore = System.Runtime.JitInfo.GetCompilationTime();
    private readonly long _jitMethodsBefore = System.Runtime.JitInfo.GetCompiledMethodCount();
    private readonly Timer? _sampler;
    private long _peakWorkingSet = Environment.WorkingSet;
    private bool _stopped;

    public ResourceProbe(bool sampleWorkingSet = true)
    {
        if (sampleWorkingSet) _sampler = new Timer(_ => Sample(), null, 0, 20);
    }

    public double Seconds { get; private set; }
    public long Allocated { get; private set; }
    public long PeakWorkingSet => Interlocked.Read(ref _peakWorkingSet);
    public double CpuSeconds { get; private set; }
    public string Collections { get; private set; } = "";

    /// <summary>
    /// Seconds the JIT spent compiling while this side ran, on any thread (tiered compilation's background promotions
    /// included), and how many methods it compiled: code that was still warming up, not the side's own work.
    /// </summary>
    public double JitSeconds { get; private set; }

    public long JitMethods { get; private set; }

    private void Sample() => MemoryPeaks.Raise(ref _peakWorkingSet, Environment.WorkingSet);

    public ResourceProbe Stop()
    {
        if (_stopped) return this;
        _stopped = true;
        Seconds = _clock.Elapsed.TotalSeconds;
        Sample();
        _sampler?.Dispose();
        Allocated = GC.GetTotalAllocatedBytes(precise: true) - _allocatedBefore;
        CpuSeconds = (Process.GetCurrentProcess().TotalProcessorTime - _cpuBefore).TotalSeconds;
        JitSeconds = (System.Runtime.JitInfo.GetCompilationTime() - _jitBefore).TotalSeconds;
        JitMethods = System.Runtime.JitInfo.GetCompiledMethodCount() - _jitMethodsBefore;
        Collections = $"gen0 {GC.CollectionCount(0) - _gen0}, gen1 {GC.CollectionCount(1) - _gen1}, gen2 {GC.CollectionCount(2) - _gen2}";
        return this;
    }

    public void Dispose() => Stop();
}
