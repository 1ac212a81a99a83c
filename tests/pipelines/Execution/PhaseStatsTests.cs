using Curation.Pipelines.Execution;
using Curation.Pipelines.Spec;
using Curation.Pipelines.Storage;
using Curation.Testing;

namespace Curation.Pipelines.Tests.Execution;

/// <summary>
/// <see cref="JobContext.PhaseStatsAsync"/> reads many stats objects at once: the stats still come back in task order, and a
/// phase with unfinished tasks fails naming the first of them, whatever order the reads finish in.
/// </summary>
public sealed class PhaseStatsTests : IDisposable
{
    private readonly TempDirectory _temp = new("phase-stats");

    public void Dispose() => _temp.Dispose();

    private async Task<JobContext> JobAsync()
    {
        var input = _temp.Combine("corpus");
        Directory.CreateDirectory(input);
        await File.WriteAllLinesAsync(Path.Combine(input, "a.jsonl"), Enumerable.Range(0, 5).Select(i => $$"""{"id":"d{{i}}","text":"document number {{i}}"}"""));
        var spec = new JobSpec
        {
            Name = "phase-stats",
            Inputs = [new InputSpec { Path = Path.Combine(input, "*.jsonl"), IdField = "id" }],
            Stages = [new ExactDedupStageSpec { Partitions = 40 }],
            Output = new OutputSpec { Path = "curated/phase-stats" },
        };
        return await JobContext.CreateOrLoadAsync(spec, CurationStoreServiceCollectionExtensions.CreateResolver(new CurationStoreOptions { RootPath = _temp.Combine("data") }));
    }

    [Fact]
    public async Task Stats_of_many_tasks_come_back_in_task_order_and_a_missing_task_is_named()
    {
        var job = await JobAsync();
        var stage = job.Stages[1];
        const string phase = "resolve";
        const int tasks = 40;
        foreach (var t in Enumerable.Range(0, tasks).Reverse().Where(t => t is not 7 and not 23))
            await job.Data.WriteJsonAsync(job.Layout.TaskStats(stage.Index, stage.Name, phase, t), new TaskStats { In = 1000 + t, Kept = t }, WriteCondition.CreateOnly);

        var missing = await Assert.ThrowsAsync<InvalidOperationException>(() => job.PhaseStatsAsync(stage, phase, tasks, CancellationToken.None));
        Assert.Contains("task 7 has not finished", missing.Message, StringComparison.Ordinal);

        foreach (var t in new[] { 23, 7 })
            await job.Data.WriteJsonAsync(job.Layout.TaskStats(stage.Index, stage.Name, phase, t), new TaskStats { In = 1000 + t, Kept = t }, WriteCondition.CreateOnly);
        var stats = await job.PhaseStatsAsync(stage, phase, tasks, CancellationToken.None);
        Assert.Equal(Enumerable.Range(0, tasks).Select(t => 1000L + t), stats.Select(s => s.In));
        Assert.Equal(Enumerable.Range(0, tasks).Select(t => (long)t), stats.Select(s => s.Kept));
    }
}
