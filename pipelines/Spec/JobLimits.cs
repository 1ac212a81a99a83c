using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Curation.Pipelines.Spec;

/// <summary>
/// Configuration section <c>Curation:Limits</c>: the most work one spec may ask of the cluster. Validation checks a spec
/// against these before anything runs, and the planner checks the planned tasks again once the shards are known; an
/// error names the field and the limit. Operators raise them here; nothing in a spec can.
/// </summary>
public sealed class JobLimits
{
    public const string Section = "Curation:Limits";

    /// <summary>The defaults, for callers without configuration (tests, tools).</summary>
    public static JobLimits Default { get; } = new();

    /// <summary>Largest spec (its JSON) accepted: a submitted request body, and what a job's state keeps of it (10,000 inputs fit).</summary>
    public int MaxSpecBytes { get; set; } = 4 << 20;

    public int MaxInputs { get; set; } = 10_000;

    /// <summary>Stages of a spec (read and output not counted).</summary>
    public int MaxStages { get; set; } = 32;

    /// <summary>Longest list-valued parameter (<c>epsCurve</c>): each entry is reported, so the manifest grows with it.</summary>
    public int MaxListLength { get; set; } = 64;

    /// <summary>k-means clusters of semantic_dedup and d4: each task holds every centroid and its partial sums.</summary>
    public int MaxClusters { get; set; } = 50_000;

    /// <summary>
    /// Largest <c>initSampleMax</c> a spec may set: the vectors the k-means init task of semantic_dedup and d4 holds
    /// (twice: the sample and k-means++'s packed copy; 100,000 × 384 dimensions are 147 MiB each). A spec that sets none
    /// gets <see cref="Semantic.KMeansInitSample.DefaultMaxVectors"/>.
    /// </summary>
    public int MaxInitSampleVectors { get; set; } = Semantic.KMeansInitSample.DefaultMaxVectors;

    /// <summary>The most <see cref="MaxInitSampleVectors"/> may be raised to: the sample is one array (2³¹ floats at 4,096 dimensions).</summary>
    public const int HardMaxInitSampleVectors = int.MaxValue / 4096;

    /// <summary>Tasks of one phase: shards of a shard phase (after planning), partitions of a partition phase.</summary>
    public int MaxTasksPerPhase { get; set; } = 10_000;

    /// <summary>Tasks of the whole job, all phases together (each is a grain call, a commit marker and its outputs).</summary>
    public long MaxTasksPerJob { get; set; } = 100_000;

    /// <summary>Phases of the whole job: the job's state keeps one progress entry per phase.</summary>
    public int MaxPhasesPerJob { get; set; } = 1_000;

    /// <summary>The most <see cref="MaxRecordBytes"/> may be raised to: a record is read into one string.</summary>
    public const int HardMaxRecordBytes = 256 * 1024 * 1024;

    /// <summary>
    /// Ceiling of <c>inputs[].maxRecordBytes</c>: the largest record <c>bench record</c> measured below 1 GiB of peak RSS
    /// through four stages (60 MiB → 0.79–0.91 GiB, 64 MiB → 1.06 GiB). A task collects a big record's garbage while it
    /// runs and after it (<see cref="Execution.LargeRecordRelease"/>), string columns carry no Parquet statistics, are read
    /// as UTF-8 once and a column chunk holding a value of 16 MiB or more is written uncompressed (IO/Utf8StringColumn).
    /// </summary>
    public int MaxRecordBytes { get; set; } = 60 * 1024 * 1024;

    /// <summary>Longest error text a job's state keeps (longer ones are cut, saying how much was left out).</summary>
    public int MaxStoredErrorChars { get; set; } = 4_096;

    /// <summary><paramref name="text"/> cut to <see cref="MaxStoredErrorChars"/>, saying how many characters were left out.</summary>
    public string Truncate(string text) => TruncateTo(text, MaxStoredErrorChars);

    public static string TruncateTo(string text, int maxChars)
    {
        if (text.Length <= maxChars) return text;
        var suffix = $"… ({text.Length - maxChars:N0} more characters)";
        var kept = Math.Max(0, maxChars - suffix.Length);
        return text[..kept] + $"… ({text.Length - kept:N0} more characters)";
    }
}

public sealed class JobLimitsValidator : IValidateOptions<JobLimits>
{
    public ValidateOptionsResult Validate(string? name, JobLimits o)
    {
        var failures = new List<string>();
        void AtLeast(long value, long minimum, string key)
        {
            if (value < minimum) failures.Add($"{JobLimits.Section}:{key} must be ≥ {minimum:N0}, not {value:N0}.");
        }
        AtLeast(o.MaxSpecBytes, 1024, nameof(o.MaxSpecBytes));
        AtLeast(o.MaxInputs, 1, nameof(o.MaxInputs));
        AtLeast(o.MaxStages, 1, nameof(o.MaxStages));
        AtLeast(o.MaxListLength, 1, nameof(o.MaxListLength));
        AtLeast(o.MaxClusters, 1, nameof(o.MaxClusters));
        AtLeast(o.MaxInitSampleVectors, 1, nameof(o.MaxInitSampleVectors));
        AtLeast(o.MaxTasksPerPhase, 1, nameof(o.MaxTasksPerPhase));
        AtLeast(o.MaxTasksPerJob, o.MaxTasksPerPhase, nameof(o.MaxTasksPerJob));
        AtLeast(o.MaxPhasesPerJob, 2, nameof(o.MaxPhasesPerJob));
        AtLeast(o.MaxRecordBytes, 1024, nameof(o.MaxRecordBytes));
        AtLeast(o.MaxStoredErrorChars, 256, nameof(o.MaxStoredErrorChars));
        if (o.MaxInitSampleVectors > JobLimits.HardMaxInitSampleVectors)
            failures.Add($"{JobLimits.Section}:MaxInitSampleVectors must be at most {JobLimits.HardMaxInitSampleVectors:N0} (the sample is one array of floats).");
        if (o.MaxRecordBytes > JobLimits.HardMaxRecordBytes)
            failures.Add($"{JobLimits.Section}:MaxRecordBytes must be at most {JobLimits.HardMaxRecordBytes:N0} (records are read into one string).");
        return failures.Count > 0 ? ValidateOptionsResult.Fail(failures) : ValidateOptionsResult.Success;
    }
}

public static class JobLimitsServiceCollectionExtensions
{
    /// <summary>Registers <see cref="JobLimits"/> (validated at start-up; each failure names its key).</summary>
    public static IServiceCollection AddCurationLimits(this IServiceCollection services, Action<JobLimits>? configure = null)
    {
        services.AddOptions<JobLimits>().Configure(configure ?? (_ => { })).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<JobLimits>, JobLimitsValidator>());
        return services;
    }
}
