using System.Text.Json;
using Curation.Pipelines.Execution;
using Curation.Pipelines.Semantic;
using Curation.Pipelines.Spec;
using Curation.Pipelines.Stages;
using Curation.Pipelines.Storage;
using Curation.Pipelines.Tests.Semantic;
using Curation.Testing;
using Xunit.Abstractions;

namespace Curation.Pipelines.Tests.Stages;

/// <summary>
/// semantic_dedup and d4 as job stages on planted embeddings (groups of near duplicates at known noise, and singletons),
/// checked against exact brute force over the whole corpus.
/// </summary>
public sealed class SemanticPlantedTests : IDisposable
{
    private const int Dimensions = 96;
    private const string SemanticFolder = "02-semantic_dedup";
    private readonly TempDirectory _temp = new("semantic-planted");
    private readonly ITestOutputHelper _output;
    private readonly float[] _vectors;
    private readonly string[] _ids;
    private readonly Dictionary<string, int> _index;
    private readonly string _corpus;

    public SemanticPlantedTests(ITestOutputHelper output)
    {
        _output = output;
        (_vectors, _ids, _) = SemanticCorpus.Planted(groups: 220, singles: 900, Dimensions, seed: 41, minNoise: 0.05, maxNoise: 0.3);
        _index = _ids.Select((id, i) => (id, i)).ToDictionary(x => x.id, x => x.i);
        _corpus = _temp.Combine("corpus");
        Directory.CreateDirectory(_corpus);
        for (var f = 0; f < 4; f++)
            File.WriteAllLines(Path.Combine(_corpus, $"part-{f}.jsonl"),
                _ids.Where((_, i) => i % 4 == f).Select(id => JsonSerializer.Serialize(new { id, text = $"document {id}" })));
    }

    public void Dispose() => _temp.Dispose();

    private float[] VectorOf(string id) => SemanticCorpus.Row(_vectors, Dimensions, _index[id]).ToArray();

    private float Cosine(string a, string b) =>
        VectorKernels.SequentialDot(SemanticCorpus.Row(_vectors, Dimensions, _index[a]), SemanticCorpus.Row(_vectors, Dimensions, _index[b]));

    private JobSpec Spec(StageSpec stage, long shardBytes = 16 * 1024) => new()
    {
        Name = "planted",
        Inputs = [new InputSpec { Path = Path.Combine(_corpus, "*.jsonl"), IdField = "id" }],
        Sharding = new ShardingSpec { TargetShardBytes = shardBytes },
        Stages = [new EmbedStageSpec(), stage],
        Output = new OutputSpec { Path = "curated/planted" },
    };

    private static SemanticDedupStageSpec Semantic(double? eps = 0.05, double? target = null) =>
        new() { Clusters = 16, MaxIterations = 15, Eps = eps, TargetKeepFraction = target, Partitions = 3, TileSize = 64 };

    private async Task<CuratedOutput> RunAsync(JobSpec spec, string data, int? maxPhases = null)
    {
        using var services = StageServices.CreateDefault();
        var stores = CurationStoreServiceCollectionExtensions.CreateResolver(new CurationStoreOptions { RootPath = _temp.Combine(data) });
        await PlantedEmbeddings.RunAsync(spec, stores, services, VectorOf, maxPhases: maxPhases);
        return maxPhases is null ? await CuratedOutput.ReadAsync(stores.DataStore, "curated/planted") : null!;
    }

    private static T Report<T>(CuratedOutput output, string folder) => output.Manifest.Reports[folder].Deserialize<T>(CurationJson.Options)!;

    [Fact]
    public async Task At_most_one_member_of_98_percent_of_close_pairs_survives_and_every_twin_is_within_eps()
    {
        const double eps = 0.05;
        var output = await RunAsync(Spec(Semantic(eps)), "data");
        Assert.True(output.Manifest.Shards.Count >= 3, "several shards");
        Assert.Empty(output.Manifest.Accounting.Imbalances());

        // Exact brute force over the whole corpus: every pair within eps.
        var n = _ids.Length;
        var pairs = new List<(string A, string B)>();
        for (var a = 0; a < n; a++)
            for (var b = a + 1; b < n; b++)
                if (SemDeDup.IsDuplicate(Cosine(_ids[a], _ids[b]), eps)) pairs.Add((_ids[a], _ids[b]));
        var kept = output.KeptIds.ToHashSet();
        var resolved = pairs.Count(p => !kept.Contains(p.A) || !kept.Contains(p.B));
        var drops = output.Drops.Where(d => d.Reason == SemanticDedupStage.DuplicateReason).ToList();
        var twinsKept = drops.Count(d => kept.Contains(d.TwinId));
        _output.WriteLine($"{n} documents, {pairs.Count} pairs with cos ≥ 1 − eps, {resolved} with at most one member left; " +
            $"{drops.Count} removed, {twinsKept} name a kept twin");
        Assert.True(pairs.Count > 400, $"only {pairs.Count} planted pairs");
        Assert.True(resolved >= 0.98 * pairs.Count, $"{resolved} of {pairs.Count} pairs have at most one member left");

        // Lineage: every twin is within eps, ranks earlier in the same cluster, and is kept unless no kept member is within eps.
        Assert.All(drops, d => Assert.True(SemDeDup.IsDuplicate(Cosine(d.Id, d.TwinId), eps), $"{d.Id} → {d.TwinId}: {Cosine(d.Id, d.TwinId)}"));
        // A kept member of the cluster within eps of a removed one must rank earlier (else its own M would remove it),
        // so a twin that is not kept means there was no kept member within eps at all.
        var clusterOf = await ColumnAsync<int>("data", output, SemanticDedupStage.ClusterColumn);
        foreach (var d in drops.Where(d => !kept.Contains(d.TwinId)))
        {
            Assert.Contains("itself removed", d.Detail, StringComparison.Ordinal);
            var cluster = int.Parse(d.Detail[(d.Detail.IndexOf("of cluster ", StringComparison.Ordinal) + 11)..].Split(',')[0], System.Globalization.CultureInfo.InvariantCulture);
            Assert.DoesNotContain(kept, k => clusterOf[k] == cluster && SemDeDup.IsDuplicate(Cosine(d.Id, k), eps));
        }
        Assert.True(twinsKept >= 0.95 * drops.Count, $"{twinsKept} of {drops.Count} twins kept");

        // The report: eps curve (monotonic, exact at the run's eps), M histogram, cluster sizes, per-cluster counts.
        var report = Report<SemanticDedupReport>(output, SemanticFolder);
        Assert.Equal(eps, report.Eps);
        Assert.Equal(n, report.Documents);
        Assert.Equal(drops.Count, report.Removed);
        Assert.Equal(report.Removed, report.EpsCurve.Single(p => p.Eps == eps).Removed);
        Assert.True(report.EpsCurve.Zip(report.EpsCurve.Skip(1)).All(p => p.First.Removed <= p.Second.Removed));
        Assert.Equal(n - report.Unhealthy.Values.Sum(), report.MaxSimilarityHistogram.Sum(b => b.Count));
        Assert.Equal(n, report.Clusters.Sum(c => c.Size));
        Assert.Equal(report.Removed, report.Clusters.Sum(c => c.Removed));
        Assert.Equal(report.Clusters.Count, report.ClusterSizes.Clusters);
        Assert.Equal(report.Clusters.Count, report.ClusterSizes.Buckets.Sum(b => b.Clusters));
        Assert.Equal(drops.Count, report.Twins.Direct + report.Twins.KeptPastChain + report.Twins.ChainOnly);
        Assert.Equal(twinsKept, report.Twins.Direct + report.Twins.KeptPastChain);
    }

    /// <summary>A column of the curated shards, by document id.</summary>
    private async Task<Dictionary<string, T>> ColumnAsync<T>(string data, CuratedOutput output, string column)
    {
        var store = CurationStoreServiceCollectionExtensions.CreateResolver(new CurationStoreOptions { RootPath = _temp.Combine(data) }).DataStore;
        var values = new Dictionary<string, T>();
        foreach (var shard in output.Manifest.Shards)
        {
            await using var input = await store.OpenReadAsync("curated/planted/" + shard.Key);
            await using var reader = await Curation.Pipelines.IO.ParquetTableReader.OpenAsync(input);
            await foreach (var batch in reader.ReadAllAsync())
                for (var i = 0; i < batch.RowCount; i++) values[batch.Ids[i]] = batch.GetColumn<T>(column)[i];
        }
        return values;
    }

    [Fact]
    public async Task A_target_keep_fraction_picks_eps_from_the_curve_and_equals_the_run_at_that_eps()
    {
        var targeted = await RunAsync(Spec(Semantic(eps: null, target: 0.85)), "data-target");
        var report = Report<SemanticDedupReport>(targeted, SemanticFolder);
        _output.WriteLine($"target 0.85 → eps {report.Eps}, kept fraction {report.KeptFraction:F4}");
        Assert.Equal(0.85, report.TargetKeepFraction);
        Assert.InRange(report.KeptFraction, 0.84, 0.86);
        Assert.Equal(report.Documents - report.Removed, targeted.KeptIds.Count);

        var fixedEps = await RunAsync(Spec(Semantic(eps: report.Eps)), "data-fixed");
        Assert.Equal(targeted.KeptIds.Order(StringComparer.Ordinal), fixedEps.KeptIds.Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task Resharded_and_interrupted_runs_keep_the_same_documents()
    {
        var whole = await RunAsync(Spec(Semantic()), "data-a");
        var single = await RunAsync(Spec(Semantic(), shardBytes: 1 << 24), "data-b");
        Assert.Single(single.Manifest.Shards);
        Assert.Equal(whole.KeptIds.Order(StringComparer.Ordinal), single.KeptIds.Order(StringComparer.Ordinal));
        Assert.Equal(whole.Drops.Select(d => (d.Id, d.TwinId)).Order(), single.Drops.Select(d => (d.Id, d.TwinId)).Order());

        // Interrupted inside the stage (after score, before decide), then resumed.
        var stores = CurationStoreServiceCollectionExtensions.CreateResolver(new CurationStoreOptions { RootPath = _temp.Combine("data-c") });
        var job = await JobContext.CreateOrLoadAsync(Spec(Semantic()), stores);
        var upToScore = job.Phases().TakeWhile(p => p.Phase.Name != SemanticDedupStage.DecidePhase).Count();
        await RunAsync(Spec(Semantic()), "data-c", maxPhases: upToScore);
        var resumed = await RunAsync(Spec(Semantic()), "data-c");
        Assert.Equal(whole.ShardHashes, resumed.ShardHashes);
        Assert.Equal(JsonSerializer.Serialize(whole.Manifest), JsonSerializer.Serialize(resumed.Manifest));
    }

    [Fact]
    public async Task ClusterDims_assigns_in_a_projection_and_loses_few_pairs_and_resharding_does_not_change_it()
    {
        const double eps = 0.05;
        var full = await RunAsync(Spec(Semantic(eps)), "dims-full");
        var reduced = await RunAsync(Spec(Semantic(eps) with { ClusterDims = 24 }), "dims-24");
        var single = await RunAsync(Spec(Semantic(eps) with { ClusterDims = 24 }, shardBytes: 1 << 24), "dims-24-single");
        Assert.Equal(reduced.KeptIds.Order(StringComparer.Ordinal), single.KeptIds.Order(StringComparer.Ordinal));
        Assert.Equal(reduced.Drops.Select(d => (d.Id, d.TwinId)).Order(), single.Drops.Select(d => (d.Id, d.TwinId)).Order());
        Assert.Empty(reduced.Manifest.Accounting.Imbalances());

        // Dedup stays exact cosine on the full vectors: every twin within eps. What the projection costs is pairs split
        // across clusters: resolved pairs compared with the full-space run.
        var drops = reduced.Drops.Where(d => d.Reason == SemanticDedupStage.DuplicateReason).ToList();
        Assert.All(drops, d => Assert.True(SemDeDup.IsDuplicate(Cosine(d.Id, d.TwinId), eps), $"{d.Id} → {d.TwinId}: {Cosine(d.Id, d.TwinId)}"));
        var pairs = new List<(string A, string B)>();
        for (var a = 0; a < _ids.Length; a++)
            for (var b = a + 1; b < _ids.Length; b++)
                if (SemDeDup.IsDuplicate(Cosine(_ids[a], _ids[b]), eps)) pairs.Add((_ids[a], _ids[b]));
        int Resolved(CuratedOutput output)
        {
            var kept = output.KeptIds.ToHashSet();
            return pairs.Count(p => !kept.Contains(p.A) || !kept.Contains(p.B));
        }
        var (fullResolved, reducedResolved) = (Resolved(full), Resolved(reduced));
        _output.WriteLine($"{pairs.Count} pairs; resolved: full {fullResolved}, clusterDims 24 {reducedResolved}; removed {full.Drops.Count} vs {drops.Count}");
        Assert.True(reducedResolved >= 0.95 * pairs.Count, $"clusterDims 24 resolved {reducedResolved} of {pairs.Count} pairs");
        // The centroids live in the projected space.
        var stores = CurationStoreServiceCollectionExtensions.CreateResolver(new CurationStoreOptions { RootPath = _temp.Combine("dims-24") });
        var job = await JobContext.CreateOrLoadAsync(Spec(Semantic(eps) with { ClusterDims = 24 }), stores);
        var centroids = await stores.DataStore.ReadBytesAsync(job.Layout.StageRoot(2, SemanticDedupStageSpec.TypeName) + "centroids/000.bin");
        Assert.Equal(24, BitConverter.ToInt32(centroids, 4));
    }

    [Fact]
    public async Task When_no_document_reaches_the_stage_the_job_completes_with_an_empty_output()
    {
        // Every document dropped before the embeddings: k-means has nothing to cluster (the init task failed four times, and so the job).
        StageSpec[] stages = [new SemanticDedupStageSpec { Clusters = 16, ClusterDims = 8, Eps = 0.05 }, new D4StageSpec { KeepFraction = 0.5, Clusters = 4 }];
        for (var i = 0; i < stages.Length; i++)
        {
            var spec = Spec(stages[i]) with { Stages = [new QualityFilterStageSpec { MinChars = 100_000 }, new EmbedStageSpec(), stages[i]] };
            var output = await RunAsync(spec, $"data-nothing-{i}");
            Assert.Empty(output.KeptIds);
            Assert.Equal(_ids.Length, output.Drops.Count(d => d.Reason == "too_short"));
            Assert.Empty(output.Manifest.Accounting.Imbalances());
        }

        // Documents that reach the stage but that initSampleFraction left out of the sample: the job fails saying so.
        var sparse = Spec(new SemanticDedupStageSpec { Clusters = 4, Eps = 0.05, InitSampleFraction = 1e-9 });
        var error = await Assert.ThrowsAnyAsync<Exception>(() => RunAsync(sparse, "data-sparse-sample"));
        Assert.Contains($"initSampleFraction 1E-09 picked none of the {_ids.Length.ToString("N0", System.Globalization.CultureInfo.InvariantCulture)} documents",
            error.ToString());
    }

    [Fact]
    public async Task D4_removes_the_most_prototypical_documents_until_the_target_fraction_remains()
    {
        const double keep = 0.7;
        var spec = Spec(new D4StageSpec { KeepFraction = keep, Clusters = 12, MaxIterations = 15 });
        var output = await RunAsync(spec, "data-d4");
        var n = _ids.Length;
        Assert.Equal(D4Selection.KeepCount(n, keep), output.KeptIds.Count);
        Assert.Empty(output.Manifest.Accounting.Imbalances());
        var drops = output.Drops.Where(d => d.Reason == D4Stage.PrototypicalReason).ToList();
        Assert.Equal(n - output.KeptIds.Count, drops.Count);

        // Every removed document is at least as close to its centroid as every kept one: (distance, id) order.
        var stores = CurationStoreServiceCollectionExtensions.CreateResolver(new CurationStoreOptions { RootPath = _temp.Combine("data-d4") });
        var job = await JobContext.LoadAsync(JobContext.JobIdOf(spec), stores);
        var distance = new Dictionary<string, float>();
        await foreach (var info in stores.DataStore.ListAsync(job.Layout.StageRoot(2, D4StageSpec.TypeName) + "distances/"))
        {
            await using var input = await stores.DataStore.OpenReadAsync(info.Key);
            await using var reader = await Curation.Pipelines.IO.ParquetTableReader.OpenAsync(input);
            await foreach (var batch in reader.ReadAllAsync())
                for (var i = 0; i < batch.RowCount; i++) distance[batch.Ids[i]] = batch.GetColumn<float>("distance")[i];
        }
        var keyOf = (string id) => (D4Selection.KeyOf(distance[id]), id);
        var lastRemoved = drops.Select(d => keyOf(d.Id)).Max(KeyComparer.Instance);
        var firstKept = output.KeptIds.Select(keyOf).Min(KeyComparer.Instance);
        Assert.True(KeyComparer.Instance.Compare(lastRemoved, firstKept) < 0, $"removed up to {lastRemoved}, kept from {firstKept}");
        Assert.Equal(D4Selection.Select(distance.Values.ToArray(), distance.Keys.ToArray(), output.KeptIds.Count).Count(k => k), output.KeptIds.Count);

        var report = Report<D4Report>(output, "02-d4");
        Assert.Equal(n, report.Documents);
        Assert.Equal(drops.Count, report.Removed);
        Assert.Equal(n, report.Clusters.Sum(c => c.Size));
        Assert.Equal(drops.Count, report.Clusters.Sum(c => c.Removed));
        Assert.Equal(distance[lastRemoved.Item2], report.CutoffDistance);
        Assert.Equal(lastRemoved.Item2, report.CutoffId);
        Assert.Equal(n, report.DistanceHistogram.Sum(b => b.Count));

        var resharded = await RunAsync(spec with { Sharding = new ShardingSpec { TargetShardBytes = 1 << 24 } }, "data-d4-single");
        Assert.Equal(output.KeptIds.Order(StringComparer.Ordinal), resharded.KeptIds.Order(StringComparer.Ordinal));
    }

    private sealed class KeyComparer : IComparer<(uint Key, string Id)>
    {
        public static readonly KeyComparer Instance = new();

        public int Compare((uint Key, string Id) x, (uint Key, string Id) y) =>
            x.Key != y.Key ? x.Key.CompareTo(y.Key) : string.CompareOrdinal(x.Id, y.Id);
    }
}
