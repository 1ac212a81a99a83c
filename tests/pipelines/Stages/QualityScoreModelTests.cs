using Curation.Pipelines.Spec;
using Curation.Pipelines.Stages.QualityScore;
using Curation.Testing;
using Xunit.Abstractions;

namespace Curation.Pipelines.Tests.Stages;

/// <summary>
/// The classifier quality_score trains, and what a model built from it gives: a job trains the classifier on the shipped
/// transformer's embeddings (real paragraphs against boilerplate), then ONNX sequence classifiers are built from the
/// shipped graph with that classifier as their head (<see cref="ClassifierHeadModel"/>, Debian's python3-onnx) —
/// one logit, and two logits (−z/2, z/2) whose softmax is the classifier's sigmoid.
/// </summary>
public sealed class QualityScoreModelFixture : IAsyncLifetime
{
    public TempDirectory Temp { get; } = new("quality-score-model");
    public string Corpus => Temp.Combine("corpus");
    public QualityScoreRun Trained { get; private set; } = null!;
    public TrainedClassifier Classifier { get; private set; } = null!;

    /// <summary>One output: the classifier's logit z = w·x + b.</summary>
    public string OneLogit { get; private set; } = null!;

    /// <summary>Two outputs (−z/2, z/2): softmax probability of label 1 = sigmoid(z).</summary>
    public string TwoLabels { get; private set; } = null!;
    public string Vocabulary { get; private set; } = null!;

    public const double MinScore = 0.3;
    public const double KeepFraction = 0.5;

    public static JobSpec Spec(string corpus, QualityScoreStageSpec quality, bool embed = false) => new()
    {
        Name = "quality-score-model",
        Inputs = [new InputSpec { Path = Path.Combine(corpus, "*.jsonl"), IdField = "id" }],
        Sharding = new ShardingSpec { TargetShardBytes = 8 * 1024 },
        Stages = embed ? [new EmbedStageSpec(), quality] : [quality],
        Output = new OutputSpec { Path = "curated/quality" },
    };

    public async Task InitializeAsync()
    {
        var training = Temp.Combine("labelled", "train.jsonl");
        QualityExamples.WriteLabelled(training, QualityExamples.Take(skip: 0, count: 40, boilerplate: true, seed: 31, idPrefix: "t-"));
        QualityExamples.WriteCorpus(Corpus, QualityExamples.Take(skip: 120, count: 20, boilerplate: true, seed: 32, idPrefix: "c-"));
        Trained = await QualityScoreRun.RunAsync(
            Spec(Corpus, new QualityScoreStageSpec { Training = training, MinScore = MinScore, KeepFraction = KeepFraction }, embed: true), Temp.Combine("trained"));
        var stores = Temp.Combine("trained");
        Classifier = System.Text.Json.JsonSerializer.Deserialize<TrainedClassifier>(
            await File.ReadAllTextAsync(Directory.EnumerateFiles(stores, "classifier.json", SearchOption.AllDirectories).Single()), CurationJson.Options)!;
        var w = Classifier.Weights;
        var b = Classifier.Bias;
        OneLogit = await ClassifierHeadModel.BuildAsync(Temp.Combine("models", "one", "model.onnx"), [w], [b]);
        TwoLabels = await ClassifierHeadModel.BuildAsync(Temp.Combine("models", "two", "model.onnx"),
            [w.Select(v => -v / 2).ToArray(), w.Select(v => v / 2).ToArray()], [-b / 2, b / 2]);
        Vocabulary = (await ClassifierHeadModel.ShippedAsync()).VocabPath;
    }

    public Task DisposeAsync()
    {
        Temp.Dispose();
        return Task.CompletedTask;
    }
}

/// <summary>
/// quality_score with <c>model</c>: a real ONNX sequence classifier by path gives the trained classifier's scores (within
/// 1e-5) and the same kept set, through a one-logit head (sigmoid or raw) and a two-label softmax head; a graph that is not
/// a sequence classifier fails the job naming the model. 1 vs 3 silos: QualityScoreJobTests.
/// </summary>
public sealed class QualityScoreModelTests(QualityScoreModelFixture models, ITestOutputHelper log) : IClassFixture<QualityScoreModelFixture>
{
    public enum Head { OneLogitSigmoid, OneLogitRaw, TwoLabelSoftmax }

    [Theory]
    [InlineData(Head.OneLogitSigmoid)]
    [InlineData(Head.OneLogitRaw)]
    [InlineData(Head.TwoLabelSoftmax)]
    public async Task A_model_whose_head_is_the_trained_classifier_scores_and_keeps_as_the_classifier_does(Head head)
    {
        var model = head switch
        {
            Head.TwoLabelSoftmax => new ScoringModelSpec { ModelPath = models.TwoLabels, VocabPath = models.Vocabulary },
            _ => new ScoringModelSpec { ModelPath = models.OneLogit, VocabPath = models.Vocabulary, Sigmoid = head == Head.OneLogitSigmoid },
        };
        // A raw logit: minScore is the classifier's threshold as a logit.
        var minScore = head == Head.OneLogitRaw ? Math.Log(QualityScoreModelFixture.MinScore / (1 - QualityScoreModelFixture.MinScore)) : QualityScoreModelFixture.MinScore;
        var run = await QualityScoreRun.RunAsync(
            QualityScoreModelFixture.Spec(models.Corpus, new QualityScoreStageSpec { Model = model, MinScore = minScore, KeepFraction = QualityScoreModelFixture.KeepFraction }),
            models.Temp.Combine($"model-{head}"));
        var trained = models.Trained;

        Assert.Equal(trained.Scores.Keys.Order(StringComparer.Ordinal), run.Scores.Keys.Order(StringComparer.Ordinal));
        var worstScore = 0.0;
        var worstLogit = 0.0;
        foreach (var (id, expected) in trained.Scores)
        {
            var actual = run.Scores[id];
            var expectedScore = head == Head.OneLogitRaw ? expected.Logit : expected.Score;
            worstScore = Math.Max(worstScore, Math.Abs(actual.Score - expectedScore));
            worstLogit = Math.Max(worstLogit, Math.Abs(actual.Logit - expected.Logit) / Math.Max(1, Math.Abs(expected.Logit)));
            Assert.Equal(actual.Score, run.Column.GetValueOrDefault(id, actual.Score));
        }
        log.WriteLine($"{head}: largest score difference {worstScore:E2}, largest logit difference (relative) {worstLogit:E2}; " +
                      $"kept {run.Output.KeptIds.Count} of {run.Scores.Count}, cutoff logit {run.Report.CutoffLogit} (trained {trained.Report.CutoffLogit})");
        Assert.True(worstScore <= 1e-5, $"scores differ by {worstScore}");
        Assert.True(worstLogit <= 1e-5, $"logits differ by {worstLogit} (relative)");

        Assert.Empty(run.Output.Manifest.Accounting.Imbalances());
        Assert.Equal(trained.Output.KeptIds, run.Output.KeptIds);
        Assert.Equal(trained.Output.Drops.Select(d => d.Id), run.Output.Drops.Select(d => d.Id));
        Assert.All(run.Output.Drops, d => Assert.Equal(QualityScoreStage.LowScoreReason, d.Reason));
        Assert.Equal(20, run.Output.KeptIds.Count);
        Assert.True(run.Output.KeptIds.Count(id => id.StartsWith("c-good-", StringComparison.Ordinal)) >= 18, string.Join(", ", run.Output.KeptIds));

        var report = run.Report;
        Assert.Null(report.Classifier);
        Assert.Equal(model.ModelPath, report.Model);
        Assert.Equal(new ModelHead(head == Head.TwoLabelSoftmax ? 2 : 1, head == Head.TwoLabelSoftmax ? 1 : 0, head == Head.OneLogitSigmoid), report.Head);
        Assert.Equal(trained.Report.CutoffId, report.CutoffId);
        Assert.Equal(40, report.Documents);
        Assert.Equal(trained.Report.Removed, report.Removed);
        var expectedCutoff = head == Head.OneLogitRaw ? (double)report.CutoffLogit!.Value : trained.Report.CutoffScore!.Value;
        Assert.Equal(expectedCutoff, report.CutoffScore!.Value, 5);
    }

    [Fact]
    public async Task A_graph_that_is_not_a_sequence_classifier_fails_the_job_naming_the_model()
    {
        var shipped = await ClassifierHeadModel.ShippedAsync();
        var notOnnx = models.Temp.Combine("bad", "model.onnx");
        Directory.CreateDirectory(Path.GetDirectoryName(notOnnx)!);
        await File.WriteAllTextAsync(notOnnx, "not an ONNX graph");
        var cases = new (ScoringModelSpec Model, string Expected)[]
        {
            // The embedder: no logits output.
            (new() { ModelPath = shipped.ModelPath, VocabPath = shipped.VocabPath }, "has no output 'logits'"),
            // Its per-token output: a sequence axis.
            (new() { ModelPath = shipped.ModelPath, VocabPath = shipped.VocabPath, OutputName = "last_hidden_state" }, "has a sequence axis"),
            (new() { ModelPath = models.TwoLabels, VocabPath = models.Vocabulary, Label = 2 }, "label 2 is not one of 0…1"),
            (new() { ModelPath = models.TwoLabels, VocabPath = models.Vocabulary, Sigmoid = true }, "sigmoid is for a one-output model"),
            (new() { ModelPath = notOnnx, VocabPath = models.Vocabulary }, "cannot be used"),
            // vocab.txt beside the model by default: there is none (refused at planning, before any stage runs).
            (new() { ModelPath = models.OneLogit }, "stages[0].model.vocabPath: no such file '" + Path.Combine(Path.GetDirectoryName(models.OneLogit)!, "vocab.txt")),
        };
        for (var i = 0; i < cases.Length; i++)
        {
            var (model, expected) = cases[i];
            var error = await Assert.ThrowsAnyAsync<Exception>(() => QualityScoreRun.RunAsync(
                QualityScoreModelFixture.Spec(models.Corpus, new QualityScoreStageSpec { Model = model, KeepFraction = 0.5 }), models.Temp.Combine($"bad-{i}")));
            log.WriteLine(error.Message);
            Assert.Contains(model.VocabPath is null ? Path.GetDirectoryName(model.ModelPath!)! : model.ModelPath!, error.Message, StringComparison.Ordinal);
            Assert.Contains(expected, error.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void The_spec_takes_one_score_source_and_declares_the_model_files()
    {
        static IReadOnlyList<string> Errors(params StageSpec[] stages) => JobSpecValidator.Validate(new JobSpec
        {
            Name = "q", Inputs = [new InputSpec { Path = "in/*.jsonl" }], Stages = stages, Output = new OutputSpec { Path = "out" },
        }).Select(e => $"{e.Field}: {e.Message}").ToArray();

        var model = new ScoringModelSpec { ModelPath = "/models/edu/model.onnx" };
        // No embed stage needed, and a raw regression score may be thresholded above 1.
        Assert.Empty(Errors(new QualityScoreStageSpec { Model = model, MinScore = 3 }));
        Assert.Contains(Errors(new QualityScoreStageSpec { Model = model, Training = "t.jsonl", MinScore = 0.5 }), e => e.StartsWith("stages[0].training: and model are two sources", StringComparison.Ordinal));
        Assert.Contains(Errors(new QualityScoreStageSpec { Model = new ScoringModelSpec(), MinScore = 0.5 }), e => e.StartsWith("stages[0].model.modelPath: is required", StringComparison.Ordinal));
        Assert.Contains(Errors(new QualityScoreStageSpec { Model = model with { Label = -1 }, MinScore = 0.5 }), e => e.StartsWith("stages[0].model.label", StringComparison.Ordinal));
        Assert.Contains(Errors(new QualityScoreStageSpec { Model = model with { MaxTokens = 4 }, MinScore = 0.5 }), e => e.StartsWith("stages[0].model.maxTokens", StringComparison.Ordinal));
        Assert.Contains(Errors(new QualityScoreStageSpec { Model = model, MinScore = double.NaN }), e => e.StartsWith("stages[0].minScore", StringComparison.Ordinal));
        Assert.Contains(Errors(new EmbedStageSpec(), new QualityScoreStageSpec { Training = "t.jsonl", MinScore = 3 }), e => e.StartsWith("stages[1].minScore: must be in [0, 1]", StringComparison.Ordinal));

        Assert.Equal(
            [new StageFile("model.modelPath", "/models/edu/model.onnx"), new StageFile("model.vocabPath", "/models/edu/vocab.txt")],
            new QualityScoreStageSpec { Model = model, MinScore = 0.5 }.FilesRead());
        var json = System.Text.Json.JsonSerializer.Serialize<StageSpec>(new QualityScoreStageSpec { Model = model with { Label = 0 }, KeepFraction = 0.1 }, CurationJson.Options);
        log.WriteLine(json);
        Assert.DoesNotContain("\"vocabulary\"", json, StringComparison.Ordinal);
        var back = Assert.IsType<QualityScoreStageSpec>(System.Text.Json.JsonSerializer.Deserialize<StageSpec>(json, CurationJson.Options));
        Assert.Equal(model with { Label = 0 }, back.Model);
    }

    [Fact]
    public void A_softmax_head_scores_the_probability_of_its_label_and_its_log_odds()
    {
        float[] logits = [2.5f, -1f, 0.25f];
        var exp = logits.Select(l => Math.Exp(l)).ToArray();
        for (var label = 0; label < 3; label++)
        {
            var (logit, score) = new ModelHead(3, label, false).Read(logits);
            var p = exp[label] / exp.Sum();
            Assert.Equal(p, score, 12);
            Assert.Equal(Math.Log(p / (1 - p)), logit, 10);
            Assert.Equal(score, new ModelHead(3, label, false).ScoreOf(logit), 12);
        }
        // Far apart logits do not overflow; one output is the logit itself or its sigmoid.
        Assert.Equal(1.0, new ModelHead(2, 1, false).Read([-1000f, 1000f]).Score);
        Assert.Equal(2000.0, new ModelHead(2, 1, false).Read([-1000f, 1000f]).Logit);
        Assert.Equal((3.5, 3.5), new ModelHead(1, 0, false).Read([3.5f]));
        Assert.Equal(1 / (1 + Math.Exp(-3.5)), new ModelHead(1, 0, true).Read([3.5f]).Score, 12);
    }
}
