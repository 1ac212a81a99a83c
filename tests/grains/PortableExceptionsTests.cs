using Curation.Grains.Hosting;
using Curation.Pipelines.Execution;
using Curation.Pipelines.Spec;
using Curation.Pipelines.Stages;
using Curation.Pipelines.Storage;
using Curation.Testing;

namespace Curation.Grains.Tests;

/// <summary>
/// A grain's own error reaches a caller outside its silo (here the cluster client) with its message and a type the caller
/// can catch. Before <c>PortableExceptionsFilter</c>, Orleans could not serialize the library's exception types and the
/// caller got <c>CodecNotFoundException: Could not find a codec for type Curation.Pipelines.Spec.JobSpecException</c>.
/// </summary>
public sealed class PortableExceptionsTests : IDisposable
{
    private readonly TempDirectory _temp = new("portable-errors");

    public void Dispose() => _temp.Dispose();

    private IStoreResolver Stores() =>
        CurationStoreServiceCollectionExtensions.CreateResolver(new CurationStoreOptions { RootPath = _temp.Combine("data") });

    private static JobSpec TooManyStages() => new()
    {
        Name = "too-many",
        Inputs = [new InputSpec { Path = "/corpus/*.jsonl" }],
        Stages = [.. Enumerable.Range(0, JobLimits.Default.MaxStages + 1).Select(_ => (StageSpec)new NormalizeStageSpec())],
        Output = new OutputSpec { Path = "curated/too-many" },
    };

    [Fact]
    public async Task A_spec_a_job_grain_refuses_reaches_a_client_as_an_argument_error_naming_the_field()
    {
        await using var cluster = await CurationCluster.StartAsync(3, Stores);
        var spec = TooManyStages();
        var error = await Assert.ThrowsAsync<ArgumentException>(() => cluster.Client.GetGrain<IJobGrain>(JobContext.JobIdOf(spec)).Submit(spec.ToJson()));

        Assert.Contains("stages", error.Message, StringComparison.Ordinal);
        Assert.Contains($"{JobLimits.Default.MaxStages}", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("codec", error.Message, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task A_schedule_a_schedule_grain_refuses_reaches_a_client_naming_each_problem()
    {
        await using var cluster = await CurationCluster.StartAsync(1, Stores);
        var definition = new ScheduleDefinition { SpecJson = TooManyStages().ToJson(), Cron = "61 * * * *", TimeZone = "Mars/Olympus" };
        var error = await Assert.ThrowsAsync<ArgumentException>(() => cluster.Client.GetGrain<IScheduleGrain>("nightly").Put(definition));

        Assert.Contains("cron", error.Message, StringComparison.Ordinal);
        Assert.Contains("timeZone", error.Message, StringComparison.Ordinal);
        Assert.Contains("spec.stages", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Only_the_products_own_errors_are_rewritten_and_their_messages_are_kept()
    {
        var store = new ObjectNotFoundException("data", "jobs/x/plan.json");
        Assert.True(PortableExceptionsFilter.HasOwnType(store));
        Assert.True(PortableExceptionsFilter.HasOwnType(new IOException("wrapped", store)));
        Assert.False(PortableExceptionsFilter.HasOwnType(new IOException("disk", new TimeoutException())));

        var portable = PortableExceptionsFilter.Portable(new IOException("reading the plan failed", store));
        Assert.IsType<InvalidOperationException>(portable);
        Assert.Equal(JobRunner.Describe(new IOException("reading the plan failed", store)), portable.Message);
        Assert.StartsWith("System", portable.GetType().Namespace, StringComparison.Ordinal);
        Assert.IsType<ArgumentException>(PortableExceptionsFilter.Portable(new JobSpecException([new SpecError("stages", "too many")])));
    }
}
