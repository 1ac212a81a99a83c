using System.Text.RegularExpressions;
using Curation.Pipelines.Execution;
using Curation.Pipelines.Stages;

namespace Curation.Pipelines.Spec;

/// <summary>Checks a spec up front, before any work starts; every error names the field it is about.</summary>
public static partial class JobSpecValidator
{
    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")]
    private static partial Regex JobNamePattern();

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
    private static partial Regex RunKeyPattern();

    /// <summary>
    /// Every problem of <paramref name="spec"/>: fields out of range, paths into the data store's own folders (with
    /// <paramref name="dataStoreLocation"/>, the data store's <c>Location</c>, also in their absolute, <c>file://</c> and
    /// <c>az://</c> forms), and work beyond <paramref name="limits"/> (default: <see cref="JobLimits.Default"/>).
    /// </summary>
    public static IReadOnlyList<SpecError> Validate(JobSpec spec, JobLimits? limits = null, string? dataStoreLocation = null)
    {
        limits ??= JobLimits.Default;
        var errors = new List<SpecError>();
        void Check(bool ok, string field, string message) { if (!ok) errors.Add(new SpecError(field, message)); }

        Check(JobNamePattern().IsMatch(spec.Name ?? ""), "name", "must be 1-100 letters, digits, '.', '_' or '-', starting with a letter or digit");
        Check(spec.RunKey is null || RunKeyPattern().IsMatch(spec.RunKey), "runKey", "must be omitted or 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit");

        if (spec.Inputs is null || spec.Inputs.Count == 0) errors.Add(new SpecError("inputs", "at least one input is required"));
        else if (spec.Inputs.Count > limits.MaxInputs)
            errors.Add(new SpecError("inputs", $"{spec.Inputs.Count:N0} inputs; a spec may have at most {limits.MaxInputs:N0} " +
                                               $"({JobLimits.Section}:{nameof(JobLimits.MaxInputs)}): name a folder or a glob instead"));
        else
            for (var i = 0; i < spec.Inputs.Count; i++)
            {
                var input = spec.Inputs[i];
                var at = $"inputs[{i}]";
                Check(!string.IsNullOrWhiteSpace(input.Path), $"{at}.path", "is required");
                Check(!string.IsNullOrWhiteSpace(input.TextField), $"{at}.textField", "must name the field holding the text");
                Check(input.IdField is null || input.IdField.Length > 0, $"{at}.idField", "must be omitted or name a field");
                Check(input.MaxRecordBytes >= 1024 && input.MaxRecordBytes <= limits.MaxRecordBytes, $"{at}.maxRecordBytes",
                    $"must be between 1,024 and {limits.MaxRecordBytes:N0} bytes ({JobLimits.Section}:{nameof(JobLimits.MaxRecordBytes)})");
                if (!string.IsNullOrWhiteSpace(input.Path))
                {
                    foreach (var problem in StoreLocation.Problems(input.Path)) errors.Add(new SpecError($"{at}.path", problem));
                    if (DataStoreFolders.Problem(input.Path, dataStoreLocation, output: false) is { } reserved) errors.Add(new SpecError($"{at}.path", reserved));
                }
            }

        Check(spec.Sharding is not null && spec.Sharding.TargetShardBytes >= 1024, "sharding.targetShardBytes", "must be at least 1024");

        if (spec.Stages is null) errors.Add(new SpecError("stages", "is required (it may be empty)"));
        else if (spec.Stages.Count > limits.MaxStages)
            errors.Add(new SpecError("stages", $"{spec.Stages.Count:N0} stages; a spec may have at most {limits.MaxStages:N0} " +
                                               $"({JobLimits.Section}:{nameof(JobLimits.MaxStages)})"));
        else
            for (var i = 0; i < spec.Stages.Count; i++)
            {
                // Each stage checks its own fields (StageSpec.Validate, declared beside the stage).
                if (spec.Stages[i] is { } stage) stage.Validate(new StageChecks($"stages[{i}]", i, spec.Stages, spec.Output, limits, errors));
                else errors.Add(new SpecError($"stages[{i}]", "is empty"));
            }

        if (spec.Output is null || string.IsNullOrWhiteSpace(spec.Output.Path)) errors.Add(new SpecError("output.path", "is required"));
        else
        {
            foreach (var problem in StoreLocation.Problems(spec.Output.Path, allowGlob: false)) errors.Add(new SpecError("output.path", problem));
            if (DataStoreFolders.Problem(spec.Output.Path, dataStoreLocation, output: true) is { } reserved) errors.Add(new SpecError("output.path", reserved));
        }
        if (spec.Output is not null)
        {
            Check(spec.Output.KeepSnapshots is null or (>= 1 and <= 10_000), "output.keepSnapshots", "must be between 1 and 10,000");
            Check(spec.Output.KeepSnapshots is null || spec.Output.Snapshots, "output.keepSnapshots", "only applies with output.snapshots: true");
            if (spec.Output.Tokens is { } tokens)
            {
                Check(spec.Stages?.Any(s => s is TrainTokenizeStageSpec) == true, "output.tokens", "needs a train_tokenize stage (it names the tokenizer)");
                Check(tokens.Formats is { Count: > 0 } && tokens.Formats.Distinct().Count() == tokens.Formats.Count, "output.tokens.formats",
                    "must list megatron and/or npy, each once");
            }
            if (spec.Output.Mix is { } mix)
            {
                Check(spec.Output.Tokens is not null, "output.mix", "applies to token files: set output.tokens too");
                Check(!string.IsNullOrWhiteSpace(mix.By), "output.mix.by", "must be source, input or a column name");
                Check(mix.DefaultWeight is >= 0 and <= 1000 && mix.Weights.Values.All(w => w is >= 0 and <= 1000), "output.mix.weights",
                    "weights must be between 0 and 1000");
                Check(mix.Buckets is null || (mix.Buckets.Count > 0 && mix.Buckets.Zip(mix.Buckets.Skip(1)).All(p => p.First < p.Second)
                    && mix.By is not (Training.TokenMixKeys.Source or Training.TokenMixKeys.Input)), "output.mix.buckets",
                    "must be ascending edges of a numeric column named by output.mix.by");
                if (mix.SoftDedup is { } soft)
                {
                    Check(spec.Stages?.Any(s => s is SemanticDedupStageSpec) == true, "output.mix.softDedup", "needs a semantic_dedup stage (its max similarity decides the weights)");
                    Check(soft.Threshold is >= -1 and < 1, "output.mix.softDedup.threshold", "must be in [-1, 1)");
                    Check(soft.MinWeight is >= 0 and <= 1, "output.mix.softDedup.minWeight", "must be in [0, 1]");
                }
            }
        }

        // The work the spec implies, once its fields are sound: partitions × rounds × iterations, before any shard is known.
        if (errors.Count == 0)
        {
            errors.AddRange(JobBudget.Check(spec, JobBudget.OneShardPlan(), limits));
            var specBytes = System.Text.Encoding.UTF8.GetByteCount(spec.ToJson());
            Check(specBytes <= limits.MaxSpecBytes, "$", $"the spec is {specBytes:N0} bytes; at most {limits.MaxSpecBytes:N0} " +
                                                         $"({JobLimits.Section}:{nameof(JobLimits.MaxSpecBytes)})");
        }
        return errors;
    }

    public static void ThrowIfInvalid(JobSpec spec, JobLimits? limits = null, string? dataStoreLocation = null)
    {
        var errors = Validate(spec, limits, dataStoreLocation);
        if (errors.Count > 0) throw new JobSpecException(errors);
    }
}
