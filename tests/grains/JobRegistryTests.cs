using System.Text.Json;
using Curation.Grains.Jobs;
using Curation.Pipelines;
using Curation.Pipelines.Spec;
using Curation.Pipelines.Stages;
using Curation.Pipelines.Storage;
using Curation.Testing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Curation.Grains.Tests;

/// <summary>The job registry over the coordinators' stored state: what the API lists and the resume scan reads.</summary>
public sealed class JobRegistryTests : IDisposable
{
    private readonly TempDirectory _temp = new("registry");

    public void Dispose() => _temp.Dispose();

    private IStoreResolver Stores(string name) =>
        CurationStoreServiceCollectionExtensions.CreateResolver(new CurationStoreOptions { RootPath = _temp.Combine(name) });

    private JobSpec Spec(string name)
    {
        var input = _temp.Combine("corpus");
        if (!Directory.Exists(input)) TestCorpus.Generate(originals: 60, copies: 20).WriteJsonl(input, files: 2);
        return new JobSpec
        {
            Name = name,
            Inputs = [new InputSpec { Path = Path.Combine(input, "*.jsonl"), IdField = "id" }],
            Stages = [new NormalizeStageSpec(), new ExactDedupStageSpec { Partitions = 2 }],
            Output = new OutputSpec { Path = "curated/" + name },
        };
    }

    [Fact]
    public async Task Jobs_run_on_a_cluster_are_listed_with_their_state_and_spec()
    {
        var stores = Stores("cluster");
        await using var cluster = await CurationCluster.StartAsync(1, () => stores);
        var specs = new[] { Spec("alpha"), Spec("beta") };
        foreach (var spec in specs) Assert.Equal(JobState.Completed, (await cluster.RunAsync(spec)).State);

        var registry = new ObjectStoreJobRegistry(stores);
        var listed = new List<StoredJob>();
        await foreach (var job in registry.ListAsync()) listed.Add(job);
        Assert.Equal(specs.Select(Pipelines.Execution.JobContext.JobIdOf).Order(StringComparer.Ordinal), listed.Select(j => j.JobId));
        foreach (var spec in specs)
        {
            var job = await registry.GetAsync(Pipelines.Execution.JobContext.JobIdOf(spec));
            Assert.NotNull(job);
            Assert.Equal(JobState.Completed, job.State.State);
            Assert.Equal(spec.ToJson(), job.Spec!.ToJson());
            Assert.Equal(spec.ToJson(), (await registry.SpecAsync(job.JobId))!.ToJson());
            Assert.All(job.State.Phases, p => Assert.Equal(p.Total, p.Done));
            Assert.Equal(job.State.Accounting!.InputRecords, (await cluster.Client.GetGrain<IJobGrain>(job.JobId).GetStatus()).Accounting!.InputRecords);
        }
        Assert.Empty(await ToListAsync(registry.RunningJobIdsAsync()));
        Assert.Null(await registry.GetAsync("never-submitted"));
        Assert.Null(await registry.SpecAsync("never-submitted"));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(64)]
    public async Task A_listing_keeps_key_order_whatever_it_reads_ahead_and_skips_what_is_not_a_job(int readAhead)
    {
        var stores = Stores($"listing-{readAhead}");
        var ids = Enumerable.Range(0, 10).Select(i => $"job {i:D2}/ü-{i}").ToArray(); // escaped in keys, unescaped when listed
        foreach (var (id, i) in ids.Select((id, i) => (id, i)))
        {
            var state = new JobGrainState { Name = id, State = i % 3 == 0 ? JobState.Running : JobState.Completed, SpecJson = null };
            await stores.DataStore.WriteBytesAsync(ObjectStoreJobRegistry.KeyOf(id), JsonSerializer.SerializeToUtf8Bytes(state, CurationJson.Options), WriteCondition.Overwrite);
        }
        await stores.DataStore.WriteBytesAsync(ObjectStoreJobRegistry.StatePrefix + "notes.txt", "not a job"u8.ToArray(), WriteCondition.Overwrite);
        await stores.DataStore.WriteBytesAsync(ObjectStoreJobRegistry.StatePrefix + "nested/x.json", "{}"u8.ToArray(), WriteCondition.Overwrite);

        var registry = new ObjectStoreJobRegistry(stores, Options.Create(new JobRegistryOptions { ListReadAhead = readAhead }));
        var listed = await ToListAsync(registry.ListAsync());
        var expected = ids.OrderBy(ObjectStoreJobRegistry.KeyOf, StringComparer.Ordinal).ToArray();
        Assert.Equal(expected, listed.Select(j => j.JobId));
        Assert.Equal(expected, listed.Select(j => j.State.Name));
        Assert.Null(listed[0].Spec);
        Assert.Equal(ids.Where((_, i) => i % 3 == 0).Order(StringComparer.Ordinal),
            (await ToListAsync(registry.RunningJobIdsAsync())).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void The_registry_is_registered_with_bound_and_validated_options()
    {
        ServiceProvider Build(string readAhead)
        {
            var configuration = new ConfigurationBuilder()
                .AddInMemoryCollection([KeyValuePair.Create<string, string?>($"{JobRegistryOptions.Section}:ListReadAhead", readAhead)]).Build();
            var services = new ServiceCollection();
            services.AddSingleton(Stores("di"));
            services.AddCurationJobRegistry(o => configuration.GetSection(JobRegistryOptions.Section).Bind(o));
            services.AddCurationJobRegistry(); // a second registration (the silo's) changes nothing
            return services.BuildServiceProvider();
        }

        using (var valid = Build("16"))
        {
            Assert.IsType<ObjectStoreJobRegistry>(valid.GetRequiredService<IJobRegistry>());
            Assert.Equal(16, valid.GetRequiredService<IOptions<JobRegistryOptions>>().Value.ListReadAhead);
        }
        using var invalid = Build("0");
        var error = Assert.Throws<OptionsValidationException>(() => invalid.GetRequiredService<IOptions<JobRegistryOptions>>().Value);
        Assert.Contains("Curation:Jobs:ListReadAhead", error.Message);
    }

    private static async Task<List<T>> ToListAsync<T>(IAsyncEnumerable<T> items)
    {
        var list = new List<T>();
        await foreach (var item in items) list.Add(item);
        return list;
    }
}
