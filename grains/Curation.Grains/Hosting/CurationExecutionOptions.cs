using Curation.Pipelines.Execution;
using Microsoft.Extensions.Options;

namespace Curation.Grains.Hosting;

/// <summary>Configuration section <c>Curation:Execution</c>: how a silo runs job tasks.</summary>
public sealed class CurationExecutionOptions
{
    public const string Section = "Curation:Execution";

    /// <summary>Tasks a job coordinator keeps dispatched at once (across the cluster).</summary>
    public int MaxTasksInFlight { get; set; } = 64;

    /// <summary>Attempts per task before the job fails (a task that failed on its own; a lost silo costs none).</summary>
    public int MaxTaskAttempts { get; set; } = 4;

    /// <summary>Delay before retry n is n times this.</summary>
    public TimeSpan RetryDelay { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// How long a task whose silo died or cannot be reached is dispatched again (with backoff) before the job fails:
    /// long enough for the cluster's membership to declare a dead silo dead (probe timeout × missed probes, and more).
    /// </summary>
    public TimeSpan SiloLossRetryTime { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>The longest wait between two dispatches of a task whose silo was lost.</summary>
    public TimeSpan MaxSiloLossBackoff { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Tasks running at once on this silo; 0 means one per core.</summary>
    public int TaskSlots { get; set; }

    /// <summary>Longest one task may take (the grain call's response timeout).</summary>
    public TimeSpan TaskTimeout { get; set; } = TimeSpan.FromHours(2);

    /// <summary>How often a silo looks for running jobs whose coordinator was lost, to resume them.</summary>
    public TimeSpan ResumeScanInterval { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>How often a running task reports its documents and bytes done to its job's coordinator.</summary>
    public TimeSpan ProgressInterval { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>How often a job's coordinator adds a sample to its stored throughput history.</summary>
    public TimeSpan HistoryInterval { get; set; } = TimeSpan.FromSeconds(5);

    public int EffectiveTaskSlots => TaskSlots > 0 ? TaskSlots : Environment.ProcessorCount;

    /// <summary>What a job coordinator's <see cref="JobRunner"/> runs with: these limits, named as configured here.</summary>
    public JobRunnerOptions ForRunner() => new()
    {
        MaxTasksInFlight = MaxTasksInFlight, MaxTaskAttempts = MaxTaskAttempts, RetryDelay = RetryDelay,
        WorkerLossRetryTime = SiloLossRetryTime, MaxWorkerLossBackoff = MaxSiloLossBackoff, SettingsSection = Section,
        SettingNames = new Dictionary<string, string>
        {
            [nameof(JobRunnerOptions.WorkerLossRetryTime)] = nameof(SiloLossRetryTime),
            [nameof(JobRunnerOptions.MaxWorkerLossBackoff)] = nameof(MaxSiloLossBackoff),
        },
    };
}

public sealed class CurationExecutionOptionsValidator : IValidateOptions<CurationExecutionOptions>
{
    public ValidateOptionsResult Validate(string? name, CurationExecutionOptions o)
    {
        var failures = new List<string>();
        if (o.MaxTasksInFlight < 1) failures.Add($"{CurationExecutionOptions.Section}:MaxTasksInFlight must be ≥ 1.");
        if (o.MaxTaskAttempts < 1) failures.Add($"{CurationExecutionOptions.Section}:MaxTaskAttempts must be ≥ 1.");
        if (o.RetryDelay < TimeSpan.Zero) failures.Add($"{CurationExecutionOptions.Section}:RetryDelay must not be negative.");
        if (o.SiloLossRetryTime <= TimeSpan.Zero) failures.Add($"{CurationExecutionOptions.Section}:SiloLossRetryTime must be positive.");
        if (o.MaxSiloLossBackoff <= TimeSpan.Zero) failures.Add($"{CurationExecutionOptions.Section}:MaxSiloLossBackoff must be positive.");
        if (o.TaskSlots < 0) failures.Add($"{CurationExecutionOptions.Section}:TaskSlots must be ≥ 0 (0 = one per core).");
        if (o.TaskTimeout <= TimeSpan.Zero) failures.Add($"{CurationExecutionOptions.Section}:TaskTimeout must be positive.");
        if (o.HistoryInterval <= TimeSpan.Zero) failures.Add($"{CurationExecutionOptions.Section}:HistoryInterval must be positive.");
        if (o.ProgressInterval <= TimeSpan.Zero) failures.Add($"{CurationExecutionOptions.Section}:ProgressInterval must be positive.");
        if (o.ResumeScanInterval <= TimeSpan.Zero) failures.Add($"{CurationExecutionOptions.Section}:ResumeScanInterval must be positive.");
        return failures.Count > 0 ? ValidateOptionsResult.Fail(failures) : ValidateOptionsResult.Success;
    }
}
