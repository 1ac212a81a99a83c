using Curation.Pipelines.Spec;
using Curation.Pipelines.Stages;

namespace Curation.Pipelines.Execution;

/// <summary>
/// The work a spec implies — tasks per phase, tasks and phases per job — checked against <see cref="JobLimits"/>.
/// Before planning, shard phases count one task (the shard count is not known yet), so what partitions and rounds
/// imply is refused at validation; after planning the real shard count is checked.
/// </summary>
public static class JobBudget
{
    /// <summary>Problems of a spec's phases over its (planned, or one-shard) plan; each names the field that drives the count.</summary>
    public static IReadOnlyList<SpecError> Check(JobSpec spec, JobPlan plan, JobLimits limits)
    {
        var errors = new List<SpecError>();
        var stages = StageCatalog.Build(spec);
        long totalTasks = 0;
        var totalPhases = 0;
        var heaviest = (Field: "stages", Tasks: -1L);
        foreach (var stage in stages)
        {
            long stageTasks = 0;
            foreach (var phase in stage.Phases(plan))
            {
                totalPhases++;
                stageTasks += phase.TaskCount;
                if (phase.TaskCount > limits.MaxTasksPerPhase)
                {
                    var field = FieldOf(stage, phase);
                    if (errors.All(e => e.Field != field))
                        errors.Add(new SpecError(field, $"phase {stage.Folder}/{phase.Name} plans {phase.TaskCount:N0} tasks; a phase may plan at most " +
                                                        $"{limits.MaxTasksPerPhase:N0} ({JobLimits.Section}:{nameof(JobLimits.MaxTasksPerPhase)})"));
                }
            }
            totalTasks += stageTasks;
            if (stageTasks > heaviest.Tasks) heaviest = (StageField(stage), stageTasks);
        }
        if (totalTasks > limits.MaxTasksPerJob)
            errors.Add(new SpecError(heaviest.Field, $"the job plans {totalTasks:N0} tasks ({heaviest.Tasks:N0} in this stage); a job may plan at most " +
                                                     $"{limits.MaxTasksPerJob:N0} ({JobLimits.Section}:{nameof(JobLimits.MaxTasksPerJob)}): fewer partitions, rounds or iterations, or larger shards"));
        if (totalPhases > limits.MaxPhasesPerJob)
            errors.Add(new SpecError("stages", $"the job has {totalPhases:N0} phases; a job may have at most {limits.MaxPhasesPerJob:N0} " +
                                               $"({JobLimits.Section}:{nameof(JobLimits.MaxPhasesPerJob)}): fewer stages, rounds or iterations"));
        return errors;
    }

    /// <summary>Tasks and phases of the job with this plan (for reports and benchmarks).</summary>
    public static (long Tasks, int Phases) Count(JobSpec spec, JobPlan plan)
    {
        var phases = StageCatalog.Build(spec).SelectMany(s => s.Phases(plan)).ToList();
        return (phases.Sum(p => (long)p.TaskCount), phases.Count);
    }

    /// <summary>A plan of one shard: what validation counts before the shards are known.</summary>
    public static JobPlan OneShardPlan() => new("validation", [new PlannedShard(0, [])]);

    private static string StageField(PipelineStage stage) =>
        stage is ReadStage or OutputStage ? "sharding.targetShardBytes" : $"stages[{stage.Index - 1}]";

    private static string FieldOf(PipelineStage stage, PhaseInfo phase) => phase.Scope switch
    {
        TaskScope.Shard => "sharding.targetShardBytes",
        TaskScope.Partition => $"stages[{stage.Index - 1}].partitions",
        _ => StageField(stage),
    };
}
