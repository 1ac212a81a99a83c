using System.Collections.Frozen;
using System.Reflection;
using System.Text.Json.Serialization.Metadata;
using Curation.Pipelines.Spec;

namespace Curation.Pipelines.Stages;

/// <summary>What a stage does to the document count, for the funnel (API, dashboard, corpus report).</summary>
public enum StageRole
{
    /// <summary>Rewrites documents; drops only what it cannot use (normalize, extract, tokenize, embed).</summary>
    Transform,

    /// <summary>Drops documents by a measure of the document itself (quality rules, language); each shows in the funnel by name.</summary>
    Filter,

    /// <summary>Removes exact copies.</summary>
    ExactDedup,

    /// <summary>Removes near duplicates (MinHash LSH).</summary>
    NearDedup,

    /// <summary>Removes semantic duplicates (embedding similarity).</summary>
    SemanticDedup,

    /// <summary>Selects a subset by a global rule (D4 diversification, score cut-offs).</summary>
    Selection,
}

/// <summary>
/// Declares a stage: put it on the stage's spec record (a <see cref="StageSpec"/>), which also validates its own fields
/// (<see cref="StageSpec.Validate"/>) and creates the stage (<see cref="StageSpec.CreateStage"/>). That record is the only
/// place a stage is registered: the JSON <c>type</c>, validation, <see cref="StageCatalog"/> and the funnel all find it
/// through <see cref="StageRegistry"/>.
/// </summary>
[AttributeUsage(AttributeTargets.Class, Inherited = false)]
public sealed class StageAttribute(string type) : Attribute
{
    /// <summary>The spec's <c>type</c> and the stage's name in folders, books and drops (snake_case).</summary>
    public string Type { get; } = type;

    public StageRole Role { get; init; } = StageRole.Transform;
}

/// <summary>One registered stage: its spec type, JSON <c>type</c> and funnel role.</summary>
public sealed record StageDescriptor(Type SpecType, string Type, StageRole Role)
{
    /// <summary>The funnel step after this stage: a filter by its own name, a dedup by its kind; null: not a funnel step.</summary>
    public string? FunnelStep => Role switch
    {
        StageRole.Filter => Type,
        StageRole.ExactDedup => "exact",
        StageRole.NearDedup => "near",
        StageRole.SemanticDedup => "semantic",
        StageRole.Selection => Type,
        _ => null,
    };
}

/// <summary>
/// Every stage of the product, found once from the <see cref="StageAttribute"/>s of the <see cref="StageSpec"/> records in
/// this assembly (ordinal order of <c>type</c>, so JSON metadata never depends on reflection order).
/// </summary>
public static class StageRegistry
{
    private static readonly StageDescriptor[] Descriptors = Discover();
    private static readonly FrozenDictionary<Type, StageDescriptor> BySpecType = Descriptors.ToFrozenDictionary(d => d.SpecType);
    private static readonly FrozenDictionary<string, StageDescriptor> ByType = Descriptors.ToFrozenDictionary(d => d.Type, StringComparer.Ordinal);

    public static IReadOnlyList<StageDescriptor> All => Descriptors;

    /// <summary>The descriptor of a spec record type; throws when the record has no <see cref="StageAttribute"/>.</summary>
    public static StageDescriptor Of(Type specType) => BySpecType.TryGetValue(specType, out var d)
        ? d
        : throw new InvalidOperationException($"{specType.Name} is a StageSpec without a [Stage(\"type\")] attribute.");

    /// <summary>The stage whose JSON <c>type</c> is <paramref name="type"/>, or null.</summary>
    public static StageDescriptor? Find(string type) => ByType.GetValueOrDefault(type);

    /// <summary>
    /// The stage named by a books or folder entry (<c>02-quality_filter</c> or <c>quality_filter</c>), or null.
    /// </summary>
    public static StageDescriptor? FindByStageName(string stage)
    {
        var dash = stage.IndexOf('-');
        if (Find(stage) is { } exact) return exact;
        return dash > 0 && stage[..dash].All(char.IsAsciiDigit) ? Find(stage[(dash + 1)..]) : null;
    }

    /// <summary>
    /// JSON contract modifier (in <see cref="CurationJson"/>'s options): makes every registered spec a derived type of
    /// <see cref="StageSpec"/> under its <c>type</c>.
    /// </summary>
    public static void AddDerivedTypes(JsonTypeInfo info)
    {
        if (info.Type != typeof(StageSpec)) return;
        info.PolymorphismOptions ??= new JsonPolymorphismOptions();
        info.PolymorphismOptions.TypeDiscriminatorPropertyName = "type";
        info.PolymorphismOptions.UnknownDerivedTypeHandling = System.Text.Json.Serialization.JsonUnknownDerivedTypeHandling.FailSerialization;
        foreach (var d in Descriptors) info.PolymorphismOptions.DerivedTypes.Add(new JsonDerivedType(d.SpecType, d.Type));
    }

    private static StageDescriptor[] Discover()
    {
        var found = typeof(StageSpec).Assembly.GetTypes()
            .Where(t => t.IsSubclassOf(typeof(StageSpec)) && !t.IsAbstract)
            .Select(t => t.GetCustomAttribute<StageAttribute>() is { } a
                ? new StageDescriptor(t, a.Type, a.Role)
                : throw new InvalidOperationException($"{t.FullName} is a StageSpec without a [Stage(\"type\")] attribute."))
            .OrderBy(d => d.Type, StringComparer.Ordinal)
            .ToArray();
        var clash = found.GroupBy(d => d.Type).FirstOrDefault(g => g.Count() > 1);
        if (clash is not null) throw new InvalidOperationException($"Stage type '{clash.Key}' is declared by {string.Join(" and ", clash.Select(d => d.SpecType.Name))}.");
        return found;
    }
}

/// <summary>
/// What a stage's <see cref="StageSpec.Validate"/> sees: the job around it, the limits, and <see cref="That"/> to report a
/// problem with a field of the stage (the error names <c>stages[i].field</c>).
/// </summary>
public sealed class StageChecks(string at, int position, IReadOnlyList<StageSpec> stages, OutputSpec? output, JobLimits limits, List<SpecError> errors)
{
    /// <summary>The stage's JSON path (<c>stages[3]</c>).</summary>
    public string At => at;

    public JobLimits Limits => limits;

    public OutputSpec? Output => output;

    /// <summary>The output is a versioned corpus (a refresh): stages that cannot work against earlier snapshots refuse it.</summary>
    public bool Snapshots => output?.Snapshots == true;

    /// <summary>The stages before this one, in order.</summary>
    public IEnumerable<StageSpec> Earlier => stages.Take(position);

    /// <summary>Reports <paramref name="message"/> about <paramref name="field"/> (camelCase, relative to the stage) unless <paramref name="ok"/>.</summary>
    public void That(bool ok, string field, string message)
    {
        if (!ok) errors.Add(new SpecError($"{at}.{field}", message));
    }

    /// <summary>Requires an earlier stage of type <typeparamref name="T"/>.</summary>
    public void NeedsEarlier<T>(string type, string needed) where T : StageSpec =>
        That(Earlier.Any(s => s is T), "type", $"{type} needs {needed} before it");

    public void Model(ModelSpec model, string field)
    {
        That(model.MaxTokens is >= 16 and <= 8192, $"{field}.maxTokens", "must be between 16 and 8192");
        That((model.ModelPath is null) == (model.VocabPath is null), $"{field}.modelPath",
            "modelPath and vocabPath go together (both null = the shipped all-MiniLM-L6-v2)");
        That(!string.IsNullOrWhiteSpace(model.OutputName), $"{field}.outputName", "is required");
        That(Enum.IsDefined(model.Kind), $"{field}.kind", "must be transformer, static or input_mean");
        That(model.Kind != ModelKind.Static || model.Dims is >= 8 and <= 4096, $"{field}.dims", "must be between 8 and the model's dimensions (at most 4096)");
    }

    public void Clustering(IClusteringSpec c)
    {
        That(c.Clusters >= 1 && c.Clusters <= limits.MaxClusters, "clusters",
            $"must be between 1 and {limits.MaxClusters:N0} ({JobLimits.Section}:{nameof(JobLimits.MaxClusters)})");
        That(c.MaxIterations is >= 1 and <= 1000, "maxIterations", "must be between 1 and 1000");
        That(c.Tolerance >= 0, "tolerance", "must be ≥ 0");
        That(c.InitSampleFraction is > 0 and <= 1, "initSampleFraction", "must be in (0, 1]");
        That(c.InitSampleMax is null || (c.InitSampleMax >= 1 && c.InitSampleMax <= limits.MaxInitSampleVectors), "initSampleMax",
            $"must be between 1 and {limits.MaxInitSampleVectors:N0} ({JobLimits.Section}:{nameof(JobLimits.MaxInitSampleVectors)})");
        // k-means++ seeds each cluster with a distinct sample vector: a sample bounded below the clusters would silently fit fewer.
        if (c.Clusters >= 1 && c.Clusters <= limits.MaxClusters && c.InitSampleMax is null or >= 1)
        {
            var sampleMax = c.InitSampleMax ?? Semantic.KMeansInitSample.DefaultMaxVectors;
            if (c.InitSampleMax is null)
                That(c.Clusters <= sampleMax, "clusters", $"must be at most the initialisation sample's default {sampleMax:N0} vectors (set initSampleMax)");
            else That(c.Clusters <= sampleMax, "initSampleMax", $"must be at least clusters ({c.Clusters:N0}): k-means++ seeds each cluster with a distinct sample vector");
        }
    }

    /// <summary>A list-valued parameter: at most <see cref="JobLimits.MaxListLength"/> entries.</summary>
    public void ListLength<T>(IReadOnlyCollection<T>? list, string field) =>
        That(list is null || list.Count <= limits.MaxListLength, field,
            $"may hold at most {limits.MaxListLength:N0} values, not {list?.Count:N0} ({JobLimits.Section}:{nameof(JobLimits.MaxListLength)})");
}
