using Curation.Pipelines.Spec;
using Curation.Pipelines.Stages;

namespace Curation.Pipelines.Tests.Stages;

/// <summary>A stage is declared once, on its spec record: JSON type, validation, creation and funnel role come from there.</summary>
public sealed class StageRegistryTests
{
    [Fact]
    public void Every_spec_record_is_registered_once_and_round_trips_through_json()
    {
        var specTypes = typeof(StageSpec).Assembly.GetTypes().Where(t => t.IsSubclassOf(typeof(StageSpec)) && !t.IsAbstract).ToArray();
        Assert.Equal(specTypes.Length, StageRegistry.All.Count);
        Assert.Equal(StageRegistry.All.Count, StageRegistry.All.Select(d => d.Type).Distinct().Count());
        foreach (var d in StageRegistry.All)
        {
            Assert.Matches("^[a-z][a-z0-9_]*$", d.Type);
            var json = $$"""{ "name": "j", "inputs": [ { "path": "/in/*.jsonl" } ], "stages": [ { "type": "{{d.Type}}" } ], "output": { "path": "/out" } }""";
            var spec = JobSpec.Parse(json);
            var stage = Assert.Single(spec.Stages);
            Assert.IsType(d.SpecType, stage);
            Assert.Equal(d.Type, stage.Type);
            Assert.Contains($"\"type\": \"{d.Type}\"", spec.ToJson(), StringComparison.Ordinal);
            Assert.Equal(d.Type, stage.CreateStage(1).Name);
        }
    }

    [Fact]
    public void An_unknown_type_names_the_field()
    {
        var e = Assert.Throws<JobSpecException>(() => JobSpec.Parse("""{ "name": "j", "inputs": [], "stages": [ { "type": "no_such_stage" } ], "output": { "path": "/o" } }"""));
        Assert.Contains("stages[0]", e.Errors[0].Field, StringComparison.Ordinal);
    }

    [Fact]
    public void A_stage_validates_its_own_fields_under_its_json_path()
    {
        var spec = new JobSpec
        {
            Name = "j", Inputs = [new InputSpec { Path = "/in/*.jsonl" }], Output = new OutputSpec { Path = "/out" },
            Stages = [new NormalizeStageSpec(), new QualityFilterStageSpec { MaxSymbolRatio = 2 }, new D4StageSpec { KeepFraction = 0.5 }],
        };
        var errors = JobSpecValidator.Validate(spec);
        Assert.Contains(errors, e => e.Field == "stages[1].maxSymbolRatio");
        Assert.Contains(errors, e => e.Field == "stages[2].type" && e.Message.Contains("embed", StringComparison.Ordinal));
    }

    [Fact]
    public void Funnel_roles_come_from_the_declaration()
    {
        Assert.Equal("quality_filter", StageRegistry.FindByStageName("02-quality_filter")!.FunnelStep);
        Assert.Equal("exact", StageRegistry.FindByStageName("exact_dedup")!.FunnelStep);
        Assert.Equal("near", StageRegistry.Find("near_dedup")!.FunnelStep);
        Assert.Equal("semantic", StageRegistry.Find("semantic_dedup")!.FunnelStep);
        Assert.Null(StageRegistry.Find("normalize")!.FunnelStep);
        Assert.Null(StageRegistry.FindByStageName("99-nothing"));
    }
}
