using Curation.Grains;

namespace Curation.Silo.Tests;

/// <summary>
/// A stage's wall time for its documents per second (the books table of <c>curate run</c> and <c>curate status</c>, the
/// API's stage view): a stage fused into the read gets its share of the read's pass, not the milliseconds its tasks took
/// to return what that pass recorded.
/// </summary>
public sealed class StageTimesTests
{
    private static PhaseProgress Phase(string stage, string phase, double wall, double task, bool fused = false) =>
        new() { Stage = stage, Phase = phase, WallSeconds = wall, TaskSeconds = task, Fused = fused };

    [Fact]
    public void A_fused_stage_takes_its_share_of_the_pass_it_ran_in()
    {
        // The read ran two tasks at once for 100 s (200 task seconds), 150 of them in the language stage's transform.
        var phases = new[]
        {
            Phase("00-read", "read", wall: 100, task: 200),
            Phase("01-normalize", "apply", wall: 0.01, task: 10, fused: true),
            Phase("02-language", "apply", wall: 0.02, task: 150, fused: true),
            Phase("03-exact_dedup", "hash", wall: 2, task: 4),
            Phase("03-exact_dedup", "resolve", wall: 1, task: 2),
            Phase("04-quality_filter", "apply", wall: 3, task: 6),
            Phase("05-gopher_quality", "apply", wall: 0.01, task: 2, fused: true),
            Phase("06-output", "write", wall: 4, task: 8),
        };
        var seconds = StageTimes.Of(phases);
        Assert.Equal(20, seconds["00-read"], 6);
        Assert.Equal(5, seconds["01-normalize"], 6);
        Assert.Equal(75, seconds["02-language"], 6);
        Assert.Equal(3, seconds["03-exact_dedup"], 6);
        Assert.Equal(2, seconds["04-quality_filter"], 6);
        Assert.Equal(1, seconds["05-gopher_quality"], 6);
        Assert.Equal(4, seconds["06-output"], 6);
        // The shares add up to the job's phases' wall time: nothing counted twice, nothing lost (but the fused phases'
        // own milliseconds of returning their stats).
        Assert.Equal(110, seconds.Values.Sum(), 6);
    }

    [Fact]
    public void Without_fused_phases_a_stage_has_its_phases_wall_time_and_a_share_never_exceeds_the_pass()
    {
        var plain = StageTimes.Of([Phase("00-read", "read", 10, 20), Phase("01-normalize", "apply", 4, 8), Phase("01-normalize", "x", 1, 1)]);
        Assert.Equal((10.0, 5.0), (plain["00-read"], plain["01-normalize"]));

        // Task seconds recorded by an earlier run (a resumed job reuses them) may exceed what the host's pass took now.
        var resumed = StageTimes.Of([Phase("00-read", "read", 1, 2), Phase("01-normalize", "apply", 0.01, 50, fused: true)]);
        Assert.Equal(0, resumed["00-read"], 6);
        Assert.Equal(1, resumed["01-normalize"], 6);
    }
}
