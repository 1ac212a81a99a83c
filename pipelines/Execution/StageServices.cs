using Curation.Pipelines.Embedding;

namespace Curation.Pipelines.Execution;

/// <summary>
/// What a process lends the tasks it runs: the embedding runtime (models loaded once per process) and a name for
/// the worker, recorded in each task's stats.
/// </summary>
public sealed class StageServices(EmbeddingRuntime embedding, string worker, bool ownsRuntime = false) : IDisposable
{
    public EmbeddingRuntime Embedding => embedding;

    /// <summary>Who ran a task (a silo address, or the machine name in-process).</summary>
    public string Worker => worker;

    /// <summary>Defaults for in-process use (tests, benchmarks, tools).</summary>
    /// <summary>Disposes the runtime only when this instance created it (in-process use); DI owns the silo's.</summary>
    public void Dispose()
    {
        if (ownsRuntime) embedding.Dispose();
    }

    public static StageServices CreateDefault() => new(new EmbeddingRuntime(new EmbeddingRuntimeOptions()), Environment.MachineName, ownsRuntime: true);
}
