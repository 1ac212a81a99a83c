using Curation.Pipelines.Spec;
using Curation.Pipelines.Stages;
using Curation.Pipelines.Stages.QualityScore;
using Curation.Pipelines.Storage;

namespace Curation.Silo.Api;

/// <summary>
/// What a job submitted over the API may touch: relative paths stay inside the data store (no <c>..</c>, and not the
/// cluster's own <c>jobs/</c> and <c>state/</c> folders), local paths must resolve (after <c>..</c> is folded) under
/// one of <see cref="ApiOptions.AllowedRoots"/> after every symbolic link on the way is resolved, and <c>az://</c> paths go to the configured blob account.
/// </summary>
public static class SubmissionPolicy
{
    private static readonly string[] ReservedPrefixes = ["jobs/", "state/"];

    public static IReadOnlyList<SpecError> Check(JobSpec spec, IReadOnlyList<string> allowedRoots)
    {
        var errors = new List<SpecError>();
        for (var i = 0; i < spec.Inputs.Count; i++)
            if (Problem(spec.Inputs[i].Path, allowedRoots, output: false) is { } problem) errors.Add(new SpecError($"inputs[{i}].path", problem));
        if (Problem(spec.Output.Path, allowedRoots, output: true) is { } outputProblem) errors.Add(new SpecError("output.path", outputProblem));
        for (var i = 0; i < spec.Stages.Count; i++)
            if (spec.Stages[i] is TrainTokenizeStageSpec { TokenizerPath: { } file } && FileProblem(file, allowedRoots) is { } fileProblem)
                errors.Add(new SpecError($"stages[{i}].tokenizerPath", fileProblem));
        for (var i = 0; i < spec.Stages.Count; i++)
            if (spec.Stages[i] is UrlFilterStageSpec filter)
                foreach (var (file, field) in new[] { (filter.DomainsPath, "domainsPath"), (filter.SubstringsPath, "substringsPath") })
                    if (file is not null && FileProblem(file, allowedRoots) is { } problem) errors.Add(new SpecError($"stages[{i}].{field}", problem));
        // quality_score's labelled examples: a path like an input's.
        for (var i = 0; i < spec.Stages.Count; i++)
            if (spec.Stages[i] is QualityScoreStageSpec { Training: { } training } && Problem(training, allowedRoots, output: false) is { } trainingProblem)
                errors.Add(new SpecError($"stages[{i}].training", trainingProblem));
        // Model files a job names (tokenize, embed, semantic_dedup's verify): the same rule as any local file it reads.
        for (var i = 0; i < spec.Stages.Count; i++)
        {
            var (model, at) = spec.Stages[i] switch
            {
                TokenizeStageSpec t => (t.Model, $"stages[{i}].model"),
                EmbedStageSpec e => (e.Model, $"stages[{i}].model"),
                SemanticDedupStageSpec { Verify: { } v } => (v.Model, $"stages[{i}].verify.model"),
                _ => (null, ""),
            };
            if (model is null) continue;
            foreach (var (file, field) in new[] { (model.ModelPath, "modelPath"), (model.VocabPath, "vocabPath") })
                if (file is not null && FileProblem(file, allowedRoots) is { } problem) errors.Add(new SpecError($"{at}.{field}", problem));
        }
        return errors;
    }

    /// <summary>A local file a job reads (a tokenizer): its real path, every link followed, must lie under an allowed root.</summary>
    private static string? FileProblem(string path, IReadOnlyList<string> allowedRoots) =>
        allowedRoots.Count == 0
            ? "local files are not allowed for submitted jobs (Curation:Api:AllowedRoots is empty)"
            : new AllowedRoots(allowedRoots).Problem(Path.GetFullPath(path));

    private static string? Problem(string path, IReadOnlyList<string> allowedRoots, bool output)
    {
        StoreLocation location;
        try { location = StoreLocation.Parse(path); }
        catch (ArgumentException e) { return e.Message; }
        switch (location.Kind)
        {
            case StoreKind.DataStore:
                var key = location.Prefix.Replace('\\', '/').TrimStart('/');
                if (key.Split('/').Any(s => s is ".." or ".")) return "must not climb out of the data store";
                if (output && (key.Length == 0 || ReservedPrefixes.Any(r => (key + "/").StartsWith(r, StringComparison.Ordinal))))
                    return $"must name a folder of its own in the data store, not its root or {string.Join(", ", ReservedPrefixes)}";
                return null;
            case StoreKind.LocalFolder:
                if (allowedRoots.Count == 0)
                    return "local folders are not allowed for submitted jobs (Curation:Api:AllowedRoots is empty): use a path inside the data store";
                // Checked on the real path: a symbolic link inside a root that leads out of it is refused (the store
                // checks again, on every file, when the job lists, opens and writes them).
                return new AllowedRoots(allowedRoots).Problem(Path.Combine(location.Root, location.Prefix));
            default:
                return null;
        }
    }
}
