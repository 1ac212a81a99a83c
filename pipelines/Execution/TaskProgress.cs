namespace Curation.Pipelines.Execution;

/// <summary>
/// Live counters of one running task: documents and bytes done so far, and what the task expects to do in all where
/// it knows (a shard's row count, a read's object bytes). A worker begins a scope around each task and samples it every
/// few seconds for the coordinator; the stage code reports through the static methods, which do nothing outside a
/// scope (the in-process runner, tests, benchmarks). Progress is advisory: it never decides anything a task writes.
/// </summary>
public sealed class TaskProgress : IDisposable
{
    private static readonly AsyncLocal<TaskProgress?> CurrentScope = new();

    private readonly TaskProgress? _parent;
    private long _documents, _bytes, _expectedDocuments, _expectedBytes;

    private TaskProgress(TaskProgress? parent) => _parent = parent;

    /// <summary>Starts counting for this flow (what it awaits and the tasks it starts inherit it).</summary>
    public static TaskProgress Begin()
    {
        var scope = new TaskProgress(CurrentScope.Value);
        CurrentScope.Value = scope;
        return scope;
    }

    /// <summary>Documents and bytes the current task finished.</summary>
    public static void Add(long documents, long bytes = 0)
    {
        if (CurrentScope.Value is not { } scope) return;
        if (documents != 0) Interlocked.Add(ref scope._documents, documents);
        if (bytes != 0) Interlocked.Add(ref scope._bytes, bytes);
    }

    /// <summary>Documents and bytes the current task will process in all (adds up when a task reads several inputs).</summary>
    public static void Expect(long documents, long bytes = 0)
    {
        if (CurrentScope.Value is not { } scope) return;
        if (documents != 0) Interlocked.Add(ref scope._expectedDocuments, documents);
        if (bytes != 0) Interlocked.Add(ref scope._expectedBytes, bytes);
    }

    /// <summary>A consistent-enough snapshot, safe to take from another thread while the task runs.</summary>
    public TaskProgressSample Sample() => new(Interlocked.Read(ref _documents), Interlocked.Read(ref _bytes),
        Interlocked.Read(ref _expectedDocuments), Interlocked.Read(ref _expectedBytes));

    /// <summary>Stops counting in this flow (the enclosing scope, if any, counts again).</summary>
    public void Dispose()
    {
        if (ReferenceEquals(CurrentScope.Value, this)) CurrentScope.Value = _parent;
    }
}

/// <summary>How far one running task is: what it did, and what it expects to do in all (0 where unknown).</summary>
public sealed record TaskProgressSample(long Documents, long Bytes, long ExpectedDocuments, long ExpectedBytes)
{
    /// <summary>Fraction done, from bytes where the task knows its bytes, else from documents; null where it knows neither.</summary>
    public double? Fraction => ExpectedBytes > 0 ? Math.Clamp((double)Bytes / ExpectedBytes, 0, 1)
        : ExpectedDocuments > 0 ? Math.Clamp((double)Documents / ExpectedDocuments, 0, 1)
        : null;
}
