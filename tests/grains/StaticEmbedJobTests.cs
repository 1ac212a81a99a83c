using System.Text.Json;
using Curation.Pipelines;
using Curation.Pipelines.Execution;
using Curation.Pipelines.IO;
using Curation.Pipelines.Spec;
using Curation.Pipelines.Stages;
using Curation.Pipelines.Storage;
using Curation.Testing;

namespace Curation.Grains.Tests;

/// <summary>
/// The static embedder inside jobs (<c>embed.model.kind: static</c>, distilled once into the machine's model cache):
/// its vectors, semantic dedup clustered in a 32-dimension projection and run as the two-tier cascade (<c>verify</c>: static candidates re-embedded with the
/// shipped transformer) and D4 are bit-identical on one and three silos and after an interrupted job resumes.
/// </summary>
public sealed class StaticEmbedJobTests : IDisposable
{
    private readonly TempDirectory _temp = new("static-embed-jobs");
    private readonly string _input;
    private readonly TestCorpus _corpus = TestCorpus.Generate(originals: 150, copies: 30, seed: 11);

    public StaticEmbedJobTests()
    {
        _input = _temp.Combine("corpus");
        _corpus.WriteJsonl(_input, files: 6);
    }

    public void Dispose() => _temp.Dispose();

    private JobSpec Spec(VerifyRule rule) => new()
    {
        Name = "static-embed",
        Inputs = [new InputSpec { Path = Path.Combine(_input, "*.jsonl"), IdField = "id" }],
        Sharding = new ShardingSpec { TargetShardBytes = 16 * 1024 },
        Stages =
        [
            new NormalizeStageSpec(), new TokenizeStageSpec(), new EmbedStageSpec { Model = new ModelSpec { Kind = ModelKind.Static, Dims = 256 } },
            // The generated documents draw on one small word list, so their static vectors all lie near the corpus mean
            // direction: the health check would keep most of them out of dedup (stickyCosine 1 turns it off).
            new SemanticDedupStageSpec
            {
                Clusters = 5, MaxIterations = 5, Eps = 0.01, Partitions = 2, StickyCosine = 1, ClusterDims = 32,
                Verify = new SemanticVerifySpec { CandidateEps = 0.05, Budget = 0.45, Rule = rule },
            },
            new D4StageSpec { KeepFraction = 0.9, Clusters = 4, MaxIterations = 5 },
        ],
        Output = new OutputSpec { Path = "curated/static" },
    };

    private IStoreResolver Stores(string folder) =>
        CurationStoreServiceCollectionExtensions.CreateResolver(new CurationStoreOptions { RootPath = _temp.Combine(folder) });

    [Theory]
    [InlineData(VerifyRule.Pairs)]
    [InlineData(VerifyRule.Set)] // the transformer decides every pair among a cluster's candidate documents
    public async Task Static_embeddings_and_their_dedup_are_identical_on_one_and_three_silos_and_after_resume(VerifyRule rule)
    {
        var one = Stores("one");
        await using (var cluster = await CurationCluster.StartAsync(1, () => one))
        {
            var status = await cluster.RunAsync(Spec(rule), TimeSpan.FromMinutes(5));
            Assert.True(status.State == JobState.Completed, status.Error);
        }
        var three = Stores("three");
        await using (var cluster = await CurationCluster.StartAsync(3, () => three))
            Assert.Equal(JobState.Completed, (await cluster.RunAsync(Spec(rule), TimeSpan.FromMinutes(5))).State);

        // Interrupted inside the cascade (the transformer writing its first verified vectors), resumed on three silos.
        var resumed = Stores("resumed");
        var gate = new StoreGate();
        gate.Close();
        var reached = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var held = new GatedResolver(resumed, gate, call =>
        {
            var hold = call.InDataStore && call.IsWrite && call.Key.Contains("-semantic_dedup/verified/", StringComparison.Ordinal);
            if (hold) reached.TrySetResult();
            return hold;
        });
        await using (var cluster = await CurationCluster.StartAsync(1, () => held))
        {
            var spec = Spec(rule);
            var job = cluster.Client.GetGrain<IJobGrain>(JobContext.JobIdOf(spec));
            await job.Submit(spec.ToJson());
            await reached.Task.WaitAsync(TimeSpan.FromMinutes(3));
            Assert.Equal(JobState.Cancelled, (await job.Cancel()).State);
        }
        await using (var cluster = await CurationCluster.StartAsync(3, () => resumed))
            Assert.Equal(JobState.Completed, (await cluster.RunAsync(Spec(rule), TimeSpan.FromMinutes(5))).State);

        var expected = await CuratedOutput.ReadAsync(one.DataStore, "curated/static");
        // The planted copies (same words up to case and spacing) and nothing else: the transformer confirmed them, and
        // rejected whatever else the static tier proposed. Each names its kept original.
        var semantic = expected.Drops.Where(d => d.Reason == SemanticDedupStage.DuplicateReason).ToDictionary(d => d.Id, d => d.TwinId);
        Assert.Equal(_corpus.ExpectedDuplicates.OrderBy(p => p.Key, StringComparer.Ordinal), semantic.OrderBy(p => p.Key, StringComparer.Ordinal));
        var report = expected.Manifest.Reports.Single(r => r.Key.EndsWith(SemanticDedupStageSpec.TypeName, StringComparison.Ordinal)).Value
            .Deserialize<SemanticDedupReport>(CurationJson.Options)!;
        var cascade = report.Cascade!;
        Assert.Equal(0.05, cascade.CandidateEps);
        Assert.InRange(cascade.TransformerEmbedded, semantic.Count + 1, report.Documents);
        Assert.True(cascade.TransformerEmbeddedFraction <= 0.45, $"the budget caps each cluster at 45 %: {cascade}");
        // The pair rule confirms a subset of the candidate pairs; the set rule decides every pair among their documents, so it may confirm more.
        Assert.True((rule == VerifyRule.Set || cascade.CandidatePairs >= cascade.VerifiedPairs) && cascade.VerifiedPairs >= semantic.Count, $"{cascade}");
        Assert.Equal((double)cascade.TransformerEmbedded / report.Documents, cascade.TransformerEmbeddedFraction, 12);
        var vectors = await EmbeddingBytesAsync(one);
        Assert.NotEmpty(vectors);
        foreach (var other in new[] { three, resumed })
        {
            var actual = await CuratedOutput.ReadAsync(other.DataStore, "curated/static");
            Assert.Equal(expected.ShardHashes, actual.ShardHashes);
            Assert.Equal(expected.Drops, actual.Drops);
            Assert.Equal(expected.KeptIds, actual.KeptIds);
            Assert.Equal(vectors, await EmbeddingBytesAsync(other)); // static vectors are exact arithmetic: bit-identical
        }
        var file = expected.Manifest.Embeddings.First();
        var (_, first, dimensions) = await EmbeddingFile.ReadAllAsync(new MemoryStream(await one.DataStore.ReadBytesAsync("curated/static/" + file.Key)));
        Assert.Equal(256, dimensions);
        Assert.InRange(Math.Sqrt(first.AsSpan(0, dimensions).ToArray().Sum(v => (double)v * v)), 0.999, 1.001);
    }

    private static async Task<Dictionary<string, byte[]>> EmbeddingBytesAsync(IStoreResolver stores)
    {
        var (manifest, _) = await stores.DataStore.TryReadJsonAsync<Manifest>("curated/static/manifest.json", CurationJson.Options);
        var result = new Dictionary<string, byte[]>();
        foreach (var file in manifest!.Embeddings)
        {
            var (ids, vectors, dimensions) = await EmbeddingFile.ReadAllAsync(new MemoryStream(await stores.DataStore.ReadBytesAsync("curated/static/" + file.Key)));
            for (var i = 0; i < ids.Count; i++)
                result[ids[i]] = System.Runtime.InteropServices.MemoryMarshal.AsBytes(vectors.AsSpan(i * dimensions, dimensions)).ToArray();
        }
        return result;
    }
}
