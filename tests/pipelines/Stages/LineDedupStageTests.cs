using System.Text.Json;
using Curation.Pipelines.Execution;
using Curation.Pipelines.Reports;
using Curation.Pipelines.Spec;
using Curation.Pipelines.Stages;
using Curation.Pipelines.Storage;
using Curation.Testing;
using Xunit.Abstractions;

namespace Curation.Pipelines.Tests.Stages;

/// <summary>line_dedup end to end in-process on real sentences with planted boilerplate lines, and its unit rules.</summary>
public sealed class LineDedupStageTests(ITestOutputHelper output) : IDisposable
{
    private static readonly int[] PlantedIn = [2, 3, 10, 100, 1000];
    private static readonly Lazy<LineDedupCorpus> SharedCorpus = new(() => LineDedupCorpus.Generate(documents: 1000, PlantedIn));
    private readonly TempDirectory _temp = new("line-dedup");

    public void Dispose() => _temp.Dispose();

    private JobSpec Spec(string input, LineDedupStageSpec? stage = null, long shardBytes = 64 * 1024) => new()
    {
        Name = "lines",
        Inputs = [new InputSpec { Path = Path.Combine(input, "*.jsonl"), IdField = "id" }],
        Sharding = new ShardingSpec { TargetShardBytes = shardBytes },
        Stages = [stage ?? new LineDedupStageSpec { Partitions = 3 }],
        Output = new OutputSpec { Path = "curated/lines" },
    };

    private IStoreResolver Stores(string name) =>
        CurationStoreServiceCollectionExtensions.CreateResolver(new CurationStoreOptions { RootPath = _temp.Combine(name) });

    private string WriteCorpus(string name, IEnumerable<(string Id, string Text)> documents)
    {
        var folder = _temp.Combine(name);
        Directory.CreateDirectory(folder);
        File.WriteAllLines(Path.Combine(folder, "part-000.jsonl"), documents.Select(d => JsonSerializer.Serialize(new { id = d.Id, text = d.Text })));
        return folder;
    }

    [Fact]
    public async Task Every_planted_line_is_kept_once_in_its_first_document_no_unique_line_is_lost_and_a_resumed_run_is_identical()
    {
        var corpus = SharedCorpus.Value;
        var input = _temp.Combine("corpus");
        corpus.WriteJsonl(input, files: 5);
        using var services = StageServices.CreateDefault();
        var stores = Stores("whole");
        var job = await InProcessJob.RunAsync(Spec(input), stores, services);
        var result = await CuratedOutput.ReadAsync(stores.DataStore, "curated/lines");
        Assert.True(result.Manifest.Shards.Count > 3, "the test needs several shards");
        Assert.Empty(result.Manifest.Accounting.Imbalances());
        Assert.Empty(result.Drops);
        var texts = await LineDedupCorpus.ReadTextsAsync(stores.DataStore, "curated/lines", result);
        Assert.Equal(corpus.Documents.Count, texts.Count);
        var problems = corpus.Check(texts);
        Assert.True(problems.Count == 0, string.Join("\n", problems.Take(10)));

        // The report: the most repeated line first with its count and sample; characters removed add up.
        var stage = job.Stages.OfType<LineDedupStage>().Single();
        var report = (await StageReports.TryReadAsync(job, stage, CancellationToken.None))!.Value;
        output.WriteLine(report.ToString());
        var top = report.GetProperty("topRemoved").EnumerateArray().ToList();
        Assert.Equal(PlantedIn.Length, top.Count);
        Assert.Equal(1000, top[0].GetProperty("documents").GetInt64());
        Assert.Equal(999, top[0].GetProperty("removed").GetInt64());
        Assert.Equal(LineDedupCorpus.Boilerplate[4].ToLowerInvariant(), top[0].GetProperty("sample").GetString()!.ToLowerInvariant());
        Assert.Equal(PlantedIn.Sum(c => c - 1), report.GetProperty("unitsRemoved").GetInt64());
        var charsIn = corpus.Documents.Sum(d => (long)d.Text.Length);
        Assert.Equal(charsIn, report.GetProperty("charsIn").GetInt64());
        Assert.Equal(charsIn - texts.Values.Sum(t => (long)t.Length), report.GetProperty("charsRemoved").GetInt64());

        // Interrupted after hash, after resolve: resumed, the same bytes.
        foreach (var phases in new[] { 2, 3 })
        {
            var resumed = Stores($"resumed-{phases}");
            await InProcessJob.RunAsync(Spec(input), resumed, services, maxPhases: phases);
            Assert.Null(await resumed.DataStore.GetInfoAsync("curated/lines/manifest.json"));
            await InProcessJob.RunAsync(Spec(input), resumed, services);
            var again = await CuratedOutput.ReadAsync(resumed.DataStore, "curated/lines");
            Assert.Equal(result.ShardHashes, again.ShardHashes);
        }

        // One shard and one partition: the same documents and texts (the keep rule never depends on the split).
        var single = Stores("single");
        await InProcessJob.RunAsync(Spec(input, new LineDedupStageSpec { Partitions = 1 }, shardBytes: 64L << 20), single, services);
        var one = await CuratedOutput.ReadAsync(single.DataStore, "curated/lines");
        Assert.Single(one.Manifest.Shards);
        Assert.Equal(texts.OrderBy(t => t.Key, StringComparer.Ordinal),
            (await LineDedupCorpus.ReadTextsAsync(single.DataStore, "curated/lines", one)).OrderBy(t => t.Key, StringComparer.Ordinal));
    }

    /// <summary>
    /// apply hands the rows it writes to the next stage's tap (the output's report tally, exact_dedup's hash files), so that
    /// stage does not read the shard again: with fusion on and off (each stage reads its own input), line_dedup → output
    /// and line_dedup → exact_dedup → output publish the same shards, drops, books, report and id index, and exact_dedup's
    /// hash files are the same bytes; only the fused line_dedup → output run finds a tally for every shard (written by apply).
    /// </summary>
    [Fact]
    public async Task Apply_feeds_the_next_stages_tap_with_the_results_of_a_run_that_reads_the_shards_again()
    {
        var input = _temp.Combine("tap-corpus");
        SharedCorpus.Value.WriteJsonl(input, files: 5);
        using var services = StageServices.CreateDefault();
        static Dictionary<string, string> Digests(IEnumerable<string> files) => files.ToDictionary(
            f => Path.GetFileName(f), f => Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(f))), StringComparer.Ordinal);
        static IEnumerable<string> PhaseFiles(string root, string stage, string phase) => Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories)
            .Where(f => Path.GetFileName(Path.GetDirectoryName(f)) == phase
                        && Path.GetFileName(Path.GetDirectoryName(Path.GetDirectoryName(f)))!.EndsWith("-" + stage, StringComparison.Ordinal));
        var plain = Spec(input);
        var withExact = plain with { Stages = [new LineDedupStageSpec { Partitions = 3 }, new ExactDedupStageSpec()] };
        foreach (var spec in new[] { plain, withExact })
        {
            var runs = new List<(CuratedOutput Output, string Root)>();
            foreach (var fuse in new[] { false, true })
            {
                var root = _temp.Combine($"tap-{spec.Stages.Count}-{fuse}");
                var stores = CurationStoreServiceCollectionExtensions.CreateResolver(new CurationStoreOptions { RootPath = root });
                using (FusedDocumentPass.Use(fuse))
                    await InProcessJob.RunAsync(spec, stores, services);
                runs.Add((await CuratedOutput.ReadAsync(stores.DataStore, "curated/lines"), root));
            }
            var ((unfused, unfusedRoot), (fused, fusedRoot)) = (runs[0], runs[1]);
            Assert.True(fused.Manifest.Shards.Count > 3, "the test needs several shards");
            Assert.Empty(fused.Manifest.Accounting.Imbalances());
            Assert.Equal(unfused.ShardHashes, fused.ShardHashes);
            Assert.Equal(unfused.KeptIds, fused.KeptIds);
            Assert.Equal(unfused.Drops, fused.Drops);
            Assert.Equal(unfused.Manifest.Accounting.Stages.Select(a => (a.Stage, a.In, a.Kept)), fused.Manifest.Accounting.Stages.Select(a => (a.Stage, a.In, a.Kept)));
            static Dictionary<string, string> IndexAndReport(string root) => Digests(Directory.EnumerateFiles(Path.Combine(root, "curated", "lines"), "*", SearchOption.AllDirectories)
                .Where(f => f.EndsWith(".jsonl", StringComparison.Ordinal) || Path.GetFileName(f) == "report.json"));
            var indexAndReport = IndexAndReport(unfusedRoot);
            Assert.Contains("report.json", indexAndReport.Keys);
            Assert.Equal(indexAndReport, IndexAndReport(fusedRoot));
            if (spec.Stages.Count == 1)
            {
                Assert.Empty(PhaseFiles(unfusedRoot, OutputStage.StageName, "report"));
                Assert.Equal(fused.Manifest.Shards.Count, PhaseFiles(fusedRoot, OutputStage.StageName, "report").Count());
            }
            else
            {
                static IEnumerable<string> HashFiles(string root) =>
                    PhaseFiles(root, ExactDedupStageSpec.TypeName, ExactDedupStage.HashPhase).Where(f => f.EndsWith(".parquet", StringComparison.Ordinal));
                var hashFiles = Digests(HashFiles(unfusedRoot));
                Assert.Equal(fused.Manifest.Shards.Count, hashFiles.Count);
                Assert.Equal(hashFiles, Digests(HashFiles(fusedRoot)));
            }
        }
    }

    [Fact]
    public async Task Paragraphs_are_kept_in_the_first_max_occurrences_documents_and_a_document_left_short_is_dropped()
    {
        const string footer = "Posted in Uncategorized.\nLeave a comment below.";
        var body = "A paragraph of real content that is long enough to stay above the minimum character count.";
        var input = WriteCorpus("paragraphs",
        [
            ("d4", $"Fourth page intro, unique to it and long enough to keep.\n\n{footer}\n\n\n{body}"),
            ("d2", $"{footer}\r\n\r\nSecond page content that nobody else has, long enough to keep.\n\n{body}"),
            ("d3", $"Third page text that is unique and long enough to be kept here.\n\n{footer.ToUpperInvariant()}"),
            ("d1", $"First page: a unique opening paragraph with plenty of characters.\n\n{footer}\n\n{body}"),
            ("d5", $"{footer}\n\n{body}"),
            ("d6", "Posted in Uncategorized.\n\nLeave a comment below."), // the footer's lines, but not the footer paragraph
        ]);
        using var services = StageServices.CreateDefault();
        var stores = Stores("paragraph-run");
        await InProcessJob.RunAsync(Spec(input, new LineDedupStageSpec { Unit = LineDedupUnit.Paragraph, MaxOccurrences = 2, MinChars = 30, Partitions = 2 }),
            stores, services);
        var result = await CuratedOutput.ReadAsync(stores.DataStore, "curated/lines");
        var texts = await LineDedupCorpus.ReadTextsAsync(stores.DataStore, "curated/lines", result);

        // The footer (5 documents) stays in d1 and d2; the body (4 documents) in d1 and d2; d5 loses both and is dropped.
        Assert.Equal($"First page: a unique opening paragraph with plenty of characters.\n\n{footer}\n\n{body}", texts["d1"]);
        Assert.Equal($"{footer}\r\n\r\nSecond page content that nobody else has, long enough to keep.\n\n{body}", texts["d2"]);
        Assert.Equal("Third page text that is unique and long enough to be kept here.", texts["d3"]);
        Assert.Equal("Fourth page intro, unique to it and long enough to keep.", texts["d4"]);
        Assert.Equal("Posted in Uncategorized.\n\nLeave a comment below.", texts["d6"]);
        var drop = Assert.Single(result.Drops);
        Assert.Equal(("d5", LineDedupStage.EmptyReason), (drop.Id, drop.Reason));
        Assert.Equal("0 chars left < minChars 30 after removing 2 repeated paragraphs", drop.Detail);
    }

    [Fact]
    public async Task The_keepers_lie_in_later_shards_by_id_and_a_line_held_twice_goes_or_stays_with_both_copies()
    {
        // Ids fall as the corpus goes on, so the smallest ids (the keepers) are in the last shards: resolve must compare
        // the shards' ids. Document 10 and the footer's keeper hold the footer twice.
        const string footer = "Copyright Example Corp. All rights reserved.";
        const string sidebar = "Related posts: none yet";
        string Id(int i) => $"k{59 - i:D2}";
        var documents = Enumerable.Range(0, 60).Select(i =>
        {
            var lines = new List<string> { $"Unique opening line of document {i}, long enough to stay above the minimum.", footer };
            if (i is 5 or 20 or 40 or 55) lines.Insert(1, sidebar);
            if (i is 10 or 59) lines.Add(footer);
            return (Id: Id(i), Lines: lines);
        }).ToList();
        var input = _temp.Combine("later-shards");
        Directory.CreateDirectory(input);
        foreach (var file in documents.Chunk(10).Select((chunk, f) => (chunk, f)))
            File.WriteAllLines(Path.Combine(input, $"part-{file.f:D3}.jsonl"),
                file.chunk.Select(d => JsonSerializer.Serialize(new { id = d.Id, text = string.Join('\n', d.Lines) })));
        using var services = StageServices.CreateDefault();
        foreach (var (name, shardBytes, keep) in new[] { ("many", 1024L, 1), ("one", 64L << 20, 1), ("many-keep-2", 1024L, 2) })
        {
            var stores = Stores($"later-{name}");
            var job = await InProcessJob.RunAsync(Spec(input, new LineDedupStageSpec { MaxOccurrences = keep, Partitions = 4 }, shardBytes), stores, services);
            var result = await CuratedOutput.ReadAsync(stores.DataStore, "curated/lines");
            Assert.True(shardBytes > 1024 ? result.Manifest.Shards.Count == 1 : result.Manifest.Shards.Count == 6, $"{name}: {result.Manifest.Shards.Count} shards");
            var texts = await LineDedupCorpus.ReadTextsAsync(stores.DataStore, "curated/lines", result);
            // The footer stays (both copies) only in k00 (and k01 when two keep it); the sidebar (4 documents) in k04 (and k19).
            string[] footerKeepers = keep == 1 ? ["k00"] : ["k00", "k01"], sidebarKeepers = keep == 1 ? ["k04"] : ["k04", "k19"];
            foreach (var (id, lines) in documents)
            {
                var kept = lines.Where(l => (l != footer || footerKeepers.Contains(id)) && (l != sidebar || sidebarKeepers.Contains(id)));
                Assert.Equal(string.Join('\n', kept), texts[id]);
            }
            var stage = job.Stages.OfType<LineDedupStage>().Single();
            var report = (await StageReports.TryReadAsync(job, stage, CancellationToken.None))!.Value;
            Assert.Equal(keep == 1 ? 59 + 1 + 3 : 58 + 1 + 2, report.GetProperty("unitsRemoved").GetInt64());
            Assert.Equal(60, report.GetProperty("topRemoved")[0].GetProperty("documents").GetInt64());
        }
    }

    [Fact]
    public async Task Report_html_lists_the_top_removed_lines_escaped_and_truncated()
    {
        const string hostile = "Share <img src=x onerror=alert(1)> on </script><script>alert(2)</script> now";
        var long_ = "Subscribe to our newsletter " + string.Concat(Enumerable.Repeat("and read every issue ", 12)) + "today";
        var input = WriteCorpus("report", Enumerable.Range(0, 12).Select(i =>
            ($"r{i:D2}", $"Page {i} opens with its own sentence, unique to page number {i}.\n{hostile}\n" + (i < 5 ? long_ : $"Page {i} closes alone."))));
        using var services = StageServices.CreateDefault();
        var stores = Stores("report-run");
        await InProcessJob.RunAsync(Spec(input, new LineDedupStageSpec { Partitions = 2, MinChars = 10 }), stores, services);
        var html = System.Text.Encoding.UTF8.GetString(await stores.DataStore.ReadBytesAsync("curated/lines/" + CorpusReport.HtmlName));
        var start = html.IndexOf("<section id=\"removed-lines-01-line_dedup\"", StringComparison.Ordinal);
        Assert.True(start >= 0, "report.html has the removed-lines section");
        var section = html[start..(html.IndexOf("</section>", start, StringComparison.Ordinal) + "</section>".Length)];
        output.WriteLine(section);
        // The hostile line is in all 12 documents and removed from 11 of them; the long one in 5, removed from 4.
        Assert.Contains("<tr><td>12</td><td>11</td><td class=\"text\">Share &lt;img src=x onerror=alert(1)&gt; on &lt;/script&gt;&lt;script&gt;alert(2)&lt;/script&gt; now</td></tr>", section);
        Assert.Contains("<tr><td>5</td><td>4</td><td class=\"text\">Subscribe to our newsletter and read", section);
        Assert.DoesNotContain(long_, section);
        Assert.Contains("…</td>", section);
        Assert.DoesNotContain("<img", html);
        Assert.DoesNotContain("<script", html);
    }

    [Fact]
    public void Units_split_on_lines_or_blank_line_separated_paragraphs_and_removal_keeps_the_rest_intact()
    {
        var units = new List<LineUnit>();
        const string text = "one\r\n\n  \ntwo a\ntwo b\n\nthree\n";
        LineUnits.Split(text, LineDedupUnit.Line, units);
        Assert.Equal(["one", "two a", "two b", "three"], units.Select(u => text[u.Start..u.End]));
        Assert.Equal("one\r\n\n  \ntwo b\n\nthree\n", LineUnits.Without(text, units, [false, true, false, false]));
        Assert.Equal("one\r\n\n  \ntwo a\ntwo b", LineUnits.Without(text, units, [false, false, false, true]));
        LineUnits.Split(text, LineDedupUnit.Paragraph, units);
        Assert.Equal(["one", "two a\ntwo b", "three"], units.Select(u => text[u.Start..u.End]));
        Assert.Equal("one\r\n\n  \nthree\n", LineUnits.Without(text, units, [false, true, false]));
        Assert.Equal("two a\ntwo b\n\nthree\n", LineUnits.Without(text, units, [true, false, false]));
        Assert.Equal(LineUnits.Hash("Two  A", new LineUnit(0, 6, 6)), LineUnits.Hash("two a", new LineUnit(0, 5, 5)));
        LineUnits.Split("", LineDedupUnit.Line, units);
        Assert.Empty(units);
    }
}
