using System.Diagnostics;
using System.Text.Json;
using Curation.Pipelines.Text;
using Curation.Testing;

namespace Curation.Bench;

/// <summary>
/// <c>extract</c>: main-content extraction (the <c>extract</c> stage's <see cref="HtmlExtractor"/>) against Mozilla
/// Readability on jsdom (npm, run by node from tools/readability) on the same pages: Debian's HTML documentation
/// under /usr/share/doc, each page wrapped in generated site chrome (tests/testing/WebPageCorpus.cs), so the true
/// article text is known. Prints token-level precision/recall/F1 of both (mean over pages) and pages/s per core
/// (both single-threaded, the second of two passes, parse + extract; node's start and file reads not timed).
/// </summary>
public static class ExtractBenchmark
{
    public const int MaxPages = 200;

    public static async Task<int> RunAsync(BenchOptions options)
    {
        var folder = Path.Combine(RepositoryRoot.Get(), "tools", "readability");
        if (!File.Exists(Path.Combine(folder, "node_modules", "@mozilla", "readability", "package.json")))
        {
            Console.WriteLine($"FAILED: @mozilla/readability is not installed: run `npm ci --prefix {folder}`");
            return 1;
        }
        var random = new Random(options.Seed);
        var pages = WebPageCorpus.DebianPages(MaxPages).Select(p => WebPageCorpus.Wrap(p, random)).ToArray();
        if (pages.Length == 0)
        {
            Console.WriteLine("FAILED: no HTML pages under /usr/share/doc");
            return 1;
        }
        var bytes = pages.Sum(p => (long)System.Text.Encoding.UTF8.GetByteCount(p.Html));
        Console.WriteLine($"pages:     {pages.Length} Debian HTML documentation pages in generated chrome, {Measure.Size(bytes)} of HTML (seed {options.Seed})");
        Console.WriteLine("ours:      HtmlExtractor (AngleSharp + boilerplate removal), 1 thread");
        Console.WriteLine("reference: @mozilla/readability 0.6.0 on jsdom 26.1.0, node " + NodeVersion() + ", 1 thread");

        // Ours: two passes, the second timed.
        var extractor = new HtmlExtractor();
        var ours = new string[pages.Length];
        double oursSeconds = 0;
        for (var pass = 0; pass < 2; pass++)
        {
            var clock = Stopwatch.StartNew();
            for (var i = 0; i < pages.Length; i++) ours[i] = extractor.Extract(pages[i].Html).Text;
            oursSeconds = clock.Elapsed.TotalSeconds;
        }

        var input = Path.Combine(Path.GetTempPath(), $"curation-bench-extract-{Guid.NewGuid():N}.json");
        string[] theirs;
        double theirSeconds;
        try
        {
            await File.WriteAllTextAsync(input, JsonSerializer.Serialize(pages.Select(p => p.Html)));
            using var result = JsonDocument.Parse(NodeScript.Run(folder, "extract.mjs", [input, "2"]));
            theirs = result.RootElement.GetProperty("texts").EnumerateArray().Select(t => t.GetString() ?? "").ToArray();
            theirSeconds = result.RootElement.GetProperty("seconds").EnumerateArray().Last().GetDouble();
        }
        finally
        {
            File.Delete(input);
        }

        var oursScores = pages.Select((p, i) => WebPageCorpus.Score(ours[i], p.ArticleText)).ToArray();
        var theirScores = pages.Select((p, i) => WebPageCorpus.Score(theirs[i], p.ArticleText)).ToArray();
        static string Line((double Precision, double Recall, double F1)[] s) =>
            $"P {s.Average(x => x.Precision):0.000}  R {s.Average(x => x.Recall):0.000}  F1 {s.Average(x => x.F1):0.000}";
        Console.WriteLine($"ours:      {Line(oursScores)}  {oursSeconds,7:0.000} s  {Measure.Rate(pages.Length, oursSeconds),6} pages/s");
        Console.WriteLine($"reference: {Line(theirScores)}  {theirSeconds,7:0.000} s  {Measure.Rate(pages.Length, theirSeconds),6} pages/s");
        var oursF1 = oursScores.Average(x => x.F1);
        var theirF1 = theirScores.Average(x => x.F1);
        Console.WriteLine($"F1 ours {oursF1:0.000}, readability {theirF1:0.000}");
        Console.WriteLine($"pages/s ours/readability {theirSeconds / oursSeconds:0.0}");
        var worse = oursScores.Zip(theirScores).Count(x => x.First.F1 < x.Second.F1 - 0.05);
        Console.WriteLine($"pages where ours is > 0.05 F1 below readability: {worse} of {pages.Length}");
        return 0;
    }

    private static string NodeVersion()
    {
        try
        {
            using var process = Process.Start(new ProcessStartInfo("node", "--version") { RedirectStandardOutput = true })!;
            var version = process.StandardOutput.ReadToEnd().Trim();
            process.WaitForExit();
            return version;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return "(not found)";
        }
    }
}
