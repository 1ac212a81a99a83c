namespace Curation.Pipelines.Execution;

/// <summary>
/// A process-wide setting that one async flow may replace for itself (the jobs it runs in-process, their tasks included)
/// until the returned handle is disposed: how a test or a benchmark picks another value without changing it for tests
/// running beside it in the same process. A settable static would leak into them.
/// </summary>
public sealed class FlowSetting<T>(T processDefault) where T : struct
{
    private readonly AsyncLocal<T?> _override = new();

    /// <summary>The calling flow's value: its own choice, else the process default.</summary>
    public T Value => _override.Value ?? processDefault;

    /// <summary><paramref name="value"/> for the calling flow until disposed (then whatever it was before).</summary>
    public IDisposable Use(T value)
    {
        var before = _override.Value;
        _override.Value = value;
        return new Restore(this, before);
    }

    private sealed class Restore(FlowSetting<T> setting, T? before) : IDisposable
    {
        public void Dispose() => setting._override.Value = before;
    }
}
