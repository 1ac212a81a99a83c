using Curation.Pipelines.Execution;
using Curation.Pipelines.Spec;
using Curation.Pipelines.Stages;
using Curation.Pipelines.Stages.QualityScore;
using Curation.Pipelines.Storage;
using Curation.Testing;

namespace Curation.Pipelines.Tests.Planning;

/// <summary>Planning lists each folder once for all the inputs in it: O(objects), not O(inputs × objects).</summary>
public sealed class JobPlannerTests : IDisposable
{
    private readonly TempDirectory _temp = new("planner");

    public void Dispose() => _temp.Dispose();

    private ReadCountingResolver Stores() =>
        new(CurationStoreServiceCollectionExtensions.CreateResolver(new CurationStoreOptions { RootPath = _temp.Combine("data") }));

    private string Corpus(int files)
    {
        var folder = _temp.Combine("corpus");
        Directory.CreateDirectory(Path.Combine(folder, "sub"));
        for (var i = 0; i < files; i++) File.WriteAllText(Path.Combine(folder, $"doc-{i:D5}.jsonl"), $"{{\"text\":\"document {i}\"}}\n");
        File.WriteAllText(Path.Combine(folder, "doc-00001.jsonl.gz"), "not listed by doc-00001.jsonl");
        File.WriteAllText(Path.Combine(folder, "sub", "a.jsonl"), "{\"text\":\"in a subfolder\"}\n");
        return folder;
    }

    private static JobSpec Spec(IEnumerable<string> paths) => new()
    {
        Name = "plan", Inputs = paths.Select(p => new InputSpec { Path = p }).ToArray(), Stages = [], Output = new OutputSpec { Path = "curated/plan" },
    };

    [Fact]
    public async Task Two_thousand_inputs_in_one_folder_list_it_once_and_plan_what_each_names()
    {
        var folder = Corpus(2000);
        var paths = Enumerable.Range(0, 2000).Select(i => Path.Combine(folder, $"doc-{i:D5}.jsonl")).Reverse()
            .Append(Path.Combine(folder, "sub")).ToArray();
        var stores = Stores();
        var plan = await JobPlanner.PlanAsync("j", Spec(paths), stores);

        Assert.Equal(["", "doc-0"], stores.Listings.Order(StringComparer.Ordinal)); // the folder once for 2,000 inputs; the subfolder is a root of its own
        var objects = plan.Shards.SelectMany(s => s.Objects).ToArray();
        Assert.Equal(2001, objects.Length);
        // Input order, then key: the plan a one-listing-per-input planner made.
        Assert.Equal(paths.Select((p, i) => i).ToArray(), objects.Select(o => o.Input).ToArray());
        Assert.Equal("doc-01999.jsonl", objects[0].Source);
        Assert.Equal("a.jsonl", objects[^1].Source);
        Assert.DoesNotContain(objects, o => o.Key.EndsWith(".gz", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Inputs_naming_the_same_object_again_are_refused_with_a_bounded_message()
    {
        var folder = Corpus(1);
        var paths = Enumerable.Repeat(Path.Combine(folder, "doc-00000.jsonl"), 10_000);
        var error = await Assert.ThrowsAsync<JobSpecException>(() => JobPlanner.PlanAsync("j", Spec(paths), Stores()));
        Assert.Equal(9_999, error.Errors.Count);
        Assert.Equal("inputs[1].path", error.Errors[0].Field);
        Assert.True(error.Message.Length < 3_000, $"{error.Message.Length} characters");
    }

    [Fact]
    public async Task A_lone_input_is_listed_under_its_own_prefix_and_a_listing_of_the_data_store_skips_its_own_folders()
    {
        var stores = Stores();
        await stores.DataStore.WriteAsync("corpus/a.jsonl", (s, ct) => s.WriteAsync("{\"text\":\"a\"}\n"u8.ToArray(), ct).AsTask(), WriteCondition.CreateOnly);
        await stores.DataStore.WriteAsync("jobs/x/a.jsonl", (s, ct) => s.WriteAsync("{\"text\":\"a\"}\n"u8.ToArray(), ct).AsTask(), WriteCondition.CreateOnly);
        var plan = await JobPlanner.PlanAsync("j", Spec(["corpus"]), stores);
        Assert.Equal(["corpus/a.jsonl"], plan.Shards.SelectMany(s => s.Objects).Select(o => o.Key));
    }

    [Fact]
    public async Task Objects_under_the_jobs_own_output_inside_an_input_folder_are_never_its_input()
    {
        // corpus/**/*.jsonl* with the output in corpus/curated: the curated shards (and the id index, *.jsonl) of an
        // earlier run — or of another run key — must not come back as input.
        var folder = Corpus(2);
        var output = Path.Combine(folder, "curated");
        foreach (var file in new[] { "part-00000.jsonl.zst", "index/ids-00000.jsonl", "runs/first/part-00000.jsonl.zst" })
        {
            Directory.CreateDirectory(Path.GetDirectoryName(Path.Combine(output, file))!);
            File.WriteAllText(Path.Combine(output, file), "{}\n");
        }
        File.WriteAllText(Path.Combine(folder, "curated-notes.jsonl"), "{\"text\":\"a sibling, not under the output\"}\n");
        var spec = Spec([Path.Combine(folder, "**", "*.jsonl*")]) with { Output = new OutputSpec { Path = output } };
        string[] inputs = ["curated-notes.jsonl", "doc-00000.jsonl", "doc-00001.jsonl", "doc-00001.jsonl.gz", "sub/a.jsonl"];

        Assert.Equal(inputs, await SourcesAsync(spec));
        Assert.Equal(inputs, await SourcesAsync(spec.ForRun("second")));   // the runs/ of every key too

        // An input naming only the output is refused saying why.
        var onlyOutput = spec with { Inputs = [new InputSpec { Path = Path.Combine(folder, "**", "*.zst") }] };
        var error = await Assert.ThrowsAsync<JobSpecException>(() => JobPlanner.PlanAsync("j", onlyOutput, Stores()));
        Assert.Contains($"under output.path '{output}': a job never reads its own output", error.Message);

        // An output that is the inputs' own folder (or above it) is the spec's choice: nothing there is left out.
        var same = Spec([Path.Combine(folder, "*.jsonl")]) with { Output = new OutputSpec { Path = folder } };
        Assert.Equal(["curated-notes.jsonl", "doc-00000.jsonl", "doc-00001.jsonl"], await SourcesAsync(same));
        var inner = Spec([Path.Combine(output, "**", "*.zst")]) with { Output = new OutputSpec { Path = output + "/again" } };
        Assert.Equal(["part-00000.jsonl.zst", "runs/first/part-00000.jsonl.zst"], await SourcesAsync(inner));
    }

    [Fact]
    public async Task An_output_path_naming_an_existing_file_is_refused_before_anything_runs()
    {
        var folder = Corpus(1);
        var file = Path.Combine(folder, "doc-00000.jsonl");
        var spec = Spec([file]) with { Output = new OutputSpec { Path = file } };
        var error = await Assert.ThrowsAsync<JobSpecException>(() => JobPlanner.PlanAsync("j", spec, Stores()));
        Assert.Equal("output.path", error.Errors.Single().Field);
        Assert.Contains("names an existing file (file://", error.Message);
        Assert.Contains("not a folder", error.Message);
    }

    [Fact]
    public async Task A_file_a_stage_reads_that_is_missing_or_a_folder_is_refused_before_anything_runs()
    {
        var folder = Corpus(1);
        var blocklist = Path.Combine(folder, "blocked-domains.txt");
        await File.WriteAllTextAsync(blocklist, "spam.example\n");
        var spec = Spec([Path.Combine(folder, "*.jsonl")]) with
        {
            Stages =
            [
                new UrlFilterStageSpec { DomainsPath = blocklist, SubstringsPath = Path.Combine(folder, "missing-substrings.txt") },
                new DecontaminateStageSpec { Benchmarks = [new EvaluationSetSpec { Name = "mmlu", Path = Path.Combine(folder, "mmlu-missing.jsonl") }] },
                new QualityScoreStageSpec { Training = folder, MinScore = 0.5 },
                new TrainTokenizeStageSpec { TokenizerPath = Path.Combine(folder, "no-tokenizer.tiktoken") },
            ],
        };
        var error = await Assert.ThrowsAsync<JobSpecException>(() => JobPlanner.PlanAsync("j", spec, Stores()));
        Assert.Equal(["stages[0].substringsPath", "stages[1].benchmarks[0].path", "stages[2].training", "stages[3].tokenizerPath"],
            error.Errors.Select(e => e.Field));
        Assert.Contains("no such file '" + Path.Combine(folder, "missing-substrings.txt") + "'", error.Errors[0].Message);
        Assert.Contains("mmlu-missing.jsonl", error.Errors[1].Message);
        Assert.Contains("is a folder, not a file", error.Errors[2].Message);

        // Building the stages (validation does, for the budget) no longer reads the blocklists: a missing one was an unhandled exception there.
        Assert.Empty(JobSpecValidator.Validate(spec with { Stages = [new UrlFilterStageSpec { DomainsPath = Path.Combine(folder, "missing.txt") }] }));
        Assert.NotNull(await JobPlanner.PlanAsync("j", spec with { Stages = [new UrlFilterStageSpec { DomainsPath = blocklist }] }, Stores()));
    }

    /// <summary>
    /// Every name starting with '_' was taken for a Spark marker: a code corpus (<c>/usr/lib/python3.11/**/*.py</c>) lost
    /// 104 of its 668 files without a word — <c>__init__.py</c>, <c>_pydecimal.py</c>, <c>_collections_abc.py</c>, packages
    /// such as <c>_distutils_hack/</c>. Only the markers and work folders that Hadoop, Spark, Delta, Dask and Hive write are
    /// skipped now, with hidden '.' names; other '_' names are data.
    /// </summary>
    [Fact]
    public async Task Names_starting_with_an_underscore_are_data_unless_they_are_a_known_marker()
    {
        var folder = _temp.Combine("pycode");
        var code = new[] { "pkg/__init__.py", "pkg/_impl.py", "pkg/core.py", "_distutils_hack/__init__.py", "__main__.py" };
        var skipped = new[] { ".git/hooks/pre-commit.py", "pkg/.hidden.py", "_temporary/0/part.py", "_delta_log/x.py", "_spark_metadata/0.py",
            "_SUCCESS", "_FAILURE", "_metadata", "_common_metadata", "_committed_123", "_started_123", "_impala_insert_staging/x.py" };
        foreach (var name in code.Concat(skipped))
        {
            Directory.CreateDirectory(Path.GetDirectoryName(Path.Combine(folder, name))!);
            File.WriteAllText(Path.Combine(folder, name), "x = 1\n");
        }
        foreach (var path in new[] { Path.Combine(folder, "**", "*.py"), folder })
        {
            var spec = Spec([path]) with { Inputs = [new InputSpec { Path = path, Format = InputFormat.Txt }] };
            Assert.Equal(code.Order(StringComparer.Ordinal), await SourcesAsync(spec));
        }

        // Without a format, the objects the planner cannot tell make one error, not one ~800-character error each (the
        // Python library's 668 files made a message of half a megabyte).
        var error = Assert.Single((await Assert.ThrowsAsync<JobSpecException>(() => JobPlanner.PlanAsync("j", Spec([folder]), Stores()))).Errors);
        Assert.StartsWith("cannot tell the format of input object '__main__.py' from its extension", error.Message, StringComparison.Ordinal);
        Assert.EndsWith("; the same goes for 4 more objects of this input, such as '_distutils_hack/__init__.py', 'pkg/__init__.py', 'pkg/_impl.py'",
            error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Markers_and_hidden_files_beside_the_data_are_skipped_as_arrow_and_spark_do_unless_named()
    {
        // A Spark/Hadoop/Dask output folder: the parts, plus markers and checksums that are not Parquet (every one of
        // them failed the job's planning as an unknown format, or, with format set, was quarantined as a corrupt object).
        var folder = _temp.Combine("spark");
        Directory.CreateDirectory(Path.Combine(folder, "_temporary", "0"));
        foreach (var name in new[] { "part-00000.jsonl", "part-00001.jsonl", "_temporary/0/part-00002.jsonl" })
            File.WriteAllText(Path.Combine(folder, name), "{\"text\":\"a document\"}\n");
        foreach (var name in new[] { "_SUCCESS", ".part-00000.jsonl.crc", "_committed_123", ".DS_Store" }) File.WriteAllText(Path.Combine(folder, name), "x");

        Assert.Equal(["part-00000.jsonl", "part-00001.jsonl"], await SourcesAsync(Spec([folder])));
        Assert.Equal(["part-00000.jsonl", "part-00001.jsonl"], await SourcesAsync(Spec([Path.Combine(folder, "**", "*.jsonl")])));
        // Named, they are read: the file itself, the folder below the marker, or a glob that starts a name with '_'.
        Assert.Equal(["part-00002.jsonl"], await SourcesAsync(Spec([Path.Combine(folder, "_temporary", "0", "part-00002.jsonl")])));
        Assert.Equal(["0/part-00002.jsonl"], await SourcesAsync(Spec([Path.Combine(folder, "_temporary")])));
        Assert.Equal(["_temporary/0/part-00002.jsonl"], await SourcesAsync(Spec([Path.Combine(folder, "_*", "**", "*.jsonl")])));

        var empty = _temp.Combine("only-markers");
        Directory.CreateDirectory(empty);
        File.WriteAllText(Path.Combine(empty, "_SUCCESS"), "");
        var error = Assert.Single((await Assert.ThrowsAsync<JobSpecException>(() => JobPlanner.PlanAsync("j", Spec([empty]), Stores()))).Errors);
        Assert.EndsWith("(1 hidden or marker objects skipped, such as '_SUCCESS')", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("~/corpus/*.jsonl", "'~' is not expanded")]
    [InlineData("$HOME/corpus/*.jsonl", "'$HOME' is not expanded")]
    [InlineData("${DATA}/corpus/*.jsonl", "'${DATA}' is not expanded")]
    [InlineData("corpus/*.jsonl", null)]
    public async Task An_input_written_as_in_a_shell_that_matches_nothing_says_it_is_not_expanded(string path, string? hint)
    {
        // As the CLI sends it: made absolute against the job file's folder, so '~' became a folder named '~'.
        var spec = Spec([Path.Combine(_temp.Combine("jobs"), path)]);
        var error = Assert.Single((await Assert.ThrowsAsync<JobSpecException>(() => JobPlanner.PlanAsync("j", spec, Stores()))).Errors);
        Assert.StartsWith("matched no objects in ", error.Message, StringComparison.Ordinal);
        if (hint is null) Assert.DoesNotContain("expanded", error.Message, StringComparison.Ordinal);
        else Assert.EndsWith($"; {hint} in a job spec (it is JSON, read by no shell): write the absolute path", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_input_matching_nothing_says_what_its_folder_holds_instead_or_that_it_holds_nothing()
    {
        var folder = Corpus(5);
        async Task<string> ErrorAsync(params string[] paths) =>
            string.Join("\n", (await Assert.ThrowsAsync<JobSpecException>(() => JobPlanner.PlanAsync("j", Spec(paths), Stores()))).Errors.Select(e => e.ToString()));

        // A misspelt extension: the objects the pattern missed, from the listing the planner made anyway.
        Assert.Equal($"inputs[0].path: matched no objects in {folder}/*.json ({folder} holds 7 objects the pattern does not match, " +
            "such as 'doc-00000.jsonl', 'doc-00001.jsonl', 'doc-00001.jsonl.gz')", await ErrorAsync(Path.Combine(folder, "*.json")));
        // A misspelt folder, with a glob or without; a missing file.
        Assert.Equal($"inputs[0].path: matched no objects in {folder}-x/*.jsonl (nothing is stored under {folder}-x: check the folder's name)",
            await ErrorAsync(folder + "-x/*.jsonl"));
        Assert.Equal($"inputs[0].path: matched no objects in {folder}/nope.jsonl (nothing is stored at that path)", await ErrorAsync(Path.Combine(folder, "nope.jsonl")));
        // Inputs sharing a listing: another input's objects are not offered as near misses.
        var two = await ErrorAsync(Path.Combine(folder, "doc-00002.jsonl"), Path.Combine(folder, "sub", "*.txt"));
        Assert.Equal($"inputs[1].path: matched no objects in {folder}/sub/*.txt ({folder}/sub holds 1 object the pattern does not match, such as 'a.jsonl')", two);
    }

    /// <summary>
    /// Two folders with the same file names (the shipped Rust documentation's <c>std/index.html</c> and
    /// <c>book/index.html</c>, two Spark exports' <c>part-00000.parquet</c>) were refused as one object "also matched" by
    /// the other input — wrong, and no way out given. Now the error names both objects, says why their sources clash, and
    /// gives the one input that reads both with distinct sources; an object two inputs really both match keeps its own
    /// message; each pair of inputs is reported once, however many names clash.
    /// </summary>
    [Fact]
    public async Task Two_folders_with_the_same_names_are_told_how_to_read_them_as_one_input()
    {
        var root = _temp.Combine("docs-html");
        foreach (var folder in new[] { "std", "book" })
            foreach (var name in new[] { "index.html", "all.html", Path.Combine("iter", "index.html") })
            {
                Directory.CreateDirectory(Path.GetDirectoryName(Path.Combine(root, folder, name))!);
                await File.WriteAllTextAsync(Path.Combine(root, folder, name), $"<p>{folder} {name}</p>");
            }
        async Task<string[]> ErrorsAsync(params string[] paths) =>
            (await Assert.ThrowsAsync<JobSpecException>(() => JobPlanner.PlanAsync("j", Spec(paths), Stores()))).Errors.Select(e => e.ToString()).ToArray();

        var error = Assert.Single(await ErrorsAsync($"{root}/std/**/*.html", $"{root}/book/**/*.html"));
        Assert.Equal($"inputs[1].path: {root}/book/all.html and {root}/std/all.html (inputs[0]) would both be source 'all.html', " +
            "as 3 names are in both inputs (a source is the object's key under its input's folder, and names its documents): " +
            $"read both folders with one input, {root}/{{std,book}}/**/*.html, whose sources are 'std/…' and 'book/…'", error);

        // The suggested input plans, with distinct sources.
        var plan = await JobPlanner.PlanAsync("j", Spec([$"{root}/{{std,book}}/**/*.html"]), Stores());
        Assert.Equal(6, plan.Shards.SelectMany(s => s.Objects).Select(o => o.Source).Distinct().Count());

        // Folders that differ by more than one name: the reason, and the way out in words.
        error = Assert.Single(await ErrorsAsync($"{root}/std/*.html", $"{root}/book/iter/*.html"));
        Assert.EndsWith("(a source is the object's key under its input's folder, and names its documents): read them with one input " +
            "whose folder holds both, or rename the objects of one of them", error, StringComparison.Ordinal);

        // The same object matched twice is still that.
        error = Assert.Single(await ErrorsAsync($"{root}/std/*.html", $"{root}/std/index.html"));
        Assert.Equal($"inputs[1].path: object 'index.html' is also matched by inputs[0]: sources must be unique", error);
    }

    [Theory]
    [InlineData("notes.txt", "plain text")]
    [InlineData("page.html", "an HTML file")]
    public async Task An_id_field_on_an_input_without_fields_is_refused_not_ignored(string file, string what)
    {
        var folder = _temp.Combine("no-fields");
        Directory.CreateDirectory(folder);
        await File.WriteAllTextAsync(Path.Combine(folder, file), "some text");
        await File.WriteAllTextAsync(Path.Combine(folder, file + "2"), "more text");
        var spec = Spec([Path.Combine(folder, file + "*")]) with { Inputs = [new InputSpec { Path = Path.Combine(folder, file + "*"), IdField = "id", Format = file.EndsWith(".txt", StringComparison.Ordinal) ? InputFormat.Txt : InputFormat.Html }] };
        var error = Assert.Single((await Assert.ThrowsAsync<JobSpecException>(() => JobPlanner.PlanAsync("j", spec, Stores()))).Errors);
        Assert.Equal("inputs[0].idField", error.Field);
        Assert.Equal($"'{file}' is {what}, which has no fields to take an id from: leave idField out (its documents are numbered source#position)", error.Message);
    }

    private async Task<string[]> SourcesAsync(JobSpec spec) =>
        (await JobPlanner.PlanAsync("j", spec, Stores())).Shards.SelectMany(s => s.Objects).Select(o => o.Source).Order(StringComparer.Ordinal).ToArray();
}
