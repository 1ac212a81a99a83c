using Curation.Pipelines.Spec;
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
        // Whatever else a stage reads (models, tokenizers, blocklists, labelled examples, evaluation sets), as it declares it.
        for (var i = 0; i < spec.Stages.Count; i++)
            foreach (var file in spec.Stages[i].FilesRead())
                if ((file.Kind == StageFileKind.File ? FileProblem(file.Path, allowedRoots) : Problem(file.Path, allowedRoots, output: false)) is { } problem)
                    errors.Add(new SpecError($"stages[{i}].{file.Field}", problem));
        return errors;
    }

    /// <summary>A local file a job reads (a tokenizer): its real path, every link followed, must lie under an allowed root.</summary>
    private static string? FileProblem(string path, IReadOnlyList<string> allowedRoots) =>
        allowedRoots.Count == 0
            ? $"'{path}' is a local file, and this cluster lets submitted jobs read none (Curation:Api:AllowedRoots is empty): " +
              "list its folder in Curation:Api:AllowedRoots"
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
                    return $"'{path}' is a local folder, and this cluster lets submitted jobs use none (Curation:Api:AllowedRoots is empty): " +
                           $"name a path in its data store, e.g. '{StoreLocation.DataPrefix}corpus/*.jsonl' (the CLI makes plain relative paths " +
                           "absolute against the job file), or list the folder in AllowedRoots";
                // Checked on the real path: a symbolic link inside a root that leads out of it is refused (the store
                // checks again, on every file, when the job lists, opens and writes them).
                return new AllowedRoots(allowedRoots).Problem(Path.Combine(location.Root, location.Prefix));
            default:
                return null;
        }
    }
}
