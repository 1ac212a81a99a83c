using Curation.Pipelines.Spec;

namespace Curation.Pipelines.Tests.NearDup;

public sealed class NearDedupSpecTests
{
    private static JobSpec WithStage(string stage) => JobSpec.Parse($$"""
        {
          "name": "near",
          "inputs": [{ "path": "corpus/*.jsonl", "idField": "id" }],
          "stages": [ { "type": "normalize" }, {{stage}} ],
          "output": { "path": "curated/near" }
        }
        """);

    [Fact]
    public void Near_dedup_parses_with_its_documented_defaults()
    {
        var spec = WithStage("""{ "type": "near_dedup" }""");
        Assert.Empty(JobSpecValidator.Validate(spec));
        var near = Assert.IsType<NearDedupStageSpec>(spec.Stages[1]);
        Assert.Equal((NearDedupShingle.Word, 5, 5, 14, 8), (near.Shingle, near.Ngram, near.CharNgram, near.Bands, near.Rows));
        Assert.Equal((NearDedupVerify.Estimated, 0.7, 2, 16, 24), (near.Verify, near.Threshold, near.Anchors, near.Partitions, near.MaxRounds));
        var parsed = Assert.IsType<NearDedupStageSpec>(WithStage("""{ "type": "near_dedup", "shingle": "char", "charNgram": 24, "bands": 20, "rows": 13, "verify": "exact" }""").Stages[1]);
        Assert.Equal((NearDedupShingle.Char, 24, 20, 13, NearDedupVerify.Exact), (parsed.Shingle, parsed.CharNgram, parsed.Bands, parsed.Rows, parsed.Verify));
    }

    [Theory]
    [InlineData("""{ "type": "near_dedup", "bands": 0 }""", "stages[1].bands")]
    [InlineData("""{ "type": "near_dedup", "bands": 64, "rows": 32 }""", "stages[1].rows")]
    [InlineData("""{ "type": "near_dedup", "ngram": 0 }""", "stages[1].ngram")]
    [InlineData("""{ "type": "near_dedup", "threshold": 1.5 }""", "stages[1].threshold")]
    [InlineData("""{ "type": "near_dedup", "anchors": 0 }""", "stages[1].anchors")]
    [InlineData("""{ "type": "near_dedup", "partitions": 0 }""", "stages[1].partitions")]
    [InlineData("""{ "type": "near_dedup", "maxRounds": 1 }""", "stages[1].maxRounds")]
    public void Invalid_settings_name_their_field(string stage, string field)
    {
        var errors = JobSpecValidator.Validate(WithStage(stage));
        Assert.Contains(errors, e => e.Field == field);
    }

    [Fact]
    public void A_misspelt_setting_is_an_error()
    {
        var error = Assert.Throws<JobSpecException>(() => WithStage("""{ "type": "near_dedup", "band": 14 }"""));
        Assert.Contains("band", error.Message, StringComparison.Ordinal);
    }
}
