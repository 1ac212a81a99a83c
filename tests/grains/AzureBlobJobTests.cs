using Curation.Pipelines.Spec;
using Curation.Pipelines.Stages;
using Curation.Pipelines.Storage;
using Curation.Testing;

namespace Curation.Grains.Tests;

/// <summary>The same job with input and output in Azure Blob containers (Azurite) writes what the local run writes.</summary>
public sealed class AzureBlobJobTests(AzuriteFixture azurite) : IClassFixture<AzuriteFixture>, IDisposable
{
    private readonly TempDirectory _temp = new("azure-job");

    public void Dispose() => _temp.Dispose();

    private static JobSpec Spec(string input, string output) => new()
    {
        Name = "azure",
        Inputs = [new InputSpec { Path = input, IdField = "id" }],
        Sharding = new ShardingSpec { TargetShardBytes = 32 * 1024 },
        Stages = [new NormalizeStageSpec(), new QualityFilterStageSpec { MinChars = 20, MinWords = 3 }, new ExactDedupStageSpec { Partitions = 4 }],
        Output = new OutputSpec { Path = output },
    };

    [Fact]
    public async Task A_job_from_and_to_blob_containers_matches_the_local_folder_run()
    {
        var corpus = TestCorpus.Generate(originals: 300, copies: 80, seed: 11);
        var folder = _temp.Combine("corpus");
        corpus.WriteJsonl(folder, files: 6);

        var local = CurationStoreServiceCollectionExtensions.CreateResolver(new CurationStoreOptions { RootPath = _temp.Combine("data") });
        await using (var cluster = await CurationCluster.StartAsync(1, () => local))
            Assert.Equal(JobState.Completed, (await cluster.RunAsync(Spec(Path.Combine(folder, "*.jsonl"), "curated/azure"))).State);

        var container = AzuriteFixture.NewContainerName("corpus");
        var blobOptions = new CurationStoreOptions
        {
            Kind = DataStoreKind.AzureBlob, ConnectionString = azurite.ConnectionString, ContainerName = AzuriteFixture.NewContainerName("data"),
        };
        var blob = CurationStoreServiceCollectionExtensions.CreateResolver(blobOptions);
        var inputs = blob.Resolve(StoreLocation.Parse($"az://{container}/x"));
        foreach (var file in Directory.GetFiles(folder))
            await inputs.WriteBytesAsync($"corpus/{Path.GetFileName(file)}", await File.ReadAllBytesAsync(file), WriteCondition.CreateOnly);

        await using (var cluster = await CurationCluster.StartAsync(1, () => blob))
        {
            var status = await cluster.RunAsync(Spec($"az://{container}/corpus/*.jsonl", $"az://{container}/curated/azure"));
            Assert.True(status.State == JobState.Completed, status.Error);
        }

        var expected = await CuratedOutput.ReadAsync(local.DataStore, "curated/azure");
        var actual = await CuratedOutput.ReadAsync(inputs, "curated/azure");
        Assert.Equal(corpus.ExpectedKeptIds, actual.KeptIds.Order(StringComparer.Ordinal));
        Assert.Equal(expected.KeptIds, actual.KeptIds);
        Assert.Equal(expected.ShardHashes, actual.ShardHashes);
        Assert.Equal(expected.Drops, actual.Drops);
    }
}
