namespace Curation.Pipelines.Execution;

/// <summary>How a <see cref="JobRunner"/> fans out and retries a job's tasks.</summary>
public sealed record JobRunnerOptions
{
    /// <summary>Tasks kept dispatched at once.</summary>
    public int MaxTasksInFlight { get; init; } = 64;

    /// <summary>Attempts per task before the job fails (a task that failed on its own; a lost worker costs none).</summary>
    public int MaxTaskAttempts { get; init; } = 4;

    /// <summary>Delay before retry n is n times this; also the first step of the lost-worker backoff.</summary>
    public TimeSpan RetryDelay { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>How long a task whose worker died or cannot be reached is dispatched again before the job fails.</summary>
    public TimeSpan WorkerLossRetryTime { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>The longest wait between two dispatches of a task whose worker was lost.</summary>
    public TimeSpan MaxWorkerLossBackoff { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Where these settings come from, as failure messages name them (e.g. <c>Curation:Execution</c>, so a message says
    /// <c>Curation:Execution:MaxTaskAttempts</c>); empty names the bare settings.
    /// </summary>
    public string SettingsSection { get; init; } = "";

    /// <summary>
    /// How the host calls some of these settings where its names differ (e.g. <c>WorkerLossRetryTime</c> →
    /// <c>SiloLossRetryTime</c>); a setting not listed keeps its name here.
    /// </summary>
    public IReadOnlyDictionary<string, string> SettingNames { get; init; } = new Dictionary<string, string>();

    /// <summary>The settings a host runs with where it configures none: everything in this process, one task per core.</summary>
    public static JobRunnerOptions Local(int parallelism) => new() { MaxTasksInFlight = Math.Max(1, parallelism), MaxTaskAttempts = 1 };

    /// <summary>What is wrong with these settings (empty when nothing).</summary>
    public IReadOnlyList<string> Problems()
    {
        var problems = new List<string>();
        if (MaxTasksInFlight < 1) problems.Add($"{Name(nameof(MaxTasksInFlight))} must be ≥ 1.");
        if (MaxTaskAttempts < 1) problems.Add($"{Name(nameof(MaxTaskAttempts))} must be ≥ 1.");
        if (RetryDelay < TimeSpan.Zero) problems.Add($"{Name(nameof(RetryDelay))} must not be negative.");
        if (WorkerLossRetryTime <= TimeSpan.Zero) problems.Add($"{Name(nameof(WorkerLossRetryTime))} must be positive.");
        if (MaxWorkerLossBackoff <= TimeSpan.Zero) problems.Add($"{Name(nameof(MaxWorkerLossBackoff))} must be positive.");
        return problems;
    }

    /// <summary>A setting's name as messages show it.</summary>
    internal string Name(string setting)
    {
        var name = SettingNames.GetValueOrDefault(setting, setting);
        return SettingsSection.Length == 0 ? name : $"{SettingsSection}:{name}";
    }
}
