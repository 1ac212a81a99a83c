using System.Text.Json;
using Curation.Pipelines.Spec;
using Curation.Testing;

namespace Curation.Silo.Tests;

/// <summary>
/// <c>curate inspect document</c> / <c>drops</c>: the drop explorer on a local output with no silo running, in real
/// <c>curate</c> processes — a document's chain across stages (an exact copy of a near duplicate of the kept one), pages
/// of drops with a cursor, texts shown as text (a terminal escape sequence in a document never reaches the terminal).
/// </summary>
public sealed class InspectOutputCliTests : IDisposable
{
    private readonly TempDirectory _temp = new("inspect-output");

    public void Dispose() => _temp.Dispose();

    /// <summary><c>curate</c> in its own process: exit code, then stdout and stderr together.</summary>
    private static Task<(int Code, string Output)> CurateAsync(string workingDirectory, params string[] args) =>
        CliTests.CurateAsync(workingDirectory, new Dictionary<string, string>(), args);

    [Fact]
    public async Task A_document_shows_its_chain_of_twins_and_drops_page_through_an_output_without_a_silo()
    {
        const string Story = "The river town held its market every Saturday morning, when farmers brought apples, cheese, bread and honey " +
                             "from the valley, and the old bridge filled with carts, children, musicians and travellers who stopped to " +
                             "listen to the bells of the church ringing over the square until the early afternoon.";
        var near = Story.Replace("early afternoon", "late afternoon", StringComparison.Ordinal);
        const string Other = "A completely different document about compilers, parsers and the grammar of programming languages, with enough words.";
        const string Chinese = "北京是中华人民共和国的首都，也是全国的政治中心、文化中心和国际交往中心。这座城市有三千多年的建城史，\u001b[31m故宫、天坛和长城都吸引着来自世界各地的游客。";
        string[] lines =
        [
            Line("a-orig", Story), Line("b-near", near), Line("c-exact", near),
            Line("d-zh", Chinese), Line("e-zh-copy", Chinese),
            Line("f-other", Other),
            Line("g-\u001b[2Jevil", Other), // an id from the input is shown as text too
        ];
        var corpus = _temp.Combine("corpus");
        Directory.CreateDirectory(corpus);
        await File.WriteAllLinesAsync(Path.Combine(corpus, "docs.jsonl"), lines);
        await File.WriteAllTextAsync(_temp.Combine("job.json"), new JobSpec
        {
            Name = "explore", Seed = 3,
            Inputs = [new InputSpec { Path = "corpus/*.jsonl", IdField = "id" }],
            Stages = [new ExactDedupStageSpec { Partitions = 2 }, new NearDedupStageSpec { Partitions = 2, Threshold = 0.6 }],
            Output = new OutputSpec { Path = "curated/explore" },
        }.ToJson());
        var data = _temp.Combine("data");
        var run = await CurateAsync(_temp.Path, "run", "job.json", "--data", data);
        Assert.True(run.Code == 0, run.Output);
        var output = Path.Combine(data, "curated", "explore");

        // From another folder, by the file:// URL `curate run` printed: the data store is found above the output.
        var chain = await CurateAsync(Path.GetTempPath(), "inspect", "document", new Uri(output).AbsoluteUri, "c-exact");
        Assert.True(chain.Code == 0, chain.Output);
        var text = chain.Output;
        Assert.StartsWith("c-exact: dropped by exact_dedup (exact_duplicate), a copy of b-near", text, StringComparison.Ordinal);
        Assert.Contains("→ b-near  dropped  near_dedup  near_duplicate", text, StringComparison.Ordinal);
        Assert.Contains("→ a-orig  kept", text, StringComparison.Ordinal);
        Assert.Matches(@"similarity to a-orig: Jaccard 0\.\d+ estimated \(\d+ MinHash permutations\), 0\.\d+ exact", text);
        Assert.Contains("text    The river town held its market", text, StringComparison.Ordinal); // dropped texts from the job's working copy
        Assert.DoesNotContain("not available", text, StringComparison.Ordinal);

        var zh = await CurateAsync(_temp.Path, "inspect", "document", output, "e-zh-copy", "--chars", "-1");
        Assert.True(zh.Code == 0, zh.Output);
        Assert.Contains("→ d-zh  kept", zh.Output, StringComparison.Ordinal);
        Assert.Contains(@"这座城市有三千多年的建城史，\u001B[31m故宫", zh.Output, StringComparison.Ordinal);
        Assert.DoesNotContain('\u001b', zh.Output);

        var kept = await CurateAsync(_temp.Path, "inspect", "document", output, "f-other", "--chars", "20");
        Assert.StartsWith("f-other: kept", kept.Output, StringComparison.Ordinal);
        Assert.Contains("text    A completely differe… (", kept.Output, StringComparison.Ordinal);

        // Pages of drops: one at a time through the cursor, every drop once; filters by stage and reason.
        var seen = new List<string>();
        string? after = null;
        for (var page = 0; page < 10; page++)
        {
            var drops = await CurateAsync(_temp.Path, ["inspect", "drops", output, "--limit", "1", "--chars", "0", .. after is null ? Array.Empty<string>() : ["--after", after]]);
            Assert.True(drops.Code == 0, drops.Output);
            Assert.DoesNotContain('\u001b', drops.Output);
            if (drops.Output.StartsWith("No more drops: the previous page was the last.", StringComparison.Ordinal)) break; // a full page has a cursor
            seen.Add(drops.Output.Split(' ')[0]);
            var more = System.Text.RegularExpressions.Regex.Match(drops.Output, @"more with --after (\S+)");
            if (!more.Success)
            {
                Assert.Contains("the last page", drops.Output, StringComparison.Ordinal);
                break;
            }
            after = more.Groups[1].Value;
        }
        Assert.Equal(["b-near", "c-exact", "e-zh-copy", @"g-\u001B[2Jevil"], seen.Order(StringComparer.Ordinal));
        var nearOnly = await CurateAsync(_temp.Path, "inspect", "drops", output, "--stage", "near_dedup");
        Assert.StartsWith("b-near  near_dedup  near_duplicate  copy of a-orig", nearOnly.Output, StringComparison.Ordinal);
        Assert.Contains("1 drops; the last page.", nearOnly.Output, StringComparison.Ordinal);
        var none = await CurateAsync(_temp.Path, "inspect", "drops", output, "--reason", "too_short");
        Assert.Contains("No drops for reason too_short. This output's drops: 01-exact_dedup exact_duplicate 3, 02-near_dedup near_duplicate 1.",
            none.Output, StringComparison.Ordinal);

        // Mistakes are one sentence each, exit code 2.
        var unknown = await CurateAsync(_temp.Path, "inspect", "document", output, "no-such-id");
        Assert.Equal(2, unknown.Code);
        Assert.Contains("no document 'no-such-id' in this output", unknown.Output, StringComparison.Ordinal);
        var notOutput = await CurateAsync(_temp.Path, "inspect", "drops", data);
        Assert.Equal(2, notOutput.Code);
        Assert.Contains("holds no manifest.json: name the folder `curate run` printed", notOutput.Output, StringComparison.Ordinal);
        var cursor = await CurateAsync(_temp.Path, "inspect", "drops", output, "--after", "7:x");
        Assert.Equal(2, cursor.Code);
        Assert.Contains("--after: '7:x' is not a cursor of this output's drops", cursor.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_versioned_corpus_pages_its_current_snapshots_drops_and_finds_ids_every_snapshot_dropped()
    {
        var corpus = _temp.Combine("snap", "corpus");
        Directory.CreateDirectory(corpus);
        string Text(int i) => $"document number {i} of the versioned corpus, with words enough to be kept by every stage";
        await File.WriteAllLinesAsync(Path.Combine(corpus, "a.jsonl"), [Line("a1", Text(1)), Line("a2", Text(2)), Line("a9-copy", Text(2))]);
        await File.WriteAllTextAsync(_temp.Combine("snap", "job.json"), new JobSpec
        {
            Name = "snap", Seed = 1,
            Inputs = [new InputSpec { Path = "corpus/*.jsonl", IdField = "id" }],
            Stages = [new ExactDedupStageSpec { Partitions = 2 }],
            Output = new OutputSpec { Path = "corpus-out", Snapshots = true },
        }.ToJson());
        var folder = _temp.Combine("snap");
        var first = await CurateAsync(folder, "run", "job.json", "--data", "data");
        Assert.True(first.Code == 0, first.Output);
        await File.WriteAllLinesAsync(Path.Combine(corpus, "b.jsonl"), [Line("b1", Text(1)), Line("b2", Text(3))]);
        var second = await CurateAsync(folder, "run", "job.json", "--data", "data", "--run-key", "k2");
        Assert.True(second.Code == 0, second.Output);

        var output = Path.Combine(folder, "data", "corpus-out");
        var drops = await CurateAsync(folder, "inspect", "drops", output, "--chars", "0");
        Assert.Equal("b1  exact_dedup  exact_duplicate  copy of a1\n\n1 drops; the last page. (snapshot 2's drops; `curate inspect document` finds the ids " +
                     "earlier snapshots dropped too)\n", drops.Output);
        var earlier = await CurateAsync(folder, "inspect", "document", output, "a9-copy", "--chars", "0");
        Assert.True(earlier.Code == 0, earlier.Output);
        Assert.StartsWith("a9-copy: dropped by exact_dedup (exact_duplicate), a copy of a2", earlier.Output, StringComparison.Ordinal);
        Assert.Contains("a9-copy  dropped  exact_dedup  exact_duplicate  (snapshot 1)", earlier.Output, StringComparison.Ordinal);
        Assert.Contains("→ a2  kept  (snapshot 1)", earlier.Output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("plain text", 100, true, "plain text")]
    [InlineData("two\nlines\tand\r\n", -1, true, "two⏎lines→and⏎")]
    [InlineData("two\nlines\tand\r\n", -1, false, "two\nlines\tand\n")]
    [InlineData("red \u001b[31malert\u0007 \u202Eevil", -1, true, @"red \u001B[31malert\u0007 \u202Eevil")]
    [InlineData("中文文本很长", 2, true, "中文… (4 more characters)")]
    public void Texts_are_shown_as_text(string text, int chars, bool oneLine, string expected) =>
        Assert.Equal(expected, Commands.InspectOutputCommands.Visible(text, chars, oneLine));

    private static string Line(string id, string text) => JsonSerializer.Serialize(new { id, text });
}
