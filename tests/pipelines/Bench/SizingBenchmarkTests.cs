using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using Curation.Testing;

namespace Curation.Pipelines.Tests.Bench;

/// <summary>
/// <c>bench sizing</c> (the deploy guide's memory figures) run tiny as its own process: every phase of the job gets a
/// row with a peak resident set and a managed heap, the whole run's peak and the corpus bytes are printed, and the
/// books balance. Memory figures are not asserted against a bound (they depend on the machine); their presence and
/// their consistency (the whole run's peak is the largest phase peak) are.
/// </summary>
public sealed partial class SizingBenchmarkTests
{
    /// <summary>curation-bench.dll of the same configuration as this test assembly (…/bin/Release/net10.0/linux-x64/).</summary>
    private static readonly string BenchDll = Path.Combine(RepositoryRoot.Get(), "bench", "Curation.Bench", "bin",
        AppContext.BaseDirectory[(AppContext.BaseDirectory.LastIndexOf($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}", StringComparison.Ordinal) + 5)..],
        "curation-bench.dll");

    [GeneratedRegex(@"^(?<phase>\S+)\s+(?<tasks>\d+)\s+(?<wall>[\d.]+)\s+(?<docs>[\d,]+)\s+(?<rss>[\d.]+ (?:MiB|GiB))\s+(?<heap>[\d.]+ (?:MiB|GiB)|-)\s*$", RegexOptions.Multiline)]
    private static partial Regex PhaseRow();

    [GeneratedRegex(@"whole run: peak RSS (?<rss>[\d.]+ (?:MiB|GiB)), peak managed heap (?<heap>[\d.]+ (?:MiB|GiB)), [\d.]+ s, [\d,]+ docs/s")]
    private static partial Regex WholeRun();

    private static async Task<(int Code, string Output)> RunAsync(params string[] args)
    {
        Assert.True(File.Exists(BenchDll), $"{BenchDll} is missing: build the solution first");
        var start = new ProcessStartInfo("dotnet", ["exec", BenchDll, .. args]) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        Assert.True(process.WaitForExit(TimeSpan.FromMinutes(3)), $"bench {string.Join(' ', args)} did not finish");
        return (process.ExitCode, await output + await error);
    }

    private static long Bytes(string size)
    {
        var parts = size.Split(' ');
        return (long)(double.Parse(parts[0], CultureInfo.InvariantCulture) * (parts[1] == "GiB" ? 1L << 30 : 1L << 20));
    }

    [Fact]
    public async Task A_chain_prints_every_phase_with_its_memory_peaks_and_the_whole_run()
    {
        var (code, output) = await RunAsync("sizing", "--stage", "normalize,quality_filter,exact_dedup", "--docs", "3000", "--threads", "2");
#if DEBUG
        Assert.True(code == 3, output); // a Debug bench refuses to measure
        return;
#else
        Assert.True(code == 0, output);
        Assert.Contains("corpus:   3,000 docs", output);
        Assert.Matches(@"\(1,\d{3},\d{3} bytes\)", output);
        Assert.Contains("job:      read → normalize → quality_filter → exact_dedup (16 partitions) → output", output);

        var rows = PhaseRow().Matches(output).ToDictionary(m => m.Groups["phase"].Value, m => m);
        foreach (var phase in new[] { "plan", "00-read/read", "03-exact_dedup/hash", "03-exact_dedup/resolve", "03-exact_dedup/apply", "04-output/write" })
            Assert.True(rows.ContainsKey(phase), $"no row for {phase}:\n{output}");
        Assert.Equal("16", rows["03-exact_dedup/resolve"].Groups["tasks"].Value);
        Assert.Equal("3,000", rows["00-read/read"].Groups["docs"].Value);
        Assert.All(rows.Values, r => Assert.InRange(Bytes(r.Groups["rss"].Value), 20L << 20, 4L << 30));
        Assert.All(rows.Values.Where(r => r.Groups["phase"].Value != "plan"), r => Assert.NotEqual("-", r.Groups["heap"].Value));

        // Each phase (plan aside) also printed a line as it ended, before the table, with what it allocated, its collections
        // and the heap the last collection left; the read parses every document, so it allocates.
        foreach (var phase in rows.Keys.Where(p => p != "plan"))
            Assert.Matches($@"(?m)^  {Regex.Escape(phase)}\s+[\d.]+ s, peak RSS [\d.]+ (MiB|GiB), heap [\d.]+ (MiB|GiB), allocated [\d.]+ (MiB|GiB) " +
                           @"\(gen 0/1/2 collections \d+/\d+/\d+\); after the last GC \(#\d+, gen\d\): heap [\d.]+ (MiB|GiB) \(large objects ", output);
        Assert.Matches(@"(?m)^  00-read/read\s+[\d.]+ s, .*, allocated (?!0\.0 MiB)[\d.]+ (MiB|GiB) ", output);
        Assert.True(output.IndexOf("  04-output/write ", StringComparison.Ordinal) < output.IndexOf("\n04-output/write ", StringComparison.Ordinal), output);

        var whole = WholeRun().Match(output);
        Assert.True(whole.Success, output);
        Assert.Equal(rows.Values.Max(r => Bytes(r.Groups["rss"].Value)), Bytes(whole.Groups["rss"].Value));
        Assert.Matches(@"accounting: 00-read 3,000→3,000; 01-normalize 3,000→[\d,]+; 02-quality_filter [\d,]+→[\d,]+; 03-exact_dedup [\d,]+→[\d,]+", output);
        Assert.Contains("load at end: load average", output);
        Assert.DoesNotContain("FAILED", output);
#endif
    }

    /// <summary>
    /// The stages the sizing guide gained last run with what they cannot run without: url_filter with generated
    /// UT1-sized block lists over urls of many hosts (it must drop exactly the planted share, for the planted reasons),
    /// quality_score with an embed stage and a generated labelled set, train_tokenize writing the token files, extract
    /// over the corpus as HTML pages in gzipped WARC records. Each balances its books.
    /// </summary>
    [Theory]
    [InlineData("url_filter", "read → url_filter → output", "01-url_filter")]
    [InlineData("quality_score", "read → embed → quality_score → output", "02-quality_score")]
    [InlineData("train_tokenize", "read → train_tokenize → output", "01-train_tokenize")]
    [InlineData("extract", "read → extract → output", "01-extract")]
    public async Task Each_stage_runs_with_what_it_needs_and_balances(string stage, string job, string account)
    {
        var (code, output) = await RunAsync("sizing", "--stage", stage, "--docs", "2000", "--threads", "2");
#if DEBUG
        Assert.True(code == 3, $"{job} ({account}): {output}");
#else
        Assert.True(code == 0, output);
        Assert.Contains($"job:      {job}", output);
        Assert.DoesNotContain("FAILED", output);
        var accounted = Regex.Match(output, $@"{Regex.Escape(account)} (?<in>[\d,]+)→(?<kept>[\d,]+)");
        Assert.True(accounted.Success, output);
        var kept = long.Parse(accounted.Groups["kept"].Value, NumberStyles.AllowThousands, CultureInfo.InvariantCulture);
        var documentsIn = long.Parse(accounted.Groups["in"].Value, NumberStyles.AllowThousands, CultureInfo.InvariantCulture);
        switch (stage)
        {
            case "url_filter":
                Assert.Contains("block lists: 1,000,000 domains", output);
                var planted = Regex.Match(output, @"planted:  (?<domain>[\d,]+) urls on a listed domain, (?<substring>[\d,]+) more with a listed substring");
                Assert.True(planted.Success, output);
                var domain = long.Parse(planted.Groups["domain"].Value, NumberStyles.AllowThousands, CultureInfo.InvariantCulture);
                var substring = long.Parse(planted.Groups["substring"].Value, NumberStyles.AllowThousands, CultureInfo.InvariantCulture);
                Assert.InRange(domain, 60, 140); // ~5% of 2,000
                Assert.InRange(substring, 20, 60); // ~2% of the rest
                Assert.Equal(2000, documentsIn);
                Assert.Equal(documentsIn - domain - substring, kept);
                break;
            case "quality_score":
                Assert.Contains("training: 5,000 positive and 5,000 negative labelled examples", output);
                Assert.Matches(@"(?m)^02-quality_score/train\s+1\s+[\d.]+\s+10,000\s", output);
                Assert.InRange(kept, documentsIn / 2 - 1, documentsIn / 2 + 1); // keepFraction 0.5
                break;
            case "train_tokenize":
                Assert.Equal(2000, documentsIn);
                Assert.InRange(kept, 1990, 2000); // only texts without a token are dropped
                break;
            case "extract":
                Assert.Contains("2,000 docs in 1 WARC.gz files", output);
                Assert.Contains("each an HTML page in site chrome", output);
                Assert.Equal(2000, documentsIn);
                Assert.InRange(kept, 1990, 2000);
                break;
        }
#endif
    }

    [Fact]
    public async Task A_spec_file_sets_the_stages_and_an_unknown_stage_is_refused_naming_the_known_ones()
    {
        using var folder = new TempDirectory("sizing-spec");
        var spec = Path.Combine(folder.Path, "stages.json");
        await File.WriteAllTextAsync(spec, """{ "stages": [ { "type": "url_dedup", "partitions": 3 } ] }""");
        var (code, output) = await RunAsync("sizing", "--spec", spec, "--docs", "1000");
#if !DEBUG
        Assert.True(code == 0, output);
        Assert.Contains("job:      read → url_dedup (3 partitions) → output", output);
        Assert.Matches(@"(?m)^01-url_dedup/resolve\s+3\s", output);

        (code, output) = await RunAsync("sizing", "--stage", "no_such_stage", "--docs", "10");
        Assert.NotEqual(0, code);
        Assert.Contains("unknown stage 'no_such_stage'; stages: ", output);
        Assert.Contains("near_dedup", output);
#else
        Assert.Equal(3, code);
#endif
    }
}
