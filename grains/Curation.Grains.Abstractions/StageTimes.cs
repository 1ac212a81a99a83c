namespace Curation.Grains;

/// <summary>
/// The wall seconds each stage of a job took, for its documents per second. A stage's phases count their own wall time,
/// except a fused phase (<see cref="PhaseProgress.Fused"/>): its work ran inside the pass of the phase before it (the read,
/// or the head of a run of document stages), so that pass's wall time is shared out by the seconds each member's
/// transform took in it. Without this a language stage fused into the read showed 66 million documents per second and
/// the read, which had spent its time detecting languages, 871.
/// </summary>
public static class StageTimes
{
    public static Dictionary<string, double> Of(IReadOnlyList<PhaseProgress> phases)
    {
        ArgumentNullException.ThrowIfNull(phases);
        var seconds = new Dictionary<string, double>(StringComparer.Ordinal);
        PhaseProgress? host = null;
        var hostLeft = 0.0;   // the host pass's wall time not yet given to a fused member
        foreach (var phase in phases)
        {
            if (phase.Fused && host is not null && host.TaskSeconds > 0)
            {
                // The host's tasks ran side by side: its task seconds over its wall time is how many at once.
                var share = Math.Min(hostLeft, phase.TaskSeconds * host.WallSeconds / host.TaskSeconds);
                hostLeft -= share;
                seconds[host.Stage] -= share;
                seconds[phase.Stage] = seconds.GetValueOrDefault(phase.Stage) + share;
                continue;
            }
            seconds[phase.Stage] = seconds.GetValueOrDefault(phase.Stage) + phase.WallSeconds;
            if (!phase.Fused) (host, hostLeft) = (phase, phase.WallSeconds);
        }
        return seconds;
    }
}
