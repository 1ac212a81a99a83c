using System.Runtime.ExceptionServices;
using Curation.Pipelines.Execution;
using Curation.Pipelines.Spec;
using Curation.Pipelines.Storage;

namespace Curation.Testing;

/// <summary>Runs a job's tasks in this process with the coordinators' <see cref="JobRunner"/>: pure-stage tests without Orleans.</summary>
public static class InProcessJob
{
    /// <param name="maxPhases">Stop after this many phases (an interrupted run); null runs the whole job.</param>
    public static async Task<JobContext> RunAsync(JobSpec spec, IStoreResolver stores, StageServices services, int parallelism = 2, int? maxPhases = null)
    {
        var job = await JobContext.CreateOrLoadAsync(spec, stores);
        try
        {
            await new JobRunner(job, new LocalTaskDispatcher(job, services), JobRunnerOptions.Local(parallelism)).RunAsync(CancellationToken.None, maxPhases);
        }
        catch (TaskFailedException e) when (e.InnerException is { } cause)
        {
            // One attempt per task here: the task's own error is what a test of a failing stage looks at.
            ExceptionDispatchInfo.Throw(cause);
        }
        return job;
    }
}
