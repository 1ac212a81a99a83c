using System.Diagnostics.Metrics;

namespace Curation.Grains.Hosting;

/// <summary>
/// The silo's job metrics (meter <c>Curation.Jobs</c>), exported to Prometheus by the host: documents processed per
/// stage (a counter: its rate is documents/s), tasks finished per stage, and the coordinators' queue depths.
/// </summary>
public static class CurationMetrics
{
    public const string MeterName = "Curation.Jobs";

    private static readonly Meter Meter = new(MeterName);

    /// <summary>Documents that entered a stage's tasks (tag <c>stage</c>).</summary>
    public static readonly Counter<long> Documents = Meter.CreateCounter<long>("curation.stage.documents", unit: "{document}",
        description: "Documents processed by stage tasks (rate = documents/s per stage).");

    public static readonly Counter<long> TasksCompleted = Meter.CreateCounter<long>("curation.stage.tasks", unit: "{task}",
        description: "Stage tasks finished (tag reused: output found in the store).");

    /// <summary>Tasks of running phases not yet dispatched (waiting for the in-flight limit).</summary>
    public static readonly UpDownCounter<long> TasksQueued = Meter.CreateUpDownCounter<long>("curation.tasks.queued", unit: "{task}",
        description: "Tasks of running phases waiting to be dispatched (queue depth).");

    /// <summary>Tasks dispatched and not yet finished.</summary>
    public static readonly UpDownCounter<long> TasksInFlight = Meter.CreateUpDownCounter<long>("curation.tasks.in_flight", unit: "{task}",
        description: "Tasks dispatched to task grains and not yet finished.");

    public static readonly Counter<long> JobsFinished = Meter.CreateCounter<long>("curation.jobs.finished", unit: "{job}",
        description: "Jobs that reached a final state (tag state).");
}
