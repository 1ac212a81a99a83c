using Curation.Pipelines.Spec;

namespace Curation.Pipelines.Stages;

/// <summary>The stages of a job: read, then the spec's stages in order, then the output writer.</summary>
public static class StageCatalog
{
    /// <summary>
    /// Bump when any stage writes different bytes for the same input and spec: it is part of every job id, so
    /// resumed jobs never mix outputs of two releases.
    /// </summary>
    public const int OutputFormatVersion = 5;   // 3: input fields passed through (metadata columns); 4: routed shuffles with a side index (RoutedIndex); 5: k-means partials per assign task (a run of shards)

    public static IReadOnlyList<PipelineStage> Build(JobSpec spec)
    {
        var stages = new List<PipelineStage> { new ReadStage() };
        foreach (var stageSpec in spec.Stages) stages.Add(stageSpec.CreateStage(stages.Count));
        stages.Add(new OutputStage(stages.Count));
        return stages;
    }
}
