using Curation.Pipelines.Execution;
using Curation.Pipelines.Spec;
using Curation.Pipelines.Storage;

namespace Curation.Testing;

/// <summary>Runs a job's tasks in this process, phase by phase, as the coordinator would: pure-stage tests without Orleans.</summary>
public static class InProcessJob
{
    /// <param name="maxPhases">Stop after this many phases (an interrupted run); null runs the whole job.</param>
    public static async Task<JobContext> RunAsync(JobSpec spec, IStoreResolver stores, StageServices services, int parallelism = 2, int? maxPhases = null)
    {
        var job = await JobContext.CreateOrLoadAsync(spec, stores);
        foreach (var (stage, phase) in job.Phases().Take(maxPhases ?? int.MaxValue))
        {
            if (await stage.SkipsPhaseAsync(job, phase, CancellationToken.None)) continue;
            await Parallel.ForEachAsync(Enumerable.Range(0, phase.TaskCount), new ParallelOptions { MaxDegreeOfParallelism = parallelism },
                async (task, ct) => await JobExecutor.RunTaskAsync(job, stage.Index, phase.Name, task, services, ct));
        }
        return job;
    }
}
