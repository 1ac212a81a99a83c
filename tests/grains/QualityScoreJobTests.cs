using System.Text.Json;
using Curation.Pipelines;
using Curation.Pipelines.Spec;
using Curation.Pipelines.Stages.QualityScore;
using Curation.Pipelines.Storage;
using Curation.Testing;
using Xunit.Abstractions;

namespace Curation.Grains.Tests;

/// <summary>
/// quality_score's acceptance: a classifier trained by the job on the shipped transformer's embeddings tells real
/// paragraphs (paper abstracts, Debian documentation) from web boilerplate (navigation, cookie and legal lines) at
/// ≥ 0.9 held-out accuracy, and its weights, scores, ranking and output are identical on one and three silos.
/// (Against the same paragraphs with their words shuffled the mean-pooled MiniLM embedding gives about 0.85 with 400
/// training examples: too close to 0.9 for a test of this size.)
/// </summary>
public sealed class QualityScoreJobTests(ITestOutputHelper log) : IDisposable
{
    private readonly TempDirectory _temp = new("quality-score-jobs");

    public void Dispose() => _temp.Dispose();

    private JobSpec Spec(string training, string corpus) => new()
    {
        Name = "quality-score",
        Inputs = [new InputSpec { Path = Path.Combine(corpus, "*.jsonl"), IdField = "id" }],
        Sharding = new ShardingSpec { TargetShardBytes = 8 * 1024 },
        Stages = [new EmbedStageSpec(), new QualityScoreStageSpec { Training = training, KeepFraction = 0.5, MinScore = 0.05 }],
        Output = new OutputSpec { Path = "curated/quality" },
    };

    private IStoreResolver Stores(string folder) =>
        CurationStoreServiceCollectionExtensions.CreateResolver(new CurationStoreOptions { RootPath = _temp.Combine(folder) });

    [Fact]
    public async Task A_classifier_trained_on_real_text_against_boilerplate_reaches_90_percent_and_ranks_identically_on_one_and_three_silos()
    {
        var training = _temp.Combine("labelled", "train.jsonl");
        QualityExamples.WriteLabelled(training, QualityExamples.Take(skip: 0, count: 60, boilerplate: true, seed: 21, idPrefix: "t-"));
        var corpus = _temp.Combine("corpus");
        QualityExamples.WriteCorpus(corpus, QualityExamples.Take(skip: 120, count: 20, boilerplate: true, seed: 22, idPrefix: "c-"));
        var spec = Spec(training, corpus);

        var (one, three) = await RunOnOneAndThreeSilosAsync(spec, "trained");

        var expected = await CuratedOutput.ReadAsync(one.DataStore, "curated/quality");
        var report = expected.Manifest.Reports["02-quality_score"].Deserialize<QualityScoreReport>(CurationJson.Options)!;
        var classifier = report.Classifier!;
        log.WriteLine($"held-out accuracy {classifier.HeldOutAccuracy:0.000} on {classifier.HeldOutExamples}, train {classifier.TrainAccuracy:0.000} on {classifier.TrainExamples}; " +
                      $"corpus means: {string.Join(", ", report.Sources.Select(s => $"{Path.GetFileName(s.Source)} {s.MeanScore:0.000}"))}");
        Assert.Equal(120, classifier.Examples);
        Assert.True(classifier.HeldOutExamples >= 15, $"{classifier.HeldOutExamples} held out");
        Assert.True(classifier.HeldOutAccuracy >= 0.9, $"held-out accuracy {classifier.HeldOutAccuracy}");
        Assert.Empty(expected.Manifest.Accounting.Imbalances());
        Assert.Equal(20, expected.KeptIds.Count);
        // The kept half is the real text.
        Assert.True(expected.KeptIds.Count(id => id.StartsWith("c-good-", StringComparison.Ordinal)) >= 19, string.Join(", ", expected.KeptIds));
        var good = report.Sources.Single(s => s.Source.EndsWith("good.jsonl", StringComparison.Ordinal));
        var bad = report.Sources.Single(s => s.Source.EndsWith("bad.jsonl", StringComparison.Ordinal));
        Assert.True(good.MeanScore > bad.MeanScore + 0.5, $"means: good {good.MeanScore}, bad {bad.MeanScore}");

        // One and three silos: the same weights (bytes), the same scores and ranking, the same output.
        await AssertSameAsync(one, three, "02-quality_score");
    }

    [Fact]
    public async Task An_onnx_classifier_by_path_scores_and_ranks_identically_on_one_and_three_silos()
    {
        // A real sequence classifier: the shipped graph with a two-label head of seeded weights (Debian's python3-onnx builds it).
        var random = new Random(15);
        var rows = Enumerable.Range(0, 2).Select(_ => Enumerable.Range(0, 384).Select(_ => random.NextDouble() * 8 - 4).ToArray()).ToArray();
        var model = await ClassifierHeadModel.BuildAsync(_temp.Combine("model", "model.onnx"), rows, [0.1, -0.1]);
        var vocabulary = (await ClassifierHeadModel.ShippedAsync()).VocabPath;
        var corpus = _temp.Combine("corpus");
        QualityExamples.WriteCorpus(corpus, QualityExamples.Take(skip: 120, count: 20, boilerplate: true, seed: 23, idPrefix: "c-"));
        var spec = Spec("unused", corpus) with
        {
            Stages = [new QualityScoreStageSpec { Model = new ScoringModelSpec { ModelPath = model, VocabPath = vocabulary }, KeepFraction = 0.5 }],
        };

        var (one, three) = await RunOnOneAndThreeSilosAsync(spec, "model");

        var expected = await CuratedOutput.ReadAsync(one.DataStore, "curated/quality");
        var report = expected.Manifest.Reports["01-quality_score"].Deserialize<QualityScoreReport>(CurationJson.Options)!;
        log.WriteLine($"model {report.Model}: head {report.Head}, kept {expected.KeptIds.Count} of {report.Documents}, cutoff score {report.CutoffScore}");
        Assert.Equal(new ModelHead(2, 1, false), report.Head);
        Assert.Equal(40, report.Documents);
        Assert.Equal(20, expected.KeptIds.Count);
        Assert.Empty(expected.Manifest.Accounting.Imbalances());
        await AssertSameAsync(one, three, "01-quality_score");
    }

    /// <summary>Runs <paramref name="spec"/> on one silo and on three, each with its own stores.</summary>
    private async Task<(IStoreResolver One, IStoreResolver Three)> RunOnOneAndThreeSilosAsync(JobSpec spec, string name)
    {
        var stores = new List<IStoreResolver>();
        foreach (var silos in new short[] { 1, 3 })
        {
            var store = Stores($"{name}-{silos}");
            await using (var cluster = await CurationCluster.StartAsync(silos, () => store))
            {
                var status = await cluster.RunAsync(spec, TimeSpan.FromMinutes(5));
                Assert.True(status.State == JobState.Completed, status.Error);
            }
            stores.Add(store);
        }
        return (stores[0], stores[1]);
    }

    /// <summary>The classifier, the scores (bytes), the output, the drops and the report are the same.</summary>
    private static async Task AssertSameAsync(IStoreResolver one, IStoreResolver three, string report)
    {
        var expected = await CuratedOutput.ReadAsync(one.DataStore, "curated/quality");
        var actual = await CuratedOutput.ReadAsync(three.DataStore, "curated/quality");
        Assert.Equal(await ObjectsAsync(one, "classifier.json"), await ObjectsAsync(three, "classifier.json"));
        Assert.Equal(await ObjectsAsync(one, "scores/"), await ObjectsAsync(three, "scores/"));
        Assert.Equal(expected.ShardHashes, actual.ShardHashes);
        Assert.Equal(expected.Drops, actual.Drops);
        Assert.Equal(expected.KeptIds, actual.KeptIds);
        Assert.Equal(expected.Manifest.Reports[report].GetRawText(), actual.Manifest.Reports[report].GetRawText());
    }

    /// <summary>The bytes of the quality_score objects under <paramref name="prefix"/> (relative to the stage folder), by name.</summary>
    private static async Task<Dictionary<string, string>> ObjectsAsync(IStoreResolver stores, string prefix)
    {
        var result = new Dictionary<string, string>();
        await foreach (var info in stores.DataStore.ListAsync("jobs/"))
        {
            var at = info.Key.IndexOf("-quality_score/" + prefix, StringComparison.Ordinal);
            if (at >= 0) result[info.Key[at..]] = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(await stores.DataStore.ReadBytesAsync(info.Key)));
        }
        Assert.NotEmpty(result);
        return result;
    }
}
