using Curation.Pipelines.Spec;

namespace Curation.Pipelines.Stages;

/// <summary>The stages of a job: read, then the spec's stages in order, then the output writer.</summary>
public static class StageCatalog
{
    /// <summary>
    /// Bump when any stage writes different bytes for the same input and spec: it is part of every job id, so
    /// resumed jobs never mix outputs of two releases.
    /// </summary>
    public const int OutputFormatVersion = 3;   // 3: input fields passed through (metadata columns)

    public static IReadOnlyList<PipelineStage> Build(JobSpec spec)
    {
        var stages = new List<PipelineStage> { new ReadStage() };
        foreach (var stageSpec in spec.Stages)
        {
            var index = stages.Count;
            stages.Add(stageSpec switch
            {
                NormalizeStageSpec s => new DocumentStage(index, s.Type, new NormalizeTransform(s)),
                ExtractStageSpec s => new DocumentStage(index, s.Type, new ExtractTransform(s)),
                QualityFilterStageSpec s => new DocumentStage(index, s.Type, new QualityFilterTransform(s)),
                ExactDedupStageSpec s => new ExactDedupStage(index, s),
                NearDedupStageSpec s => new NearDedupStage(index, s),
                TokenizeStageSpec s => new TokenizeStage(index, s),
                TrainTokenizeStageSpec s => new TrainTokenizeStage(index, s),
                EmbedStageSpec s => new EmbedStage(index, s),
                SemanticDedupStageSpec s => new SemanticDedupStage(index, s),
                D4StageSpec s => new D4Stage(index, s),
                _ => throw new NotSupportedException($"stages[{index - 1}]: stage type '{stageSpec.Type}' has no implementation."),
            });
        }
        stages.Add(new OutputStage(stages.Count));
        return stages;
    }
}
