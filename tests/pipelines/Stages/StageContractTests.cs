using System.Globalization;
using System.Text.Json;
using Curation.Pipelines.Execution;
using Curation.Pipelines.Spec;
using Curation.Pipelines.Stages;
using Curation.Pipelines.Stages.QualityScore;
using Curation.Pipelines.Storage;
using Curation.Testing;
using Xunit.Abstractions;

namespace Curation.Pipelines.Tests.Stages;

/// <summary>
/// The contract every stage keeps, proven once here for every stage the registry knows (a new stage is covered the day
/// it is declared): over a small multilingual corpus with exact copies, near copies, a bad record and url metadata,
/// (1) the books balance, (2) one shard and several shards keep the same documents with the same columns and drop the
/// same documents for the same reasons, and (3) a job interrupted after every phase in turn and resumed each time writes
/// byte-identical shards to the uninterrupted run, (4) whatever the silo's locale: the uninterrupted run formats under
/// German conventions (decimal comma), the resumed one under the invariant culture, and their drops, quarantine and
/// reports are the same bytes.
/// </summary>
public sealed class StageContractTests(ITestOutputHelper output) : IDisposable
{
    private readonly TempDirectory _temp = new("contract");

    public void Dispose() => _temp.Dispose();

    public static TheoryData<string> Stages() => [.. StageRegistry.All.Select(d => d.Type)];

    /// <summary>
    /// Stages that need more than their defaults (or stages before them) to run on the contract corpus. A stage not listed
    /// runs as <c>{ "type": … }</c> after normalize; one that cannot fails here, asking for an entry.
    /// </summary>
    private static IReadOnlyList<StageSpec> Pipeline(string type) => type switch
    {
        EmbedStageSpec.TypeName => [new NormalizeStageSpec(), Embed],
        SemanticDedupStageSpec.TypeName => [new NormalizeStageSpec(), Embed, new SemanticDedupStageSpec { Clusters = 4, Eps = 0.05, Partitions = 3 }],
        D4StageSpec.TypeName => [new NormalizeStageSpec(), Embed, new D4StageSpec { Clusters = 4, KeepFraction = 0.7 }],
        QualityScoreStageSpec.TypeName => [new NormalizeStageSpec(), Embed, new QualityScoreStageSpec { Training = QualityTraining.Value, KeepFraction = 0.7, MinScore = 0.01 }],
        ExactDedupStageSpec.TypeName => [new NormalizeStageSpec(), new ExactDedupStageSpec { Partitions = 3 }],
        NearDedupStageSpec.TypeName => [new NormalizeStageSpec(), new NearDedupStageSpec { Partitions = 3 }],
        NormalizeStageSpec.TypeName => [new NormalizeStageSpec()],
        UrlDedupStageSpec.TypeName => [new NormalizeStageSpec(), new UrlDedupStageSpec { Partitions = 3 }],
        UrlFilterStageSpec.TypeName => [new NormalizeStageSpec(), new UrlFilterStageSpec { DomainsPath = Blocklists.Value.Domains, SubstringsPath = Blocklists.Value.Substrings }],
        DecontaminateStageSpec.TypeName => [new NormalizeStageSpec(), new DecontaminateStageSpec
        {
            Benchmarks = [new EvaluationSetSpec { Name = "contract-eval", Path = EvaluationSet.Value }], Partitions = 3,
        }],
        _ => [new NormalizeStageSpec(), Default(type)],
    };

    /// <summary>The files every theory case shares (written once per test process), deleted when the process exits.</summary>
    private static readonly Lazy<TempDirectory> Shared = new(() =>
    {
        var folder = new TempDirectory("contract-shared");
        AppDomain.CurrentDomain.ProcessExit += (_, _) => folder.Dispose();
        return folder;
    });

    /// <summary>quality_score's labelled examples (real paragraphs against boilerplate), written once per test process.</summary>
    private static readonly Lazy<string> QualityTraining = new(() =>
    {
        var path = Shared.Value.Combine("quality.jsonl");
        QualityExamples.WriteLabelled(path, QualityExamples.Take(skip: 0, count: 20, boilerplate: true, seed: 5, idPrefix: "q-"));
        return path;
    });

    /// <summary>url_filter's blocklists: a domain no document has and a substring some URLs have.</summary>
    private static readonly Lazy<(string Domains, string Substrings)> Blocklists = new(() =>
    {
        var domains = Shared.Value.Combine("domains.txt");
        var substrings = Shared.Value.Combine("substrings.txt");
        File.WriteAllLines(domains, ["spam.example.com"]);
        File.WriteAllLines(substrings, ["/page/1"]);
        return (domains, substrings);
    });

    /// <summary>decontaminate's evaluation set: five documents of the contract corpus, so their copies are found.</summary>
    private static readonly Lazy<string> EvaluationSet = new(() =>
    {
        var path = Shared.Value.Combine("eval.jsonl");
        var texts = MultilingualCorpus.Build(maxDocuments: 160).Select(d => d.Text).Where(t => t.Split(' ').Length > 30).Take(5);
        File.WriteAllLines(path, texts.Select((text, i) => JsonSerializer.Serialize(new { id = $"item-{i}", text })));
        return path;
    });

    /// <summary>The shipped model on the first 128 tokens: the contract is about the stage, not the model's window.</summary>
    private static EmbedStageSpec Embed => new() { Model = new ModelSpec { MaxTokens = 128 }, Windows = WindowStrategy.Truncate, BatchTokens = 4096 };

    private static StageSpec Default(string type) =>
        JsonSerializer.Deserialize<StageSpec>($$"""{ "type": "{{type}}" }""", JobSpec.SpecJson)!;

    [Theory]
    [MemberData(nameof(Stages))]
    public async Task Books_balance_sharding_does_not_matter_and_resume_after_every_phase_is_byte_identical(string type)
    {
        var input = WriteCorpus();
        JobSpec Spec(long target) => new()
        {
            Name = "contract-" + type.Replace('_', '-'),
            Inputs = [new InputSpec { Path = Path.Combine(input, "*.jsonl"), IdField = "id" }],
            Sharding = new ShardingSpec { TargetShardBytes = target },
            Stages = Pipeline(type),
            Output = new OutputSpec { Path = "curated/contract" },
        };
        var errors = JobSpecValidator.Validate(Spec(1 << 30));
        Assert.True(errors.Count == 0, $"{type} does not run with its defaults on the contract corpus: {string.Join("; ", errors)} " +
                                       "— add it to StageContractTests.Pipeline");

        using var services = StageServices.CreateDefault();
        var one = await RunAsync("one", Spec(1 << 30), services);
        var many = await RunAsync("many", Spec(8 * 1024), services, culture: new CultureInfo("de-DE"));
        var resumed = await RunAsync("resumed", Spec(8 * 1024), services, interruptAfterEveryPhase: true);
        output.WriteLine($"{type}: {one.Job.Plan.ShardCount} vs {many.Job.Plan.ShardCount} shards, {many.Job.Phases().Count()} phases; " +
                         $"kept {one.Output.KeptIds.Count} of {one.Output.Manifest.Accounting.InputRecords}, " +
                         $"drops {string.Join(", ", one.Output.Drops.GroupBy(d => d.Stage + "/" + d.Reason).Select(g => $"{g.Key} {g.Count()}"))}");

        // (1) Books balance, in every run, and nothing is lost: in = kept + dropped + quarantined.
        foreach (var run in new[] { one, many, resumed })
        {
            Assert.Empty(run.Output.Manifest.Accounting.Imbalances());
            var books = run.Output.Manifest.Accounting;
            Assert.Equal(books.InputRecords, books.Kept + books.Dropped + books.Quarantined);
            Assert.Equal(books.Kept, run.Output.KeptIds.Count);
            Assert.Equal(books.Dropped, run.Output.Drops.Count);
        }
        Assert.True(many.Job.Plan.ShardCount >= 3, $"the small shard target gives several shards ({many.Job.Plan.ShardCount})");

        // (2) Sharding invariance: the same documents, texts and columns kept; the same drops.
        Assert.Equal(one.Rows, many.Rows);
        Assert.Equal(Drops(one.Output), Drops(many.Output));
        Assert.Equal(one.Output.Quarantine.OrderBy(q => (q.Source, q.Position)), many.Output.Quarantine.OrderBy(q => (q.Source, q.Position)));

        // (3) Resume after every phase: byte-identical shards, drops and books.
        Assert.Equal(many.Output.ShardHashes.OrderBy(h => h.Key, StringComparer.Ordinal), resumed.Output.ShardHashes.OrderBy(h => h.Key, StringComparer.Ordinal));
        Assert.Equal(Drops(many.Output), Drops(resumed.Output));
        Assert.Equal(many.Output.Manifest.Accounting.Stages.Select(s => (s.Stage, s.In, s.Kept)), resumed.Output.Manifest.Accounting.Stages.Select(s => (s.Stage, s.In, s.Kept)));

        // (4) The locale changes nothing: drop details ("symbol ratio 0.346 > 0.1"), quarantine details and reports.
        Assert.Equal(Objects(many.Output.Manifest.Drops), Objects(resumed.Output.Manifest.Drops));
        Assert.Equal(Objects(many.Output.Manifest.Quarantine), Objects(resumed.Output.Manifest.Quarantine));
        Assert.Equal(JsonSerializer.Serialize(many.Output.Manifest.Reports), JsonSerializer.Serialize(resumed.Output.Manifest.Reports));
    }

    private static IEnumerable<string> Objects(IEnumerable<OutputObject> objects) =>
        objects.Select(o => $"{o.Key} {o.Rows} {o.Sha256}").Order(StringComparer.Ordinal);

    private static IEnumerable<(string, string, string, string)> Drops(CuratedOutput o) =>
        o.Drops.Select(d => (d.Id, d.Stage, d.Reason, d.TwinId)).OrderBy(d => d.Id, StringComparer.Ordinal);

    private async Task<(JobContext Job, CuratedOutput Output, List<string> Rows)> RunAsync(string name, JobSpec spec, StageServices services,
        bool interruptAfterEveryPhase = false, CultureInfo? culture = null)
    {
        CultureInfo.CurrentCulture = culture ?? CultureInfo.InvariantCulture; // flows into the job's tasks; reverts on return
        var stores = CurationStoreServiceCollectionExtensions.CreateResolver(new CurationStoreOptions { RootPath = _temp.Combine(name) });
        JobContext job;
        if (interruptAfterEveryPhase)
        {
            var phases = (await JobContext.CreateOrLoadAsync(spec, stores)).Phases().Count();
            for (var stop = 1; stop < phases; stop++) await InProcessJob.RunAsync(spec, stores, services, maxPhases: stop);
        }
        job = await InProcessJob.RunAsync(spec, stores, services);
        var result = await CuratedOutput.ReadAsync(stores.DataStore, "curated/contract");
        return (job, result, await RowsAsync(stores.DataStore, result.Manifest));
    }

    /// <summary>Every kept row with every column, as text, ordered by id (shard order differs with sharding).</summary>
    private static async Task<List<string>> RowsAsync(IObjectStore store, Manifest manifest)
    {
        var rows = new List<(string Id, string Row)>();
        foreach (var shard in manifest.Shards)
        {
            await using var reader = await Curation.Pipelines.IO.ParquetTableReader.OpenAsync(new MemoryStream(await store.ReadBytesAsync("curated/contract/" + shard.Key)));
            await foreach (var b in reader.ReadAllAsync())
                for (var i = 0; i < b.RowCount; i++)
                    rows.Add((b.Ids[i], string.Join(" | ", b.AllColumns.Select(c => $"{c.Name}={Format(c.Values[i])}"))));
        }
        return rows.OrderBy(r => r.Id, StringComparer.Ordinal).Select(r => r.Row).ToList();
    }

    private static string Format(object? value) => value switch
    {
        null => "null",
        float[] v => string.Join(",", v.Select(x => x.ToString("R", System.Globalization.CultureInfo.InvariantCulture))),
        System.Collections.IEnumerable e and not string => "[" + string.Join(",", e.Cast<object?>().Select(Format)) + "]",
        IFormattable f => f.ToString(null, System.Globalization.CultureInfo.InvariantCulture),
        _ => value.ToString()!,
    };

    /// <summary>
    /// 160 real documents in several scripts (the demo corpus, translated message catalogs and manual pages), plus exact
    /// copies, near copies (a word changed), a short one, an empty one, a malformed line, and a <c>url</c> field shared
    /// by some documents; spread over three files.
    /// </summary>
    private string WriteCorpus()
    {
        var folder = _temp.Combine("corpus");
        Directory.CreateDirectory(folder);
        var docs = MultilingualCorpus.Build(maxDocuments: 160).Where(d => d.Text.Trim().Length > 0).ToList();
        var lines = new List<string>();
        string Line(string id, string text, int urlIndex) =>
            JsonSerializer.Serialize(new { id, text, url = $"https://example.org/page/{urlIndex % 140}?utm_source=x", lang_hint = "x" });
        for (var i = 0; i < docs.Count; i++) lines.Add(Line(docs[i].Id.Replace(':', '_'), docs[i].Text, i));
        for (var i = 0; i < 12; i++) lines.Add(Line($"copy-{i:D2}", docs[i * 7].Text, 1000 + i));
        for (var i = 0; i < 12; i++)
        {
            var words = docs[i * 5 + 3].Text.Split(' ');
            if (words.Length > 8) words[words.Length / 2] = "changed";
            lines.Add(Line($"near-{i:D2}", string.Join(' ', words), 2000 + i));
        }
        lines.Add(Line("short", "Too short.", 3000));
        lines.Add(Line("empty", "   ", 3001));
        lines.Add("{ this is not json");
        for (var f = 0; f < 3; f++)
            File.WriteAllLines(Path.Combine(folder, $"part-{f}.jsonl"), lines.Where((_, i) => i % 3 == f));
        return folder;
    }
}
