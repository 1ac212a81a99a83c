using System.Text.Json;
using Curation.Pipelines.Execution;
using Curation.Pipelines.Spec;
using Curation.Pipelines.Stages;
using Curation.Pipelines.Storage;
using Curation.Testing;
using Xunit.Abstractions;

namespace Curation.Pipelines.Tests.Stages;

/// <summary>decontaminate end to end in-process: planted evaluation passages found and named, everything else untouched.</summary>
public sealed class DecontaminateStageTests(ITestOutputHelper output) : IDisposable
{
    private static readonly Lazy<DecontaminationCorpus> SharedCorpus = new(() => DecontaminationCorpus.Generate(documents: 400, planted: 44));
    private readonly TempDirectory _temp = new("decontaminate");

    public void Dispose() => _temp.Dispose();

    private (JobSpec Spec, DecontaminationCorpus Corpus) Job(DecontaminateMode mode, long shardBytes = 48 * 1024)
    {
        var corpus = SharedCorpus.Value;
        var input = _temp.Combine("corpus");
        if (!Directory.Exists(input)) corpus.WriteCorpus(input, files: 4);
        var benchmarks = AsJsonArrays(corpus.WriteBenchmarks(_temp.Combine("evals")));
        return (new JobSpec
        {
            Name = "decontaminate",
            Inputs = [new InputSpec { Path = Path.Combine(input, "*.jsonl"), IdField = "id" }],
            Sharding = new ShardingSpec { TargetShardBytes = shardBytes },
            Stages =
            [
                new DecontaminateStageSpec
                {
                    Benchmarks = benchmarks.OrderBy(b => b.Key, StringComparer.Ordinal).Select(b => new EvaluationSetSpec { Name = b.Key, Path = b.Value }).ToList(),
                    Mode = mode, Partitions = 3,
                },
            ],
            Output = new OutputSpec { Path = "curated/decon" },
        }, corpus);
    }

    /// <summary>Every other evaluation set as one indented JSON array (<c>.json</c>), as many are shipped: the items are the same.</summary>
    private static Dictionary<string, string> AsJsonArrays(IReadOnlyDictionary<string, string> benchmarks)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        var i = 0;
        foreach (var (name, path) in benchmarks.OrderBy(b => b.Key, StringComparer.Ordinal))
        {
            if (i++ % 2 == 1)
            {
                var items = File.ReadLines(path).Where(l => l.Trim().Length > 0).Select(l => JsonDocument.Parse(l).RootElement.Clone()).ToArray();
                var array = Path.ChangeExtension(path, ".json");
                File.WriteAllText(array, JsonSerializer.Serialize(items, new JsonSerializerOptions { WriteIndented = true }));
                result[name] = array;
            }
            else result[name] = path;
        }
        Assert.Contains(result.Values, p => p.EndsWith(".json", StringComparison.Ordinal));
        return result;
    }

    [Fact]
    public async Task An_evaluation_set_item_that_is_not_an_object_with_text_fails_the_job_naming_the_element()
    {
        var input = _temp.Combine("small");
        Directory.CreateDirectory(input);
        File.WriteAllText(Path.Combine(input, "a.jsonl"), "{\"id\":\"d\",\"text\":\"some corpus text that is long enough to index\"}\n");
        var eval = _temp.Combine("eval.json");
        File.WriteAllText(eval, "[\n  {\"text\": \"an item with words enough for one thirteen word ngram to be there for sure\"},\n  {\"question\": \"no text\"}\n]");
        var spec = new JobSpec
        {
            Name = "decon-bad", Inputs = [new InputSpec { Path = Path.Combine(input, "*.jsonl"), IdField = "id" }],
            Stages = [new DecontaminateStageSpec { Benchmarks = [new EvaluationSetSpec { Name = "qa", Path = eval }], Partitions = 1 }],
            Output = new OutputSpec { Path = "curated/bad" },
        };
        using var services = StageServices.CreateDefault();
        var error = await Assert.ThrowsAnyAsync<Exception>(() => InProcessJob.RunAsync(spec, Stores("bad"), services));
        Assert.Contains($"benchmark 'qa' ({eval}) element 2: no string field 'text'", error.ToString(), StringComparison.Ordinal);
    }

    private IStoreResolver Stores(string name) =>
        CurationStoreServiceCollectionExtensions.CreateResolver(new CurationStoreOptions { RootPath = _temp.Combine(name) });

    [Fact]
    public async Task Planted_passages_whole_partial_rewrapped_and_case_changed_are_dropped_naming_benchmark_and_item()
    {
        var (spec, corpus) = Job(DecontaminateMode.Drop);
        Assert.Equal(4, corpus.Items.Count(i => i.Benchmark == "unspaced")); // Chinese and Thai message catalogs are installed
        using var services = StageServices.CreateDefault();
        var stores = Stores("drop");
        var job = await InProcessJob.RunAsync(spec, stores, services);
        var result = await CuratedOutput.ReadAsync(stores.DataStore, "curated/decon");
        Assert.True(result.Manifest.Shards.Count > 3, "the test needs several shards");
        Assert.Empty(result.Manifest.Accounting.Imbalances());

        // Every planted document dropped, naming its item; no other document touched.
        var drops = result.Drops.ToDictionary(d => d.Id);
        foreach (var (id, plant) in corpus.Planted)
        {
            Assert.True(drops.TryGetValue(id, out var drop), $"{plant.Kind} passage of {plant.Item.Benchmark}/{plant.Item.Id} in {id} was not found");
            Assert.Equal(DecontaminateStage.ContaminatedReason, drop.Reason);
            Assert.StartsWith($"benchmark {plant.Item.Benchmark} item {plant.Item.Id}: ", drop.Detail, StringComparison.Ordinal);
            Assert.Contains("13-grams matched", drop.Detail, StringComparison.Ordinal);
        }
        Assert.Equal(corpus.Planted.Count, drops.Count);
        var texts = await LineDedupCorpus.ReadTextsAsync(stores.DataStore, "curated/decon", result);
        Assert.Equal(corpus.Documents.Where(d => !corpus.Planted.ContainsKey(d.Id)).OrderBy(d => d.Id, StringComparer.Ordinal),
            texts.Select(t => (t.Key, t.Value)).OrderBy(d => d.Key, StringComparer.Ordinal));

        // The report: per benchmark the documents it contaminated, per item its documents and the share of it found.
        var stage = job.Stages.OfType<DecontaminateStage>().Single();
        var report = JsonSerializer.Deserialize<DecontaminateReport>((await StageReports.TryReadAsync(job, stage, CancellationToken.None))!.Value, CurationJson.Options)!;
        output.WriteLine(JsonSerializer.Serialize(report.Benchmarks));
        foreach (var benchmark in report.Benchmarks)
        {
            var planted = corpus.Planted.Values.Where(p => p.Item.Benchmark == benchmark.Name).ToList();
            Assert.Equal(planted.Count, benchmark.Documents);
            Assert.Equal(planted.Select(p => p.Item.Id).Distinct().Count(), benchmark.ContaminatedItems);
            Assert.Equal(corpus.Items.Count(i => i.Benchmark == benchmark.Name), benchmark.Items);
        }
        foreach (var group in corpus.Planted.Values.GroupBy(p => p.Item))
        {
            var item = Assert.Single(report.Items, i => i.Benchmark == group.Key.Benchmark && i.Item == group.Key.Id);
            Assert.Equal(group.Count(), item.Documents);
            Assert.Equal(group.Any(p => p.Kind != "partial") ? 1.0 : item.MaxFraction, item.MaxFraction);
        }
        Assert.Equal(corpus.Planted.Count, report.Contaminated);
    }

    [Fact]
    public async Task Remove_spans_cuts_exactly_the_planted_passage_and_keeps_the_text_around_it()
    {
        var (spec, corpus) = Job(DecontaminateMode.RemoveSpans);
        using var services = StageServices.CreateDefault();
        var stores = Stores("spans");
        await InProcessJob.RunAsync(spec, stores, services);
        var result = await CuratedOutput.ReadAsync(stores.DataStore, "curated/decon");
        Assert.Empty(result.Drops);
        var texts = await LineDedupCorpus.ReadTextsAsync(stores.DataStore, "curated/decon", result);
        foreach (var (id, text) in corpus.Documents)
            if (corpus.Planted.TryGetValue(id, out var plant))
            {
                Assert.StartsWith(plant.Before, texts[id], StringComparison.Ordinal);
                Assert.EndsWith(plant.After, texts[id], StringComparison.Ordinal);
                Assert.Equal(DecontaminationCorpus.Words(plant.Before + " " + plant.After), DecontaminationCorpus.Words(texts[id]));
            }
            else Assert.Equal(text, texts[id]);
    }

    [Fact]
    public void Tokens_are_words_or_single_characters_of_unspaced_scripts_and_fold_case_punctuation_and_layout()
    {
        var ngrams = new EvaluationNgrams(3);
        var tokens = new List<NgramToken>();
        const string text = "Hello, WORLD!\n東京都は大きい。 café—naïve 42";
        ngrams.Tokenize(text, tokens);
        Assert.Equal(["Hello", "WORLD", "東", "京", "都", "は", "大", "き", "い", "café", "naïve", "42"], tokens.Select(t => text[t.Start..t.End]));
        var a = new List<ulong>();
        var b = new List<ulong>();
        ngrams.Tokenize("the quick brown fox", tokens);
        ngrams.Ngrams(tokens, a);
        ngrams.Tokenize("The QUICK,\n  brown -- Fox!", tokens);
        ngrams.Ngrams(tokens, b);
        Assert.Equal(2, a.Count);
        Assert.Equal(a, b);
        ngrams.Tokenize("cafe\u0301 x y", tokens); // decomposed é: NFC makes it the same token
        ngrams.Ngrams(tokens, a);
        ngrams.Tokenize("café x y", tokens);
        ngrams.Ngrams(tokens, b);
        Assert.Equal(a, b);
    }

    [Fact]
    public void The_spec_names_what_is_wrong()
    {
        var spec = new JobSpec
        {
            Name = "x", Inputs = [new InputSpec { Path = "/tmp/in/*.jsonl" }], Output = new OutputSpec { Path = "out" },
            Stages = [new DecontaminateStageSpec
            {
                Benchmarks = [new EvaluationSetSpec { Name = "a", Path = "/tmp/a.jsonl" }, new EvaluationSetSpec { Name = "a", Path = "" }],
                MinMatches = null, Ngram = 0,
            }],
        };
        var errors = JobSpecValidator.Validate(spec).Select(e => e.Field).ToList();
        Assert.Contains("stages[0].benchmarks[1].name", errors);
        Assert.Contains("stages[0].benchmarks[1].path", errors);
        Assert.Contains("stages[0].ngram", errors);
        Assert.Contains("stages[0].minMatches", errors);
        Assert.DoesNotContain("stages[0].benchmarks[0].path", errors);
    }
}
