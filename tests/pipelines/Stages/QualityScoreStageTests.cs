using System.Text.Json;
using Curation.Pipelines.Semantic;
using Curation.Pipelines.Spec;
using Curation.Pipelines.Stages;
using Curation.Pipelines.Stages.QualityScore;
using Curation.Testing;
using Xunit.Abstractions;

namespace Curation.Pipelines.Tests.Stages;

/// <summary>
/// quality_score end to end in-process on the static embedder (fast; order-blind, so its bad side is boilerplate):
/// minScore and the global keepFraction cutoff, the drop details, bad labelled lines, the report and validation. The
/// transformer on shuffled words, and 1 vs 3 silos, are in the grains tests (QualityScoreJobTests).
/// </summary>
public sealed class QualityScoreStageTests(ITestOutputHelper log) : IDisposable
{
    private readonly TempDirectory _temp = new("quality-score");

    public void Dispose() => _temp.Dispose();

    private static readonly ModelSpec Static = new() { Kind = ModelKind.Static, Dims = 256 };

    private (string Training, string Corpus) Write(string[]? badLines = null)
    {
        var training = _temp.Combine("labelled", "train.jsonl");
        QualityExamples.WriteLabelled(training, QualityExamples.Take(skip: 0, count: 100, boilerplate: true, seed: 3, idPrefix: "t-"), badLines);
        var corpus = _temp.Combine("corpus");
        QualityExamples.WriteCorpus(corpus, QualityExamples.Take(skip: 200, count: 60, boilerplate: true, seed: 4, idPrefix: "c-"));
        return (training, corpus);
    }

    private static JobSpec Spec(string corpus, QualityScoreStageSpec quality) => new()
    {
        Name = "quality-score",
        Inputs = [new InputSpec { Path = Path.Combine(corpus, "*.jsonl"), IdField = "id" }],
        Sharding = new ShardingSpec { TargetShardBytes = 12 * 1024 },
        Stages = [new EmbedStageSpec { Model = Static }, quality],
        Output = new OutputSpec { Path = "curated/quality" },
    };

    private Task<QualityScoreRun> RunAsync(JobSpec spec, string name) => QualityScoreRun.RunAsync(spec, _temp.Combine(name));

    [Fact]
    public async Task The_top_keep_fraction_by_score_is_kept_exactly_ties_by_id_and_the_report_adds_up()
    {
        var (training, corpus) = Write();
        const double keep = 0.4;
        var run = await RunAsync(Spec(corpus, new QualityScoreStageSpec { Training = training, KeepFraction = keep }), "keep");
        var (output, report) = (run.Output, run.Report);
        log.WriteLine($"held-out accuracy {report.Classifier!.HeldOutAccuracy} on {report.Classifier!.HeldOutExamples}, train {report.Classifier!.TrainAccuracy}");
        Assert.True(output.Manifest.Shards.Count >= 2, "several shards");
        Assert.Empty(output.Manifest.Accounting.Imbalances());
        const int n = 120;
        Assert.Equal(n, run.Scores.Count);
        Assert.Equal(D4Selection.KeepCount(n, keep), output.KeptIds.Count);
        var drops = output.Drops.Where(d => d.Stage == QualityScoreStageSpec.TypeName).ToList();
        Assert.All(drops, d => Assert.Equal(QualityScoreStage.LowScoreReason, d.Reason));
        Assert.Equal(n - output.KeptIds.Count, drops.Count);
        Assert.All(drops, d => Assert.Contains("at or below the keepFraction 0.4 cutoff", d.Detail));

        // The removed documents are the lowest on (logit, id), ranked here independently; the output column is the score.
        var ranked = run.Scores.OrderBy(s => D4Selection.KeyOf(s.Value.Logit)).ThenBy(s => s.Key, StringComparer.Ordinal).Select(s => s.Key).ToArray();
        Assert.Equal(ranked.Take(drops.Count).Order(StringComparer.Ordinal), drops.Select(d => d.Id).Order(StringComparer.Ordinal));
        var lastRemoved = ranked[drops.Count - 1];
        Assert.All(output.KeptIds, id => Assert.Equal(run.Scores[id].Score, run.Column[id]));
        // A separable task: the kept 40 % are all real paragraphs.
        Assert.All(output.KeptIds, id => Assert.StartsWith("c-good-", id));

        Assert.True(report.Classifier!.HeldOutAccuracy >= 0.9, $"held-out accuracy {report.Classifier!.HeldOutAccuracy}");
        Assert.Equal(200, report.Classifier!.Examples);
        Assert.Equal(200, report.Classifier!.TrainExamples + report.Classifier!.HeldOutExamples);
        Assert.InRange(report.Classifier!.HeldOutExamples, 20, 60);
        Assert.Equal(n, report.Documents);
        Assert.Equal(drops.Count, report.Removed);
        Assert.Equal(n, report.ScoreHistogram.Sum(b => b.Count));
        Assert.Equal(output.KeptIds.Count, report.KeptScoreHistogram.Sum(b => b.Count));
        Assert.Equal(lastRemoved, report.CutoffId);
        Assert.Equal(run.Scores[lastRemoved].Logit, report.CutoffLogit);
        var good = report.Sources.Single(s => s.Source.EndsWith("good.jsonl", StringComparison.Ordinal));
        var bad = report.Sources.Single(s => s.Source.EndsWith("bad.jsonl", StringComparison.Ordinal));
        Assert.Equal(60, good.Documents);
        Assert.Equal(run.Scores.Where(s => s.Key.StartsWith("c-good-", StringComparison.Ordinal)).Average(s => (double)s.Value.Score), good.MeanScore, 9);
        Assert.True(good.MeanScore > 0.8 && bad.MeanScore < 0.2, $"means: good {good.MeanScore}, bad {bad.MeanScore}");
        Assert.Equal(output.KeptIds.Count, good.Kept + bad.Kept);
    }

    [Fact]
    public async Task A_labelled_set_shipped_as_one_JSON_array_trains_the_same_and_names_bad_elements()
    {
        var (training, corpus) = Write();
        var lines = File.ReadAllLines(training).Select(l => JsonDocument.Parse(l).RootElement.Clone())
            .Append(JsonDocument.Parse("{\"text\": \"no label here\"}").RootElement.Clone()).ToArray();
        var array = Path.ChangeExtension(training, ".json");
        File.WriteAllText(array, JsonSerializer.Serialize(lines, new JsonSerializerOptions { WriteIndented = true }));

        var fromLines = await RunAsync(Spec(corpus, new QualityScoreStageSpec { Training = training, MinScore = 0.5 }), "lines");
        var fromArray = await RunAsync(Spec(corpus, new QualityScoreStageSpec { Training = array, MinScore = 0.5 }), "array");
        Assert.Equal(lines.Length, fromArray.Report.Classifier!.Lines);
        Assert.Equal([$"element {lines.Length}: no label"], fromArray.Report.Classifier!.SkippedSamples);
        Assert.Equal(fromLines.Scores.OrderBy(s => s.Key, StringComparer.Ordinal), fromArray.Scores.OrderBy(s => s.Key, StringComparer.Ordinal));
    }

    [Fact]
    public async Task MinScore_drops_what_scores_below_it_and_bad_labelled_lines_are_skipped_and_named()
    {
        var (training, corpus) = Write(["not json", "{\"text\": \"no label here\"}", "{\"text\": \"\", \"label\": 1}", "{\"text\": \"a maybe\", \"label\": \"maybe\"}"]);
        var run = await RunAsync(Spec(corpus, new QualityScoreStageSpec { Training = training, MinScore = 0.5 }), "min");
        var (output, report) = (run.Output, run.Report);
        Assert.Empty(output.Manifest.Accounting.Imbalances());
        var drops = output.Drops.Where(d => d.Stage == QualityScoreStageSpec.TypeName).ToList();
        Assert.All(drops, d =>
        {
            Assert.True(run.Scores[d.Id].Score < 0.5f, d.Detail);
            Assert.Contains("< minScore 0.5", d.Detail);
        });
        Assert.All(output.KeptIds, id => Assert.True(run.Column[id] >= 0.5f));
        Assert.Equal(run.Scores.Count(s => s.Value.Score < 0.5f), drops.Count);
        Assert.True(drops.Count >= 50, $"{drops.Count} dropped");
        Assert.Equal(QualityScoreStage.LowScoreReason, Assert.Single(output.Manifest.Accounting.Stages.Single(s => s.Stage.EndsWith("quality_score", StringComparison.Ordinal)).Dropped).Key);

        Assert.Equal(4, report.Classifier!.Skipped);
        Assert.Equal(204, report.Classifier!.Lines);
        Assert.Contains(report.Classifier!.SkippedSamples, s => s.StartsWith("line 201: not JSON", StringComparison.Ordinal));
        Assert.Contains("line 202: no label", report.Classifier!.SkippedSamples);
        Assert.Contains(report.Classifier!.SkippedSamples, s => s.StartsWith("line 204: label \"maybe\"", StringComparison.Ordinal));
        Assert.Null(report.CutoffId);
        Assert.Equal(0.5, report.MinScore);

        // The what-if of minScore: at each edge of its histogram, exactly the documents scoring below it (what a re-run drops).
        var stage = WhatIf.FindStage(run.Job, QualityScoreStageSpec.TypeName)!;
        foreach (var t in new[] { 0.3, 0.5, 0.7 })
        {
            var answer = await WhatIf.ComputeAsync(run.Job, stage, "minScore", t, CancellationToken.None);
            Assert.True(answer.Exact);
            Assert.Equal(drops.Count, answer.Removed);
            Assert.Equal(run.Scores.Count(s => s.Value.Score < t), answer.RemovedAtThreshold);
        }
    }

    [Fact]
    public void The_spec_needs_an_embed_stage_a_training_file_and_a_rule()
    {
        static IReadOnlyList<string> Errors(params StageSpec[] stages) => JobSpecValidator.Validate(new JobSpec
        {
            Name = "q", Inputs = [new InputSpec { Path = "in/*.jsonl" }], Stages = stages, Output = new OutputSpec { Path = "out" },
        }).Select(e => $"{e.Field}: {e.Message}").ToArray();

        Assert.Empty(Errors(new EmbedStageSpec(), new QualityScoreStageSpec { Training = "labelled/train.jsonl", MinScore = 0.5 }));
        Assert.Contains(Errors(new QualityScoreStageSpec { Training = "t.jsonl", MinScore = 0.5 }), e => e.StartsWith("stages[0].type: quality_score needs an embed stage", StringComparison.Ordinal));
        Assert.Contains(Errors(new EmbedStageSpec(), new QualityScoreStageSpec { MinScore = 0.5 }), e => e.StartsWith("stages[1].training: is required", StringComparison.Ordinal));
        Assert.Contains(Errors(new EmbedStageSpec(), new QualityScoreStageSpec { Training = "t.jsonl" }), e => e.StartsWith("stages[1].minScore: minScore or keepFraction", StringComparison.Ordinal));
        Assert.Contains(Errors(new EmbedStageSpec(), new QualityScoreStageSpec { Training = "../t.jsonl", KeepFraction = 1.5 }), e => e.StartsWith("stages[1].keepFraction", StringComparison.Ordinal));
        Assert.Contains(Errors(new EmbedStageSpec(), new QualityScoreStageSpec { Training = "../t.jsonl", KeepFraction = 0.5 }), e => e.StartsWith("stages[1].training: must not climb", StringComparison.Ordinal));
        Assert.Equal(StageRole.Selection, StageRegistry.Find("quality_score")!.Role);
    }
}
