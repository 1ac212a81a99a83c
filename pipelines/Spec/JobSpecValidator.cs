using System.Text.RegularExpressions;

namespace Curation.Pipelines.Spec;

/// <summary>Checks a spec up front, before any work starts; every error names the field it is about.</summary>
public static partial class JobSpecValidator
{
    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")]
    private static partial Regex JobNamePattern();

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
    private static partial Regex RunKeyPattern();

    public static IReadOnlyList<SpecError> Validate(JobSpec spec)
    {
        var errors = new List<SpecError>();
        void Check(bool ok, string field, string message) { if (!ok) errors.Add(new SpecError(field, message)); }

        Check(JobNamePattern().IsMatch(spec.Name ?? ""), "name", "must be 1-100 letters, digits, '.', '_' or '-', starting with a letter or digit");
        Check(spec.RunKey is null || RunKeyPattern().IsMatch(spec.RunKey), "runKey", "must be omitted or 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit");

        if (spec.Inputs is null || spec.Inputs.Count == 0) errors.Add(new SpecError("inputs", "at least one input is required"));
        else
            for (var i = 0; i < spec.Inputs.Count; i++)
            {
                var input = spec.Inputs[i];
                var at = $"inputs[{i}]";
                Check(!string.IsNullOrWhiteSpace(input.Path), $"{at}.path", "is required");
                Check(!string.IsNullOrWhiteSpace(input.TextField), $"{at}.textField", "must name the field holding the text");
                Check(input.IdField is null || input.IdField.Length > 0, $"{at}.idField", "must be omitted or name a field");
                Check(input.MaxRecordBytes is >= 1024 and <= 256 * 1024 * 1024, $"{at}.maxRecordBytes", "must be between 1 KiB and 256 MiB");
                if (!string.IsNullOrWhiteSpace(input.Path))
                    foreach (var problem in StoreLocation.Problems(input.Path)) errors.Add(new SpecError($"{at}.path", problem));
            }

        Check(spec.Sharding is not null && spec.Sharding.TargetShardBytes >= 1024, "sharding.targetShardBytes", "must be at least 1024");

        if (spec.Stages is null) errors.Add(new SpecError("stages", "is required (it may be empty)"));
        else
            for (var i = 0; i < spec.Stages.Count; i++)
            {
                ValidateStage(spec.Stages[i], $"stages[{i}]", Check);
                if (spec.Stages[i] is SemanticDedupStageSpec or D4StageSpec)
                    Check(spec.Stages.Take(i).Any(s => s is EmbedStageSpec), $"stages[{i}].type", $"{spec.Stages[i].Type} needs an embed stage before it");
            }

        if (spec.Output is null || string.IsNullOrWhiteSpace(spec.Output.Path)) errors.Add(new SpecError("output.path", "is required"));
        else foreach (var problem in StoreLocation.Problems(spec.Output.Path, allowGlob: false)) errors.Add(new SpecError("output.path", problem));
        if (spec.Output is not null)
        {
            Check(spec.Output.KeepSnapshots is null or (>= 1 and <= 10_000), "output.keepSnapshots", "must be between 1 and 10,000");
            Check(spec.Output.KeepSnapshots is null || spec.Output.Snapshots, "output.keepSnapshots", "only applies with output.snapshots: true");
            // d4 cannot yet select against the corpus: refusing beats a refresh that silently diversifies new documents only among themselves.
            if (spec.Output.Snapshots && spec.Stages is not null)
                for (var i = 0; i < spec.Stages.Count; i++)
                    Check(spec.Stages[i] is not D4StageSpec, $"stages[{i}].type",
                        $"{spec.Stages[i]?.Type} is not supported with output.snapshots yet (it cannot deduplicate against the corpus' earlier snapshots)");
        }

        return errors;
    }

    public static void ThrowIfInvalid(JobSpec spec)
    {
        var errors = Validate(spec);
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

    private static void ValidateClustering(IClusteringSpec c, string at, Action<bool, string, string> check)
    {
        check(c.Clusters is >= 1 and <= 1_000_000, $"{at}.clusters", "must be between 1 and 1,000,000");
        check(c.MaxIterations is >= 1 and <= 1000, $"{at}.maxIterations", "must be between 1 and 1000");
        check(c.Tolerance >= 0, $"{at}.tolerance", "must be ≥ 0");
        check(c.InitSampleFraction is > 0 and <= 1, $"{at}.initSampleFraction", "must be in (0, 1]");
    }

    private static void ValidateStage(StageSpec? stage, string at, Action<bool, string, string> check)
    {
        switch (stage)
        {
            case null:
                check(false, at, "is empty");
                break;
            case NormalizeStageSpec:
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
            case EmbedStageSpec e:
                ValidateModel(e.Model, $"{at}.model", check);
                check(e.WindowTokens == 0 || (e.WindowTokens >= 8 && e.WindowTokens <= e.Model.MaxTokens - 2), $"{at}.windowTokens",
                    $"must be 0 (the model's window) or between 8 and model.maxTokens − 2 ({e.Model.MaxTokens - 2})");
                check(e.WindowStride >= 0 && (e.WindowStride == 0 || e.WindowStride <= Math.Max(e.WindowTokens, e.Model.MaxTokens - 2)),
                    $"{at}.windowStride", "must be 0 (no overlap) or between 1 and windowTokens");
                check(e.BatchTokens >= e.Model.MaxTokens, $"{at}.batchTokens", $"must be at least model.maxTokens ({e.Model.MaxTokens})");
                break;
            case SemanticDedupStageSpec m:
                ValidateClustering(m, at, check);
                check(m.Eps is null or (>= 0 and < 1), $"{at}.eps", "must be in [0, 1)");
                check(m.TargetKeepFraction is null or (> 0 and <= 1), $"{at}.targetKeepFraction", "must be in (0, 1]");
                check(m.Eps is null || m.TargetKeepFraction is null, $"{at}.targetKeepFraction", "set eps or targetKeepFraction, not both");
                check(m.EpsCurve.All(e => e is >= 0 and < 1), $"{at}.epsCurve", "values must be in [0, 1)");
                check(m.Partitions is >= 1 and <= 4096, $"{at}.partitions", "must be between 1 and 4096");
                check(m.TileSize is >= 16 and <= 8192, $"{at}.tileSize", "must be between 16 and 8192");
                check(m.StickyCosine is > 0 and <= 1, $"{at}.stickyCosine", "must be in (0, 1]");
                break;
            case D4StageSpec d:
                ValidateClustering(d, at, check);
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
