using System.Diagnostics.Metrics;

namespace Curation.Pipelines.Storage;

/// <summary>The storage layer's instruments, for the dashboard and OpenTelemetry, and per-task retry counts for jobs.</summary>
public static class ObjectStoreMetrics
{
    public const string MeterName = "Curation.Storage";
    public const string RetriesCounterName = "curation.store.retries";

    private static readonly Meter Meter = new(MeterName);
    private static readonly AsyncLocal<RetryScope?> CurrentScope = new();

    /// <summary>Retries of store operations after transient failures; tags: <c>store</c> (location), <c>operation</c>.</summary>
    internal static readonly Counter<long> Retries = Meter.CreateCounter<long>(RetriesCounterName, unit: "{retry}",
        description: "Object store operations retried after a transient failure");

    /// <summary>
    /// Starts counting the retries made by this asynchronous flow and everything it starts (a task's parallel reads
    /// included) until the scope is disposed. Scopes nest: a retry counts in the innermost scope only, so a job
    /// coordinator's scope never counts its tasks' retries a second time.
    /// </summary>
    public static RetryScope BeginRetryScope()
    {
        var scope = new RetryScope(CurrentScope.Value);
        CurrentScope.Value = scope;
        return scope;
    }

    internal static void RecordRetry(string store, string? operation)
    {
        Retries.Add(1, new KeyValuePair<string, object?>("store", store), new KeyValuePair<string, object?>("operation", operation));
        CurrentScope.Value?.Increment();
    }

    /// <summary>Retries counted since <see cref="BeginRetryScope"/>; thread-safe, readable while the flow runs.</summary>
    public sealed class RetryScope : IDisposable
    {
        private readonly RetryScope? _parent;
        private long _count;

        internal RetryScope(RetryScope? parent) => _parent = parent;

        public long Count => Interlocked.Read(ref _count);

        internal void Increment() => Interlocked.Increment(ref _count);

        /// <summary>Stops counting in this flow (the enclosing scope, if any, counts again).</summary>
        public void Dispose()
        {
            if (ReferenceEquals(CurrentScope.Value, this)) CurrentScope.Value = _parent;
        }
    }
}
