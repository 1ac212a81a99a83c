using Curation.Pipelines.Execution;
using Curation.Pipelines.Spec;
using Curation.Pipelines.Stages;

namespace Curation.Pipelines.Tests.Spec;

/// <summary>
/// Budgets: a spec that validates cannot ask for unbounded work. Each refusal names the field and the limit
/// (its <c>Curation:Limits</c> key); operators raise limits in configuration, and nothing in a spec can.
/// </summary>
public sealed class JobLimitsTests
{
    private static JobSpec Spec(params StageSpec[] stages) => new()
    {
        Name = "budget", Inputs = [new InputSpec { Path = "corpus/*.jsonl" }], Stages = stages, Output = new OutputSpec { Path = "curated/budget" },
    };

    private static SpecError Refused(JobSpec spec, string field, string limit, JobLimits? limits = null)
    {
        var errors = JobSpecValidator.Validate(spec, limits);
        var error = Assert.Single(errors, e => e.Field == field);
        Assert.Contains($"{JobLimits.Section}:{limit}", error.Message, StringComparison.Ordinal);
        return error;
    }

    [Fact]
    public void The_defaults_accept_the_documented_stages_with_their_defaults()
    {
        var spec = Spec(new NormalizeStageSpec(), new QualityFilterStageSpec(), new ExactDedupStageSpec(), new NearDedupStageSpec(),
            new TokenizeStageSpec(), new EmbedStageSpec(), new SemanticDedupStageSpec(), new D4StageSpec { KeepFraction = 0.5 });
        Assert.Empty(JobSpecValidator.Validate(spec));
        var (tasks, phases) = JobBudget.Count(spec, JobBudget.OneShardPlan());
        Assert.InRange(tasks, 1, JobLimits.Default.MaxTasksPerJob);
        Assert.InRange(phases, 1, JobLimits.Default.MaxPhasesPerJob);
    }

    [Fact]
    public void A_five_million_entry_eps_curve_is_refused_naming_the_list_and_its_limit()
    {
        var curve = Enumerable.Repeat(0.01, 5_000_000).ToArray();
        var error = Refused(Spec(new EmbedStageSpec(), new SemanticDedupStageSpec { EpsCurve = curve }), "stages[1].epsCurve", nameof(JobLimits.MaxListLength));
        Assert.Contains("64", error.Message, StringComparison.Ordinal);
        Assert.Empty(JobSpecValidator.Validate(Spec(new EmbedStageSpec(), new SemanticDedupStageSpec { EpsCurve = curve[..64] })));
    }

    [Fact]
    public void Partitions_times_rounds_that_plan_hundreds_of_thousands_of_tasks_are_refused_at_validation()
    {
        // The reported abuse: exact and near dedup with 4096 partitions and 200 rounds planned 827,397 tasks for 20 documents.
        var spec = Spec(new ExactDedupStageSpec { Partitions = 4096 }, new NearDedupStageSpec { Partitions = 4096, MaxRounds = 200 });
        var error = Refused(spec, "stages[1]", nameof(JobLimits.MaxTasksPerJob));
        Assert.Contains("827,", error.Message, StringComparison.Ordinal);
        // The same spec passes where an operator raised the limit (configuration, never the spec).
        var raised = new JobLimits { MaxTasksPerJob = 1_000_000 };
        Assert.Empty(JobSpecValidator.Validate(spec, raised));
    }

    [Fact]
    public void Partition_phases_wider_than_a_phase_may_be_are_refused_naming_the_partitions()
    {
        var limits = new JobLimits { MaxTasksPerPhase = 1000 };
        Refused(Spec(new ExactDedupStageSpec { Partitions = 4096 }), "stages[0].partitions", nameof(JobLimits.MaxTasksPerPhase), limits);
    }

    [Fact]
    public void A_hundred_near_dedup_stages_are_refused_naming_the_stage_limit()
    {
        var stages = Enumerable.Range(0, 100).Select(_ => (StageSpec)new NearDedupStageSpec()).ToArray();
        Refused(Spec(stages), "stages", nameof(JobLimits.MaxStages));
    }

    [Fact]
    public void Thousands_of_k_means_iterations_are_refused_by_the_phase_budget()
    {
        Refused(Spec(new EmbedStageSpec(), new SemanticDedupStageSpec { MaxIterations = 1000 }), "stages", nameof(JobLimits.MaxPhasesPerJob));
    }

    [Fact]
    public void Inputs_clusters_and_record_sizes_have_configured_ceilings()
    {
        var inputs = Enumerable.Range(0, 10_001).Select(i => new InputSpec { Path = $"corpus/{i}.jsonl" }).ToArray();
        Refused(Spec() with { Inputs = inputs }, "inputs", nameof(JobLimits.MaxInputs));
        Assert.Empty(JobSpecValidator.Validate(Spec() with { Inputs = inputs[..10_000] }));

        Refused(Spec(new EmbedStageSpec(), new SemanticDedupStageSpec { Clusters = 1_000_000 }), "stages[1].clusters", nameof(JobLimits.MaxClusters));

        var big = Spec() with { Inputs = [new InputSpec { Path = "corpus/*.jsonl", MaxRecordBytes = 268_435_456 }] };
        Refused(big, "inputs[0].maxRecordBytes", nameof(JobLimits.MaxRecordBytes));
        Assert.Empty(JobSpecValidator.Validate(big with { Inputs = [big.Inputs[0] with { MaxRecordBytes = JobLimits.Default.MaxRecordBytes }] }));
        // The ceiling bench record measured: 60 MiB peaks below 1 GiB through four stages; one byte more is refused.
        Assert.Equal(60 << 20, JobLimits.Default.MaxRecordBytes);
        Refused(big with { Inputs = [big.Inputs[0] with { MaxRecordBytes = (60 << 20) + 1 }] }, "inputs[0].maxRecordBytes", nameof(JobLimits.MaxRecordBytes));
    }

    [Fact]
    public void The_k_means_init_sample_has_a_configured_ceiling_and_must_seed_every_cluster()
    {
        Refused(Spec(new EmbedStageSpec(), new D4StageSpec { KeepFraction = 0.5, InitSampleMax = 100_001 }), "stages[1].initSampleMax",
            nameof(JobLimits.MaxInitSampleVectors));
        Assert.Empty(JobSpecValidator.Validate(Spec(new EmbedStageSpec(), new D4StageSpec { KeepFraction = 0.5, InitSampleMax = 100_000 })));
        // An operator raises the ceiling in configuration; the spec then may ask for more.
        var raised = new JobLimits { MaxInitSampleVectors = 400_000 };
        Assert.Empty(JobSpecValidator.Validate(Spec(new EmbedStageSpec(), new SemanticDedupStageSpec { InitSampleMax = 400_000 }), raised));

        // A sample smaller than the clusters would silently fit fewer clusters: refused, naming what to change.
        var errors = JobSpecValidator.Validate(Spec(new EmbedStageSpec(), new SemanticDedupStageSpec { Clusters = 200, InitSampleMax = 100 }));
        Assert.Contains("at least clusters (200)", Assert.Single(errors, e => e.Field == "stages[1].initSampleMax").Message, StringComparison.Ordinal);
        var moreClusters = new JobLimits { MaxClusters = 200_000 };
        errors = JobSpecValidator.Validate(Spec(new EmbedStageSpec(), new D4StageSpec { KeepFraction = 0.5, Clusters = 150_000 }), moreClusters);
        Assert.Contains("initSampleMax", Assert.Single(errors, e => e.Field == "stages[1].clusters").Message, StringComparison.Ordinal);

        var result = new JobLimitsValidator().Validate(null, new JobLimits { MaxInitSampleVectors = JobLimits.HardMaxInitSampleVectors + 1 });
        Assert.Contains(result.Failures!, f => f.Contains("Curation:Limits:MaxInitSampleVectors", StringComparison.Ordinal));
    }

    [Fact]
    public void A_spec_larger_than_the_spec_limit_is_refused()
    {
        var limits = new JobLimits { MaxSpecBytes = 2048 };
        var inputs = Enumerable.Range(0, 100).Select(i => new InputSpec { Path = $"corpus/a-rather-long-object-name-{i:D5}.jsonl" }).ToArray();
        Refused(Spec() with { Inputs = inputs }, "$", nameof(JobLimits.MaxSpecBytes), limits);
    }

    [Fact]
    public void A_plan_with_more_shards_than_a_phase_may_have_is_refused_naming_the_shard_size()
    {
        var spec = Spec(new NormalizeStageSpec());
        var shards = Enumerable.Range(0, 11).Select(i => new PlannedShard(i, [])).ToArray();
        var errors = JobBudget.Check(spec, new JobPlan("j", shards), new JobLimits { MaxTasksPerPhase = 10, MaxTasksPerJob = 1000 });
        var error = Assert.Single(errors);
        Assert.Equal("sharding.targetShardBytes", error.Field);
        Assert.Contains(nameof(JobLimits.MaxTasksPerPhase), error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Stored_errors_are_cut_to_a_bounded_length_saying_how_much_was_left_out()
    {
        var limits = new JobLimits { MaxStoredErrorChars = 300 };
        var cut = limits.Truncate(new string('x', 900_000));
        Assert.True(cut.Length <= 300, $"{cut.Length} characters");
        var kept = cut.IndexOf('…', StringComparison.Ordinal);
        Assert.EndsWith($"… ({900_000 - kept:N0} more characters)", cut, StringComparison.Ordinal);
        Assert.Equal("short", limits.Truncate("short"));

        var many = Enumerable.Range(0, 10_000).Select(i => new SpecError($"inputs[{i}].path", "object 'a.jsonl' is also matched by inputs[0]")).ToArray();
        var message = new JobSpecException(many).Message;
        Assert.True(message.Length < 2_000, $"{message.Length} characters");
        Assert.EndsWith("… and 9,980 more", message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_options_validator_names_each_bad_key()
    {
        var result = new JobLimitsValidator().Validate(null, new JobLimits { MaxTasksPerPhase = 0, MaxRecordBytes = int.MaxValue });
        Assert.True(result.Failed);
        Assert.Contains(result.Failures!, f => f.Contains("Curation:Limits:MaxTasksPerPhase", StringComparison.Ordinal));
        Assert.Contains(result.Failures!, f => f.Contains("Curation:Limits:MaxRecordBytes", StringComparison.Ordinal));
        Assert.True(new JobLimitsValidator().Validate(null, new JobLimits()).Succeeded);
    }
}
