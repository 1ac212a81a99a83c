using System.Text.Json;
using Curation.Pipelines.Execution;
using Curation.Pipelines.Semantic;
using Curation.Pipelines.Spec;
using Curation.Pipelines.Stages;
using Curation.Pipelines.Storage;
using Curation.Pipelines.Tests.Semantic;
using Curation.Pipelines.Text;
using Curation.Testing;
using Xunit.Abstractions;

namespace Curation.Pipelines.Tests.Stages;

/// <summary>
/// Issue 8, first acceptance criterion: one job with exact, near and semantic dedup (normalize → exact_dedup →
/// near_dedup → embed → semantic_dedup, <c>output.snapshots</c>) runs on corpus part 1, then a refresh runs on parts 1+2,
/// where part 2 holds exact, near and semantic duplicates of part-1 documents and of each other. The new snapshot is
/// checked by brute force over all its documents (exact hash, Jaccard, cosine); no part-1 document is removed or re-read;
/// every dropped part-2 document names its twin. Texts come from a random vocabulary (as in <see cref="CorpusRefreshTests"/>),
/// vectors are planted with <see cref="PlantedEmbeddings"/> around a few topics (as in <see cref="SemanticRefreshTests"/>).
/// </summary>
public sealed class CorpusRefreshAcceptanceTests : IDisposable
{
    private const string OutputPath = "curated/acceptance";
    private const int Dimensions = 48;
    private const double Eps = 0.05;
    private const double NearThreshold = 0.7;
    private readonly ITestOutputHelper _output;
    private readonly TempDirectory _temp = new("refresh-acceptance");
    private readonly string _input;
    private readonly Random _random = new(8);
    private StableRandom _vectorRandom = new(88);
    private readonly string[] _vocabulary;
    private readonly float[][] _topics;

    /// <summary>Every document written, by id: its text and its planted vector.</summary>
    private readonly Dictionary<string, string> _texts = new(StringComparer.Ordinal);
    private readonly Dictionary<string, float[]> _vectors = new(StringComparer.Ordinal);

    /// <summary>Part-2 copies whose keeper is known: id → (expected drop reason, the document it duplicates, which is kept).</summary>
    private readonly Dictionary<string, (string Reason, string Of)> _planted = new(StringComparer.Ordinal);

    /// <summary>Groups of new semantic duplicates of each other (an original and its copies): exactly one member survives.</summary>
    private readonly List<string[]> _semanticGroups = [];

    /// <summary>New documents that duplicate nothing (unrelated documents and the originals of new copies): all must survive.</summary>
    private readonly List<string> _mustKeep = [];

    public CorpusRefreshAcceptanceTests(ITestOutputHelper output)
    {
        _output = output;
        _input = _temp.Combine("corpus");
        Directory.CreateDirectory(_input);
        _vocabulary = Enumerable.Range(0, 20_000).Select(i => $"w{i:x}{(char)('a' + i % 26)}").ToArray();
        _topics = Enumerable.Range(0, 6).Select(_ => SemanticCorpus.RandomUnit(ref _vectorRandom, Dimensions)).ToArray();
    }

    public void Dispose() => _temp.Dispose();

    /// <summary>150–300 random words of 20,000: two such texts share no word 5-gram and no hash.</summary>
    private string RandomText() => string.Join(' ', Enumerable.Range(0, 150 + _random.Next(150)).Select(_ => _vocabulary[_random.Next(_vocabulary.Length)]));

    /// <summary>One word replaced: word 5-gram Jaccard ≈ (n − 5)/(n + 5) ≥ 0.93 for n ≥ 150 words.</summary>
    private string NearCopy(string text)
    {
        var words = text.Split(' ');
        words[words.Length / 2] = "changed" + _random.Next(1_000_000);
        return string.Join(' ', words);
    }

    /// <summary>Same hash under case folding and whitespace collapsing, different bytes.</summary>
    private static string ExactVariant(string text) => text.ToUpperInvariant().Replace(" ", "  \n", StringComparison.Ordinal);

    /// <summary>A document of a random topic: cosine ≈ 0.7 to it, ≈ 0.5 to another document of the topic, far from 1 − eps.</summary>
    private float[] TopicVector() => SemanticCorpus.Near(ref _vectorRandom, _topics[_vectorRandom.NextInt(_topics.Length)], 1.0);

    /// <summary>A semantic duplicate's vector: cosine ≈ 0.995 to <paramref name="of"/>, ≈ 0.99 to another copy of it; clearly ≥ 1 − eps (0.95).</summary>
    private float[] SemanticVector(string of) => SemanticCorpus.Near(ref _vectorRandom, _vectors[of], 0.1);

    private (string, string) Document(string id, string text, float[] vector)
    {
        _texts[id] = text;
        _vectors[id] = vector;
        return (id, text);
    }

    private void WriteFile(string name, IEnumerable<(string Id, string Text)> documents) =>
        File.WriteAllLines(Path.Combine(_input, name), documents.Select(d => JsonSerializer.Serialize(new { id = d.Id, text = d.Text })));

    /// <summary>Part 1: 180 unrelated documents (random text, a topic vector each) in three objects (ids p1-…).</summary>
    private List<string> WritePart1()
    {
        var ids = new List<string>();
        for (var f = 0; f < 3; f++)
        {
            var docs = Enumerable.Range(0, 60).Select(i => Document($"p1-{f}-{i:D3}", RandomText(), TopicVector())).ToList();
            ids.AddRange(docs.Select(d => d.Item1));
            WriteFile($"part1-{f}.jsonl", docs);
        }
        return ids;
    }

    /// <summary>
    /// Part 2 (ids a2-…, which sort before every part-1 id, so only the refresh rule keeps the part-1 documents), in two
    /// objects: 40 originals and 30 unrelated documents; of distinct part-1 documents, 15 exact variants, 15 near copies,
    /// 15 semantic copies and 5 pairs of semantic copies; of distinct originals, 8 exact variants, 8 near copies and 10
    /// semantic groups (the original and one or two copies). Exact and near copies carry their original's vector, so they
    /// would be semantic duplicates too had they survived; they must be removed by the earliest stage that finds them.
    /// Semantic copies have fresh random text (no shared 5-gram, another hash) and a vector within cosine ≈ 0.99 of their original.
    /// </summary>
    private void WritePart2(IReadOnlyList<string> part1)
    {
        var docs = new List<(string, string)>();
        var originals = Enumerable.Range(0, 40).Select(i => Document($"a2-o{i:D3}", RandomText(), TopicVector())).ToList();
        docs.AddRange(originals);
        _mustKeep.AddRange(originals.Take(16).Select(o => o.Item1)); // originals 16..39 head semantic groups, any member may survive
        for (var i = 0; i < 30; i++)
        {
            docs.Add(Document($"a2-u{i:D3}", RandomText(), TopicVector()));
            _mustKeep.Add($"a2-u{i:D3}");
        }

        var picks = part1.OrderBy(_ => _random.Next()).Take(50).ToList();
        for (var i = 0; i < 15; i++)
        {
            Plant($"a2-x{i:D3}", ExactVariant(_texts[picks[i]]), _vectors[picks[i]], ExactDedupStage.DuplicateReason, picks[i]);
            Plant($"a2-n{i:D3}", NearCopy(_texts[picks[15 + i]]), _vectors[picks[15 + i]], NearDedupStage.DuplicateReason, picks[15 + i]);
            Plant($"a2-s{i:D3}", RandomText(), SemanticVector(picks[30 + i]), SemanticDedupStage.DuplicateReason, picks[30 + i]);
        }
        for (var i = 0; i < 5; i++)
            for (var j = 0; j < 2; j++)
                Plant($"a2-ss{i:D2}{j}", RandomText(), SemanticVector(picks[45 + i]), SemanticDedupStage.DuplicateReason, picks[45 + i]);

        for (var i = 0; i < 8; i++)
        {
            // Copies of part-2 originals carry larger ids ("z" > "o"), so near_dedup and exact_dedup keep the original.
            var (exactOf, nearOf) = (originals[i].Item1, originals[8 + i].Item1);
            Plant($"a2-zx{i:D3}", ExactVariant(_texts[exactOf]), _vectors[exactOf], ExactDedupStage.DuplicateReason, exactOf);
            Plant($"a2-zn{i:D3}", NearCopy(_texts[nearOf]), _vectors[nearOf], NearDedupStage.DuplicateReason, nearOf);
        }
        for (var g = 0; g < 10; g++)
        {
            // Which member of a new group survives is SemDeDup's ranking (farthest from the centroid first), not id order.
            var original = originals[16 + g].Item1;
            var group = new List<string> { original };
            for (var c = 0; c < 1 + g % 2; c++)
            {
                docs.Add(Document($"a2-zs{g:D2}{c}", RandomText(), SemanticVector(original)));
                group.Add($"a2-zs{g:D2}{c}");
            }
            _semanticGroups.Add([.. group]);
        }
        _mustKeep.AddRange(originals.Skip(26).Select(o => o.Item1));

        var all = docs.OrderBy(_ => _random.Next()).ToList();
        WriteFile("part2-0.jsonl", all.Take(all.Count / 2));
        WriteFile("part2-1.jsonl", all.Skip(all.Count / 2));

        void Plant(string id, string text, float[] vector, string reason, string of)
        {
            docs.Add(Document(id, text, vector));
            _planted[id] = (reason, of);
        }
    }

    private JobSpec Spec(string runKey) => new()
    {
        Name = "refresh-acceptance",
        RunKey = runKey,
        Inputs = [new InputSpec { Path = Path.Combine(_input, "*.jsonl"), IdField = "id" }],
        Sharding = new ShardingSpec { TargetShardBytes = 48 * 1024 },
        Stages =
        [
            new NormalizeStageSpec(),
            new ExactDedupStageSpec { Partitions = 4 },
            new NearDedupStageSpec { Partitions = 4, Threshold = NearThreshold },
            new EmbedStageSpec(),
            new SemanticDedupStageSpec { Clusters = 6, MaxIterations = 10, Eps = Eps, Partitions = 3, TileSize = 64 },
        ],
        Output = new OutputSpec { Path = OutputPath, Snapshots = true },
    };

    private async Task RunAsync(IStoreResolver stores, JobSpec spec)
    {
        using var services = StageServices.CreateDefault();
        await PlantedEmbeddings.RunAsync(spec, stores, services, id => _vectors[id]);
    }

    private static Task<CuratedSnapshot> ReadSnapshotAsync(IObjectStore store) => CuratedSnapshot.ReadAsync(store, OutputPath);

    private float Cosine(string a, string b) => VectorKernels.SequentialDot(_vectors[a], _vectors[b]);

    private static double Metric(Manifest manifest, string stage, string name) =>
        manifest.Metrics.Single(kv => kv.Key.EndsWith("-" + stage, StringComparison.Ordinal)).Value.GetValueOrDefault(name);

    [Fact]
    public async Task A_refresh_with_exact_near_and_semantic_dedup_leaves_no_removable_pair_and_keeps_and_does_not_reread_part_1()
    {
        var stores = new ReadCountingResolver(
            CurationStoreServiceCollectionExtensions.CreateResolver(new CurationStoreOptions { RootPath = _temp.Combine("data") }));
        var reads = stores.Reads;

        var part1 = WritePart1();
        await RunAsync(stores, Spec("1"));
        var first = await ReadSnapshotAsync(stores.DataStore);
        Assert.Equal(1, first.Manifest.Snapshot!.Number);
        Assert.Equal(part1.Order(StringComparer.Ordinal), first.Texts.Keys.Order(StringComparer.Ordinal));
        Assert.Contains(reads, key => key.EndsWith("part1-0.jsonl", StringComparison.Ordinal));

        WritePart2(part1);
        reads.Clear();
        await RunAsync(stores, Spec("2"));
        var second = await ReadSnapshotAsync(stores.DataStore);
        var snapshot = second.Manifest.Snapshot!;
        var part2 = _texts.Keys.Where(id => id.StartsWith("a2-", StringComparison.Ordinal)).ToList();
        var byReason = second.Drops.GroupBy(d => d.Reason).ToDictionary(g => g.Key, g => g.Count());
        _output.WriteLine($"snapshot {snapshot.Number}: {snapshot.CarriedDocuments} carried + {snapshot.NewDocuments} new of {part2.Count} part-2 documents; " +
            $"read {snapshot.ReadObjects} objects, skipped {snapshot.SkippedObjects}; dropped {second.Drops.Count}: " +
            string.Join(", ", byReason.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => $"{kv.Value} {kv.Key}")));
        Assert.Equal(2, snapshot.Number);

        // (a) Part-1 objects were not re-read: the counting store saw no open of them, only part 2's two objects (opened
        // once per part when larger than the shard target).
        Assert.DoesNotContain(reads, key => key.Contains("part1-", StringComparison.Ordinal));
        Assert.Equal(2, reads.Where(key => key.Contains("part2-", StringComparison.Ordinal)).Distinct().Count());
        Assert.Equal((2, 3, 0), (snapshot.ReadObjects, snapshot.SkippedObjects, snapshot.ChangedObjects));

        // (b) No part-1 document was removed: every one is in the new snapshot (carried shards), text and semantic cluster
        // unchanged, and every drop is a part-2 document.
        Assert.Equal(part1.Count, snapshot.CarriedDocuments);
        Assert.All(part1, id => Assert.Equal(_texts[id], second.Texts[id]));
        Assert.All(part1, id => Assert.Equal(first.ClusterOf[id], second.ClusterOf[id]));
        Assert.All(second.Drops, d => Assert.StartsWith("a2-", d.Id, StringComparison.Ordinal));

        // (c) Every planted duplicate is dropped by the earliest stage that finds it, naming a twin that is in the
        // snapshot: exact and near copies name the document they copy, semantic copies of part-1 documents name that
        // document, and semantic drops name a twin within eps of them.
        var dropped = second.Drops.ToDictionary(d => d.Id, StringComparer.Ordinal);
        foreach (var (id, (reason, of)) in _planted)
        {
            Assert.True(dropped.TryGetValue(id, out var drop), $"{id} ({reason} of {of}) was kept");
            Assert.Equal(reason, drop!.Reason);
            Assert.Equal(of, drop.TwinId);
        }
        foreach (var group in _semanticGroups)
        {
            var kept = Assert.Single(group, id => !dropped.ContainsKey(id));
            Assert.All(group.Where(id => id != kept), id => Assert.Equal((SemanticDedupStage.DuplicateReason, kept), (dropped[id].Reason, dropped[id].TwinId)));
        }
        foreach (var drop in second.Drops)
        {
            Assert.Contains(drop.TwinId, second.Texts.Keys);
            if (drop.Reason == SemanticDedupStage.DuplicateReason)
                Assert.True(SemDeDup.IsDuplicate(Cosine(drop.Id, drop.TwinId), Eps), $"{drop.Id} → {drop.TwinId}: cosine {Cosine(drop.Id, drop.TwinId)}");
        }
        var semanticOfCorpus = _planted.Count(p => p.Value.Reason == SemanticDedupStage.DuplicateReason);
        Assert.Equal(_planted.Count + _semanticGroups.Sum(g => g.Length - 1), second.Drops.Count);
        Assert.Equal(15, Metric(second.Manifest, "exact_dedup", "duplicates_of_corpus"));
        Assert.Equal(semanticOfCorpus, Metric(second.Manifest, "semantic_dedup", "duplicates_of_corpus"));

        // (e) Unrelated new documents all survive; the books cover the new documents only and balance.
        Assert.All(_mustKeep, id => Assert.Contains(id, second.Texts.Keys));
        Assert.Equal(part2.Count - second.Drops.Count, snapshot.NewDocuments);
        Assert.Equal(part1.Count + part2.Count - second.Drops.Count, second.Texts.Count);
        Assert.Empty(second.Manifest.Accounting.Imbalances());
        Assert.Equal(part2.Count, second.Manifest.Accounting.InputRecords);
        Assert.Equal(snapshot.NewDocuments, second.Manifest.Accounting.Kept);
        Assert.Equal(second.Drops.Count, second.Manifest.Accounting.Dropped);

        // (d) Brute force over every document of the new snapshot (carried + new), none of the job's rules finds a pair.
        var (hashPairs, nearPairs, maxJaccard, sameCluster, crossCluster, maxCosine) = BruteForce(second);
        _output.WriteLine($"{second.Texts.Count} documents ({part1.Count} part 1 + {snapshot.NewDocuments} part 2): {hashPairs} equal-hash pairs, " +
            $"{nearPairs} pairs with Jaccard ≥ {NearThreshold} (largest {maxJaccard:F3}), {sameCluster} same-cluster pairs with cosine ≥ {1 - Eps} " +
            $"(largest same-cluster cosine {maxCosine:F4}); {crossCluster} such pairs across clusters (out of scope)");
        Assert.Equal(0, hashPairs);
        Assert.Equal(0, nearPairs);
        Assert.Equal(0, sameCluster);
    }

    /// <summary>
    /// Pairs of the snapshot that the job's rules remove, by brute force over all documents:
    /// <list type="bullet">
    /// <item>equal exact_dedup content hashes (the same settings as the job: case folding, whitespace collapsing, over
    /// the normalised text the snapshot holds);</item>
    /// <item>exact word 5-gram Jaccard ≥ near_dedup's threshold. The job finds pairs through MinHash LSH (14 bands × 8
    /// rows), which could miss a pair near the threshold; but every pair planted here is ≥ 0.93 (missed with probability
    /// below 10⁻⁶), and unrelated random texts share no 5-gram, so any pair over the threshold would be a real miss;</item>
    /// <item>planted cosine ≥ 1 − eps within one <c>semantic_cluster</c> (read from the shards). SemDeDup, by definition,
    /// compares documents within a k-means cluster only, so a pair split across clusters is not one the job's rule would
    /// remove and is out of scope (counted, not asserted); planted copies are ≈ 0.99 to their original and ≈ 0.5–0.7 to
    /// anything else, so k-means puts them with their original.</item>
    /// </list>
    /// </summary>
    private (int HashPairs, int NearPairs, double MaxJaccard, int SameCluster, int CrossCluster, double MaxSameClusterCosine) BruteForce(CuratedSnapshot snapshot)
    {
        var ids = snapshot.Texts.Keys.Order(StringComparer.Ordinal).ToArray();
        var hashes = ids.Select(id => ContentHash.Of(snapshot.Texts[id], caseFold: true, collapseWhitespace: true)).ToArray();
        var shingles = ids.Select(id => NearDupCorpus.Shingles(snapshot.Texts[id])).ToArray();
        int hashPairs = 0, nearPairs = 0, same = 0, cross = 0;
        double maxJaccard = 0, maxCosine = 0;
        for (var a = 0; a < ids.Length; a++)
            for (var b = a + 1; b < ids.Length; b++)
            {
                if (hashes[a] == hashes[b]) hashPairs++;
                var jaccard = NearDupCorpus.Jaccard(shingles[a], shingles[b]);
                maxJaccard = Math.Max(maxJaccard, jaccard);
                if (jaccard >= NearThreshold) nearPairs++;
                var cosine = Cosine(ids[a], ids[b]);
                var duplicate = SemDeDup.IsDuplicate(cosine, Eps);
                if (snapshot.ClusterOf[ids[a]] != snapshot.ClusterOf[ids[b]])
                {
                    if (duplicate) cross++;
                    continue;
                }
                maxCosine = Math.Max(maxCosine, cosine);
                if (duplicate) same++;
            }
        return (hashPairs, nearPairs, maxJaccard, same, cross, maxCosine);
    }


}
