using Curation.Pipelines.Execution;
using Curation.Pipelines.Storage;

namespace Curation.Pipelines.Stages.QualityScore;

/// <summary>
/// quality_score (<see cref="QualityScoreStageSpec"/>), one small file per phase:
/// <list type="number">
/// <item><b>train</b> (one task, on a silo with the embed role): embeds the labelled examples with the embed stage's
/// model, fits the classifier on a seeded split and measures it on the held-out part (<see cref="TrainPhase"/>);
/// writes <c>classifier.json</c>, create-once;</item>
/// <item><b>score</b> (per shard): one dot product per document on the embeddings the embed stage wrote
/// (<see cref="ScorePhase"/>);</item>
/// <item>with <c>keepFraction</c>: the global cutoff's rounds (<see cref="GlobalCutoffPhases"/>, as d4), ranking by the
/// logit (the score does not saturate there), ties by id;</item>
/// <item><b>apply</b> (per shard): writes <c>quality_score</c> and drops <c>low_quality_score</c> (<see cref="ApplyPhase"/>);</item>
/// <item><b>report</b>: score histogram, per-source means, the classifier's held-out accuracy (<see cref="ReportPhase"/>).</item>
/// </list>
/// With a <c>model</c> (<see cref="ScoringModelSpec"/>) instead of training examples, <b>inspect</b> (one task, embed
/// role) loads the model and records its head (<see cref="InspectPhase"/>) in place of train, and <b>score</b> runs the
/// model on the shard's texts (<see cref="ModelScorePhase"/>, embed role); the rest is the same.
/// </summary>
public sealed class QualityScoreStage : PipelineStage
{
    public const string ScoreColumn = "quality_score";
    public const string LowScoreReason = "low_quality_score";

    internal const string TrainPhaseName = "train";
    internal const string InspectPhaseName = "inspect";
    internal const string ScorePhaseName = "score";
    internal const string ApplyPhaseName = "apply";
    internal const string ReportPhaseName = "report";

    /// <summary>The scores table's columns beside the id.</summary>
    internal const string LogitColumn = "logit";
    internal const string ScoreValueColumn = "score";

    public QualityScoreStage(int index, QualityScoreStageSpec spec) : base(index)
    {
        Spec = spec;
        Cutoff = spec.KeepFraction is { } keep ? new GlobalCutoffPhases(this, keep, LogitColumn, ScoresKey) : null;
    }

    public QualityScoreStageSpec Spec { get; }

    /// <summary>The keepFraction cutoff's rounds; null without keepFraction.</summary>
    internal GlobalCutoffPhases? Cutoff { get; }

    public override string Name => QualityScoreStageSpec.TypeName;

    protected override IReadOnlyList<StagePhase> DeclarePhases(JobPlan plan) =>
    [
        Spec.Model is null
            ? new(TrainPhaseName, TaskScope.Single, 1, (task, ct) => TrainPhase.RunAsync(this, task, ct), requiredRole: EmbedStage.RequiredRole)
            : new(InspectPhaseName, TaskScope.Single, 1, (task, ct) => InspectPhase.RunAsync(this, task, ct), requiredRole: EmbedStage.RequiredRole),
        Spec.Model is null
            ? new(ScorePhaseName, TaskScope.Shard, plan.ShardCount, (task, ct) => ScorePhase.RunAsync(this, task, ct))
            : new(ScorePhaseName, TaskScope.Shard, plan.ShardCount, (task, ct) => ModelScorePhase.RunAsync(this, task, ct), requiredRole: EmbedStage.RequiredRole),
        .. Cutoff is null ? [] : Cutoff.Declare(plan),
        new(ApplyPhaseName, TaskScope.Shard, plan.ShardCount, (task, ct) => ApplyPhase.RunAsync(this, task, ct), producesShardOutput: true),
        new(ReportPhaseName, TaskScope.Single, 1, (task, ct) => ReportPhase.RunAsync(this, task, ct)),
    ];

    internal string Key(TaskContext task, string relative) => task.Job.Layout.StageRoot(Index, Name) + relative;

    internal string ShardKey(TaskContext task, string folder, int shard, string extension) => Key(task, $"{folder}/{JobLayout.ShardName(shard)}.{extension}");

    internal string ClassifierKey(TaskContext task) => Key(task, "classifier.json");

    internal string ScoresKey(TaskContext task, int shard) => ShardKey(task, "scores", shard, "parquet");

    internal async Task<TrainedClassifier> ReadClassifierAsync(TaskContext task, CancellationToken cancellationToken) =>
        (await task.Job.Data.TryReadJsonAsync<TrainedClassifier>(ClassifierKey(task), CurationJson.Options, cancellationToken).ConfigureAwait(false)).Value
        ?? throw new InvalidOperationException($"{this}: classifier.json is missing (the {(Spec.Model is null ? TrainPhaseName : InspectPhaseName)} phase has not run).");
}
