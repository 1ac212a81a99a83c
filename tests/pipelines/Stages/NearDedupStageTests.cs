using System.Text.Json;
using Curation.Pipelines.Execution;
using Curation.Pipelines.Spec;
using Curation.Pipelines.Stages;
using Curation.Pipelines.Storage;
using Curation.Testing;
using Xunit.Abstractions;

namespace Curation.Pipelines.Tests.Stages;

/// <summary>The near_dedup stage end to end in-process, against exact Jaccard similarities computed by brute force.</summary>
public sealed class NearDedupStageTests : IDisposable
{
    private readonly ITestOutputHelper _output;
    private readonly TempDirectory _temp = new("near-stage");
    private static readonly Lazy<NearDupCorpus> SharedCorpus = new(() => NearDupCorpus.Generate(originals: 500, nearPerLevel: 10, chains: 8,
        levels: [0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.9, 0.93, 0.95, 0.97]));
    private static readonly Lazy<Dictionary<(string, string), double>> SharedSimilarities = new(() => SharedCorpus.Value.ExactSimilarities());
    private readonly string _input;

    public NearDedupStageTests(ITestOutputHelper output)
    {
        _output = output;
        _input = _temp.Combine("corpus");
        SharedCorpus.Value.WriteJsonl(_input, files: 6);
    }

    public void Dispose() => _temp.Dispose();

    private JobSpec Spec(long shardBytes = 96 * 1024, NearDedupStageSpec? near = null) => new()
    {
        Name = "near",
        Inputs = [new InputSpec { Path = Path.Combine(_input, "*.jsonl"), IdField = "id" }],
        Sharding = new ShardingSpec { TargetShardBytes = shardBytes },
        Stages = [near ?? new NearDedupStageSpec { Partitions = 4 }],
        Output = new OutputSpec { Path = "curated/near" },
    };

    private IStoreResolver Stores(string name) =>
        CurationStoreServiceCollectionExtensions.CreateResolver(new CurationStoreOptions { RootPath = _temp.Combine(name) });

    private async Task<CuratedOutput> RunAsync(string name, JobSpec spec)
    {
        using var services = StageServices.CreateDefault();
        var stores = Stores(name);
        await InProcessJob.RunAsync(spec, stores, services);
        return await CuratedOutput.ReadAsync(stores.DataStore, "curated/near");
    }

    /// <summary>Each document's group: the kept twin its drop names, or itself.</summary>
    private static Dictionary<string, string> Groups(CuratedOutput output)
    {
        var group = output.KeptIds.ToDictionary(id => id, id => id);
        foreach (var drop in output.Drops) group[drop.Id] = drop.TwinId;
        return group;
    }

    /// <summary>Recall per Jaccard band and pair precision of the output's groups against the brute-force similarities; logged.</summary>
    internal static (double RecallAt90, double Precision) Score(CuratedOutput output, Dictionary<(string, string), double> exact, ITestOutputHelper log)
    {
        var group = Groups(output);
        var bins = new[] { 0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 1.01 };
        log.WriteLine("exact Jaccard     pairs  found  recall");
        for (var b = 0; b + 1 < bins.Length; b++)
        {
            var pairs = exact.Where(p => p.Value >= bins[b] && p.Value < bins[b + 1]).ToList();
            var found = pairs.Count(p => group[p.Key.Item1] == group[p.Key.Item2]);
            log.WriteLine($"[{bins[b]:0.00}, {Math.Min(1, bins[b + 1]):0.00}{(b + 2 == bins.Length ? "]" : ")")}  {pairs.Count,7} {found,6}  {(pairs.Count == 0 ? "-" : (found / (double)pairs.Count).ToString("0.000"))}");
        }
        var high = exact.Where(p => p.Value >= 0.9).ToList();
        var recall = high.Count(p => group[p.Key.Item1] == group[p.Key.Item2]) / (double)Math.Max(1, high.Count);
        // Precision: of the pairs put in one group, the share that are near duplicates (exact Jaccard ≥ 0.5; chain ends a ~ c count through b).
        var members = group.GroupBy(g => g.Value).Where(g => g.Count() > 1).Select(g => g.Select(m => m.Key).Order(StringComparer.Ordinal).ToList()).ToList();
        long together = 0, justified = 0;
        foreach (var m in members)
            for (var i = 0; i < m.Count; i++)
                for (var j = i + 1; j < m.Count; j++)
                {
                    together++;
                    if (exact.GetValueOrDefault((m[i], m[j])) >= 0.5) justified++;
                }
        var precision = together == 0 ? 1 : justified / (double)together;
        log.WriteLine($"recall at J ≥ 0.9: {recall:0.0000} of {high.Count} pairs; pair precision (grouped pairs with J ≥ 0.5): {precision:0.0000} of {together} pairs");
        return (recall, precision);
    }

    [Fact]
    public async Task Planted_near_duplicates_are_found_as_brute_force_jaccard_predicts_and_each_component_keeps_its_smallest_id()
    {
        var corpus = SharedCorpus.Value;
        var output = await RunAsync("default", Spec());
        Assert.True(output.Manifest.Shards.Count > 3, "the test needs several shards");
        Assert.Empty(output.Manifest.Accounting.Imbalances());
        var (recall, precision) = Score(output, SharedSimilarities.Value, _output);
        Assert.True(recall >= 0.98, $"recall {recall} at J ≥ 0.9");
        Assert.True(precision >= 0.99, $"precision {precision}");

        // Lineage: every drop names the smallest id of its group, which is kept.
        var kept = output.KeptIds.ToHashSet();
        Assert.All(output.Drops, d => Assert.Equal(NearDedupStage.DuplicateReason, d.Reason));
        Assert.All(output.Drops, d => Assert.Contains(d.TwinId, kept));
        Assert.All(output.Drops, d => Assert.True(string.CompareOrdinal(d.TwinId, d.Id) < 0, $"{d.Id} names a larger twin {d.TwinId}"));

        // Chains a ~ b ~ c (a ≁ c) collapse into one component.
        var group = Groups(output);
        foreach (var (a, b, c) in corpus.Chains)
        {
            Assert.Equal(group[a], group[b]);
            Assert.Equal(group[b], group[c]);
            Assert.Equal(new[] { a, b, c }.Min(StringComparer.Ordinal), group[a]);
        }

        // Empty, short and unspaced documents are handled, kept, and counted.
        foreach (var id in corpus.Empty.Concat(corpus.Short).Concat(corpus.Unspaced)) Assert.Contains(id, kept);
        var metrics = output.Manifest.Metrics.Single(m => m.Key.EndsWith(NearDedupStageSpec.TypeName, StringComparison.Ordinal)).Value;
        Assert.Equal(corpus.Empty.Count, metrics["skipped_empty"]);
        Assert.Equal(corpus.Short.Count, metrics["shingled_single"]);
        Assert.Equal(corpus.Unspaced.Count, metrics["shingled_char_fallback"]);
        Assert.Equal(output.Drops.Count, metrics["removed"]);
        Assert.True(metrics["candidate_pairs"] >= metrics["verified_edges"]);
        Assert.Equal(metrics["candidate_pairs"], metrics["verified_edges"] + metrics["rejected_candidates"]);
        Assert.True(metrics["component_size_3"] >= corpus.Chains.Count);

        var report = output.Manifest.Reports.Single(r => r.Key.EndsWith(NearDedupStageSpec.TypeName, StringComparison.Ordinal)).Value;
        _output.WriteLine(report.ToString());
        Assert.Equal(output.Drops.Count, report.GetProperty("removed").GetInt64());
        Assert.Equal((long)metrics["rejected_candidates"], report.GetProperty("rejectedCandidates").GetInt64());
        var histogram = report.GetProperty("componentSizes").EnumerateArray().Sum(b => (b.GetProperty("size").GetInt64() - 1) * b.GetProperty("components").GetInt64());
        Assert.Equal(output.Drops.Count, histogram);
    }

    [Fact]
    public async Task Sharding_and_interruptions_do_not_change_what_is_kept()
    {
        var reference = await RunAsync("reference", Spec());
        var single = await RunAsync("one-shard", Spec(shardBytes: 64L << 20));
        Assert.Single(single.Manifest.Shards);
        Assert.Equal(reference.KeptIds.Order(StringComparer.Ordinal), single.KeptIds.Order(StringComparer.Ordinal));
        Assert.Equal(reference.Drops.Select(d => (d.Id, d.TwinId)).Order(), single.Drops.Select(d => (d.Id, d.TwinId)).Order());

        using var services = StageServices.CreateDefault();
        // Interrupted after the read and signature phases, then inside the connected-components rounds: resumed, the same bytes.
        foreach (var phases in new[] { 2, 7 })
        {
            var stores = Stores($"interrupted-{phases}");
            await InProcessJob.RunAsync(Spec(), stores, services, maxPhases: phases);
            Assert.Null(await stores.DataStore.GetInfoAsync("curated/near/manifest.json"));
            await InProcessJob.RunAsync(Spec(), stores, services);
            var resumed = await CuratedOutput.ReadAsync(stores.DataStore, "curated/near");
            Assert.Equal(reference.ShardHashes, resumed.ShardHashes);
            Assert.Equal(reference.Drops, resumed.Drops);
        }
    }

    [Fact]
    public async Task A_converged_components_group_ends_early_and_removes_what_running_every_round_removes()
    {
        // The distributed rounds (a graph this small is otherwise decided in one task: see the test below).
        var roundsSpec = Spec(near: new NearDedupStageSpec { Partitions = 4, OneTaskComponentsEdges = 0 });
        using var services = StageServices.CreateDefault();
        var stores = Stores("early");
        var job = await InProcessJob.RunAsync(roundsSpec, stores, services);
        var early = await CuratedOutput.ReadAsync(stores.DataStore, "curated/near");

        // Every planned round dispatched, as before: the converged ones run as no-ops.
        var everyStores = Stores("every-round");
        var every = await JobContext.CreateOrLoadAsync(roundsSpec, everyStores);
        foreach (var (stage, phase) in every.Phases())
            for (var t = 0; t < phase.TaskCount; t++)
                await JobExecutor.RunTaskAsync(every, stage.Index, phase.Name, t, services, CancellationToken.None);
        var reference = await CuratedOutput.ReadAsync(everyStores.DataStore, "curated/near");
        Assert.Equal(reference.ShardHashes, early.ShardHashes);
        Assert.Equal(reference.Drops, early.Drops);
        Assert.Equal(reference.KeptIds, early.KeptIds);

        var near = job.Stages.OfType<NearDedupStage>().Single();
        var dispatched = new List<int>();
        for (var round = 0; round < near.Spec.MaxRounds; round++)
            if (await job.Data.GetInfoAsync(job.Layout.TaskStats(near.Index, near.Name, NearDedupStage.RoundPhase(round), 0)) is not null) dispatched.Add(round);
        _output.WriteLine($"rounds dispatched: {string.Join(", ", dispatched)} of {near.Spec.MaxRounds} planned");
        Assert.Equal(Enumerable.Range(0, dispatched.Count), dispatched); // a prefix of the rounds, then none
        Assert.InRange(dispatched.Count, 2, near.Spec.MaxRounds - 1);
        var report = await StageReports.TryReadAsync(job, near, CancellationToken.None);
        Assert.Equal(dispatched.Count, report!.Value.GetProperty("rounds").GetInt32());

        // Interrupted right before, at and after the first round not dispatched: resumed, the same bytes.
        var firstSkipped = job.Phases().ToList().FindIndex(p => p.Phase.Name == NearDedupStage.RoundPhase(dispatched.Count));
        foreach (var phases in new[] { firstSkipped - 1, firstSkipped, firstSkipped + 1 })
        {
            var resumedStores = Stores($"resumed-{phases}");
            await InProcessJob.RunAsync(roundsSpec, resumedStores, services, maxPhases: phases);
            await InProcessJob.RunAsync(roundsSpec, resumedStores, services);
            var resumed = await CuratedOutput.ReadAsync(resumedStores.DataStore, "curated/near");
            Assert.Equal(reference.ShardHashes, resumed.ShardHashes);
            Assert.Equal(reference.Drops, resumed.Drops);
        }
    }

    /// <summary>
    /// A graph within <c>oneTaskComponentsEdges</c> gets its connected components in one task: no round or components task
    /// is dispatched, and the shards, drops, report (rounds included) and the stage's metrics (same keys, same order) are
    /// those of the distributed rounds; resumed after interruption at every phase around it, the same bytes.
    /// </summary>
    [Fact]
    public async Task Components_decided_in_one_task_equal_the_distributed_rounds()
    {
        using var services = StageServices.CreateDefault();
        var roundsStores = Stores("rounds");
        var roundsJob = await InProcessJob.RunAsync(Spec(near: new NearDedupStageSpec { Partitions = 4, OneTaskComponentsEdges = 0 }), roundsStores, services);
        var rounds = await CuratedOutput.ReadAsync(roundsStores.DataStore, "curated/near");
        var oneStores = Stores("one-task");
        var oneJob = await InProcessJob.RunAsync(Spec(), oneStores, services);
        var one = await CuratedOutput.ReadAsync(oneStores.DataStore, "curated/near");

        Assert.True(rounds.Manifest.Shards.Count > 1);
        Assert.Contains(one.Drops, d => d.Reason == NearDedupStage.DuplicateReason);
        Assert.Equal(rounds.ShardHashes, one.ShardHashes);
        Assert.Equal(rounds.Drops, one.Drops);
        Assert.Equal(rounds.Manifest.Drops.Select(d => (d.Key, d.Sha256)), one.Manifest.Drops.Select(d => (d.Key, d.Sha256)));
        static string Json<T>(T value) => System.Text.Json.JsonSerializer.Serialize(value, CurationJson.Options);
        Assert.Equal(Json(rounds.Manifest.Metrics), Json(one.Manifest.Metrics));
        Assert.Equal(Json(rounds.Manifest.Reports), Json(one.Manifest.Reports));
        Assert.Equal(Json(rounds.Manifest.Accounting), Json(one.Manifest.Accounting));

        var near = oneJob.Stages.OfType<NearDedupStage>().Single();
        var report = await StageReports.TryReadAsync(oneJob, near, CancellationToken.None);
        Assert.True(report!.Value.GetProperty("rounds").GetInt32() >= 2, "the graph needs several rounds");
        Assert.NotNull(await oneJob.Data.GetInfoAsync(oneJob.Layout.TaskStats(near.Index, near.Name, NearDedupStage.OneTaskComponentsPhase, 0)));
        for (var round = 0; round < near.Spec.MaxRounds; round++)
            Assert.Null(await oneJob.Data.GetInfoAsync(oneJob.Layout.TaskStats(near.Index, near.Name, NearDedupStage.RoundPhase(round), 0)));
        Assert.Null(await oneJob.Data.GetInfoAsync(oneJob.Layout.TaskStats(near.Index, near.Name, NearDedupStage.ComponentsPhase, 0)));
        var roundsNear = roundsJob.Stages.OfType<NearDedupStage>().Single();
        Assert.NotNull(await roundsJob.Data.GetInfoAsync(roundsJob.Layout.TaskStats(roundsNear.Index, roundsNear.Name, NearDedupStage.RoundPhase(0), 0)));

        // Interrupted before, at and after the one task: resumed, the same bytes.
        var at = oneJob.Phases().ToList().FindIndex(p => p.Phase.Name == NearDedupStage.OneTaskComponentsPhase);
        foreach (var phases in new[] { at, at + 1, at + 2 })
        {
            var resumedStores = Stores($"one-task-resumed-{phases}");
            await InProcessJob.RunAsync(Spec(), resumedStores, services, maxPhases: phases);
            await InProcessJob.RunAsync(Spec(), resumedStores, services);
            var resumed = await CuratedOutput.ReadAsync(resumedStores.DataStore, "curated/near");
            Assert.Equal(rounds.ShardHashes, resumed.ShardHashes);
            Assert.Equal(rounds.Drops, resumed.Drops);
        }
    }

    [Theory]
    [InlineData(NearDedupVerify.None, 0.7)]
    [InlineData(NearDedupVerify.Exact, 0.9)]
    public async Task Every_verification_mode_keeps_recall_and_reports_rejected_candidates(NearDedupVerify verify, double threshold)
    {
        var output = await RunAsync($"verify-{verify}", Spec(near: new NearDedupStageSpec { Partitions = 3, Verify = verify, Threshold = threshold }));
        var (recall, precision) = Score(output, SharedSimilarities.Value, _output);
        Assert.True(recall >= 0.98, $"recall {recall}");
        Assert.True(precision >= 0.95, $"precision {precision}");
        var metrics = output.Manifest.Metrics.Single(m => m.Key.EndsWith(NearDedupStageSpec.TypeName, StringComparison.Ordinal)).Value;
        _output.WriteLine($"{verify}: candidates {metrics["candidate_pairs"]}, verified {metrics["verified_edges"]}, rejected {metrics["rejected_candidates"]}");
        if (verify == NearDedupVerify.None) Assert.Equal(0, metrics["rejected_candidates"]);
        else
        {
            Assert.True(metrics["rejected_candidates"] > 0, "candidate pairs below the threshold should be rejected");
            // Exact verification at 0.9: no pair below it is joined, except chain ends joined through their middle.
            var groups = Groups(output);
            var chains = SharedCorpus.Value.Chains.SelectMany(c => new[] { (c.A, c.C), (c.C, c.A) }).ToHashSet();
            Assert.DoesNotContain(SharedSimilarities.Value, p => p.Value < threshold && groups[p.Key.Item1] == groups[p.Key.Item2] && !chains.Contains(p.Key));
        }
    }

    [Fact]
    public async Task A_graph_not_converged_within_max_rounds_fails_the_job_naming_the_setting()
    {
        // A long chain: each document is an edit of the previous one, so the graph is close to a path of 40 nodes.
        var random = new Random(5);
        var words = Enumerable.Range(0, 200).Select(i => $"w{random.Next(100_000)}").ToArray();
        var lines = new List<string>();
        var ids = Enumerable.Range(0, 40).Select(i => $"c-{i:D3}").OrderBy(_ => random.Next()).ToArray();
        for (var i = 0; i < ids.Length; i++)
        {
            lines.Add(JsonSerializer.Serialize(new { id = ids[i], text = string.Join(' ', words) }));
            for (var e = 0; e < 3; e++) words[random.Next(words.Length)] = $"w{random.Next(100_000)}";
        }
        var folder = _temp.Combine("chain");
        Directory.CreateDirectory(folder);
        await File.WriteAllLinesAsync(Path.Combine(folder, "chain.jsonl"), lines);
        var spec = Spec(near: new NearDedupStageSpec { Partitions = 2, MaxRounds = 2 }) with
        {
            Inputs = [new InputSpec { Path = Path.Combine(folder, "*.jsonl"), IdField = "id" }],
        };
        using var services = StageServices.CreateDefault();
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => InProcessJob.RunAsync(spec, Stores("chain"), services));
        _output.WriteLine(error.Message);
        Assert.Contains("did not converge in 2 rounds", error.Message, StringComparison.Ordinal);
        Assert.Contains("maxRounds", error.Message, StringComparison.Ordinal);

        var converged = await RunAsync("chain-ok", spec with { Stages = [new NearDedupStageSpec { Partitions = 2 }] });
        Assert.Single(converged.KeptIds);
        Assert.Equal(ids.Min(StringComparer.Ordinal), converged.KeptIds[0]);
    }
}
