using System.Text.Json;
using Curation.Pipelines.Execution;
using Curation.Pipelines.IO;
using Curation.Pipelines.Spec;
using Curation.Pipelines.Stages;
using Curation.Pipelines.Storage;
using Curation.Pipelines.Training;
using Curation.Testing;
using Xunit.Abstractions;

namespace Curation.Pipelines.Tests.Training;

/// <summary>SoftDedup-style weights: redundant documents (high semantic max similarity) are written less often, never hard-dropped by the mix.</summary>
public sealed class SoftDedupMixTests(ITestOutputHelper output) : IDisposable
{
    private readonly TempDirectory _temp = new("softdedup");

    public void Dispose() => _temp.Dispose();

    [Fact]
    public void Factor_is_one_up_to_the_threshold_then_falls_linearly_to_the_floor()
    {
        var mix = new TokenMix(new MixSpec { SoftDedup = new SoftDedupSpec { Threshold = 0.8, MinWeight = 0.1 } }, 1, new Dictionary<string, int>());
        Assert.Equal(1.0, mix.SoftDedupFactor(0.2));
        Assert.Equal(1.0, mix.SoftDedupFactor(0.8));
        Assert.Equal(0.5, mix.SoftDedupFactor(0.9), 9);
        Assert.Equal(0.1, mix.SoftDedupFactor(0.99), 9);
        Assert.Equal(0.1, mix.SoftDedupFactor(1.0), 9);
        Assert.Equal(1.0, new TokenMix(new MixSpec(), 1, new Dictionary<string, int>()).SoftDedupFactor(1.0));
    }

    [Fact]
    public async Task Near_copies_are_written_less_often_and_distinct_documents_exactly_once()
    {
        var folder = _temp.Combine("corpus");
        Directory.CreateDirectory(folder);
        string[] topics = ["astronomy", "cooking pasta", "railway signalling", "beekeeping", "tax law", "jazz piano", "volcanoes", "chess openings",
            "marathon training", "medieval castles", "quantum computing", "coral reefs", "bread baking", "football tactics", "origami", "glaciers"];
        var docs = new List<(string Id, string Text)>();
        for (var t = 0; t < topics.Length; t++)
        {
            docs.Add(($"t{t:D2}-0", $"This is a long article about {topics[t]}. It explains the history of {topics[t]}, the main ideas behind it and why people care about {topics[t]} today."));
            for (var v = 1; v <= 4; v++)   // near copies: one word changed
                docs.Add(($"t{t:D2}-{v}", $"This is a long article about {topics[t]}. It explains the history of {topics[t]}, the main ideas behind it and why people care about {topics[t]} now{v}."));
        }
        await File.WriteAllLinesAsync(Path.Combine(folder, "docs.jsonl"), docs.Select(d => JsonSerializer.Serialize(new { id = d.Id, text = d.Text })));
        var spec = new JobSpec
        {
            Name = "softdedup", Seed = 3,
            Inputs = [new InputSpec { Path = Path.Combine(folder, "*.jsonl"), IdField = "id" }],
            Stages =
            [
                new EmbedStageSpec(),
                new SemanticDedupStageSpec { Clusters = 4, Eps = 0.0, Partitions = 2, StickyCosine = 1 },
                new TrainTokenizeStageSpec { Encoding = "cl100k_base" },
            ],
            Output = new OutputSpec
            {
                Path = "curated/soft", Tokens = new TokensOutputSpec { Formats = [TokenFormat.Megatron] },
                Mix = new MixSpec { SoftDedup = new SoftDedupSpec { Threshold = 0.8, MinWeight = 0.1 } },
            },
        };
        Assert.Empty(JobSpecValidator.Validate(spec));
        var data = _temp.Combine("data");
        var stores = CurationStoreServiceCollectionExtensions.CreateResolver(new CurationStoreOptions { RootPath = data });
        using var services = StageServices.CreateDefault();
        await InProcessJob.RunAsync(spec, stores, services);
        var (manifest, _) = await stores.DataStore.TryReadJsonAsync<Manifest>("curated/soft/" + Manifest.FileName, CurationJson.Options);
        var root = Path.Combine(data, "curated", "soft");

        var similarity = new Dictionary<string, float>();
        foreach (var shard in manifest!.Shards)
        {
            await using var reader = await ParquetTableReader.OpenAsync(File.OpenRead(Path.Combine(root, shard.Key)));
            await foreach (var batch in reader.ReadAllAsync())
                for (var i = 0; i < batch.RowCount; i++) similarity[batch.Texts[i]] = batch.GetColumn<float>(SemanticDedupStage.MaxSimilarityColumn)[i];
        }
        Assert.Equal(docs.Count, similarity.Count);   // eps 0: the hard rule removed nothing

        var tokenizer = TrainingTokenizer.For(new TrainTokenizeStageSpec { Encoding = "cl100k_base" });
        var written = new Dictionary<string, int>();
        foreach (var idx in manifest.Tokens!.Files.Where(f => f.Kind == TokenShards.MegatronIdx))
        {
            using var reader = TokenFileReader.Open(Path.Combine(root, idx.Key));
            for (var d = 0; d < reader.Documents; d++)
            {
                var text = tokenizer.Decode(reader.ReadDocument(d)[..^1]);
                written[text] = written.GetValueOrDefault(text) + 1;
            }
        }
        var low = similarity.Where(p => p.Value <= 0.8).ToArray();
        var high = similarity.Where(p => p.Value > 0.95).ToArray();
        output.WriteLine($"{low.Length} documents with M ≤ 0.8, {high.Length} with M > 0.95; written: {written.Values.Sum()} of {similarity.Count}");
        Assert.True(low.Length >= 4 && high.Length >= 10, $"the corpus should give both kinds: {low.Length} low, {high.Length} high");
        Assert.All(low, p => Assert.Equal(1, written.GetValueOrDefault(p.Key)));
        Assert.All(high, p => Assert.InRange(written.GetValueOrDefault(p.Key), 0, 1));
        Assert.InRange(high.Count(p => written.ContainsKey(p.Key)), 0, high.Length * 0.6);
    }
}
