using System.Collections.Concurrent;
using System.Text.Json;
using Curation.Pipelines.Execution;
using Curation.Pipelines.Spec;
using Curation.Pipelines.Stages;
using Curation.Pipelines.Storage;
using Curation.Pipelines.Text;
using Curation.Testing;
using Xunit.Abstractions;

namespace Curation.Pipelines.Tests.Stages;

/// <summary>
/// Versioned corpora (<c>output.snapshots</c>): a first run on part 1, then refreshes that read only new objects and
/// deduplicate them against the corpus already curated, checked by brute force over the whole new snapshot.
/// </summary>
public sealed class CorpusRefreshTests : IDisposable
{
    private const string OutputPath = "curated/corpus";
    private readonly ITestOutputHelper _output;
    private readonly TempDirectory _temp = new("refresh");
    private readonly string _input;
    private readonly Random _random = new(5);
    private readonly string[] _vocabulary;

    /// <summary>Every document written, by id.</summary>
    private readonly Dictionary<string, string> _texts = new(StringComparer.Ordinal);

    /// <summary>Part-2 documents planted as copies: id → (kind, the document it copies).</summary>
    private readonly Dictionary<string, (string Kind, string Of)> _planted = new(StringComparer.Ordinal);

    public CorpusRefreshTests(ITestOutputHelper output)
    {
        _output = output;
        _input = _temp.Combine("corpus");
        Directory.CreateDirectory(_input);
        _vocabulary = Enumerable.Range(0, 20_000).Select(i => $"w{i:x}{(char)('a' + i % 26)}").ToArray();
    }

    public void Dispose() => _temp.Dispose();

    private string RandomText() => string.Join(' ', Enumerable.Range(0, 150 + _random.Next(150)).Select(_ => _vocabulary[_random.Next(_vocabulary.Length)]));

    /// <summary>One word replaced: word 5-gram Jaccard ≈ (n − 5)/(n + 5) ≥ 0.93 for n ≥ 150 words, far above the threshold.</summary>
    private string NearCopy(string text)
    {
        var words = text.Split(' ');
        words[words.Length / 2] = "changed" + _random.Next(1_000_000);
        return string.Join(' ', words);
    }

    /// <summary>Same hash under case folding and whitespace collapsing, different bytes.</summary>
    private static string ExactVariant(string text) => text.ToUpperInvariant().Replace(" ", "  \n", StringComparison.Ordinal);

    private void WriteFile(string name, IEnumerable<(string Id, string Text)> documents)
    {
        var list = documents.ToList();
        foreach (var (id, text) in list) _texts[id] = text;
        File.WriteAllLines(Path.Combine(_input, name), list.Select(d => JsonSerializer.Serialize(new { id = d.Id, text = d.Text })));
    }

    /// <summary>Part 1: 240 originals in three objects (ids p1-…).</summary>
    private List<string> WritePart1()
    {
        var ids = new List<string>();
        for (var f = 0; f < 3; f++)
        {
            var docs = Enumerable.Range(0, 80).Select(i => ($"p1-{f}-{i:D3}", RandomText())).ToList();
            ids.AddRange(docs.Select(d => d.Item1));
            WriteFile($"part1-{f}.jsonl", docs);
        }
        return ids;
    }

    /// <summary>
    /// Part 2 (ids a2-…, which sort before every part-1 id, so only the refresh rule keeps the part-1 documents): 100
    /// originals, exact and near copies of 25 part-1 documents each, exact and near copies of 10 part-2 originals each.
    /// </summary>
    private void WritePart2(IReadOnlyList<string> part1, string prefix = "a2", string file = "part2")
    {
        var originals = Enumerable.Range(0, 100).Select(i => ($"{prefix}-o{i:D3}", RandomText())).ToList();
        var copies = new List<(string, string)>();
        var picks = part1.OrderBy(_ => _random.Next()).Take(50).ToList();
        for (var i = 0; i < 25; i++)
        {
            copies.Add(($"{prefix}-x{i:D3}", ExactVariant(_texts[picks[i]])));
            _planted[$"{prefix}-x{i:D3}"] = ("exact-of-corpus", picks[i]);
            copies.Add(($"{prefix}-n{i:D3}", NearCopy(_texts[picks[25 + i]])));
            _planted[$"{prefix}-n{i:D3}"] = ("near-of-corpus", picks[25 + i]);
        }
        for (var i = 0; i < 10; i++)
        {
            // Copies of this run's originals carry larger ids than them ("z" > "o"), so the original is the keeper.
            copies.Add(($"{prefix}-zx{i:D3}", ExactVariant(originals[i].Item2)));
            _planted[$"{prefix}-zx{i:D3}"] = ("exact-of-new", originals[i].Item1);
            copies.Add(($"{prefix}-zn{i:D3}", NearCopy(originals[10 + i].Item2)));
            _planted[$"{prefix}-zn{i:D3}"] = ("near-of-new", originals[10 + i].Item1);
        }
        var all = originals.Concat(copies).OrderBy(_ => _random.Next()).ToList();
        WriteFile($"{file}-0.jsonl", all.Take(all.Count / 2));
        WriteFile($"{file}-1.jsonl", all.Skip(all.Count / 2));
    }

    private JobSpec Spec(string? runKey, int? keep = null) => new()
    {
        Name = "corpus",
        RunKey = runKey,
        Inputs = [new InputSpec { Path = Path.Combine(_input, "*.jsonl"), IdField = "id" }],
        Sharding = new ShardingSpec { TargetShardBytes = 48 * 1024 },
        Stages =
        [
            new NormalizeStageSpec(),
            new ExactDedupStageSpec { Partitions = 4 },
            new NearDedupStageSpec { Partitions = 4 },
        ],
        Output = new OutputSpec { Path = OutputPath, Snapshots = true, KeepSnapshots = keep },
    };

    private sealed class Env(ReadCountingResolver stores)
    {
        public IStoreResolver Stores => stores;
        public ConcurrentBag<string> Reads => stores.Reads;
        public IObjectStore Data => stores.DataStore;
    }

    private Env Environment(string name) =>
        new(new ReadCountingResolver(CurationStoreServiceCollectionExtensions.CreateResolver(new CurationStoreOptions { RootPath = _temp.Combine(name) })));

    private static async Task RunAsync(Env env, JobSpec spec, int? maxPhases = null)
    {
        using var services = StageServices.CreateDefault();
        await InProcessJob.RunAsync(spec, env.Stores, services, maxPhases: maxPhases);
    }

    private static Task<CuratedSnapshot> ReadSnapshotAsync(IObjectStore store, string? manifestKey = null) =>
        CuratedSnapshot.ReadAsync(store, OutputPath, manifestKey);

    [Fact]
    public async Task A_refresh_reads_only_new_objects_and_leaves_no_duplicate_pair_in_the_whole_snapshot()
    {
        var env = Environment("data");
        var part1 = WritePart1();
        await RunAsync(env, Spec(runKey: "1"));
        var first = await ReadSnapshotAsync(env.Data);
        Assert.Equal(1, first.Manifest.Snapshot!.Number);
        Assert.Equal(part1.Count, first.Texts.Count);
        Assert.Contains(env.Reads, key => key.EndsWith("part1-0.jsonl", StringComparison.Ordinal));

        WritePart2(part1);
        env.Reads.Clear();
        await RunAsync(env, Spec(runKey: "2"));
        var second = await ReadSnapshotAsync(env.Data);
        var snapshot = second.Manifest.Snapshot!;
        _output.WriteLine($"snapshot {snapshot.Number}: {snapshot.CarriedDocuments} carried + {snapshot.NewDocuments} new; read {snapshot.ReadObjects} objects, " +
            $"skipped {snapshot.SkippedObjects}; {second.Drops.Count} dropped; {snapshot.Indexes.Count} index partitions");

        // The pointer, the listing and the input table.
        Assert.Equal(2, snapshot.Number);
        Assert.Equal(new[] { 2, 1 }, (await CorpusSnapshots.ListAsync(env.Data, OutputPath)).Select(s => s.Snapshot));
        Assert.Equal(5, snapshot.Inputs.Count);

        // Part-1 objects were not re-read (the counting store saw no open of them), only part 2's two objects (each
        // larger than the shard target, so opened once per part it is split into).
        Assert.DoesNotContain(env.Reads, key => key.Contains("part1-", StringComparison.Ordinal));
        Assert.Equal(2, env.Reads.Where(key => key.Contains("part2-", StringComparison.Ordinal)).Distinct().Count());
        Assert.Equal((2, 3, 0), (snapshot.ReadObjects, snapshot.SkippedObjects, snapshot.ChangedObjects));

        // The books cover the new documents only and balance; the carried count is the first snapshot.
        var part2Count = _texts.Keys.Count(id => id.StartsWith("a2-", StringComparison.Ordinal));
        Assert.Empty(second.Manifest.Accounting.Imbalances());
        Assert.Equal(part2Count, second.Manifest.Accounting.InputRecords);
        Assert.Equal(first.Texts.Count, snapshot.CarriedDocuments);
        Assert.Equal(first.Texts.Count + second.Manifest.Accounting.Kept, second.Texts.Count);

        // No part-1 document was removed: all carried, byte for byte, and none is among the drops.
        Assert.All(part1, id => Assert.Equal(_texts[id], second.Texts[id]));
        Assert.All(second.Drops, d => Assert.StartsWith("a2-", d.Id, StringComparison.Ordinal));

        // Exactly the planted copies were dropped, each naming its twin, which is in the snapshot; copies of corpus
        // documents name the corpus document although their own ids are smaller.
        Assert.Equal(_planted.Keys.Order(StringComparer.Ordinal), second.Drops.Select(d => d.Id).Order(StringComparer.Ordinal));
        foreach (var drop in second.Drops)
        {
            Assert.Contains(drop.TwinId, second.Texts.Keys);
            Assert.Equal(_planted[drop.Id].Of, drop.TwinId);
            Assert.Equal(_planted[drop.Id].Kind.StartsWith("exact", StringComparison.Ordinal) ? ExactDedupStage.DuplicateReason : NearDedupStage.DuplicateReason,
                drop.Reason);
        }
        var exactMetrics = second.Manifest.Metrics["02-exact_dedup"];
        Assert.Equal(25, exactMetrics["duplicates_of_corpus"]);

        // Brute force over the whole snapshot (carried + new documents): no pair the job's rules would remove.
        var (hashPairs, nearPairs, maxJaccard) = BruteForce(second.Texts);
        _output.WriteLine($"{second.Texts.Count} documents: {hashPairs} equal-hash pairs, {nearPairs} pairs with Jaccard ≥ 0.7 (largest {maxJaccard:F3})");
        Assert.Equal(0, hashPairs);
        Assert.Equal(0, nearPairs);

        // The indexes: every partition of each index. Each lists what survived its own stage: the exact index also holds
        // the documents near_dedup removed afterwards (a later exact copy of one names it, a lineage chain as in a plain job).
        Assert.Equal(4, snapshot.Indexes.Count(i => i.Name == ExactDedupStage.IndexName));
        Assert.Equal(4, snapshot.Indexes.Count(i => i.Name == NearDedupStage.BandsIndex));
        Assert.Equal(4, snapshot.Indexes.Count(i => i.Name == NearDedupStage.SignaturesIndex));
        var nearDrops = second.Drops.Count(d => d.Reason == NearDedupStage.DuplicateReason);
        Assert.Equal(second.Texts.Count + nearDrops, snapshot.Indexes.Where(i => i.Name == ExactDedupStage.IndexName).Sum(i => i.Rows));
        Assert.Equal(second.Texts.Count, snapshot.Indexes.Where(i => i.Name == NearDedupStage.SignaturesIndex).Sum(i => i.Rows));

        // A refresh with nothing new reads nothing, drops nothing and still publishes a snapshot carrying everything.
        env.Reads.Clear();
        await RunAsync(env, Spec(runKey: "3"));
        var third = await ReadSnapshotAsync(env.Data);
        Assert.DoesNotContain(env.Reads, k => k.EndsWith(".jsonl", StringComparison.Ordinal));
        Assert.Equal((3, 0, 5), (third.Manifest.Snapshot!.Number, third.Manifest.Snapshot.ReadObjects, third.Manifest.Snapshot.SkippedObjects));
        Assert.Equal(second.Texts.Keys.Order(StringComparer.Ordinal), third.Texts.Keys.Order(StringComparer.Ordinal));
        Assert.All(third.Manifest.Snapshot.Indexes, i => Assert.False(i.Key.StartsWith(third.Manifest.Snapshot.Folder, StringComparison.Ordinal)));
    }

    /// <summary>
    /// Pairs of the snapshot that the job's rules remove: equal content hashes (exact_dedup's hash, same settings), and
    /// exact word 5-gram Jaccard ≥ 0.7 (near_dedup's threshold; the planted near copies are ≥ 0.93, where 14 × 8 LSH
    /// misses a pair with probability below 10⁻⁶, and unrelated generated texts share no 5-gram).
    /// </summary>
    private static (int HashPairs, int NearPairs, double MaxJaccard) BruteForce(Dictionary<string, string> documents)
    {
        var ids = documents.Keys.Order(StringComparer.Ordinal).ToArray();
        var hashes = ids.Select(id => ContentHash.Of(documents[id], caseFold: true, collapseWhitespace: true)).ToArray();
        var shingles = ids.Select(id => NearDupCorpus.Shingles(documents[id])).ToArray();
        int hashPairs = 0, nearPairs = 0;
        double max = 0;
        for (var a = 0; a < ids.Length; a++)
            for (var b = a + 1; b < ids.Length; b++)
            {
                if (hashes[a] == hashes[b]) hashPairs++;
                var j = NearDupCorpus.Jaccard(shingles[a], shingles[b]);
                max = Math.Max(max, j);
                if (j >= 0.7) nearPairs++;
            }
        return (hashPairs, nearPairs, max);
    }

    [Fact]
    public async Task An_interrupted_refresh_leaves_current_on_the_previous_snapshot_and_the_next_run_completes_it_identically()
    {
        var part1 = WritePart1();
        var interrupted = Environment("interrupted");
        var clean = Environment("clean");
        await RunAsync(interrupted, Spec(runKey: "1"));
        await RunAsync(clean, Spec(runKey: "1"));
        WritePart2(part1);

        var job = await JobContext.CreateOrLoadAsync(Spec(runKey: "2"), interrupted.Stores);
        var phases = job.Phases().ToList();
        Assert.Equal(OutputStage.PublishPhase, phases[^1].Phase.Name);
        var midNear = phases.FindIndex(p => p.Phase.Name == NearDedupStage.BasePairPhase) + 1;
        foreach (var stop in new[] { midNear, phases.Count - 1 })
        {
            await RunAsync(interrupted, Spec(runKey: "2"), maxPhases: stop);
            var (current, _) = await CorpusSnapshots.ReadCurrentAsync(interrupted.Data, OutputPath);
            Assert.Equal(1, current!.Snapshot);
            Assert.Equal(new[] { 1 }, (await CorpusSnapshots.ListAsync(interrupted.Data, OutputPath)).Select(s => s.Snapshot));
        }
        // Stopped just before the pointer moved, the new snapshot's manifest exists, but nothing points at it.
        Assert.NotNull(await interrupted.Data.GetInfoAsync($"{OutputPath}/{job.Refresh!.Folder}/{Manifest.FileName}"));

        await RunAsync(interrupted, Spec(runKey: "2"));
        await RunAsync(clean, Spec(runKey: "2"));
        var resumed = await ReadSnapshotAsync(interrupted.Data);
        var whole = await ReadSnapshotAsync(clean.Data);
        Assert.Equal(2, resumed.Manifest.Snapshot!.Number);
        Assert.Equal(whole.ShardHashes, resumed.ShardHashes);
        Assert.Equal(JsonSerializer.Serialize(whole.Manifest), JsonSerializer.Serialize(resumed.Manifest));
    }

    [Fact]
    public async Task Retention_deletes_the_oldest_snapshots_own_objects_but_keeps_what_kept_snapshots_reference()
    {
        var env = Environment("retention");
        var part1 = WritePart1();
        await RunAsync(env, Spec(runKey: "1", keep: 2));
        var firstKey = (await CorpusSnapshots.ReadCurrentAsync(env.Data, OutputPath)).Value!.Manifest;
        var first = (await CorpusSnapshots.ReadManifestAsync(env.Data, OutputPath, firstKey))!;
        WritePart2(part1);
        await RunAsync(env, Spec(runKey: "2", keep: 2));
        Assert.NotNull(await env.Data.GetInfoAsync($"{OutputPath}/{firstKey}"));
        WritePart2(part1, prefix: "b3", file: "part3");
        await RunAsync(env, Spec(runKey: "3", keep: 2));

        var listed = await CorpusSnapshots.ListAsync(env.Data, OutputPath);
        Assert.Equal(new[] { 3, 2 }, listed.Select(s => s.Snapshot));
        Assert.True(listed[0].IsCurrent);
        var kept = new List<Manifest>();
        foreach (var s in listed) kept.Add((await CorpusSnapshots.ReadManifestAsync(env.Data, OutputPath, s.Manifest))!);
        var referenced = kept.SelectMany(m => m.AllShards.Concat(m.AllEmbeddings).Concat(m.Drops).Concat(m.Quarantine).Select(o => o.Key)
            .Concat(m.Snapshot!.Indexes.Select(i => i.Key))).ToHashSet();

        var own = first.Shards.Concat(first.Drops).Concat(first.Quarantine).Select(o => o.Key).Concat(first.Snapshot!.Indexes.Select(i => i.Key)).ToList();
        int gone = 0, stayed = 0;
        foreach (var key in own)
        {
            var exists = await env.Data.GetInfoAsync($"{OutputPath}/{key}") is not null;
            Assert.True(exists == referenced.Contains(key), $"{key}: exists {exists}, referenced {referenced.Contains(key)}");
            if (exists) stayed++; else gone++;
        }
        _output.WriteLine($"snapshot 1: {own.Count} own objects, {gone} deleted, {stayed} kept because snapshots 2-3 reference them");
        Assert.Null(await env.Data.GetInfoAsync($"{OutputPath}/{firstKey}"));
        Assert.All(first.Shards, s => Assert.Contains(s.Key, referenced)); // carried shards stay readable
        Assert.True(gone >= first.Drops.Count + first.Quarantine.Count);

        // The current snapshot is whole: every document of all three parts minus the planted copies.
        var current = await ReadSnapshotAsync(env.Data);
        Assert.Equal(_texts.Count - _planted.Count, current.Texts.Count);
        var (hashPairs, nearPairs, _) = BruteForce(current.Texts);
        Assert.Equal((0, 0), (hashPairs, nearPairs));
    }

    [Fact]
    public async Task Input_objects_that_vanish_between_refreshes_are_counted_and_warned_about_and_their_documents_stay()
    {
        var env = Environment("vanish");
        var part1 = WritePart1();
        await RunAsync(env, Spec(runKey: null));
        Assert.Equal(0, (await ReadSnapshotAsync(env.Data)).Manifest.Snapshot!.VanishedObjects);

        // The second object of part 1 is deleted (a source taken down, a glob narrowed) and part 2 arrives.
        File.Delete(Path.Combine(_input, "part1-1.jsonl"));
        WritePart2(part1);
        await RunAsync(env, Spec("2"));
        var second = await ReadSnapshotAsync(env.Data);
        var snapshot = second.Manifest.Snapshot!;
        Assert.Equal((1, 2, 2), (snapshot.VanishedObjects, snapshot.SkippedObjects, snapshot.ReadObjects));
        var warning = Assert.Single(second.Manifest.Errors, e => e.Contains("no longer in the inputs", StringComparison.Ordinal));
        _output.WriteLine(warning);
        Assert.Contains("1 input object the corpus read earlier is no longer in the inputs (part1-1.jsonl)", warning, StringComparison.Ordinal);
        // A snapshot keeps what earlier ones curated: the vanished object's documents are still in the corpus, and it
        // stays in the input table (were it back unchanged, it would be skipped, not read twice).
        Assert.Equal(240, snapshot.CarriedDocuments);
        Assert.All(part1.Where(id => id.StartsWith("p1-1-", StringComparison.Ordinal)), id => Assert.Contains(id, second.Texts.Keys));
        Assert.Contains(snapshot.Inputs, o => o.Key == "part1-1.jsonl");

        // Nothing new: the object is still gone, and said so again.
        await RunAsync(env, Spec("3"));
        var third = (await ReadSnapshotAsync(env.Data)).Manifest;
        Assert.Equal((1, 0), (third.Snapshot!.VanishedObjects, third.Snapshot.ReadObjects));
        Assert.Single(third.Errors, e => e.Contains("(part1-1.jsonl)", StringComparison.Ordinal));
    }

    [Fact]
    public void Snapshot_settings_are_validated_and_absent_fields_keep_job_ids()
    {
        var plain = Spec(runKey: null) with { Output = new OutputSpec { Path = OutputPath } };
        Assert.DoesNotContain("runKey", plain.ToJson(), StringComparison.Ordinal);
        Assert.DoesNotContain("snapshots", plain.ToJson(), StringComparison.Ordinal);
        Assert.NotEqual(JobContext.JobIdOf(Spec("1")), JobContext.JobIdOf(Spec("2")));
        var errors = JobSpecValidator.Validate(plain with { Output = new OutputSpec { Path = OutputPath, KeepSnapshots = 0 } });
        Assert.Contains(errors, e => e.Field == "output.keepSnapshots");
        errors = JobSpecValidator.Validate(Spec("1") with { Stages = [new EmbedStageSpec(), new D4StageSpec { KeepFraction = 0.5 }] });
        Assert.Contains(errors, e => e.Field == "stages[1].type");
        Assert.Empty(JobSpecValidator.Validate(Spec("1") with { Stages = [new EmbedStageSpec(), new SemanticDedupStageSpec()] }));
        Assert.Equal("x", JobSpec.Parse("""{"name":"n","runKey":"x","inputs":[{"path":"a/*.jsonl"}],"stages":[],"output":{"path":"o","snapshots":true,"keepSnapshots":3}}""").RunKey);
    }


}
