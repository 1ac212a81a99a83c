using Curation.Pipelines.Spec;

namespace Curation.Pipelines.Stages;

/// <summary>What decontaminate does to a contaminated document: drops it, or cuts out the overlapping spans.</summary>
public enum DecontaminateMode { Drop, RemoveSpans }

/// <summary>
/// One evaluation set: a JSONL file (a local path inside the allowed roots, a data store key or <c>az://</c>) whose
/// lines are objects with the item's text (and optionally its id; the line number otherwise).
/// </summary>
public sealed record EvaluationSetSpec
{
    /// <summary>The benchmark's name in drop details and the report.</summary>
    public string Name { get; init; } = "";

    public string Path { get; init; } = "";

    public string TextField { get; init; } = "text";

    /// <summary>The item id's field (string or number); an item without it is named by its line number (1-based).</summary>
    public string IdField { get; init; } = "id";
}

/// <summary>
/// Benchmark decontamination: the evaluation sets' n-grams (<see cref="Ngram"/> words after normalisation; characters
/// in scripts written without spaces: Han, kana, Thai, …) are indexed once per job, partitioned by n-gram hash; a
/// document sharing at least <see cref="MinMatches"/> distinct n-grams with an item, or at least <see cref="MinFraction"/>
/// of the item's n-grams, is contaminated by it: dropped (<c>contaminated</c>, naming benchmark, item and the matched
/// n-grams) or, in <c>remove_spans</c> mode, stripped of the overlapping spans.
/// </summary>
[Stage(TypeName, Role = StageRole.Filter)]
public sealed record DecontaminateStageSpec : StageSpec
{
    public const string TypeName = "decontaminate";

    public IReadOnlyList<EvaluationSetSpec> Benchmarks { get; init; } = [];

    /// <summary>Tokens per n-gram (13, as GPT-3 and its successors used); an item with fewer tokens is not indexed (reported).</summary>
    public int Ngram { get; init; } = 13;

    /// <summary>Distinct n-grams shared with one item that make a document contaminated; null: only <see cref="MinFraction"/> counts.</summary>
    public int? MinMatches { get; init; } = 1;

    /// <summary>Share of one item's n-grams found in a document that makes it contaminated; null (the default): only <see cref="MinMatches"/> counts.</summary>
    public double? MinFraction { get; init; }

    public DecontaminateMode Mode { get; init; } = DecontaminateMode.Drop;

    /// <summary>Hash partitions of the n-gram index, each built by its own task.</summary>
    public int Partitions { get; init; } = 16;

    public override void Validate(StageChecks check)
    {
        check.That(Benchmarks.Count > 0, "benchmarks", "name at least one evaluation set ({\"name\", \"path\"} of a JSONL file)");
        check.ListLength(Benchmarks, "benchmarks");
        for (var i = 0; i < Benchmarks.Count; i++)
        {
            var b = Benchmarks[i];
            check.That(!string.IsNullOrWhiteSpace(b.Name), $"benchmarks[{i}].name", "is required");
            check.That(Benchmarks.Take(i).All(o => o.Name != b.Name), $"benchmarks[{i}].name", $"'{b.Name}' is named twice");
            check.That(!string.IsNullOrWhiteSpace(b.TextField), $"benchmarks[{i}].textField", "is required");
            var problems = string.IsNullOrWhiteSpace(b.Path) ? ["is required"] : StoreLocation.Problems(b.Path, allowGlob: false);
            foreach (var problem in problems) check.That(false, $"benchmarks[{i}].path", problem);
        }
        check.That(Ngram is >= 1 and <= 64, "ngram", "must be between 1 and 64");
        check.That(MinMatches is null or >= 1, "minMatches", "must be ≥ 1 (or null to use minFraction only)");
        check.That(MinFraction is null or (> 0 and <= 1), "minFraction", "must be in (0, 1]");
        check.That(MinMatches is not null || MinFraction is not null, "minMatches", "minMatches and minFraction are both null: nothing could ever match");
        check.That(Enum.IsDefined(Mode), "mode", "must be drop or remove_spans");
        check.That(Partitions is >= 1 and <= 4096, "partitions", "must be between 1 and 4096");
    }

    public override PipelineStage CreateStage(int index) => new DecontaminateStage(index, this);

    public override IEnumerable<StageFile> FilesRead() =>
        Benchmarks.Select((b, i) => new StageFile($"benchmarks[{i}].path", b.Path, StageFileKind.Location)).Where(f => !string.IsNullOrWhiteSpace(f.Path));
}
