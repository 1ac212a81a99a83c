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
/// semantic_dedup on a versioned corpus: a first run on part 1 (planted vectors around a few topics), then refreshes
/// whose new documents hold semantic near-duplicates of curated documents and of each other; checked by brute force
/// over the planted vectors of the whole new snapshot.
/// </summary>
public sealed class SemanticRefreshTests : IDisposable
{
    private const int Dimensions = 48;
    private const double Eps = 0.05;
    private const string OutputPath = "curated/semantic";
    private const string SemanticFolder = "02-semantic_dedup";
    private readonly ITestOutputHelper _output;
    private readonly TempDirectory _temp = new("semantic-refresh");
    private readonly string _input;
    private readonly float[][] _topics;
    private StableRandom _random = new(17);

    /// <summary>The planted vector of every document written, by id.</summary>
    private readonly Dictionary<string, float[]> _vectors = new(StringComparer.Ordinal);

    /// <summary>Planted copies of curated documents: id → the curated document it duplicates.</summary>
    private readonly Dictionary<string, string> _copiesOfCorpus = new(StringComparer.Ordinal);

    /// <summary>Planted groups of new near-duplicates (one member of each must survive).</summary>
    private readonly List<string[]> _newGroups = [];

    /// <summary>New documents unrelated to everything (must all survive).</summary>
    private readonly List<string> _unrelated = [];

    public SemanticRefreshTests(ITestOutputHelper output)
    {
        _output = output;
        _input = _temp.Combine("corpus");
        Directory.CreateDirectory(_input);
        _topics = Enumerable.Range(0, 6).Select(_ => SemanticCorpus.RandomUnit(ref _random, Dimensions)).ToArray();
    }

    public void Dispose() => _temp.Dispose();

    /// <summary>A document of a random topic: cosine ≈ 0.7 to it, ≈ 0.5 to another document of the topic, far from any eps.</summary>
    private float[] TopicDocument() => SemanticCorpus.Near(ref _random, _topics[_random.NextInt(_topics.Length)], 1.0);

    /// <summary>A semantic near-duplicate: cosine ≈ 0.995 to <paramref name="of"/>, ≈ 0.99 to another copy of it, clearly ≥ 1 − eps (0.95).</summary>
    private float[] Copy(string of) => SemanticCorpus.Near(ref _random, _vectors[of], 0.1);

    private void WriteFile(string name, IEnumerable<(string Id, float[] Vector)> documents)
    {
        var list = documents.ToList();
        foreach (var (id, vector) in list) _vectors[id] = vector;
        File.WriteAllLines(Path.Combine(_input, name), list.Select(d => JsonSerializer.Serialize(new { id = d.Id, text = $"document {d.Id}" })));
    }

    /// <summary>Part 1: 200 topic documents and 5 copies of them (removed by the first run), in three objects.</summary>
    private List<string> WritePart1()
    {
        var docs = Enumerable.Range(0, 200).Select(i => ($"p1-{i:D3}", TopicDocument())).ToList();
        foreach (var (id, vector) in docs) _vectors[id] = vector;
        docs.AddRange(Enumerable.Range(0, 5).Select(i => ($"p1-d{i:D3}", Copy($"p1-{i * 7:D3}"))));
        for (var f = 0; f < 3; f++) WriteFile($"part1-{f}.jsonl", docs.Where((_, i) => i % 3 == f));
        return docs.Select(d => d.Item1).ToList();
    }

    /// <summary>
    /// New documents: 30 copies of distinct curated documents, 5 curated documents with two copies each, 10 groups of
    /// three new near-duplicates, and <paramref name="unrelated"/> unrelated documents, shuffled into two objects.
    /// </summary>
    private void WriteNewPart(string prefix, IReadOnlyList<string> curated, int unrelated = 60)
    {
        var docs = new List<(string, float[])>();
        var picks = curated.OrderBy(_ => _random.NextUInt64()).Take(35).ToList();
        for (var i = 0; i < 30; i++) AddCopy($"{prefix}-c{i:D3}", picks[i]);
        for (var i = 0; i < 5; i++)
            for (var j = 0; j < 2; j++) AddCopy($"{prefix}-cc{i:D2}{j}", picks[30 + i]);
        for (var g = 0; g < 10; g++)
        {
            var original = ($"{prefix}-g{g:D2}0", TopicDocument());
            _vectors[original.Item1] = original.Item2;
            docs.Add(original);
            var group = new[] { original.Item1, $"{prefix}-g{g:D2}1", $"{prefix}-g{g:D2}2" };
            docs.Add((group[1], Copy(original.Item1)));
            docs.Add((group[2], Copy(original.Item1)));
            _newGroups.Add(group);
        }
        for (var i = 0; i < unrelated; i++)
        {
            docs.Add(($"{prefix}-u{i:D3}", TopicDocument()));
            _unrelated.Add($"{prefix}-u{i:D3}");
        }
        var shuffled = docs.OrderBy(_ => _random.NextUInt64()).ToList();
        WriteFile($"{prefix}-0.jsonl", shuffled.Take(shuffled.Count / 2));
        WriteFile($"{prefix}-1.jsonl", shuffled.Skip(shuffled.Count / 2));

        void AddCopy(string id, string of)
        {
            docs.Add((id, Copy(of)));
            _copiesOfCorpus[id] = of;
        }
    }

    private JobSpec SpecFor(string runKey, int clusters = 6, int partitions = 3, double? targetKeepFraction = null,
        EmbeddingPrecision precision = EmbeddingPrecision.Float32) => new()
        {
            Name = "semantic-corpus",
            RunKey = runKey,
            Inputs = [new InputSpec { Path = Path.Combine(_input, "*.jsonl"), IdField = "id" }],
            Sharding = new ShardingSpec { TargetShardBytes = 4 * 1024 },
            Stages =
        [
            new EmbedStageSpec { Precision = precision },
            new SemanticDedupStageSpec
            {
                Clusters = clusters, MaxIterations = 10, Eps = targetKeepFraction is null ? Eps : null, TargetKeepFraction = targetKeepFraction,
                Partitions = partitions, TileSize = 64,
            },
        ],
            Output = new OutputSpec { Path = OutputPath, Snapshots = true },
        };

    private IStoreResolver Stores(string name) =>
        CurationStoreServiceCollectionExtensions.CreateResolver(new CurationStoreOptions { RootPath = _temp.Combine(name) });

    private async Task RunAsync(IStoreResolver stores, JobSpec spec, int? maxPhases = null)
    {
        using var services = StageServices.CreateDefault();
        await PlantedEmbeddings.RunAsync(spec, stores, services, id => _vectors[id], maxPhases: maxPhases);
    }

    private static Task<CuratedSnapshot> ReadSnapshotAsync(IObjectStore store) => CuratedSnapshot.ReadAsync(store, OutputPath);

    private float Cosine(string a, string b) => VectorKernels.SequentialDot(_vectors[a], _vectors[b]);

    /// <summary>Pairs of the snapshot within eps: (same cluster, any cluster).</summary>
    private (int SameCluster, int Any, double MaxSameCluster) BruteForce(Dictionary<string, int> clusterOf)
    {
        var ids = clusterOf.Keys.Order(StringComparer.Ordinal).ToArray();
        int same = 0, any = 0;
        double max = 0;
        for (var a = 0; a < ids.Length; a++)
            for (var b = a + 1; b < ids.Length; b++)
            {
                var cosine = Cosine(ids[a], ids[b]);
                var duplicate = SemDeDup.IsDuplicate(cosine, Eps);
                if (duplicate) any++;
                if (clusterOf[ids[a]] != clusterOf[ids[b]]) continue;
                max = Math.Max(max, cosine);
                if (duplicate) same++;
            }
        return (same, any, max);
    }

    private static IEnumerable<SnapshotIndex> Indexes(CuratedSnapshot s, string name) => s.Manifest.Snapshot!.Indexes.Where(i => i.Stage == SemanticFolder && i.Name == name);

    // float16: the run keeps its own vector copies at float16 and widens them into the members index, which the
    // refresh reads back as float32.
    [Theory]
    [InlineData(EmbeddingPrecision.Float32)]
    [InlineData(EmbeddingPrecision.Float16)]
    public async Task A_refresh_removes_semantic_duplicates_of_the_corpus_and_among_new_documents_without_refitting(EmbeddingPrecision precision)
    {
        var stores = Stores("data");
        WritePart1();
        await RunAsync(stores, SpecFor("1", precision: precision));
        var first = await ReadSnapshotAsync(stores.DataStore);
        Assert.Equal(5, first.Drops.Count);
        Assert.Equal(0, BruteForce(first.ClusterOf).SameCluster);
        Assert.False(first.Manifest.Metrics[SemanticFolder].ContainsKey("reused_centroids"));
        Assert.Single(Indexes(first, SemanticDedupStage.CentroidsIndex));
        Assert.Equal(3, Indexes(first, SemanticDedupStage.MembersIndex).Count());
        Assert.Equal(first.ClusterOf.Count, Indexes(first, SemanticDedupStage.MembersIndex).Sum(i => i.Rows));

        WriteNewPart("a2", first.ClusterOf.Keys.ToList());
        await RunAsync(stores, SpecFor("2", precision: precision));
        var second = await ReadSnapshotAsync(stores.DataStore);
        var snapshot = second.Manifest.Snapshot!;
        var part2 = _vectors.Keys.Count(id => id.StartsWith("a2-", StringComparison.Ordinal));
        _output.WriteLine($"snapshot {snapshot.Number}: {snapshot.CarriedDocuments} carried + {snapshot.NewDocuments} new of {part2} read; " +
            $"{second.Drops.Count} dropped ({second.Manifest.Metrics[SemanticFolder]["duplicates_of_corpus"]} as duplicates of the corpus)");
        Assert.Equal(2, snapshot.Number);
        Assert.Empty(second.Manifest.Accounting.Imbalances());
        Assert.Equal(part2, second.Manifest.Accounting.InputRecords);

        // No curated document was removed: every one of snapshot 1 is in snapshot 2, with its cluster; every drop is new.
        Assert.All(first.ClusterOf, kv => Assert.Equal(kv.Value, second.ClusterOf[kv.Key]));
        Assert.All(second.Drops, d => Assert.StartsWith("a2-", d.Id, StringComparison.Ordinal));

        // Every planted copy of a curated document is removed naming that document; of each new group exactly one
        // member survives and the others name a kept twin; every unrelated document survives.
        var dropped = second.Drops.ToDictionary(d => d.Id, StringComparer.Ordinal);
        foreach (var (copy, of) in _copiesOfCorpus)
        {
            Assert.True(dropped.TryGetValue(copy, out var drop), $"{copy} (copy of {of}, cosine {Cosine(copy, of):F4}) was kept");
            Assert.Equal(of, drop!.TwinId);
        }
        foreach (var group in _newGroups) Assert.Single(group, id => !dropped.ContainsKey(id));
        Assert.All(_unrelated, id => Assert.DoesNotContain(id, dropped.Keys));
        Assert.Equal(_copiesOfCorpus.Count + 2 * _newGroups.Count, second.Drops.Count);
        foreach (var drop in second.Drops)
        {
            Assert.Equal(SemanticDedupStage.DuplicateReason, drop.Reason);
            Assert.Contains(drop.TwinId, second.ClusterOf.Keys);
            Assert.True(SemDeDup.IsDuplicate(Cosine(drop.Id, drop.TwinId), Eps), $"{drop.Id} → {drop.TwinId}: {Cosine(drop.Id, drop.TwinId)}");
        }
        Assert.Equal(_copiesOfCorpus.Count, second.Manifest.Metrics[SemanticFolder]["duplicates_of_corpus"]);

        // Brute force over the whole snapshot (carried + new documents, planted vectors): no pair within eps is left.
        var (same, any, max) = BruteForce(second.ClusterOf);
        _output.WriteLine($"{second.ClusterOf.Count} documents: {same} same-cluster pairs within eps, {any} in any cluster; largest same-cluster cosine {max:F4}");
        Assert.Equal(0, same);
        Assert.Equal(0, any);

        // k-means was not fitted again: the centroids index is snapshot 1's object, by reference, and init reused it.
        Assert.Equal(Indexes(first, SemanticDedupStage.CentroidsIndex).Single().Key, Indexes(second, SemanticDedupStage.CentroidsIndex).Single().Key);
        Assert.Equal(1, second.Manifest.Metrics[SemanticFolder]["reused_centroids"]);
        Assert.False(second.Manifest.Metrics[SemanticFolder].ContainsKey("iterations"));

        // The members index = curated members ∪ the refresh's kept ones, per partition.
        Assert.Equal(3, Indexes(second, SemanticDedupStage.MembersIndex).Count());
        Assert.Equal(second.ClusterOf.Count, Indexes(second, SemanticDedupStage.MembersIndex).Sum(i => i.Rows));

        // The report covers this run's documents only.
        var report = second.Manifest.Reports[SemanticFolder].Deserialize<SemanticDedupReport>(CurationJson.Options)!;
        Assert.Equal(part2, report.Documents);
        Assert.Equal(second.Drops.Count, report.Removed);

        // A second refresh finds copies of documents that the first refresh added (they are in the index now).
        var added = second.ClusterOf.Keys.Where(id => id.StartsWith("a2-", StringComparison.Ordinal)).ToList();
        _copiesOfCorpus.Clear();
        _newGroups.Clear();
        _unrelated.Clear();
        WriteNewPart("b3", added, unrelated: 10);
        await RunAsync(stores, SpecFor("3", precision: precision));
        var third = await ReadSnapshotAsync(stores.DataStore);
        Assert.Equal(3, third.Manifest.Snapshot!.Number);
        Assert.All(_copiesOfCorpus, kv => Assert.Equal(kv.Value, third.Drops.Single(d => d.Id == kv.Key).TwinId));
        Assert.Equal(_copiesOfCorpus.Count + 2 * _newGroups.Count, third.Drops.Count);
        Assert.Equal(0, BruteForce(third.ClusterOf).Any);
        Assert.Equal(third.ClusterOf.Count, Indexes(third, SemanticDedupStage.MembersIndex).Sum(i => i.Rows));
        Assert.Equal(Indexes(first, SemanticDedupStage.CentroidsIndex).Single().Key, Indexes(third, SemanticDedupStage.CentroidsIndex).Single().Key);

        // A refresh with nothing new (no shards at all) still publishes, carrying every document and index object.
        await RunAsync(stores, SpecFor("4", precision: precision));
        var fourth = await ReadSnapshotAsync(stores.DataStore);
        Assert.Equal((4, 0L), (fourth.Manifest.Snapshot!.Number, fourth.Manifest.Snapshot.NewDocuments));
        Assert.Equal(third.ClusterOf, fourth.ClusterOf);
        Assert.Empty(fourth.Drops);
        Assert.Equal(third.Manifest.Snapshot!.Indexes.Select(i => i.Key), fourth.Manifest.Snapshot.Indexes.Select(i => i.Key));
    }

    [Fact]
    public async Task With_a_target_keep_fraction_a_refresh_applies_it_to_the_new_documents()
    {
        var stores = Stores("target");
        WritePart1();
        await RunAsync(stores, SpecFor("1"));
        var first = await ReadSnapshotAsync(stores.DataStore);
        WriteNewPart("a2", first.ClusterOf.Keys.ToList());
        await RunAsync(stores, SpecFor("2", targetKeepFraction: 0.8));
        var second = await ReadSnapshotAsync(stores.DataStore);
        var report = second.Manifest.Reports[SemanticFolder].Deserialize<SemanticDedupReport>(CurationJson.Options)!;
        var part2 = _vectors.Keys.Count(id => id.StartsWith("a2-", StringComparison.Ordinal));
        _output.WriteLine($"target 0.8: eps {report.Eps}, kept {report.KeptFraction:F4} of {report.Documents} new documents");
        Assert.Equal(part2, report.Documents);
        Assert.InRange(report.KeptFraction, 0.75, 0.85);
        Assert.All(first.ClusterOf.Keys, id => Assert.Contains(id, second.ClusterOf.Keys));
    }

    [Fact]
    public async Task An_interrupted_semantic_refresh_stays_on_the_previous_snapshot_and_completes_identically()
    {
        var interrupted = Stores("interrupted");
        var clean = Stores("clean");
        WritePart1();
        await RunAsync(interrupted, SpecFor("1"));
        await RunAsync(clean, SpecFor("1"));
        var first = await ReadSnapshotAsync(clean.DataStore);
        WriteNewPart("a2", first.ClusterOf.Keys.ToList());

        var job = await JobContext.CreateOrLoadAsync(SpecFor("2"), interrupted);
        var phases = job.Phases().ToList();
        var afterDecide = phases.FindIndex(p => p.Phase.Name == SemanticDedupStage.DecidePhase) + 1;
        var afterAssign = phases.FindIndex(p => p.Phase.Name == SemanticDedupStage.AssignPhase) + 1;
        foreach (var stop in new[] { afterAssign, afterDecide, phases.Count - 1 })
        {
            await RunAsync(interrupted, SpecFor("2"), maxPhases: stop);
            Assert.Equal(1, (await CorpusSnapshots.ReadCurrentAsync(interrupted.DataStore, OutputPath)).Value!.Snapshot);
        }
        await RunAsync(interrupted, SpecFor("2"));
        await RunAsync(clean, SpecFor("2"));
        var resumed = await ReadSnapshotAsync(interrupted.DataStore);
        var whole = await ReadSnapshotAsync(clean.DataStore);
        Assert.Equal(2, resumed.Manifest.Snapshot!.Number);
        Assert.Equal(whole.ShardHashes, resumed.ShardHashes);
        Assert.Equal(JsonSerializer.Serialize(whole.Manifest), JsonSerializer.Serialize(resumed.Manifest));
    }

    [Fact]
    public async Task A_refresh_with_other_clusters_or_partitions_fails_naming_the_setting_and_d4_stays_refused()
    {
        var stores = Stores("settings");
        var part1 = WritePart1();
        await RunAsync(stores, SpecFor("1"));
        WriteNewPart("a2", part1.Where(id => !id.StartsWith("p1-d", StringComparison.Ordinal)).ToList());
        var clusters = await Assert.ThrowsAnyAsync<Exception>(() => RunAsync(stores, SpecFor("2c", clusters: 7)));
        Assert.Contains("clusters = 6", clusters.ToString(), StringComparison.Ordinal);
        var partitions = await Assert.ThrowsAnyAsync<Exception>(() => RunAsync(stores, SpecFor("2p", partitions: 4)));
        Assert.Contains("'members' index partitions", partitions.ToString(), StringComparison.Ordinal);
        Assert.Equal(1, (await CorpusSnapshots.ReadCurrentAsync(stores.DataStore, OutputPath)).Value!.Snapshot);

        Assert.DoesNotContain(JobSpecValidator.Validate(SpecFor("x")), e => e.Field.StartsWith("stages", StringComparison.Ordinal));
        var d4 = SpecFor("x") with { Stages = [new EmbedStageSpec(), new D4StageSpec { KeepFraction = 0.5 }] };
        Assert.Contains(JobSpecValidator.Validate(d4), e => e.Field == "stages[1].type" && e.Message.Contains("output.snapshots", StringComparison.Ordinal));
    }
}
