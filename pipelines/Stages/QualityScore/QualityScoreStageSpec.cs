using Curation.Pipelines.Spec;

namespace Curation.Pipelines.Stages.QualityScore;

/// <summary>
/// Model-based quality scoring (the approach of the FineWeb-Edu and DCLM classifiers, at one dot product per document):
/// a logistic-regression classifier on the document embeddings, trained by the job itself from labelled examples, scores
/// every document (<c>quality_score</c>, the probability of the positive label) and keeps those at or above
/// <see cref="MinScore"/> and/or the top <see cref="KeepFraction"/> (a global cutoff, ties by id, as d4's).
/// Or, instead of training, any ONNX sequence-classification model by path scores the documents (<see cref="Model"/>).
/// </summary>
[Stage(TypeName, Role = StageRole.Selection)]
public sealed record QualityScoreStageSpec : StageSpec, IThresholdedSpec
{
    public const string TypeName = "quality_score";

    /// <summary>
    /// The labelled examples: a JSONL file, one object per line with <c>text</c> and <c>label</c> (1/0, true/false, or a
    /// string compared with <see cref="PositiveLabel"/>). A path like an input's: relative paths are in the data store,
    /// absolute local paths must lie inside the allowed roots, <c>az://container/key</c> in the configured account.
    /// Embedded with the model of the embed stage before this one. Required unless <see cref="Model"/> is given.
    /// </summary>
    public string? Training { get; init; }

    /// <summary>
    /// Score with this ONNX sequence-classification model instead of training a classifier (no embed stage needed):
    /// <c>modelPath</c>, <c>vocabPath</c>, <c>maxTokens</c>, <c>outputName</c> (<c>logits</c>), <c>label</c>,
    /// <c>sigmoid</c> (<see cref="ScoringModelSpec"/>). Null: train on the embeddings from <see cref="Training"/>.
    /// </summary>
    public ScoringModelSpec? Model { get; init; }

    /// <summary>With string labels: the label of the positive (high-quality) examples; every other string is negative.</summary>
    public string? PositiveLabel { get; init; }

    /// <summary>
    /// Drop documents whose score is below this; null: no fixed threshold. In [0, 1] for a probability (the trained
    /// classifier, a softmax or sigmoid head); any number for a model's raw regression score.
    /// </summary>
    public double? MinScore { get; init; }

    /// <summary>Keep this fraction of the documents reaching the stage, the highest scores (ties by id); null: no cutoff.</summary>
    public double? KeepFraction { get; init; }

    /// <summary>Share of the labelled examples held out (chosen by a seeded hash of the text) to measure accuracy.</summary>
    public double HeldOutFraction { get; init; } = 0.2;

    /// <summary>L2 penalty on the weights (not the bias): the objective is Σ log-loss + λ/2·‖w‖² (scikit-learn's C = 1/λ).</summary>
    public double L2 { get; init; } = 1.0;

    /// <summary>Newton iterations (a fixed count, so the weights never depend on a convergence test's rounding).</summary>
    public int Iterations { get; init; } = 25;

    /// <summary>Most labelled examples read (the training task holds their embeddings in memory); more fails the job.</summary>
    public int MaxExamples { get; init; } = 100_000;

    public override void Validate(StageChecks check)
    {
        if (Model is not null)
        {
            Model.Validate(check, "model");
            check.That(Training is null, "training", "and model are two sources of scores: give one (model scores with the ONNX model, training trains a classifier)");
        }
        else
        {
            check.NeedsEarlier<EmbedStageSpec>(TypeName, "an embed stage");
            check.That(!string.IsNullOrWhiteSpace(Training), "training", "is required: a JSONL file of labelled examples (text, label), or give model");
        }
        if (!string.IsNullOrWhiteSpace(Training))
            foreach (var problem in StoreLocation.Problems(Training, allowGlob: false)) check.That(false, "training", problem);
        check.That(MinScore is not null || KeepFraction is not null, "minScore", "minScore or keepFraction (or both) is required");
        if (Model is null) check.That(MinScore is null or >= 0 and <= 1, "minScore", "must be in [0, 1]");
        else check.That(MinScore is null || double.IsFinite(MinScore.Value), "minScore", "must be a finite number");
        check.That(KeepFraction is null or > 0 and <= 1, "keepFraction", "must be in (0, 1]");
        check.That(HeldOutFraction is >= 0 and < 1, "heldOutFraction", "must be in [0, 1)");
        check.That(L2 is > 0 and < 1e6, "l2", "must be in (0, 1e6)");
        check.That(Iterations is >= 1 and <= 200, "iterations", "must be between 1 and 200");
        check.That(MaxExamples is >= 2 and <= 1_000_000, "maxExamples", "must be between 2 and 1,000,000");
        // A cutoff over this run's documents only would silently ignore the corpus' earlier snapshots.
        check.That(!check.Snapshots || KeepFraction is null, "keepFraction",
            "is not supported with output.snapshots yet (the cutoff cannot rank against the corpus' earlier snapshots); use minScore");
    }

    public override PipelineStage CreateStage(int index) => new QualityScoreStage(index, this);

    /// <summary>
    /// <see cref="MinScore"/>'s measure, recorded over the documents the keepFraction cutoff keeps (it ranks every document
    /// reaching the stage, whatever minScore is); the cutoff is a rank, not a threshold on a measure: no what-if.
    /// </summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public IReadOnlyList<ThresholdMeasure> Thresholds => MinScore is { } min ? [new ThresholdMeasure("minScore", "quality score", min, DropsAbove: false, 0, 1)] : [];

    public StageSpec WithThreshold(string field, double value) => field == "minScore"
        ? this with { MinScore = Model is null ? Math.Clamp(value, 0, 1) : value }
        : throw new ArgumentException($"{TypeName} has no threshold '{field}'.", nameof(field));

    public override IEnumerable<StageFile> FilesRead()
    {
        if (Training is not null) yield return new StageFile("training", Training, StageFileKind.Location);
        foreach (var file in Model?.FilesRead("model") ?? []) yield return file;
    }
}
