using Curation.Pipelines.Spec;
using Curation.Pipelines.Stages.QualityScore;
using Curation.Silo.Api;
using Curation.Testing;

namespace Curation.Silo.Tests;

/// <summary>A submitted job's tokenizer, model and labelled-example files must lie under an allowed root, links followed.</summary>
public sealed class TokenizerPathPolicyTests : IDisposable
{
    private readonly TempDirectory _allowed = new("allowed");
    private readonly TempDirectory _outside = new("outside");

    public void Dispose()
    {
        _allowed.Dispose();
        _outside.Dispose();
    }

    private static JobSpec Spec(string tokenizer) => new()
    {
        Name = "t", Inputs = [new InputSpec { Path = "in/*.jsonl" }],
        Stages = [new TrainTokenizeStageSpec { Encoding = "cl100k_base", TokenizerPath = tokenizer }],
        Output = new OutputSpec { Path = "out" },
    };

    [Fact]
    public void Tokenizer_files_outside_the_allowed_roots_or_linking_out_are_refused()
    {
        var inside = _allowed.Combine("ok.tiktoken");
        File.WriteAllText(inside, "");
        var outside = _outside.Combine("secret.tiktoken");
        File.WriteAllText(outside, "");
        var link = _allowed.Combine("link.tiktoken");
        File.CreateSymbolicLink(link, outside);

        Assert.Empty(SubmissionPolicy.Check(Spec(inside), [_allowed.Path]));
        Assert.Contains(SubmissionPolicy.Check(Spec(outside), [_allowed.Path]), e => e.Field == "stages[0].tokenizerPath");
        Assert.Contains(SubmissionPolicy.Check(Spec(link), [_allowed.Path]), e => e.Field == "stages[0].tokenizerPath");
        Assert.Contains(SubmissionPolicy.Check(Spec(_allowed.Combine("..", Path.GetFileName(_outside.Path), "secret.tiktoken")), [_allowed.Path]),
            e => e.Field == "stages[0].tokenizerPath");
        Assert.Contains(SubmissionPolicy.Check(Spec(inside), []), e => e.Field == "stages[0].tokenizerPath");
    }

    [Fact]
    public void Without_allowed_roots_a_local_input_is_refused_naming_it_and_the_data_prefix_is_the_way_in()
    {
        // The CLI makes `in/*.jsonl` absolute against the job file: the refusal names what it became and how to name the
        // data store instead (the old sentence said 'use a path inside the data store', which the CLI could not send).
        var local = new JobSpec { Name = "t", Inputs = [new InputSpec { Path = "/srv/jobs/in/*.jsonl" }], Stages = [], Output = new OutputSpec { Path = "out" } };
        var error = Assert.Single(SubmissionPolicy.Check(local, []));
        Assert.Equal("inputs[0].path", error.Field);
        Assert.StartsWith("'/srv/jobs/in/*.jsonl' is a local folder, and this cluster lets submitted jobs use none", error.Message, StringComparison.Ordinal);
        Assert.Contains("'data:corpus/*.jsonl'", error.Message, StringComparison.Ordinal);

        var stored = local with { Inputs = [new InputSpec { Path = "data:in/*.jsonl" }], Output = new OutputSpec { Path = "data:curated/t" } };
        Assert.Empty(SubmissionPolicy.Check(stored, []));
        Assert.Contains(SubmissionPolicy.Check(stored with { Inputs = [new InputSpec { Path = "data:../in/*.jsonl" }] }, []),
            e => e.Field == "inputs[0].path");
        Assert.Contains(SubmissionPolicy.Check(stored with { Output = new OutputSpec { Path = "data:jobs/x" } }, []), e => e.Field == "output.path");
    }

    [Fact]
    public void Url_filter_blocklists_outside_the_allowed_roots_or_linking_out_are_refused()
    {
        var inside = _allowed.Combine("domains.txt");
        File.WriteAllText(inside, "");
        var outside = _outside.Combine("substrings.txt");
        File.WriteAllText(outside, "");
        var link = _allowed.Combine("link.txt");
        File.CreateSymbolicLink(link, outside);
        JobSpec Filter(string domains, string substrings) => Spec(inside) with
        {
            Stages = [new Curation.Pipelines.Stages.UrlFilterStageSpec { DomainsPath = domains, SubstringsPath = substrings }],
        };

        Assert.Empty(SubmissionPolicy.Check(Filter(inside, inside), [_allowed.Path]));
        Assert.Contains(SubmissionPolicy.Check(Filter(inside, outside), [_allowed.Path]), e => e.Field == "stages[0].substringsPath");
        Assert.Contains(SubmissionPolicy.Check(Filter(link, inside), [_allowed.Path]), e => e.Field == "stages[0].domainsPath");
    }

    [Fact]
    public void Model_files_of_tokenize_embed_and_the_semantic_cascade_outside_the_allowed_roots_are_refused()
    {
        var inside = _allowed.Combine("model.onnx");
        var vocab = _allowed.Combine("vocab.txt");
        File.WriteAllText(inside, "");
        File.WriteAllText(vocab, "");
        var outside = _outside.Combine("model.onnx");
        File.WriteAllText(outside, "");
        var link = _allowed.Combine("link.onnx");
        File.CreateSymbolicLink(link, outside);
        JobSpec With(string model) => new()
        {
            Name = "m", Inputs = [new InputSpec { Path = "in/*.jsonl" }],
            Stages =
            [
                new TokenizeStageSpec(), new EmbedStageSpec { Model = new ModelSpec { Kind = ModelKind.Static } },
                new SemanticDedupStageSpec { Verify = new SemanticVerifySpec { Model = new ModelSpec { ModelPath = model, VocabPath = vocab } } },
            ],
            Output = new OutputSpec { Path = "out" },
        };
        Assert.Empty(SubmissionPolicy.Check(With(inside), [_allowed.Path]));
        Assert.Contains(SubmissionPolicy.Check(With(outside), [_allowed.Path]), e => e.Field == "stages[2].verify.model.modelPath");
        Assert.Contains(SubmissionPolicy.Check(With(link), [_allowed.Path]), e => e.Field == "stages[2].verify.model.modelPath");
        var embed = new JobSpec
        {
            Name = "e", Inputs = [new InputSpec { Path = "in/*.jsonl" }],
            Stages = [new EmbedStageSpec { Model = new ModelSpec { ModelPath = inside, VocabPath = _outside.Combine("vocab.txt") } }],
            Output = new OutputSpec { Path = "out" },
        };
        Assert.Contains(SubmissionPolicy.Check(embed, [_allowed.Path]), e => e.Field == "stages[0].model.vocabPath");
    }

    [Fact]
    public void Quality_score_training_files_are_checked_like_inputs()
    {
        var inside = _allowed.Combine("train.jsonl");
        File.WriteAllText(inside, "");
        var outside = _outside.Combine("train.jsonl");
        File.WriteAllText(outside, "");
        var link = _allowed.Combine("link.jsonl");
        File.CreateSymbolicLink(link, outside);
        JobSpec With(string training) => new()
        {
            Name = "q", Inputs = [new InputSpec { Path = "in/*.jsonl" }],
            Stages = [new EmbedStageSpec(), new QualityScoreStageSpec { Training = training, MinScore = 0.5 }],
            Output = new OutputSpec { Path = "out" },
        };
        Assert.Empty(SubmissionPolicy.Check(With(inside), [_allowed.Path]));
        Assert.Empty(SubmissionPolicy.Check(With("labelled/train.jsonl"), [_allowed.Path])); // in the data store
        Assert.Contains(SubmissionPolicy.Check(With(outside), [_allowed.Path]), e => e.Field == "stages[1].training");
        Assert.Contains(SubmissionPolicy.Check(With(link), [_allowed.Path]), e => e.Field == "stages[1].training");
        Assert.Contains(SubmissionPolicy.Check(With("labelled/../../x.jsonl"), [_allowed.Path]), e => e.Field == "stages[1].training");
        Assert.Contains(SubmissionPolicy.Check(With(inside), []), e => e.Field == "stages[1].training");
    }

    [Fact]
    public void A_quality_score_model_and_its_vocabulary_must_lie_inside_the_allowed_roots()
    {
        var inside = _allowed.Combine("edu", "model.onnx");
        Directory.CreateDirectory(Path.GetDirectoryName(inside)!);
        File.WriteAllText(inside, "");
        var outside = _outside.Combine("model.onnx");
        File.WriteAllText(outside, "");
        var link = _allowed.Combine("link.onnx");
        File.CreateSymbolicLink(link, outside);
        JobSpec With(ScoringModelSpec model) => new()
        {
            Name = "q", Inputs = [new InputSpec { Path = "in/*.jsonl" }],
            Stages = [new QualityScoreStageSpec { Model = model, MinScore = 0.5 }],
            Output = new OutputSpec { Path = "out" },
        };
        Assert.Empty(SubmissionPolicy.Check(With(new() { ModelPath = inside }), [_allowed.Path])); // vocab.txt beside it
        Assert.Contains(SubmissionPolicy.Check(With(new() { ModelPath = outside }), [_allowed.Path]), e => e.Field == "stages[0].model.modelPath");
        Assert.Contains(SubmissionPolicy.Check(With(new() { ModelPath = link, VocabPath = _allowed.Combine("vocab.txt") }), [_allowed.Path]), e => e.Field == "stages[0].model.modelPath");
        Assert.Contains(SubmissionPolicy.Check(With(new() { ModelPath = inside, VocabPath = _outside.Combine("vocab.txt") }), [_allowed.Path]), e => e.Field == "stages[0].model.vocabPath");
        Assert.Contains(SubmissionPolicy.Check(With(new() { ModelPath = inside }), []), e => e.Field == "stages[0].model.modelPath");
    }

    [Fact]
    public void Decontamination_evaluation_sets_are_checked_like_inputs()
    {
        var inside = _allowed.Combine("eval.jsonl");
        File.WriteAllText(inside, "");
        var outside = _outside.Combine("eval.jsonl");
        File.WriteAllText(outside, "");
        JobSpec With(string path) => new()
        {
            Name = "d", Inputs = [new InputSpec { Path = "in/*.jsonl" }],
            Stages = [new Curation.Pipelines.Stages.DecontaminateStageSpec { Benchmarks = [new Curation.Pipelines.Stages.EvaluationSetSpec { Name = "b", Path = path }] }],
            Output = new OutputSpec { Path = "out" },
        };
        Assert.Empty(SubmissionPolicy.Check(With(inside), [_allowed.Path]));
        Assert.Contains(SubmissionPolicy.Check(With(outside), [_allowed.Path]), e => e.Field == "stages[0].benchmarks[0].path");
        Assert.Contains(SubmissionPolicy.Check(With("evals/../../x.jsonl"), [_allowed.Path]), e => e.Field == "stages[0].benchmarks[0].path");
    }
}
