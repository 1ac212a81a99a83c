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

/// <summary>Whole jobs (in process) with train_tokenize and output.tokens: token files, their manifest and mixing.</summary>
public sealed class TokenShardJobTests(ITestOutputHelper output) : IDisposable
{
    private readonly TempDirectory _temp = new("token-shards");

    public void Dispose() => _temp.Dispose();

    private static JobSpec DemoSpec(string name, MixSpec? mix = null) => new()
    {
        Name = name,
        Seed = 42,
        Inputs = [new InputSpec { Path = Path.Combine(RepositoryRoot.Get(), "samples", "corpus", "*.jsonl"), Format = InputFormat.Jsonl, IdField = "id" }],
        Sharding = new ShardingSpec { TargetShardBytes = 512 * 1024 },
        Stages =
        [
            new NormalizeStageSpec(),
            new QualityFilterStageSpec { MinChars = 50, MaxChars = 100_000, MinWords = 8 },
            new ExactDedupStageSpec { Partitions = 4 },
            new TrainTokenizeStageSpec { Encoding = "o200k_base" },
        ],
        Output = new OutputSpec { Path = "curated/" + name, Tokens = new TokensOutputSpec(), Mix = mix },
    };

    private async Task<(Manifest Manifest, string Root, IStoreResolver Stores)> RunAsync(JobSpec spec, string data)
    {
        var stores = CurationStoreServiceCollectionExtensions.CreateResolver(new CurationStoreOptions { RootPath = _temp.Combine(data) });
        using var services = StageServices.CreateDefault();
        await InProcessJob.RunAsync(spec, stores, services);
        var (manifest, _) = await stores.DataStore.TryReadJsonAsync<Manifest>(spec.Output.Path + "/" + Manifest.FileName, CurationJson.Options);
        Assert.NotNull(manifest);
        return (manifest!, Path.Combine(_temp.Combine(data), spec.Output.Path), stores);
    }

    [Fact]
    public async Task Demo_job_writes_token_files_whose_sizes_sum_to_the_manifest_and_decode_to_every_document()
    {
        var (manifest, root, _) = await RunAsync(DemoSpec("tokens-demo"), "data");
        var tokens = manifest.Tokens!;
        Assert.Equal("o200k_base", tokens.Tokenizer);
        Assert.Equal("int32", tokens.DType);
        Assert.Equal(4, tokens.PerSource.Count);
        Assert.Equal(manifest.Shards.Count * 4, tokens.Files.Count);   // .bin, .idx, .tokens.npy, .offsets.npy per shard
        var result = await TokenOutput.VerifyAsync(root, manifest, TrainingTokenizer.For(new TrainTokenizeStageSpec()));
        output.WriteLine($"{tokens.Documents} documents, {tokens.Tokens} tokens, {result.Tokens} in {tokens.Files.Count} files");
    }

    [Fact]
    public async Task Mixing_weights_give_the_expected_token_shares_and_the_same_bytes_every_run()
    {
        var corpus = _temp.Combine("mix");
        Directory.CreateDirectory(corpus);
        var rng = new Random(7);
        string[] words = ["data", "curation", "token", "model", "corpus", "shard", "silo", "weight", "mixing", "seed", "hash", "text", "Megatron", "numpy"];
        foreach (var source in new[] { "a", "b", "c" })
            File.WriteAllLines(Path.Combine(corpus, source + ".jsonl"), Enumerable.Range(0, 1500).Select(i => JsonSerializer.Serialize(new
            {
                id = $"{source}-{i:D5}",
                text = string.Join(' ', Enumerable.Range(0, rng.Next(5, 60)).Select(_ => words[rng.Next(words.Length)])) + $" {source}{i}",
            })));
        var weights = new Dictionary<string, double> { ["a.jsonl"] = 0.5, ["b.jsonl"] = 1, ["c.jsonl"] = 2 };
        JobSpec Spec() => new()
        {
            Name = "mix", Seed = 11,
            Inputs = [new InputSpec { Path = Path.Combine(corpus, "*.jsonl"), IdField = "id" }],
            Sharding = new ShardingSpec { TargetShardBytes = 64 * 1024 },
            Stages = [new TrainTokenizeStageSpec { Encoding = "gpt2" }],
            Output = new OutputSpec { Path = "curated/mix", Tokens = new TokensOutputSpec(), Mix = new MixSpec { By = "source", Weights = weights } },
        };
        var (first, rootA, _) = await RunAsync(Spec(), "one");
        var (second, rootB, _) = await RunAsync(Spec(), "two");

        var tokens = first.Tokens!;
        Assert.Equal("uint16", tokens.DType);
        var corpusTokens = tokens.PerSource.ToDictionary(p => p.Key, p => p.Value + first.Tokens!.Mix.Keys.Single(k => k.Key == p.Key).Documents);
        var expectedTotal = corpusTokens.Sum(p => weights[p.Key] * p.Value);
        foreach (var key in tokens.Mix.Keys)
        {
            var expected = weights[key.Key] * corpusTokens[key.Key] / expectedTotal;
            output.WriteLine($"{key.Key}: weight {key.Weight}, {key.Documents} documents, {key.Copies} copies, share {key.Share:P2}, expected {expected:P2}");
            Assert.InRange(key.Share, expected - 0.02, expected + 0.02);
        }
        Assert.Equal(2 * tokens.Mix.Keys.Single(k => k.Key == "c.jsonl").Documents, tokens.Mix.Keys.Single(k => k.Key == "c.jsonl").Copies);   // > 1 repeats whole
        Assert.Equal(tokens.Mix.Keys.Single(k => k.Key == "b.jsonl").Documents, tokens.Mix.Keys.Single(k => k.Key == "b.jsonl").Copies);

        // Same spec and seed: the same bytes, byte for byte.
        Assert.Equal(tokens.Files.Select(f => (f.Key, f.Sha256)), second.Tokens!.Files.Select(f => (f.Key, f.Sha256)));
        foreach (var file in tokens.Files)
            Assert.Equal(File.ReadAllBytes(Path.Combine(rootA, file.Key)), File.ReadAllBytes(Path.Combine(rootB, file.Key)));
    }

    [Fact]
    public async Task Quality_buckets_of_a_numeric_column_weight_documents_by_bucket()
    {
        // word_count (quality_filter's int32 column) stands in for any quality score: short documents left out, long ones doubled.
        var spec = DemoSpec("buckets", new MixSpec { By = "word_count", Buckets = [50, 100], Weights = { ["<50"] = 0, ["50-100"] = 1, [">=100"] = 2 } });
        Assert.Empty(JobSpecValidator.Validate(spec));
        var (manifest, root, _) = await RunAsync(spec, "buckets");
        var counts = new Dictionary<string, long> { ["<50"] = 0, ["50-100"] = 0, [">=100"] = 0 };
        foreach (var shard in manifest.Shards)
        {
            await using var reader = await ParquetTableReader.OpenAsync(File.OpenRead(Path.Combine(root, shard.Key)));
            await foreach (var batch in reader.ReadAllAsync())
                foreach (var words in batch.GetColumn<int>("word_count").List)
                    counts[words < 50 ? "<50" : words < 100 ? "50-100" : ">=100"]++;
        }
        var keys = manifest.Tokens!.Mix.Keys.ToDictionary(k => k.Key);
        Assert.All(counts, c => Assert.True(c.Value > 0, $"bucket {c.Key} is empty"));
        Assert.All(counts, c => Assert.Equal(c.Value, keys[c.Key].Documents));
        Assert.Equal(0, keys["<50"].Copies);
        Assert.Equal(counts["50-100"] + 2 * counts[">=100"], manifest.Tokens.FileSequences);
        Assert.Contains(JobSpecValidator.Validate(spec with { Output = spec.Output with { Mix = new MixSpec { By = "word_count", Buckets = [80, 30] } } }),
            e => e.Field == "output.mix.buckets");
    }

    [Fact]
    public void Mix_copies_follow_the_weight_and_the_order_depends_on_the_seed_only()
    {
        var mix = new TokenMix(new MixSpec { Weights = { ["x"] = 0.25, ["y"] = 2.5 } }, 5, new Dictionary<string, int>());
        var ids = Enumerable.Range(0, 20_000).Select(i => $"doc-{i}").ToArray();
        Assert.InRange(ids.Average(id => mix.Copies(id, mix.WeightOf("x"))), 0.24, 0.26);
        Assert.InRange(ids.Average(id => mix.Copies(id, mix.WeightOf("y"))), 2.49, 2.51);
        Assert.All(ids, id => Assert.InRange(mix.Copies(id, 2.5), 2, 3));
        Assert.Equal(1, mix.Copies("anything", mix.WeightOf("unlisted")));
        var again = new TokenMix(new MixSpec(), 5, new Dictionary<string, int>());
        var other = new TokenMix(new MixSpec(), 6, new Dictionary<string, int>());
        Assert.Equal(mix.OrderKey("doc-1", 0), again.OrderKey("doc-1", 0));
        Assert.NotEqual(mix.OrderKey("doc-1", 0), other.OrderKey("doc-1", 0));
        Assert.NotEqual(mix.OrderKey("doc-1", 0), mix.OrderKey("doc-1", 1));
    }

    [Fact]
    public void Keys_come_from_the_source_the_input_or_a_column_and_totals_split_by_source_and_language()
    {
        var bySource = new TokenMix(null, 1, new Dictionary<string, int>());
        Assert.Null(bySource.KeyColumn);
        Assert.Equal("a.jsonl", bySource.KeyOf("a.jsonl", null));
        var byInput = new TokenMix(new MixSpec { By = "input" }, 1, new Dictionary<string, int> { ["a.jsonl"] = 0, ["b/c.jsonl"] = 1 });
        Assert.Equal("1", byInput.KeyOf("b/c.jsonl", null));
        var byLanguage = new TokenMix(new MixSpec { By = "language" }, 1, new Dictionary<string, int>());
        Assert.Equal("language", byLanguage.KeyColumn);
        Assert.Equal("de", byLanguage.KeyOf("a.jsonl", "de"));

        var totals = new TokenTotals();
        totals.Add("a.jsonl", "de", 10);
        totals.Add("a.jsonl", "fr", 5);
        totals.Add("b.jsonl", null, 7);
        Assert.Equal(22, totals.Tokens);
        Assert.Equal(3, totals.Documents);
        Assert.Equal(new Dictionary<string, long> { ["a.jsonl"] = 15, ["b.jsonl"] = 7 }, totals.PerSource);
        Assert.Equal(new Dictionary<string, long> { ["de"] = 10, ["fr"] = 5 }, totals.PerLanguage);
        Assert.Contains(totals.Metrics(), m => m.Key == TokenTotals.LanguagePrefix + "de" && m.Value == 10);
    }

    [Fact]
    public void Spec_errors_name_the_field()
    {
        var spec = DemoSpec("bad") with { Stages = [new NormalizeStageSpec()] };
        Assert.Contains(JobSpecValidator.Validate(spec), e => e.Field == "output.tokens");
        spec = DemoSpec("bad") with { Stages = [new TrainTokenizeStageSpec { Encoding = "p50k" }] };
        Assert.Contains(JobSpecValidator.Validate(spec), e => e.Field == "stages[0].encoding");
        spec = DemoSpec("bad", new MixSpec { Weights = { ["a"] = -1 } });
        Assert.Contains(JobSpecValidator.Validate(spec), e => e.Field == "output.mix.weights");
        var parsed = JobSpec.Parse("""{"name":"x","inputs":[{"path":"/in/*.jsonl"}],"stages":[{"type":"train_tokenize","encoding":"cl100k_base"}],"output":{"path":"o","tokens":{"formats":["megatron"]},"mix":{"by":"language","weights":{"de":2}}}}""");
        Assert.Empty(JobSpecValidator.Validate(parsed));
        Assert.Equal([TokenFormat.Megatron], parsed.Output.Tokens!.Formats);
    }
}
