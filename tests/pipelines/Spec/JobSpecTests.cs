using Curation.Pipelines.Spec;
using Curation.Pipelines.Stages;

namespace Curation.Pipelines.Tests.Spec;

public sealed class JobSpecTests
{
    private const string Valid = """
        {
          "name": "demo",
          "inputs": [{ "path": "corpus/*.jsonl", "idField": "id" }],
          "stages": [ { "type": "normalize" }, { "type": "quality_filter", "minWords": 3 }, { "type": "exact_dedup", "partitions": 8 } ],
          "output": { "path": "curated/demo" },
          "seed": 7
        }
        """;

    [Fact]
    public void A_valid_spec_parses_with_typed_stages_and_defaults()
    {
        var spec = JobSpec.Parse(Valid);
        Assert.Empty(JobSpecValidator.Validate(spec));
        Assert.Collection(spec.Stages,
            s => Assert.IsType<NormalizeStageSpec>(s),
            s => Assert.Equal(3, Assert.IsType<QualityFilterStageSpec>(s).MinWords),
            s => Assert.Equal(8, Assert.IsType<ExactDedupStageSpec>(s).Partitions));
        Assert.Equal(7, spec.Seed);
        Assert.Equal("text", spec.Inputs[0].TextField);
    }

    [Fact]
    public void Web_archive_inputs_passthrough_fields_and_the_extract_stage_parse_and_validate()
    {
        var spec = JobSpec.Parse("""
            {
              "name": "web",
              "inputs": [{ "path": "crawl/*.warc.gz", "format": "warc_gz", "fields": ["url", "title"], "dropFields": ["title"] }],
              "stages": [ { "type": "extract", "minChars": 200 }, { "type": "normalize", "keepIndentation": true } ],
              "output": { "path": "curated/web" }
            }
            """);
        Assert.Empty(JobSpecValidator.Validate(spec));
        Assert.Equal(InputFormat.WarcGz, spec.Inputs[0].Format);
        Assert.Equal(["url", "title"], spec.Inputs[0].Fields!);
        Assert.Equal(["title"], spec.Inputs[0].DropFields!);
        Assert.Equal(200, Assert.IsType<ExtractStageSpec>(spec.Stages[0]).MinChars);
        Assert.Equal(spec.ToJson(), JobSpec.Parse(spec.ToJson()).ToJson());
        Assert.Contains(JobSpecValidator.Validate(spec with { Stages = [new ExtractStageSpec { MinChars = -1 }] }), e => e.Field == "stages[0].minChars");
        Assert.True(Assert.IsType<NormalizeStageSpec>(spec.Stages[1]).KeepIndentation);
        Assert.Contains(JobSpecValidator.Validate(spec with { Stages = [new NormalizeStageSpec { KeepIndentation = true, KeepLineBreaks = false }] }),
            e => e.Field == "stages[0].keepIndentation" && e.Message.Contains("needs keepLineBreaks", StringComparison.Ordinal));
        Assert.DoesNotContain("keepIndentation", JobSpec.Parse(Valid).ToJson()); // unset: the job ids of existing specs stay
        // Unset, the options stay out of the spec's JSON (and so out of its job id).
        Assert.DoesNotContain("dropFields", JobSpec.Parse(Valid).ToJson());
    }

    [Fact]
    public void Round_trip_through_json_keeps_the_spec_and_its_job_id()
    {
        var spec = JobSpec.Parse(Valid);
        var again = JobSpec.Parse(spec.ToJson());
        Assert.Equal(spec.ToJson(), again.ToJson());
        Assert.Equal(Pipelines.Execution.JobContext.JobIdOf(spec), Pipelines.Execution.JobContext.JobIdOf(again));
        Assert.StartsWith("demo-", Pipelines.Execution.JobContext.JobIdOf(spec));
    }

    [Fact]
    public void A_misspelt_parameter_is_an_error_naming_it_not_a_silent_no_op()
    {
        var error = Assert.Throws<JobSpecException>(() => JobSpec.Parse(Valid.Replace("\"minWords\"", "\"minWord\"")));
        Assert.Contains("minWord", error.Message);
        Assert.Contains("stages[1]", error.Errors[0].Field);
    }

    [Fact]
    public void An_unknown_stage_type_names_the_stage()
    {
        var error = Assert.Throws<JobSpecException>(() => JobSpec.Parse(Valid.Replace("\"exact_dedup\"", "\"exact_dedupe\"")));
        Assert.Contains("stages[2]", error.Errors[0].Field);
    }

    /// <summary>What System.Text.Json cannot read is said in the spec's words: the field, what it must be, the closest name.</summary>
    [Theory]
    [InlineData("\"minWords\"", "\"minWord\"", "stages[1].minWord", "unknown field 'minWord'; did you mean 'minWords'?")]
    [InlineData("\"name\"", "\"nmae\"", "nmae", "unknown field 'nmae'; did you mean 'name'?")]
    [InlineData("\"idField\"", "\"colour\"", "inputs[0].colour", "unknown field 'colour'; the fields here are path, format, textField, idField,")]
    [InlineData("\"exact_dedup\"", "\"exact_dedupe\"", "stages[2].type", "unknown stage type 'exact_dedupe'; did you mean 'exact_dedup'?")]
    [InlineData("{ \"type\": \"normalize\" }", "{ \"form\": \"nfc\" }", "stages[0].type", "missing: every stage names its type, one of c4, d4, decontaminate,")]
    [InlineData("\"minWords\": 3", "\"minWords\": 3.5", "stages[1].minWords", "must be a whole number")]
    [InlineData("\"partitions\": 8", "\"partitions\": true", "stages[2].partitions", "must be a whole number")]
    [InlineData("{ \"type\": \"normalize\" }", "{ \"type\": \"normalize\", \"keepLineBreaks\": \"yes\" }", "stages[0].keepLineBreaks", "must be true or false")]
    [InlineData("{ \"type\": \"normalize\" }", "{ \"type\": \"normalize\", \"form\": \"nfd\" }", "stages[0].form", "must be one of nfc, nfkc")]
    [InlineData("\"idField\": \"id\"", "\"format\": \"jsonll\"", "inputs[0].format", "must be one of auto, jsonl, jsonl_gz, parquet, txt, jsonl_zst, warc, warc_gz, html")]
    [InlineData("\"idField\": \"id\"", "\"idField\": 7", "inputs[0].idField", "must be a string")]
    [InlineData("[{ \"path\": \"corpus/*.jsonl\", \"idField\": \"id\" }]", "{ \"path\": \"corpus/*.jsonl\" }", "inputs", "must be a list [ … ]")]
    [InlineData("{ \"path\": \"curated/demo\" }", "[\"curated/demo\"]", "output", "must be an object { … }")]
    [InlineData("\"seed\": 7\n", "\"seed\": 7,,\n", "$", "(line 6, byte ")]
    public void A_spec_json_cannot_read_is_an_error_in_the_specs_words(string from, string to, string field, string message)
    {
        Assert.Contains(from, Valid, StringComparison.Ordinal);
        var error = Assert.Single(Assert.Throws<JobSpecException>(() => JobSpec.Parse(Valid.Replace(from, to))).Errors);
        Assert.Equal(field, error.Field);
        Assert.Contains(message, error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("System.", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("Curation.", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("\"name\": \"demo\"", "\"name\": \"bad name!\"", "name")]
    [InlineData("\"minWords\": 3", "\"minWords\": -1", "stages[1].minWords")]
    [InlineData("\"partitions\": 8", "\"partitions\": 0", "stages[2].partitions")]
    [InlineData("\"path\": \"curated/demo\"", "\"path\": \"../outside\"", "output.path")]
    [InlineData("\"path\": \"corpus/*.jsonl\"", "\"path\": \"az://Bad_Container/x\"", "inputs[0].path")]
    [InlineData("\"path\": \"curated/demo\"", "\"path\": \"curated/*\"", "output.path")]
    public void Invalid_values_are_reported_with_the_field_they_belong_to(string from, string to, string field)
    {
        var spec = JobSpec.Parse(Valid.Replace(from, to));
        var errors = JobSpecValidator.Validate(spec);
        Assert.Contains(errors, e => e.Field == field);
    }

    [Theory]
    [InlineData("""{ "type": "semantic_dedup", "eps": 0.02, "targetKeepFraction": 0.8 }""", "stages[4].targetKeepFraction")]
    [InlineData("""{ "type": "semantic_dedup", "targetKeepFraction": 0 }""", "stages[4].targetKeepFraction")]
    [InlineData("""{ "type": "semantic_dedup", "eps": 1 }""", "stages[4].eps")]
    [InlineData("""{ "type": "semantic_dedup", "targetKeepFraction": 0.8, "verify": {} }""", "stages[4].verify")]
    [InlineData("""{ "type": "semantic_dedup", "eps": 0.05, "verify": { "candidateEps": 0.02 } }""", "stages[4].verify.candidateEps")]
    [InlineData("""{ "type": "semantic_dedup", "verify": { "candidateEps": 1 } }""", "stages[4].verify.candidateEps")]
    [InlineData("""{ "type": "semantic_dedup", "verify": { "model": { "kind": "static" } } }""", "stages[4].verify.model.kind")]
    [InlineData("""{ "type": "semantic_dedup", "verify": { "model": { "maxTokens": 4 } } }""", "stages[4].verify.model.maxTokens")]
    [InlineData("""{ "type": "semantic_dedup", "clusterDims": 1 }""", "stages[4].clusterDims")]
    [InlineData("""{ "type": "d4" }""", "stages[4].keepFraction")]
    [InlineData("""{ "type": "d4", "keepFraction": 0.5, "clusters": 0 }""", "stages[4].clusters")]
    public void Semantic_and_d4_settings_are_checked(string stage, string field)
    {
        var spec = JobSpec.Parse(Valid.Replace("""{ "type": "exact_dedup", "partitions": 8 }""",
            $$"""{ "type": "exact_dedup", "partitions": 8 }, { "type": "embed" }, {{stage}}"""));
        Assert.Contains(JobSpecValidator.Validate(spec), e => e.Field == field);
    }

    [Fact]
    public void The_cascade_defaults_to_a_looser_candidate_eps_and_is_refused_on_a_versioned_corpus()
    {
        var spec = JobSpec.Parse(Valid.Replace("""{ "type": "exact_dedup", "partitions": 8 }""",
            """{ "type": "exact_dedup", "partitions": 8 }, { "type": "embed", "model": { "kind": "static" } }, { "type": "semantic_dedup", "eps": 0.02, "verify": {} }"""));
        Assert.Empty(JobSpecValidator.Validate(spec));
        var verify = ((SemanticDedupStageSpec)spec.Stages[4]).Verify!;
        Assert.Equal(ModelKind.Transformer, verify.Model.Kind);
        Assert.Equal(0.08, verify.CandidateEpsFor(0.02), 12);
        Assert.Equal(0.011, verify.CandidateEpsFor(0.001), 12);
        // With a budget and no candidateEps the budget alone sets the threshold: the loosest allowed, tightened per cluster.
        Assert.Equal(SemanticVerifySpec.MaxCandidateEps, (verify with { Budget = 0.2 }).CandidateEpsFor(0.02), 12);
        Assert.Equal(0.03, (verify with { Budget = 0.2, CandidateEps = 0.03 }).CandidateEpsFor(0.02), 12);
        var versioned = spec with { Output = spec.Output with { Snapshots = true } };
        Assert.Contains(JobSpecValidator.Validate(versioned), e => e.Field == "stages[4].verify" && e.Message.Contains("snapshots", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("{}", VerifyRule.Pairs)]
    [InlineData("""{ "rule": "pairs" }""", VerifyRule.Pairs)]
    [InlineData("""{ "rule": "set", "budget": 0.2 }""", VerifyRule.Set)]
    public void The_cascade_rule_defaults_to_the_candidate_pairs_and_reads_set(string verify, VerifyRule rule)
    {
        var spec = JobSpec.Parse(Valid.Replace("""{ "type": "exact_dedup", "partitions": 8 }""",
            $$"""{ "type": "exact_dedup", "partitions": 8 }, { "type": "embed", "model": { "kind": "static" } }, { "type": "semantic_dedup", "eps": 0.02, "verify": {{verify}} }"""));
        Assert.Empty(JobSpecValidator.Validate(spec));
        Assert.Equal(rule, ((SemanticDedupStageSpec)spec.Stages[4]).Verify!.Rule);
    }

    [Fact]
    public void D4_needs_an_embed_stage_before_it()
    {
        var spec = JobSpec.Parse(Valid.Replace("""{ "type": "exact_dedup", "partitions": 8 }""", """{ "type": "d4", "keepFraction": 0.5 }"""));
        Assert.Contains(JobSpecValidator.Validate(spec), e => e.Field == "stages[2].type" && e.Message.Contains("embed", StringComparison.Ordinal));
    }

    [Fact]
    public void Relative_inputs_resolve_against_the_job_file_folder_and_outputs_stay_in_the_data_store()
    {
        var spec = JobSpec.Parse(Valid).WithPathsRelativeTo("/srv/jobs");
        Assert.Equal("/srv/jobs/corpus/*.jsonl", spec.Inputs[0].Path);
        var input = StoreLocation.Parse(spec.Inputs[0].Path);
        Assert.Equal((StoreKind.LocalFolder, "/srv/jobs/corpus", "*.jsonl"), (input.Kind, input.Root, input.Glob));
        var output = StoreLocation.Parse(spec.Output.Path);
        Assert.Equal((StoreKind.DataStore, "curated/demo", (string?)null), (output.Kind, output.Prefix, output.Glob));
    }

    [Fact]
    public void Files_stages_read_resolve_against_the_job_file_folder_like_inputs()
    {
        // An evaluation set beside the job file was "no such file 'mmlu.jsonl'" unless curate ran from that folder (a local
        // file was looked up in the working directory, an evaluation or training set in the data store).
        var spec = JobSpec.Parse("""
            {
              "name": "files",
              "inputs": [{ "path": "corpus/*.jsonl" }],
              "stages": [
                { "type": "url_filter", "domainsPath": "lists/domains.txt", "substringsPath": "/etc/lists/words.txt" },
                { "type": "decontaminate", "benchmarks": [
                  { "name": "mmlu", "path": "evals/mmlu.jsonl" }, { "name": "gsm", "path": "data:evals/gsm8k.jsonl" },
                  { "name": "arc", "path": "az://evals/arc.jsonl" }, { "name": "hella", "path": "../shared/hellaswag.jsonl" } ] },
                { "type": "quality_score", "training": "labels/train.jsonl", "model": { "modelPath": "models/clf.onnx", "vocabPath": "models/vocab.txt" } },
                { "type": "embed", "model": { "modelPath": "models/e5.onnx", "vocabPath": "models/e5-vocab.txt" } },
                { "type": "semantic_dedup", "verify": { "model": { "modelPath": "models/verify.onnx" } } },
                { "type": "train_tokenize", "tokenizerPath": "tok/tokenizer.json" }
              ],
              "output": { "path": "curated/files" }
            }
            """).WithPathsRelativeTo("/srv/jobs");
        var files = spec.Stages.SelectMany((stage, i) => stage.FilesRead().Select(f => ($"stages[{i}].{f.Field}", f.Path))).ToList();
        Assert.Equal(
        [
            ("stages[0].domainsPath", "/srv/jobs/lists/domains.txt"), ("stages[0].substringsPath", "/etc/lists/words.txt"),
            ("stages[1].benchmarks[0].path", "/srv/jobs/evals/mmlu.jsonl"), ("stages[1].benchmarks[1].path", "data:evals/gsm8k.jsonl"),
            ("stages[1].benchmarks[2].path", "az://evals/arc.jsonl"), ("stages[1].benchmarks[3].path", "/srv/shared/hellaswag.jsonl"),
            ("stages[2].training", "/srv/jobs/labels/train.jsonl"), ("stages[2].model.modelPath", "/srv/jobs/models/clf.onnx"),
            ("stages[2].model.vocabPath", "/srv/jobs/models/vocab.txt"),
            ("stages[3].model.modelPath", "/srv/jobs/models/e5.onnx"), ("stages[3].model.vocabPath", "/srv/jobs/models/e5-vocab.txt"),
            ("stages[4].verify.model.modelPath", "/srv/jobs/models/verify.onnx"),
            ("stages[5].tokenizerPath", "/srv/jobs/tok/tokenizer.json"),
        ], files);
        Assert.Equal("/srv/jobs/corpus/*.jsonl", spec.Inputs[0].Path);
        // Everything else is as written: the same spec again, the paths aside.
        var benchmarks = Assert.IsType<DecontaminateStageSpec>(spec.Stages[1]).Benchmarks;
        Assert.Equal(["mmlu", "gsm", "arc", "hella"], benchmarks.Select(b => b.Name));
        Assert.Equal(spec.ToJson(), JobSpec.Parse(spec.ToJson()).WithPathsRelativeTo("/elsewhere").ToJson());
    }

    [Fact]
    public void A_data_prefix_names_the_data_store_and_is_never_made_absolute_against_the_job_file()
    {
        // curate submit/schedule make plain relative inputs absolute against the job file, so a spec sent from the CLI had
        // no way to name objects in the cluster's data store: `data:` does, and is how locations are printed.
        var spec = JobSpec.Parse(Valid.Replace("\"corpus/*.jsonl\"", "\"data:corpus/*.jsonl\"", StringComparison.Ordinal)).WithPathsRelativeTo("/srv/jobs");
        Assert.Equal("data:corpus/*.jsonl", spec.Inputs[0].Path);
        var input = StoreLocation.Parse(spec.Inputs[0].Path);
        Assert.Equal((StoreKind.DataStore, "corpus/", "*.jsonl"), (input.Kind, input.Prefix, input.Glob));
        Assert.Equal("data:corpus/*.jsonl", input.ToString());
        Assert.Equal(StoreLocation.Parse("corpus/*.jsonl"), StoreLocation.Parse("data:/corpus/*.jsonl"));
        Assert.Equal((StoreKind.DataStore, "curated/x"), (StoreLocation.Parse("data:curated/x").Kind, StoreLocation.Parse("data:curated/x").Prefix));
        Assert.Empty(JobSpecValidator.Validate(spec));
        Assert.Contains("must not climb out of its root", Assert.Throws<ArgumentException>(() => StoreLocation.Parse("data:../etc/*.txt")).Message,
            StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("az://corpus/2024/**/*.jsonl.gz", "2024/", "a/b/c.jsonl.gz", true)]
    [InlineData("az://corpus/2024/**/*.jsonl.gz", "2024/", "c.jsonl.gz", true)]
    [InlineData("az://corpus/2024/*.jsonl", "2024/", "a/c.jsonl", false)]
    [InlineData("az://corpus/*.{jsonl,txt}", "", "x.txt", true)]
    [InlineData("az://corpus/part-?.jsonl", "", "part-10.jsonl", false)]
    public void Globs_match_keys_relative_to_their_prefix(string path, string prefix, string key, bool matches)
    {
        var location = StoreLocation.Parse(path);
        Assert.Equal(StoreKind.AzureBlob, location.Kind);
        Assert.Equal("corpus", location.Root);
        Assert.Equal(prefix, location.Prefix);
        Assert.Equal(matches, location.Matches(key));
    }
}
