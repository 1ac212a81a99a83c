using System.Globalization;
using System.Text;
using System.Text.Json;
using Curation.Pipelines.Execution;
using Curation.Pipelines.Model;
using Curation.Pipelines.Reports;
using Curation.Pipelines.Spec;
using Curation.Pipelines.Stages;
using Curation.Pipelines.Storage;
using Curation.Pipelines.Text;
using Curation.Testing;
using Xunit.Abstractions;

namespace Curation.Pipelines.Tests.Stages;

/// <summary>
/// The shared decisions mechanism (<see cref="ShardDecisions"/>, <see cref="ApplyDecisionsTransform"/>) and exact/url
/// dedup's apply deferred into the output's write of the shard: the same bytes, drops, books and manifest as the stage's
/// own apply phase, no shard of the dedup stage written, and a job interrupted between the resolve and the deferred apply
/// (or anywhere else) resumes to the same output.
/// </summary>
public sealed class ShardDecisionsTests(ITestOutputHelper output) : IDisposable
{
    private readonly TempDirectory _temp = new("shard-decisions");

    public void Dispose() => _temp.Dispose();

    [Fact]
    public void Apply_transform_drops_decided_rows_by_running_row_and_fills_added_columns()
    {
        var decisions = new Dictionary<long, ShardDecision>
        {
            [1] = new("exact_duplicate", TwinId: "d0"),
            [3] = new("near_duplicate", "component of 2", "d2"),
        };
        var filled = new List<long>();
        var transform = new ApplyDecisionsTransform(decisions, [new("mark", typeof(string))], (batch, offset) =>
        {
            filled.Add(offset);
            var mark = batch.ResetColumn<string>("mark", batch.RowCount);
            for (var i = 0; i < batch.RowCount; i++) mark.Add($"row {offset + i}");
        });
        var kept = new List<string>();
        var reasons = new Dictionary<string, long>();
        var drops = new List<(string Id, string Reason, string Detail, string Twin)>();
        var next = 0;
        foreach (var texts in new[] { new[] { "a", "b" }, ["c", "d", "e"] })
        {
            var batch = RecordBatch.ForDocuments();
            foreach (var text in texts) batch.AddDocument($"d{next}", text, "test.jsonl", next++);
            var collector = new DropCollector(batch, "dedup");
            transform.Process(batch, collector);
            batch.Validate();
            collector.CountReasons(reasons);
            kept.AddRange(collector.KeptRows().Select(r => batch.GetColumn<string>("mark")[r]));
            var dropsBatch = collector.ToDropsBatch();
            for (var i = 0; i < dropsBatch.RowCount; i++)
                drops.Add((dropsBatch.Ids[i], dropsBatch.GetColumn<string>(DropsSchema.Reason)[i], dropsBatch.GetColumn<string>(DropsSchema.Detail)[i],
                    dropsBatch.GetColumn<string>(DropsSchema.TwinId)[i]));
        }
        Assert.Equal([0L, 2L], filled);
        Assert.Equal(["row 0", "row 2", "row 4"], kept);
        Assert.Equal([("d1", "exact_duplicate", "", "d0"), ("d3", "near_duplicate", "component of 2", "d2")], drops);

        // The books of the deferred path are those the pass counts.
        var stats = ShardDecisions.StatsOf(5, decisions);
        Assert.Equal((5L, 3L), (stats.In, stats.Kept));
        Assert.Equal(reasons.OrderBy(r => r.Key), stats.Dropped.OrderBy(r => r.Key));
        Assert.True(stats.Balances);
        Assert.Throws<InvalidOperationException>(() => ShardDecisions.StatsOf(3, decisions));
    }

    [Fact]
    public async Task One_object_per_resolver_task_holds_every_shards_decisions_and_an_older_layout_is_refused_by_name()
    {
        var store = LocalFolderStore.Create(_temp.Combine("store"));
        const string folder = "jobs/j/03-exact_dedup/resolve/";
        List<(long, ShardDecision)>[] partition0 =
        [
            [(4, new("exact_duplicate", TwinId: "a")), (1, new("exact_duplicate", "detail", "b"))],
            [],
            [(0, new("near_duplicate", "component of 3", "c"))],
        ];
        List<(long, ShardDecision)>[] partition1 = [[(2, new("exact_duplicate", TwinId: "d"))], [], []];
        await ShardDecisions.WriteAsync(store, $"{folder}0000.parquet", partition0, CancellationToken.None);
        await ShardDecisions.WriteAsync(store, $"{folder}0001.parquet", partition1, CancellationToken.None);
        await ShardDecisions.WriteAsync(store, $"{folder}0002.parquet", [[], [], []], CancellationToken.None); // nothing decided: no object
        var objects = new List<string>();
        await foreach (var info in store.ListAsync(folder)) objects.Add(info.Key);
        Assert.Equal([$"{folder}0000.parquet", $"{folder}0001.parquet"], objects);

        var shard0 = await ShardDecisions.ReadShardAsync(store, folder, 0, CancellationToken.None);
        Assert.Equal([(1L, new ShardDecision("exact_duplicate", "detail", "b")), (2L, new ShardDecision("exact_duplicate", null, "d")),
            (4L, new ShardDecision("exact_duplicate", null, "a"))], shard0.OrderBy(d => d.Key).Select(d => (d.Key, d.Value)));
        Assert.Empty(await ShardDecisions.ReadShardAsync(store, folder, 1, CancellationToken.None));
        Assert.Equal([(0L, new ShardDecision("near_duplicate", "component of 3", "c"))],
            (await ShardDecisions.ReadShardAsync(store, folder, 2, CancellationToken.None)).Select(d => (d.Key, d.Value)));

        // A job resolved before decisions were routed tables left plain Parquet objects (one per shard and task under
        // {folder}{shard}/): refused naming the object, never misread.
        var old = RecordBatch.WithSchema(ShardDecisions.Schema);
        old.GetColumn<long>("row").Add(7);
        old.GetColumn<string>(DropsSchema.Reason).Add("exact_duplicate");
        old.GetColumn<string>(DropsSchema.Detail).Add("");
        old.GetColumn<string>(DropsSchema.TwinId).Add("e");
        var oldKey = $"{folder}{JobLayout.ShardName(1)}/0003.parquet";
        await StageObjects.WriteParquetAsync(store, oldKey, old, null, CancellationToken.None);
        var refused = await Assert.ThrowsAsync<InvalidDataException>(() => ShardDecisions.ReadShardAsync(store, folder, 1, CancellationToken.None));
        Assert.Contains(oldKey, refused.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(ExactDedupStageSpec.TypeName)]
    [InlineData(UrlDedupStageSpec.TypeName)]
    [InlineData(NearDedupStageSpec.TypeName)]
    public async Task Deferred_apply_writes_the_stage_apply_phases_bytes_drops_books_and_manifest(string dedup)
    {
        var spec = Spec(dedup);
        var (own, ownRoot) = await RunAsync("own-" + dedup, spec, fuse: false);
        var (deferred, deferredRoot) = await RunAsync("deferred-" + dedup, spec, fuse: true);

        Assert.True(own.Manifest.Shards.Count > 1);
        Assert.Contains(own.Drops, d => d.Stage == dedup);
        AssertSameOutput(own, deferred);
        Assert.Equal(Json(own.Manifest.Schema), Json(deferred.Manifest.Schema));
        Assert.Equal(Json(own.Manifest.Metrics), Json(deferred.Manifest.Metrics));

        // The dedup stage's own shards exist only where its apply phase wrote them; deferred, the output wrote them once.
        Assert.True(DedupShards(ownRoot, dedup) > 0);
        Assert.Equal(0, DedupShards(deferredRoot, dedup));
        if (dedup == NearDedupStageSpec.TypeName) return;

        // The resolver tasks (4 partitions) wrote at most one decisions object each, whatever the number of shards.
        var decisionObjects = Directory.EnumerateFiles(deferredRoot, "*.parquet", SearchOption.AllDirectories)
            .Where(f => Path.GetFileName(Path.GetDirectoryName(f)) == ExactDedupStage.ResolvePhase).ToList();
        Assert.InRange(decisionObjects.Count, 1, 4);
        Assert.Empty(Directory.EnumerateDirectories(Path.GetDirectoryName(decisionObjects[0])!));
    }

    [Theory]
    [InlineData(ExactDedupStageSpec.TypeName)]
    [InlineData(NearDedupStageSpec.TypeName)]
    public async Task Job_killed_just_before_or_after_the_deferred_apply_resumes_to_the_same_output(string dedup)
    {
        var spec = Spec(dedup);
        var (clean, _) = await RunAsync("clean-" + dedup, spec, fuse: true);

        var probe = CurationStoreServiceCollectionExtensions.CreateResolver(new CurationStoreOptions { RootPath = _temp.Combine("probe-" + dedup) });
        var phases = (await JobContext.CreateOrLoadAsync(spec, probe)).Phases().Select(p => $"{p.Stage.Name}/{p.Phase.Name}").ToList();
        var applyPhase = dedup == NearDedupStageSpec.TypeName ? NearDedupStage.ApplyPhase : ExactDedupStage.ApplyPhase;
        var apply = phases.IndexOf($"{dedup}/{applyPhase}") + 1;
        Assert.True(apply > 1 && phases[apply - 2].StartsWith(dedup + "/", StringComparison.Ordinal), string.Join(", ", phases));
        var seed = Environment.TickCount;
        var random = new Random(seed).Next(1, phases.Count);
        output.WriteLine($"phases: {string.Join(", ", phases)}; interrupted after {apply - 1}, {apply} and (seed {seed}) {random}");

        foreach (var stop in new[] { apply - 1, apply, random })
        {
            var (resumed, _) = await RunAsync($"stop-{dedup}-{stop}", spec, fuse: true, stopAfter: stop);
            AssertSameOutput(clean, resumed);
        }
        // Interrupted after the deferred apply, resumed where fusing is off: the output still applies the decisions.
        var (mixed, _) = await RunAsync("mixed-" + dedup, spec, fuse: true, stopAfter: apply, resumeFused: false);
        AssertSameOutput(clean, mixed);
    }

    [Fact]
    public void Text_elements_fast_path_matches_StringInfo()
    {
        var seed = Environment.TickCount;
        output.WriteLine($"seed {seed}");
        var random = new Random(seed);
        string[] pieces = ["a", "Z", " ", "\r", "\n", "\r\n", "\t", "\u0001", "\u0301", "e\u0301", "\u200D", "\U0001F469\u200D\U0001F4BB", "\U0001F1EB\U0001F1F7",
            "한", "\u1100\u1161", "ก\u0E31", "中", "\uFE0F", "x\u0308\u0301", ".", "7", "\u0915\u094D\u0937"];
        for (var n = 0; n < 2_000; n++)
        {
            var text = new StringBuilder();
            for (var k = random.Next(0, 40); k > 0; k--) text.Append(pieces[random.Next(pieces.Length)]);
            var s = text.ToString();
            var expected = 0;
            for (var i = 0; i < s.Length; i += StringInfo.GetNextTextElementLength(s, i)) expected++;
            Assert.True(expected == CorpusReport.TextElements(s), $"'{s}' ({string.Join(" ", s.Select(c => ((int)c).ToString("X4", CultureInfo.InvariantCulture)))})");
        }
    }

    [Fact]
    public void Char_scale_fast_path_matches_the_dominant_script()
    {
        var seed = Environment.TickCount;
        output.WriteLine($"seed {seed}");
        var random = new Random(seed);
        string[] pieces = ["word ", "Ünïcödé ", "ß", "1234 ", "— ", "中文", "かな", "한국어", "ไทย", "\u0E00", "\u0DFF", "\U00020000", "!? "];
        var overrides = new Dictionary<string, double> { ["other"] = 0.9, ["han"] = 0.4 };
        for (var n = 0; n < 2_000; n++)
        {
            var text = new StringBuilder();
            for (var k = random.Next(0, 12); k > 0; k--) text.Append(pieces[random.Next(pieces.Length)]);
            var s = text.ToString();
            var script = Scripts.Dominant(s);
            if (script == Script.Han && s.Any(c => c is >= '\u3040' and <= '\u30FF')) script = Script.Kana;
            var name = script.ToString().ToLowerInvariant();
            Assert.Equal(name, Scripts.Name(script));
            Assert.Equal(Scripts.DefaultCharScale.GetValueOrDefault(name, 1.0), Scripts.CharScale(s, null, null));
            Assert.Equal(overrides.TryGetValue(name, out var o) ? o : Scripts.DefaultCharScale.GetValueOrDefault(name, 1.0), Scripts.CharScale(s, null, overrides));
        }
    }

    private static void AssertSameOutput(CuratedOutput expected, CuratedOutput actual)
    {
        Assert.Equal(expected.ShardHashes.OrderBy(h => h.Key, StringComparer.Ordinal), actual.ShardHashes.OrderBy(h => h.Key, StringComparer.Ordinal));
        Assert.Equal(expected.KeptIds, actual.KeptIds);
        Assert.Equal(expected.Drops, actual.Drops);
        Assert.Equal(expected.Manifest.Shards.Select(s => (s.Key, s.Rows, s.Sha256)), actual.Manifest.Shards.Select(s => (s.Key, s.Rows, s.Sha256)));
        Assert.Equal(expected.Manifest.Drops.Select(d => (d.Key, d.Sha256)), actual.Manifest.Drops.Select(d => (d.Key, d.Sha256)));
        Assert.Empty(actual.Manifest.Accounting.Imbalances());
        Assert.Equal(Json(expected.Manifest.Accounting), Json(actual.Manifest.Accounting));
    }

    private static string Json<T>(T value) => JsonSerializer.Serialize(value, CurationJson.Options);

    private static int DedupShards(string root, string stage) => Directory.EnumerateFiles(root, "*.parquet", SearchOption.AllDirectories)
        .Count(f => Path.GetFileName(Path.GetDirectoryName(f))!.EndsWith("-" + stage, StringComparison.Ordinal)
                    && !f.EndsWith(".drops.parquet", StringComparison.Ordinal));

    /// <summary>
    /// normalize → quality_filter → exact_dedup, url_dedup or near_dedup → output over three files: a quarter of the
    /// documents repeat an earlier text (some differing in case or spacing, some in a word), some are too short, URLs repeat.
    /// </summary>
    private JobSpec Spec(string dedup)
    {
        var input = _temp.Combine("corpus");
        if (!Directory.Exists(input))
        {
            Directory.CreateDirectory(input);
            var random = new Random(20261205);
            var texts = new List<string>();
            for (var file = 0; file < 3; file++)
            {
                var lines = new StringBuilder();
                for (var i = 0; i < 200; i++)
                {
                    var roll = random.Next(100);
                    var text = roll < 25 && texts.Count > 0 ? texts[random.Next(texts.Count)]
                        : roll < 30 ? "too short"
                        : string.Join(' ', Enumerable.Range(0, random.Next(12, 60)).Select(_ => $"w{random.Next(400)}"));
                    if (roll < 25 && roll % 3 == 0) text += " w" + random.Next(400).ToString(CultureInfo.InvariantCulture); // a near duplicate
                    if (roll < 10) text = text.ToUpperInvariant();
                    else if (roll < 15) text = "  " + text.Replace(" ", "   ", StringComparison.Ordinal);
                    texts.Add(text);
                    var url = $"https://example.org/page/{random.Next(300)}{(random.Next(4) == 0 ? "?utm_source=x" : "")}";
                    lines.Append(JsonSerializer.Serialize(new { id = $"doc-{file}-{i:D4}", text, url })).Append('\n');
                }
                File.WriteAllText(Path.Combine(input, $"docs-{file}.jsonl"), lines.ToString());
            }
        }
        return new JobSpec
        {
            Name = "decisions",
            Inputs = [new InputSpec { Path = Path.Combine(input, "*.jsonl"), IdField = "id" }],
            Sharding = new ShardingSpec { TargetShardBytes = 16 * 1024 },
            Stages =
            [
                new NormalizeStageSpec(), new QualityFilterStageSpec(), dedup switch
                {
                    UrlDedupStageSpec.TypeName => new UrlDedupStageSpec { Partitions = 4 },
                    NearDedupStageSpec.TypeName => new NearDedupStageSpec { Partitions = 4 },
                    _ => new ExactDedupStageSpec { Partitions = 4 },
                },
            ],
            Output = new OutputSpec { Path = "curated/decisions" },
        };
    }

    private async Task<(CuratedOutput Output, string Root)> RunAsync(string name, JobSpec spec, bool fuse, int? stopAfter = null, bool? resumeFused = null)
    {
        var root = _temp.Combine(name);
        var stores = CurationStoreServiceCollectionExtensions.CreateResolver(new CurationStoreOptions { RootPath = root });
        using var services = StageServices.CreateDefault();
        if (stopAfter is { } stop)
            using (FusedDocumentPass.Use(fuse))
                await InProcessJob.RunAsync(spec, stores, services, maxPhases: stop);
        using (FusedDocumentPass.Use(resumeFused ?? fuse))
            await InProcessJob.RunAsync(spec, stores, services);
        return (await CuratedOutput.ReadAsync(stores.DataStore, "curated/decisions"), root);
    }
}
