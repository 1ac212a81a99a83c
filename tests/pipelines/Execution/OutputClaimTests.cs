using Curation.Pipelines.Execution;
using Curation.Pipelines.Spec;
using Curation.Pipelines.Storage;
using Curation.Testing;

namespace Curation.Pipelines.Tests.Execution;

/// <summary>One running job per output folder (<see cref="OutputClaim"/>), on a real local data store.</summary>
public sealed class OutputClaimTests : IDisposable
{
    private readonly TempDirectory _temp = new("output-claim");

    public void Dispose() => _temp.Dispose();

    private static JobSpec Spec(string output) => new()
    {
        Name = "claim",
        Inputs = [new InputSpec { Path = "/srv/corpus/*.jsonl" }],
        Stages = [],
        Output = new OutputSpec { Path = output },
    };

    private IStoreResolver Stores() => CurationStoreServiceCollectionExtensions.CreateResolver(new CurationStoreOptions { RootPath = _temp.Combine("data") });

    [Fact]
    public async Task Of_jobs_claiming_one_folder_at_once_exactly_one_wins_and_the_others_name_it()
    {
        var stores = Stores();
        async Task<(string Job, string? Error)> ClaimAsync(string job)
        {
            await Task.Yield();
            try
            {
                await OutputClaim.ClaimAsync(Spec("curated/x"), job, stores, (_, _) => Task.FromResult(true));
                return (job, null);
            }
            catch (JobSpecException e)
            {
                return (job, Assert.Single(e.Errors).Message);
            }
        }
        var outcomes = await Task.WhenAll(Enumerable.Range(0, 8).Select(i => Task.Run(() => ClaimAsync($"job-{i}"))));
        var winner = Assert.Single(outcomes, o => o.Error is null).Job;
        Assert.All(outcomes.Where(o => o.Error is not null), o =>
            Assert.Equal($"{stores.DataStore.Location.TrimEnd('/')}/curated/x is being written by job {winner}, which is running: two jobs never write one " +
                         $"output folder; wait for it to finish or cancel it (curate cancel {winner}), or choose another output.path", o.Error));
        // The winner claims again (a resumed run) whoever else is running; the same folder spelt otherwise is the same claim.
        await OutputClaim.ClaimAsync(Spec("data:curated/x/"), winner, stores, (_, _) => Task.FromResult(true));
        await Assert.ThrowsAsync<JobSpecException>(() => OutputClaim.ClaimAsync(Spec("data:/curated/x"), "job-late", stores, (_, _) => Task.FromResult(true)));
        // Another folder is free.
        await OutputClaim.ClaimAsync(Spec("curated/y"), "job-late", stores, (_, _) => Task.FromResult(true));
    }

    [Fact]
    public async Task A_claim_whose_job_has_ended_is_taken_over()
    {
        var stores = Stores();
        await OutputClaim.ClaimAsync(Spec("curated/z"), "job-a", stores, (_, _) => Task.FromResult(false));
        var asked = new List<string>();
        await OutputClaim.ClaimAsync(Spec("curated/z"), "job-b", stores, (id, _) => { asked.Add(id); return Task.FromResult(false); });
        Assert.Equal(["job-a"], asked);
        var (claim, _) = await stores.DataStore.TryReadJsonAsync<OutputClaim.Claim>(OutputClaim.KeyOf(OutputClaim.OutputOf(Spec("curated/z"), stores)));
        Assert.Equal("job-b", claim!.JobId);
        var refused = await Assert.ThrowsAsync<JobSpecException>(() => OutputClaim.ClaimAsync(Spec("curated/z"), "job-a", stores, (_, _) => Task.FromResult(true)));
        Assert.Contains("is being written by job job-b", refused.Message, StringComparison.Ordinal);
    }
}
