using System.Text.Json;
using Curation.Pipelines.Execution;
using Curation.Pipelines.Spec;
using Curation.Pipelines.Stages;
using Curation.Pipelines.Storage;
using Curation.Testing;
using Xunit.Abstractions;

namespace Curation.Pipelines.Tests.Stages;

/// <summary>
/// line_dedup against a versioned corpus: each snapshot keeps a line index; a refresh removes from the new documents
/// the lines the corpus already keeps, checked against an oracle over the whole snapshot (carried + new documents).
/// </summary>
public sealed class LineDedupRefreshTests(ITestOutputHelper output) : IDisposable
{
    private const string OutputPath = "curated/lines";
    private readonly TempDirectory _temp = new("line-refresh");
    private readonly LineDedupRefreshCorpus _corpus = LineDedupRefreshCorpus.Generate();

    public void Dispose() => _temp.Dispose();

    private string Input => _temp.Combine("corpus");

    private JobSpec Spec(string runKey, long shardBytes = 8 * 1024, int maxOccurrences = 1) => new()
    {
        Name = "lines",
        RunKey = runKey,
        Inputs = [new InputSpec { Path = Path.Combine(Input, "*.jsonl"), IdField = "id" }],
        Sharding = new ShardingSpec { TargetShardBytes = shardBytes },
        Stages = [new LineDedupStageSpec { Partitions = 4, MaxOccurrences = maxOccurrences }],
        Output = new OutputSpec { Path = OutputPath, Snapshots = true },
    };

    private IStoreResolver Stores(string name) =>
        CurationStoreServiceCollectionExtensions.CreateResolver(new CurationStoreOptions { RootPath = _temp.Combine(name) });

    private static async Task<JobContext> RunAsync(IStoreResolver stores, JobSpec spec, int? maxPhases = null)
    {
        using var services = StageServices.CreateDefault();
        return await InProcessJob.RunAsync(spec, stores, services, maxPhases: maxPhases);
    }

    private static Task<CuratedSnapshot> ReadAsync(IStoreResolver stores) => CuratedSnapshot.ReadAsync(stores.DataStore, OutputPath);

    /// <summary>The whole snapshot equals the oracle after <paramref name="parts"/> parts; the run dropped exactly the oracle's drops of its part.</summary>
    private void AssertMatchesOracle(CuratedSnapshot snapshot, int parts, int maxOccurrences = 1)
    {
        var (texts, dropped) = _corpus.Expected(parts, maxOccurrences);
        Assert.Equal(texts.Keys.Order(StringComparer.Ordinal), snapshot.Texts.Keys.Order(StringComparer.Ordinal));
        foreach (var (id, text) in texts) Assert.True(text == snapshot.Texts[id], $"{id}: expected\n{text}\ngot\n{snapshot.Texts[id]}");
        var runIds = _corpus.Parts[parts - 1].Select(d => d.Id).ToHashSet(StringComparer.Ordinal);
        Assert.Equal(dropped.Where(runIds.Contains), snapshot.Drops.Select(d => d.Id).Order(StringComparer.Ordinal));
        Assert.All(snapshot.Drops, d => Assert.Equal(LineDedupStage.EmptyReason, d.Reason));
        Assert.Empty(snapshot.Manifest.Accounting.Imbalances());
    }

    /// <summary>The documents of the snapshot holding <paramref name="line"/> (folded as line_dedup folds).</summary>
    private static List<string> KeptIn(CuratedSnapshot snapshot, string line) =>
        snapshot.Texts.Where(t => t.Value.Split('\n').Any(l => LineDedupRefreshCorpus.Fold(l) == LineDedupRefreshCorpus.Fold(line)))
            .Select(t => t.Key).Order(StringComparer.Ordinal).ToList();

    private static IEnumerable<SnapshotIndex> LineIndex(CuratedSnapshot snapshot) =>
        snapshot.Manifest.Snapshot!.Indexes.Where(i => i.Name == LineDedupStage.IndexName);

    [Fact]
    public async Task A_refresh_removes_the_lines_the_corpus_keeps_the_same_on_one_or_many_shards_and_after_an_interruption()
    {
        var seed = Environment.GetEnvironmentVariable("CURATION_TEST_SEED") is { } s ? int.Parse(s, System.Globalization.CultureInfo.InvariantCulture) : Random.Shared.Next();
        output.WriteLine($"seed {seed} (CURATION_TEST_SEED={seed} reruns it)");
        var (clean, single, resumed) = (Stores("clean"), Stores("single"), Stores("resumed"));

        _corpus.WritePart(Input, 1);
        await RunAsync(clean, Spec("1"));
        await RunAsync(single, Spec("1", shardBytes: 64L << 20));
        await RunAsync(resumed, Spec("1"));
        var first = await ReadAsync(clean);
        AssertMatchesOracle(first, 1);
        Assert.Equal(4, LineIndex(first).Count());
        var part1Units = _corpus.Parts[0].SelectMany(d => d.Lines).Select(LineDedupRefreshCorpus.Fold).ToHashSet(StringComparer.Ordinal);
        Assert.Equal(part1Units.Count, LineIndex(first).Sum(i => i.Rows));

        // The refresh: lines the base keeps are removed from every new document, whatever their ids (a2-… < p1-…).
        _corpus.WritePart(Input, 2);
        var job = await RunAsync(clean, Spec("2"));
        var second = await ReadAsync(clean);
        output.WriteLine($"snapshot 2: {second.Manifest.Snapshot!.CarriedDocuments} carried + {second.Manifest.Snapshot.NewDocuments} new, " +
            $"{second.Manifest.Shards.Count} new shards, {second.Drops.Count} dropped");
        Assert.Equal(2, second.Manifest.Snapshot.Number);
        Assert.True(second.Manifest.Shards.Count > 2, "the refresh needs several shards");
        AssertMatchesOracle(second, 2);
        Assert.Equal([_corpus.HoldersOf(LineDedupRefreshCorpus.InBase, 1)[0]], KeptIn(second, LineDedupRefreshCorpus.InBase));
        Assert.Equal([_corpus.HoldersOf(LineDedupRefreshCorpus.Few, 1)[0]], KeptIn(second, LineDedupRefreshCorpus.Few));
        Assert.Equal([_corpus.HoldersOf(_corpus.UniqueOfBase, 1).Single()], KeptIn(second, _corpus.UniqueOfBase));
        var inRefresh = _corpus.HoldersOf(LineDedupRefreshCorpus.InRefresh, 2);
        Assert.Equal(25, inRefresh.Count);
        Assert.Equal([inRefresh[0]], KeptIn(second, LineDedupRefreshCorpus.InRefresh)); // repeated only in the refresh: its first document keeps it
        Assert.Contains(second.Drops, d => d.Id == LineDedupRefreshCorpus.OnlyKnownId);
        Assert.All(_corpus.Parts[0], d => Assert.Equal(first.Texts[d.Id], second.Texts[d.Id])); // carried byte for byte

        // The report and the merged index: the base's units and this run's.
        var report = (await StageReports.TryReadAsync(job, job.Stages.OfType<LineDedupStage>().Single(), CancellationToken.None))!.Value;
        output.WriteLine(report.ToString());
        var ofCorpus = _corpus.Parts[1].Sum(d => d.Lines.Select(LineDedupRefreshCorpus.Fold).Distinct().Count(part1Units.Contains));
        Assert.Equal(30 + 2 + 5 + 2, ofCorpus);
        Assert.Equal(ofCorpus, report.GetProperty("unitsRemovedOfCorpus").GetInt64());
        Assert.Equal(ofCorpus + 24, report.GetProperty("unitsRemoved").GetInt64());
        Assert.Equal(part1Units.Count, report.GetProperty("corpusUnits").GetInt64());
        var top = report.GetProperty("topRemoved")[0];
        Assert.Equal((1L + 31, 31L), (top.GetProperty("documents").GetInt64(), top.GetProperty("removed").GetInt64())); // its corpus keeper + 30 + a2-known
        var allUnits = _corpus.Parts.Take(2).SelectMany(p => p).SelectMany(d => d.Lines).Select(LineDedupRefreshCorpus.Fold).Distinct().Count();
        Assert.Equal(allUnits, LineIndex(second).Sum(i => i.Rows));
        Assert.All(LineIndex(second), i => Assert.StartsWith(second.Manifest.Snapshot.Folder + "/", i.Key, StringComparison.Ordinal));

        // One shard: the same texts and drops (the keep rule never depends on the split).
        await RunAsync(single, Spec("2", shardBytes: 64L << 20));
        var one = await ReadAsync(single);
        Assert.Single(one.Manifest.Shards);
        Assert.Equal(second.Texts.OrderBy(t => t.Key, StringComparer.Ordinal), one.Texts.OrderBy(t => t.Key, StringComparer.Ordinal));
        Assert.Equal(second.Drops.OrderBy(d => d.Id, StringComparer.Ordinal), one.Drops.OrderBy(d => d.Id, StringComparer.Ordinal));

        // Interrupted at a random phase, current.json stays on snapshot 1; run again, the same bytes and manifest.
        var phases = (await JobContext.CreateOrLoadAsync(Spec("2"), resumed)).Phases().ToList();
        var stop = new Random(seed).Next(1, phases.Count);
        output.WriteLine($"interrupted after phase {stop} of {phases.Count} ({phases[stop - 1].Phase.Name})");
        await RunAsync(resumed, Spec("2"), maxPhases: stop);
        Assert.Equal(1, (await CorpusSnapshots.ReadCurrentAsync(resumed.DataStore, OutputPath)).Value!.Snapshot);
        await RunAsync(resumed, Spec("2"));
        var again = await ReadAsync(resumed);
        Assert.Equal(second.ShardHashes, again.ShardHashes);
        Assert.Equal(JsonSerializer.Serialize(second.Manifest), JsonSerializer.Serialize(again.Manifest));

        // Part 3 holds only lines the corpus keeps: every document is dropped and the index is carried by reference;
        // so it is by a refresh that finds nothing new.
        _corpus.WritePart(Input, 3);
        await RunAsync(clean, Spec("3"));
        var third = await ReadAsync(clean);
        Assert.Equal(3, third.Manifest.Snapshot!.Number);
        AssertMatchesOracle(third, 3);
        Assert.Equal(_corpus.Parts[2].Count, third.Drops.Count);
        Assert.Equal(LineIndex(second).Select(i => i.Key), LineIndex(third).Select(i => i.Key));
        await RunAsync(clean, Spec("4"));
        var fourth = await ReadAsync(clean);
        Assert.Equal((4, 0), (fourth.Manifest.Snapshot!.Number, fourth.Manifest.Snapshot.ReadObjects));
        Assert.Equal(LineIndex(second).Select(i => i.Key), LineIndex(fourth).Select(i => i.Key));
    }

    [Fact]
    public async Task Max_occurrences_counts_the_corpus_keepers_first()
    {
        var stores = Stores("keep3");
        _corpus.WritePart(Input, 1);
        await RunAsync(stores, Spec("1", maxOccurrences: 3));
        _corpus.WritePart(Input, 2);
        await RunAsync(stores, Spec("2", maxOccurrences: 3));
        var second = await ReadAsync(stores);
        AssertMatchesOracle(second, 2, maxOccurrences: 3);
        // The sentence kept once in part 1 may stay in two new documents, the line kept three times in part 1 in none.
        Assert.Equal(3, KeptIn(second, _corpus.UniqueOfBase).Count);
        Assert.Equal(_corpus.HoldersOf(LineDedupRefreshCorpus.Few, 1), KeptIn(second, LineDedupRefreshCorpus.Few));

        // Another unit would never match the corpus' hashes: the refresh fails naming the setting.
        _corpus.WritePart(Input, 3);
        var paragraphs = Spec("3", maxOccurrences: 3) with { Stages = [new LineDedupStageSpec { Partitions = 4, Unit = LineDedupUnit.Paragraph }] };
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => RunAsync(stores, paragraphs));
        Assert.Contains("indexed unit = line, this job asks for unit = paragraph", error.Message, StringComparison.Ordinal);
    }
}
