using Curation.Pipelines.Spec;
using Curation.Silo.Api;
using Curation.Testing;

namespace Curation.Silo.Tests;

/// <summary>A submitted job's tokenizer file must lie under an allowed root, links followed.</summary>
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
}
