namespace Curation.Bench;

/// <summary>
/// The process's peak resident set as the kernel keeps it: VmHWM in <c>/proc/self/status</c>, which writing 5 to
/// <c>/proc/self/clear_refs</c> resets to the current resident set (Linux ≥ 4.0), so one run's phases can be told apart.
/// </summary>
public static class MemoryPeaks
{
    private static bool _resettable = true;

    /// <summary>Starts a new high-water mark; false where the kernel refuses (the peak then covers the whole process).</summary>
    public static bool ResetKernelPeak()
    {
        if (!_resettable) return false;
        try
        {
            File.WriteAllText("/proc/self/clear_refs", "5");
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            _resettable = false;
            return false;
        }
    }

    /// <summary>VmHWM in bytes since the last <see cref="ResetKernelPeak"/>; null where it cannot be read or reset.</summary>
    public static long? KernelPeak() => _resettable ? StatusBytes("VmHWM:") : null;

    /// <summary>The current resident set, VmRSS, in bytes (null where /proc cannot be read).</summary>
    public static long? Resident() => StatusBytes("VmRSS:");

    /// <summary>Raises <paramref name="peak"/> to <paramref name="value"/> when larger (thread-safe).</summary>
    public static void Raise(ref long peak, long value)
    {
        long seen;
        while (value > (seen = Interlocked.Read(ref peak)) && Interlocked.CompareExchange(ref peak, value, seen) != seen) { }
    }

    private static long? StatusBytes(string field)
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/self/status"))
                if (line.StartsWith(field, StringComparison.Ordinal))
                {
                    var kb = line[field.Length..].Trim().Split(' ')[0];
                    return long.TryParse(kb, System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out var value) ? value * 1024 : null;
                }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        return null;
    }
}
