using Curation.Pipelines.Spec;
using Curation.Pipelines.Storage;

namespace Curation.Pipelines.Execution;

/// <summary>
/// How a job's inputs differ now from the objects it planned: changed (same name, another version), new and gone
/// objects. A completed job is shown, not run again, when its spec is run again: with changed inputs, the result shown
/// is of the objects it read then, which the CLI says.
/// </summary>
public sealed record InputChanges(int Changed, int Added, int Gone, IReadOnlyList<string> Examples)
{
    /// <summary>Objects named in <see cref="Examples"/> at most.</summary>
    public const int MaxExamples = 3;

    public bool Any => Changed + Added + Gone > 0;

    /// <summary>The planned objects (each once, however many parts it was split into) against the objects listed now.</summary>
    public static InputChanges Between(JobPlan plan, IEnumerable<PlannedObject> now)
    {
        ArgumentNullException.ThrowIfNull(plan);
        var planned = new Dictionary<(int, string), PlannedObject>();
        foreach (var obj in plan.Shards.SelectMany(s => s.Objects)) planned.TryAdd((obj.Input, obj.Source), obj);
        var examples = new List<string>();
        var (changed, added) = (0, 0);
        var seen = new HashSet<(int, string)>();
        foreach (var obj in now)
        {
            seen.Add((obj.Input, obj.Source));
            if (!planned.TryGetValue((obj.Input, obj.Source), out var before)) { added++; Example($"{obj.Source} (new)"); }
            else if (before.ETag != obj.ETag || before.Size != obj.Size) { changed++; Example($"{obj.Source} (changed)"); }
        }
        var gone = 0;
        foreach (var key in planned.Keys.Where(k => !seen.Contains(k)).OrderBy(k => k.Item1).ThenBy(k => k.Item2, StringComparer.Ordinal))
        {
            gone++;
            Example($"{key.Item2} (gone)");
        }
        return new InputChanges(changed, added, gone, examples);

        void Example(string text)
        {
            if (examples.Count < MaxExamples) examples.Add(text);
        }
    }

    /// <summary>How the inputs of job <paramref name="jobId"/> changed since it was planned; null when its plan is gone.</summary>
    public static async Task<InputChanges?> SinceAsync(string jobId, JobSpec spec, IStoreResolver stores, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(stores);
        var (plan, _) = await stores.DataStore.TryReadJsonAsync<JobPlan>(new JobLayout(jobId).PlanKey, cancellationToken: cancellationToken).ConfigureAwait(false);
        if (plan is null) return null;
        var (objects, _) = await JobPlanner.ListInputsAsync(spec, stores, cancellationToken).ConfigureAwait(false);
        return Between(plan, objects);
    }

    public override string ToString()
    {
        var parts = new List<string>();
        if (Changed > 0) parts.Add($"{Changed:N0} changed");
        if (Added > 0) parts.Add($"{Added:N0} new");
        if (Gone > 0) parts.Add($"{Gone:N0} gone");
        var total = Changed + Added + Gone;
        return $"{string.Join(", ", parts)} input object{(total == 1 ? "" : "s")}: {string.Join(", ", Examples)}{(total > Examples.Count ? ", …" : "")}";
    }
}
