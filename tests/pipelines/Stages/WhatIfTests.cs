using System.Text.Json;
using Curation.Pipelines.Execution;
using Curation.Pipelines.Spec;
using Curation.Pipelines.Stages;
using Curation.Pipelines.Storage;
using Curation.Pipelines.Tests.Semantic;
using Curation.Testing;
using Xunit.Abstractions;

namespace Curation.Pipelines.Tests.Stages;

/// <summary>
/// What-if thresholds against real re-runs: the count a finished job's what-if gives for a new threshold equals the drops of
/// the adjusted spec run as a new job (exactly for near and semantic dedup; to the histogram's bin for document filters).
/// </summary>
public sealed class WhatIfTests(ITestOutputHelper output) : IDisposable
{
    private readonly TempDirectory _temp = new("whatif");

    public void Dispose() => _temp.Dispose();

    private IStoreResolver Stores(string name) =>
        CurationStoreServiceCollectionExtensions.CreateResolver(new CurationStoreOptions { RootPath = _temp.Combine(name) });

    /// <summary>A job over a folder of JSONL files: its stages, written to <c>curated/{name}</c>.</summary>
    private static JobSpec Job(string name, string folder, long shardBytes, params StageSpec[] stages) => new()
    {
        Name = name,
        Inputs = [new InputSpec { Path = Path.Combine(folder, "*.jsonl"), IdField = "id" }],
        Sharding = new ShardingSpec { TargetShardBytes = shardBytes },
        Stages = stages,
        Output = new OutputSpec { Path = "curated/" + name },
    };

    /// <summary>Runs the adjusted spec the what-if produced and counts the stage's drops in its output.</summary>
    private async Task<long> RerunAsync(WhatIf.Answer answer, IStoreResolver stores, Func<JobSpec, Task<JobContext>> run)
    {
        var spec = JobSpec.Parse(answer.AdjustedSpec!.Value.GetRawText());
        var job = await run(spec);
        var curated = await CuratedOutput.ReadAsync(stores.DataStore, spec.Output.Path);
        return curated.Drops.Count(d => d.Stage == answer.Stage);
    }

    [Fact]
    public async Task Near_dedup_what_if_counts_equal_reruns_at_new_thresholds()
    {
        var input = _temp.Combine("near-corpus");
        NearDupCorpus.Generate(originals: 150, nearPerLevel: 6, chains: 6, levels: [0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95]).WriteJsonl(input, files: 4);
        var spec = Job("near", input, 48 * 1024, new NearDedupStageSpec { Partitions = 3, Threshold = 0.7 });
        using var services = StageServices.CreateDefault();
        var stores = Stores("near");
        var job = await InProcessJob.RunAsync(spec, stores, services);
        var stage = WhatIf.FindStage(job, "near_dedup")!;
        var original = await CuratedOutput.ReadAsync(stores.DataStore, spec.Output.Path);

        var now = await WhatIf.ComputeAsync(job, stage, "threshold", 0.7, CancellationToken.None);
        Assert.Equal(original.Drops.Count(d => d.Stage == "near_dedup"), now.Removed);
        Assert.Equal(now.Removed, now.RemovedAtThreshold);
        Assert.True(now.Histogram.Bins.Sum(b => b.Count) > 0);
        foreach (var threshold in new[] { 0.55, 0.85 })
        {
            var answer = await WhatIf.ComputeAsync(job, stage, "threshold", threshold, CancellationToken.None);
            var rerun = await RerunAsync(answer, stores, s => InProcessJob.RunAsync(s, stores, services));
            output.WriteLine($"near_dedup threshold {threshold}: what-if {answer.RemovedAtThreshold}, re-run {rerun} (at 0.7: {now.Removed})");
            Assert.True(answer.Exact);
            Assert.Equal(rerun, answer.RemovedAtThreshold);
            Assert.NotEqual(now.Removed, rerun);
        }
        // The curve falls as the threshold rises, and the original output is untouched by the new jobs.
        Assert.True(now.Curve.Zip(now.Curve.Skip(1)).All(p => p.First.Removed >= p.Second.Removed));
        Assert.Equal(original.KeptIds, (await CuratedOutput.ReadAsync(stores.DataStore, spec.Output.Path)).KeptIds);
    }

    [Fact]
    public async Task Semantic_dedup_what_if_counts_equal_reruns_at_new_eps()
    {
        const int dimensions = 48;
        var (vectors, ids, _) = SemanticCorpus.Planted(groups: 60, singles: 200, dimensions, seed: 5, minNoise: 0.05, maxNoise: 0.3);
        var index = ids.Select((id, i) => (id, i)).ToDictionary(x => x.id, x => x.i);
        var corpus = _temp.Combine("semantic-corpus");
        Directory.CreateDirectory(corpus);
        for (var f = 0; f < 3; f++)
            File.WriteAllLines(Path.Combine(corpus, $"part-{f}.jsonl"), ids.Where((_, i) => i % 3 == f).Select(id => JsonSerializer.Serialize(new { id, text = $"document {id}" })));
        var spec = Job("semantic", corpus, 8 * 1024,
            new EmbedStageSpec(), new SemanticDedupStageSpec { Clusters = 8, MaxIterations = 10, Eps = 0.05, Partitions = 3, TileSize = 64 });
        using var services = StageServices.CreateDefault();
        var stores = Stores("semantic");
        float[] VectorOf(string id) => SemanticCorpus.Row(vectors, dimensions, index[id]).ToArray();
        var job = await PlantedEmbeddings.RunAsync(spec, stores, services, VectorOf);
        var stage = WhatIf.FindStage(job, "semantic_dedup")!;
        var original = await CuratedOutput.ReadAsync(stores.DataStore, spec.Output.Path);

        var now = await WhatIf.ComputeAsync(job, stage, "eps", 0.05, CancellationToken.None);
        Assert.Equal(original.Drops.Count(d => d.Stage == "semantic_dedup"), now.Removed);
        Assert.Equal(now.Removed, now.RemovedAtThreshold);
        foreach (var eps in new[] { 0.013, 0.17 })
        {
            var answer = await WhatIf.ComputeAsync(job, stage, "eps", eps, CancellationToken.None);
            var rerun = await RerunAsync(answer, stores, s => PlantedEmbeddings.RunAsync(s, stores, services, VectorOf));
            output.WriteLine($"semantic_dedup eps {eps}: what-if {answer.RemovedAtThreshold}, re-run {rerun} (at 0.05: {now.Removed})");
            Assert.True(answer.Exact);
            Assert.Equal(rerun, answer.RemovedAtThreshold);
            Assert.NotEqual(now.Removed, rerun);
        }
        Assert.True(now.Curve.Zip(now.Curve.Skip(1)).All(p => p.First.Removed <= p.Second.Removed));
    }

    [Fact]
    public async Task Quality_filter_what_if_counts_match_reruns_to_the_bin()
    {
        var seed = Environment.TickCount;
        output.WriteLine($"seed {seed}");
        var random = new Random(seed);
        var corpus = _temp.Combine("quality-corpus");
        Directory.CreateDirectory(corpus);
        var words = new[] { "river", "bread", "海", "ข้าว", "model", "data", "→→→", "budget", "rain", "■■" }; // non-ASCII symbols: what symbol_ratio counts
        var lines = Enumerable.Range(0, 600).Select(i => JsonSerializer.Serialize(new
        {
            id = $"q{i:D4}",
            text = string.Join(' ', Enumerable.Range(0, random.Next(1, 120)).Select(_ => words[random.Next(words.Length)])),
        }));
        File.WriteAllLines(Path.Combine(corpus, "part.jsonl"), lines);
        var spec = Job("quality", corpus, 16 * 1024, new QualityFilterStageSpec { MinChars = 60, MaxSymbolRatio = 0.2 });
        using var services = StageServices.CreateDefault();
        var stores = Stores("quality");
        var job = await InProcessJob.RunAsync(spec, stores, services);
        var stage = WhatIf.FindStage(job, "quality_filter")!;
        var original = await CuratedOutput.ReadAsync(stores.DataStore, spec.Output.Path);
        foreach (var (field, value) in new[] { ("minChars", 200.0), ("maxSymbolRatio", 0.1) })
        {
            var answer = await WhatIf.ComputeAsync(job, stage, field, value, CancellationToken.None);
            Assert.Equal(original.Drops.Count, answer.Removed);
            var rerun = await RerunAsync(answer, stores, s => InProcessJob.RunAsync(s, stores, services));
            // Only the bin holding the threshold is uncertain.
            var bin = answer.Histogram.Bins.Single(b => b.From <= value && value < b.To);
            output.WriteLine($"quality_filter {field} {value}: what-if {answer.RemovedAtThreshold}, re-run {rerun}, bin [{bin.From:0.###}, {bin.To:0.###}) holds {bin.Count}");
            // On an edge of the histogram (maxSymbolRatio 0.1) the count is exact; between edges (minChars 200) it is not.
            Assert.Equal(field == "maxSymbolRatio", answer.Exact);
            if (answer.Exact) Assert.Equal(rerun, answer.RemovedAtThreshold);
            Assert.InRange(rerun, answer.RemovedAtThreshold!.Value - bin.Count, answer.RemovedAtThreshold!.Value + bin.Count);
            Assert.NotEqual(answer.Removed, rerun);
        }
    }

    [Fact]
    public async Task The_min_chars_curve_spans_the_corpus_lengths_and_counts_them_exactly_at_its_points()
    {
        var seed = Environment.TickCount;
        output.WriteLine($"seed {seed}");
        var random = new Random(seed);
        var words = new[] { "river", "bread", "model", "data", "budget", "rain", "valley", "harbour" };
        var texts = new List<string>();
        for (var i = 0; i < 300; i++)
        {
            // Lengths spread evenly on a log scale from 10 to 5,000 characters, as a web crawl's are.
            var target = Math.Exp(Math.Log(10) + random.NextDouble() * (Math.Log(5000) - Math.Log(10)));
            var text = new System.Text.StringBuilder(words[random.Next(words.Length)]);
            while (text.Length < target) text.Append(' ').Append(words[random.Next(words.Length)]);
            texts.Add(text.ToString());
        }
        var corpus = _temp.Combine("curve-corpus");
        Directory.CreateDirectory(corpus);
        File.WriteAllLines(Path.Combine(corpus, "part.jsonl"), texts.Select((t, i) => JsonSerializer.Serialize(new { id = $"c{i:D3}", text = t })));
        // Every other check passes every document: the curve is the lengths' cumulative count.
        var spec = Job("curve", corpus, 64 * 1024, new QualityFilterStageSpec { MinChars = 50, MinWords = 1 });
        using var services = StageServices.CreateDefault();
        var job = await InProcessJob.RunAsync(spec, Stores("curve"), services);
        var answer = await WhatIf.ComputeAsync(job, WhatIf.FindStage(job, "quality_filter")!, "minChars", null, CancellationToken.None);
        var curve = answer.Curve;
        output.WriteLine(string.Join(" ", curve.Select(p => $"{p.Threshold:0.#}:{p.Removed}")));

        Assert.True(answer.Histogram.Log);
        // The points cover the corpus' lengths and little else (not the scale's 0 to 1,000,000).
        Assert.True(curve[0].Threshold <= texts.Min(t => t.Length), $"curve starts at {curve[0].Threshold}");
        Assert.True(curve[^1].Threshold > texts.Max(t => t.Length), $"curve ends at {curve[^1].Threshold}");
        Assert.True(curve[^1].Threshold < 5000 * 1.5, $"curve ends at {curve[^1].Threshold}");
        Assert.InRange(curve.Count, 20, 70);
        // At each point, exactly the documents shorter than it; the count rises through the corpus, no cliff at either end.
        foreach (var point in curve) Assert.Equal(texts.Count(t => t.Length < point.Threshold), point.Removed);
        Assert.Equal(0, curve[0].Removed);
        Assert.Equal(texts.Count, curve[^1].Removed);
        Assert.True(curve.Select(p => p.Removed).Distinct().Count() >= curve.Count * 3 / 4, "the curve changes at most of its points");
    }

    [Fact]
    public async Task Language_min_score_what_if_counts_equal_reruns()
    {
        var seed = Environment.TickCount;
        output.WriteLine($"seed {seed}");
        var random = new Random(seed);
        string[][] vocab =
        [
            ["the", "river", "and", "bread", "of", "a", "house", "with", "water", "is", "near", "town", "children", "through"],
            ["der", "Fluss", "und", "Brot", "das", "ein", "Haus", "mit", "Wasser", "ist", "nahe", "Stadt", "Kinder", "durch"],
            ["le", "fleuve", "et", "pain", "la", "une", "maison", "avec", "eau", "est", "près", "ville", "enfants", "travers"],
            ["el", "río", "y", "pan", "la", "una", "casa", "con", "agua", "es", "cerca", "ciudad", "niños", "través"],
        ];
        var corpus = _temp.Combine("language-corpus");
        Directory.CreateDirectory(corpus);
        // Short texts in one language with a share of words from the others: scores spread from unsure to certain.
        File.WriteAllLines(Path.Combine(corpus, "part.jsonl"), Enumerable.Range(0, 300).Select(i =>
        {
            var main = random.Next(vocab.Length);
            var mixed = random.NextDouble() * 0.6;
            var text = string.Join(' ', Enumerable.Range(0, random.Next(3, 16))
                .Select(_ => vocab[random.NextDouble() < mixed ? random.Next(vocab.Length) : main] is var v ? v[random.Next(v.Length)] : ""));
            return JsonSerializer.Serialize(new { id = $"l{i:D3}", text });
        }));
        var spec = Job("language", corpus, 8 * 1024, new LanguageStageSpec { MinScore = 0.3, Keep = ["en", "de", "fr"], LowAccuracy = true });
        using var services = StageServices.CreateDefault();
        var stores = Stores("language");
        var job = await InProcessJob.RunAsync(spec, stores, services);
        var stage = WhatIf.FindStage(job, "language")!;
        var original = await CuratedOutput.ReadAsync(stores.DataStore, spec.Output.Path);
        Assert.Contains(WhatIf.Options(job), o => o.Stage == stage && o.Fields.SequenceEqual(["minScore"]));

        var now = await WhatIf.ComputeAsync(job, stage, "minScore", 0.3, CancellationToken.None);
        Assert.Equal(original.Drops.Count, now.Removed);
        Assert.Equal(now.Removed, now.RemovedAtThreshold);
        Assert.True(now.Exact);
        var reruns = new List<long>();
        foreach (var minScore in new[] { 0.5, 0.8 })
        {
            var answer = await WhatIf.ComputeAsync(job, stage, "minScore", minScore, CancellationToken.None);
            var rerun = await RerunAsync(answer, stores, s => InProcessJob.RunAsync(s, stores, services));
            output.WriteLine($"language minScore {minScore}: what-if {answer.RemovedAtThreshold}, re-run {rerun} (at 0.3: {now.Removed}; " +
                             $"not kept: {original.Drops.Count(d => d.Reason == LanguageTransform.NotKept)})");
            Assert.True(answer.Exact);
            Assert.Equal(rerun, answer.RemovedAtThreshold);
            reruns.Add(rerun);
        }
        Assert.Contains(reruns, r => r != now.Removed);
        Assert.True(now.Curve.Zip(now.Curve.Skip(1)).All(p => p.First.Removed <= p.Second.Removed));
    }

    [Fact]
    public async Task Rule_set_what_if_counts_equal_reruns_whichever_rule_fails_first()
    {
        var seed = Environment.TickCount;
        output.WriteLine($"seed {seed}");
        var random = new Random(seed);
        string[] stop = ["the", "and", "of", "to", "is", "in", "that", "with"];
        string[] content = ["river", "bread", "mountain", "library", "harbour", "valley", "budget", "rain"];
        string[] numbers = ["123", "2024", "45", "7", "3.14"];
        var corpus = _temp.Combine("rules-corpus");
        Directory.CreateDirectory(corpus);
        // Pages of 1–6 lines, some bulleted, some number-heavy, some short, some lines ending a sentence: several rules fail,
        // often more than one per page.
        File.WriteAllLines(Path.Combine(corpus, "part.jsonl"), Enumerable.Range(0, 400).Select(i =>
        {
            var (numberShare, stopShare, bulletShare, endShare) = (random.NextDouble() * 0.4, random.NextDouble() * 0.3, random.NextDouble(), random.NextDouble());
            var lines = Enumerable.Range(0, random.Next(1, 7)).Select(_ =>
                (random.NextDouble() < bulletShare ? "- " : "") + string.Join(' ', Enumerable.Range(0, random.Next(2, 22)).Select(_ =>
                    random.NextDouble() < numberShare ? numbers[random.Next(numbers.Length)]
                    : random.NextDouble() < stopShare ? stop[random.Next(stop.Length)] : content[random.Next(content.Length)]))
                + (random.NextDouble() < endShare ? "." : ""));
            return JsonSerializer.Serialize(new { id = $"g{i:D3}", text = string.Join('\n', lines) });
        }));
        using var services = StageServices.CreateDefault();

        async Task CheckAsync(string name, StageSpec rules, params (string Field, double Current, double Value)[] cases)
        {
            var spec = Job(name, corpus, 16 * 1024, rules);
            var stores = Stores(name);
            var job = await InProcessJob.RunAsync(spec, stores, services);
            var stage = WhatIf.FindStage(job, rules.Type)!;
            var original = await CuratedOutput.ReadAsync(stores.DataStore, spec.Output.Path);
            output.WriteLine($"{rules.Type}: " + string.Join(", ", original.Drops.GroupBy(d => d.Reason).Select(g => $"{g.Key} {g.Count()}")));
            foreach (var (field, current, value) in cases)
            {
                var now = await WhatIf.ComputeAsync(job, stage, field, current, CancellationToken.None);
                Assert.Equal(original.Drops.Count, now.Removed);
                if (now.Exact) Assert.Equal(now.Removed, now.RemovedAtThreshold); // minDocWords 50 lies between two edges of its log scale
                var answer = await WhatIf.ComputeAsync(job, stage, field, value, CancellationToken.None);
                var rerun = await RerunAsync(answer, stores, s => InProcessJob.RunAsync(s, stores, services));
                output.WriteLine($"{rules.Type} {field} {value}: what-if {answer.RemovedAtThreshold}, re-run {rerun} (at {current}: {now.Removed})");
                Assert.True(answer.Exact);
                Assert.Equal(rerun, answer.RemovedAtThreshold);
                Assert.NotEqual(now.Removed, rerun);
            }
        }

        await CheckAsync("gopher", new GopherQualityStageSpec { StopWords = stop },
            ("minAlphaWordsRatio", 0.8, 0.65), ("maxBulletLinesRatio", 0.9, 0.5), ("minStopWords", 2, 4), ("minDocWords", 50, 0));
        await CheckAsync("fineweb", new FineWebQualityStageSpec(), ("linePunctThr", 0.12, 0.5), ("shortLineThr", 0.67, 0.3));
        await CheckAsync("c4", new C4StageSpec(), ("minNumSentences", 5, 2));
    }
}

