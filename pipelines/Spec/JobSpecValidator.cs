using System.Text.RegularExpressions;
using Curation.Pipelines.Execution;

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
                ValidateStage(spec.Stages[i], $"stages[{i}]", limits, Check);
                if (spec.Stages[i] is SemanticDedupStageSpec or D4StageSpec)
                    Check(spec.Stages.Take(i).Any(s => s is EmbedStageSpec), $"stages[{i}].type", $"{spec.Stages[i].Type} needs an embed stage before it");
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
            // d4 cannot yet select against the corpus: refusing beats a refresh that silently diversifies new documents only among themselves.
            if (spec.Output.Snapshots && spec.Stages is not null)
                for (var i = 0; i < spec.Stages.Count; i++)
                {
                    Check(spec.Stages[i] is not D4StageSpec, $"stages[{i}].type",
                        $"{spec.Stages[i]?.Type} is not supported with output.snapshots yet (it cannot deduplicate against the corpus' earlier snapshots)");
                    Check(spec.Stages[i] is not SemanticDedupStageSpec { Verify: not null }, $"stages[{i}].verify",
                        "is not supported with output.snapshots yet (the corpus' members are indexed with their static vectors only)");
                    Check(spec.Stages[i] is not SemanticDedupStageSpec { ClusterDims: not null }, $"stages[{i}].clusterDims",
                        "is not supported with output.snapshots yet (the corpus' centroids index holds full-dimension centroids)");
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

    private static void ValidateModel(ModelSpec model, string at, Action<bool, string, string> check)
    {
        check(model.MaxTokens is >= 16 and <= 8192, $"{at}.maxTokens", "must be between 16 and 8192");
        check((model.ModelPath is null) == (model.VocabPath is null), $"{at}.modelPath",
            "modelPath and vocabPath go together (both null = the shipped all-MiniLM-L6-v2)");
        check(!string.IsNullOrWhiteSpace(model.OutputName), $"{at}.outputName", "is required");
        check(Enum.IsDefined(model.Kind), $"{at}.kind", "must be transformer, static or input_mean");
        check(model.Kind != ModelKind.Static || model.Dims is >= 8 and <= 4096, $"{at}.dims", "must be between 8 and the model's dimensions (at most 4096)");
    }

    private static void ValidateClustering(IClusteringSpec c, string at, JobLimits limits, Action<bool, string, string> check)
    {
        check(c.Clusters >= 1 && c.Clusters <= limits.MaxClusters, $"{at}.clusters",
            $"must be between 1 and {limits.MaxClusters:N0} ({JobLimits.Section}:{nameof(JobLimits.MaxClusters)})");
        check(c.MaxIterations is >= 1 and <= 1000, $"{at}.maxIterations", "must be between 1 and 1000");
        check(c.Tolerance >= 0, $"{at}.tolerance", "must be ≥ 0");
        check(c.InitSampleFraction is > 0 and <= 1, $"{at}.initSampleFraction", "must be in (0, 1]");
    }

    private static void ValidateStage(StageSpec? stage, string at, JobLimits limits, Action<bool, string, string> check)
    {
        switch (stage)
        {
            case null:
                check(false, at, "is empty");
                break;
            case NormalizeStageSpec:
                break;
            case ExtractStageSpec x:
                check(x.MinChars >= 0, $"{at}.minChars", "must be ≥ 0");
                break;
            case QualityFilterStageSpec q:
                check(q.MinChars >= 0, $"{at}.minChars", "must be ≥ 0");
                check(q.MaxChars > q.MinChars, $"{at}.maxChars", "must be greater than minChars");
                check(q.MinWords >= 0, $"{at}.minWords", "must be ≥ 0");
                check(q.MaxSymbolRatio is > 0 and <= 1, $"{at}.maxSymbolRatio", "must be in (0, 1]");
                check(q.MaxRepeatedLineFraction is > 0 and <= 1, $"{at}.maxRepeatedLineFraction", "must be in (0, 1]");
                break;
            case TokenizeStageSpec t:
                ValidateModel(t.Model, $"{at}.model", check);
                break;
            case TrainTokenizeStageSpec t:
                check(Training.TrainingTokenizer.KnownEncodings.Contains(t.Encoding), $"{at}.encoding",
                    $"must be one of {string.Join(", ", Training.TrainingTokenizer.KnownEncodings)}");
                check(t.TokenizerPath is null || (Path.IsPathRooted(t.TokenizerPath) && t.TokenizerPath.EndsWith(".tiktoken", StringComparison.Ordinal)),
                    $"{at}.tokenizerPath", "must be omitted or an absolute path to a .tiktoken file");
                break;
            case EmbedStageSpec e:
                ValidateModel(e.Model, $"{at}.model", check);
                check(e.WindowTokens == 0 || (e.WindowTokens >= 8 && e.WindowTokens <= e.Model.MaxTokens - 2), $"{at}.windowTokens",
                    $"must be 0 (the model's window) or between 8 and model.maxTokens − 2 ({e.Model.MaxTokens - 2})");
                check(e.WindowStride >= 0 && (e.WindowStride == 0 || e.WindowStride <= Math.Max(e.WindowTokens, e.Model.MaxTokens - 2)),
                    $"{at}.windowStride", "must be 0 (no overlap) or between 1 and windowTokens");
                check(e.BatchTokens >= e.Model.MaxTokens, $"{at}.batchTokens", $"must be at least model.maxTokens ({e.Model.MaxTokens})");
                break;
            case SemanticDedupStageSpec m:
                ValidateClustering(m, at, limits, check);
                check(m.Eps is null or (>= 0 and < 1), $"{at}.eps", "must be in [0, 1)");
                check(m.TargetKeepFraction is null or (> 0 and <= 1), $"{at}.targetKeepFraction", "must be in (0, 1]");
                check(m.Eps is null || m.TargetKeepFraction is null, $"{at}.targetKeepFraction", "set eps or targetKeepFraction, not both");
                check(m.EpsCurve is not null && m.EpsCurve.Count <= limits.MaxListLength, $"{at}.epsCurve",
                    $"may hold at most {limits.MaxListLength:N0} values, not {m.EpsCurve?.Count:N0} ({JobLimits.Section}:{nameof(JobLimits.MaxListLength)})");
                check(m.EpsCurve is null || m.EpsCurve.All(e => e is >= 0 and < 1), $"{at}.epsCurve", "values must be in [0, 1)");
                check(m.Partitions is >= 1 and <= 4096, $"{at}.partitions", "must be between 1 and 4096");
                check(m.TileSize is >= 16 and <= 8192, $"{at}.tileSize", "must be between 16 and 8192");
                check(m.StickyCosine is > 0 and <= 1, $"{at}.stickyCosine", "must be in (0, 1]");
                check(m.ClusterDims is null or (>= 2 and <= 4096), $"{at}.clusterDims", "must be between 2 and the embeddings' dimensions (unset: the full space)");
                if (m.Verify is { } verify)
                {
                    ValidateModel(verify.Model, $"{at}.verify.model", check);
                    check(verify.Model.Kind == ModelKind.Transformer, $"{at}.verify.model.kind", "must be transformer (the tier that decides the static candidates)");
                    check(m.TargetKeepFraction is null, $"{at}.verify",
                        "needs eps, not targetKeepFraction: the cascade computes the transformer's similarity for the candidates only, not the whole M curve a target is picked from");
                    var eps = m.Eps ?? SemanticDedupStageSpec.DefaultEps;
                    check(verify.CandidateEps is null or (> 0 and < 1), $"{at}.verify.candidateEps", "must be in (0, 1)");
                    check(verify.CandidateEps is null || verify.CandidateEps >= eps, $"{at}.verify.candidateEps",
                        $"must be at least eps ({eps}): candidates are found at a looser threshold than the one that decides");
                }
                break;
            case D4StageSpec d:
                ValidateClustering(d, at, limits, check);
                check(d.KeepFraction is > 0 and <= 1, $"{at}.keepFraction", "is required and must be in (0, 1]");
                break;
            case NearDedupStageSpec n:
                check(n.Ngram is >= 1 and <= 64, $"{at}.ngram", "must be between 1 and 64");
                check(n.CharNgram is >= 1 and <= 256, $"{at}.charNgram", "must be between 1 and 256");
                check(n.Bands is >= 1 and <= 512, $"{at}.bands", "must be between 1 and 512");
                check(n.Rows is >= 1 and <= 64, $"{at}.rows", "must be between 1 and 64");
                check((long)n.Bands * n.Rows <= 1024, $"{at}.rows", $"bands × rows (permutations) must be at most 1024, not {(long)n.Bands * n.Rows}");
                check(n.Threshold is > 0 and <= 1, $"{at}.threshold", "must be in (0, 1]");
                check(n.Anchors is >= 1 and <= 64, $"{at}.anchors", "must be between 1 and 64");
                check(n.Partitions is >= 1 and <= 4096, $"{at}.partitions", "must be between 1 and 4096");
                check(n.MaxRounds is >= 2 and <= 200, $"{at}.maxRounds", "must be between 2 and 200");
                break;
            case ExactDedupStageSpec e:
                check(e.Partitions is >= 1 and <= 4096, $"{at}.partitions", "must be between 1 and 4096");
                break;
            default:
                check(false, $"{at}.type", $"unknown stage type '{stage.Type}'");
                break;
        }
    }
}
