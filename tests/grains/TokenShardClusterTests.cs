using System.Security.Cryptography;
using Curation.Pipelines;
using Curation.Pipelines.Execution;
using Curation.Pipelines.Spec;
using Curation.Pipelines.Stages;
using Curation.Pipelines.Storage;
using Curation.Testing;

namespace Curation.Grains.Tests;

/// <summary>The demo job with train_tokenize (o200k), token files and mixing on 1 and 3 silos: the same bytes.</summary>
public sealed class TokenShardClusterTests : IDisposable
{
    private readonly TempDirectory _temp = new("token-cluster");

    public void Dispose() => _temp.Dispose();

    private static JobSpec Spec() => new()
    {
        Name = "demo-tokens",
        Seed = 42,
        Inputs = [new InputSpec { Path = Path.Combine(RepositoryRoot.Get(), "samples", "corpus", "*.jsonl"), Format = InputFormat.Jsonl, IdField = "id" }],
        Sharding = new ShardingSpec { TargetShardBytes = 256 * 1024 },
        Stages =
        [
            new NormalizeStageSpec(),
            new QualityFilterStageSpec { MinChars = 50, MaxChars = 100_000, MinWords = 8 },
            new ExactDedupStageSpec { Partitions = 4 },
            new TrainTokenizeStageSpec { Encoding = "o200k_base" },
        ],
        Output = new OutputSpec
        {
            Path = "curated/demo-tokens",
            Tokens = new TokensOutputSpec(),
            Mix = new MixSpec { By = "source", Weights = { ["part-0000.jsonl"] = 0.5, ["part-0003.jsonl"] = 2 } },
        },
    };

    private async Task<(Manifest Manifest, Dictionary<string, string> Hashes)> RunAsync(short silos, string data)
    {
        var stores = CurationStoreServiceCollectionExtensions.CreateResolver(new CurationStoreOptions { RootPath = _temp.Combine(data) });
        await using (var cluster = await CurationCluster.StartAsync(silos, () => stores))
        {
            var status = await cluster.RunAsync(Spec());
            Assert.True(status.State == JobState.Completed, status.Error);
        }
        var (manifest, _) = await stores.DataStore.TryReadJsonAsync<Manifest>("curated/demo-tokens/" + Manifest.FileName, CurationJson.Options);
        var hashes = new Dictionary<string, string>();
        foreach (var file in manifest!.Tokens!.Files)
            hashes[file.Key] = Convert.ToHexStringLower(SHA256.HashData(await stores.DataStore.ReadBytesAsync("curated/demo-tokens/" + file.Key)));
        return (manifest, hashes);
    }

    [Fact]
    public async Task One_and_three_silos_write_byte_identical_token_files()
    {
        var (one, oneHashes) = await RunAsync(1, "one");
        var (three, threeHashes) = await RunAsync(3, "three");
        Assert.True(one.Shards.Count >= 3, "the test needs several shards");
        Assert.Equal(one.Tokens!.Files.Count, oneHashes.Count);
        Assert.All(one.Tokens.Files, f => Assert.Equal(f.Sha256, oneHashes[f.Key]));
        Assert.Equal(oneHashes.OrderBy(p => p.Key), threeHashes.OrderBy(p => p.Key));
        Assert.Equal(System.Text.Json.JsonSerializer.Serialize(one.Tokens, CurationJson.Options), System.Text.Json.JsonSerializer.Serialize(three.Tokens, CurationJson.Options));
    }
}
