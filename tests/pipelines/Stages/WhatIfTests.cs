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
            Assert.False(answer.Exact);
            Assert.InRange(rerun, answer.RemovedAtThreshold!.Value - bin.Count, answer.RemovedAtThreshold!.Value + bin.Count);
            Assert.NotEqual(answer.Removed, rerun);
        }
    }
}
