using System.Diagnostics.Metrics;

namespace Curation.Pipelines.Storage;

/// <summary>The storage layer's instruments, for the dashboard and OpenTelemetry.</summary>
public static class ObjectStoreMetrics
{
    public const string MeterName = "Curation.Storage";
    public const string RetriesCounterName = "curation.store.retries";

    private static readonly Meter Meter = new(MeterName);

    /// <summary>Retries of store operations after transient failures; tags: <c>store</c> (location), <c>operation</c>.</summary>
    internal static readonly Counter<long> Retries = Meter.CreateCounter<long>(RetriesCounterName, unit: "{retry}",
        description: "Object store operations retried after a transient failure");

    internal static void RecordRetry(string store, string? operation)
        => Retries.Add(1, new KeyValuePair<string, object?>("store", store), new KeyValuePair<string, object?>("operation", operation));
}
