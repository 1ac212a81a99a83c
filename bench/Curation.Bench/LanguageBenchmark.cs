using System.Diagnostics;
using System.Text;
using Curation.Pipelines.Model;
using Curation.Pipelines.Stages;
using Curation.Testing;
using Lingua;

namespace Curation.Bench;

/// <summary>
/// <c>language</c>: the language stage's detector (Lingua, all 75 languages) against the peer franc 6.2.0 (npm, node) on
/// the same labelled documents in the same run: paragraphs (≥ 60 letters) of Debian's translated manual pages (the packages in
/// <see cref="Packages"/>, fetched once with <c>apt-get download</c> and unpacked with <c>dpkg -x</c> into a cache
/// folder — no root install), ≥ 200 documents in each of ≥ 20 languages. Prints accuracy per language and overall, and
/// docs/s and MB/s per core (one thread each, best of --repeat), then ours on every core through the stage's transform,
/// and the process's memory with the models the run loaded and with all 75 languages preloaded.
/// </summary>
public static class LanguageBenchmark
{
    /// <summary>The Debian packages the corpus comes from (bookworm: manpages-l10n 4.18.1, manpages-ja, manpages-zh, manpages-tr, manpages).</summary>
    public static readonly string[] Packages =
    [
        "manpages", "manpages-cs", "manpages-da", "manpages-de", "manpages-el", "manpages-es", "manpages-fi", "manpages-fr",
        "manpages-hu", "manpages-id", "manpages-it", "manpages-ja", "manpages-mk", "manpages-nb", "manpages-nl", "manpages-pl",
        "manpages-pt-br", "manpages-ro", "manpages-ru", "manpages-sr", "manpages-sv", "manpages-tr", "manpages-uk", "manpages-vi",
        "manpages-zh",
    ];

    /// <summary>franc's codes for macrolanguages whose individual language it profiles, to Lingua's (639-3) spelling.</summary>
    private static readonly Dictionary<string, string> FrancAliases = new(StringComparer.Ordinal)
    {
        ["cmn"] = "zho", ["arb"] = "ara", ["pes"] = "fas", ["zlm"] = "msa", ["ekk"] = "est", ["lvs"] = "lav", ["khk"] = "mon",
        ["swh"] = "swa", ["als"] = "sqi", ["azj"] = "aze", ["nob"] = "nob", ["uzn"] = "uzb",
    };

    public static Task<int> RunAsync(BenchOptions options)
    {
        var franc = Path.Combine(RepositoryRoot.Get(), "tools", "franc");
        if (!File.Exists(Path.Combine(franc, "node_modules", "franc", "package.json")))
        {
            Console.WriteLine($"FAILED: franc is not installed: run `npm ci --prefix {franc}`");
            return Task.FromResult(1);
        }
        var cache = Environment.GetEnvironmentVariable("CURATION_BENCH_CACHE") is { Length: > 0 } c
            ? c : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache", "curation");
        var manRoot = FetchManPages(Path.Combine(cache, "manpages-l10n"), out var debs);
        var perLanguage = options.LanguageDocs;
        var corpus = LabelledLanguageCorpus.Build(manRoot, perLanguage, perFile: 50, minLetters: 60).ToArray();
        var counts = corpus.GroupBy(d => d.Language).ToDictionary(g => g.Key, g => g.Count());
        var full = counts.Where(kv => kv.Value >= perLanguage).Select(kv => kv.Key).ToHashSet(StringComparer.Ordinal);
        corpus = corpus.Where(d => full.Contains(d.Language)).ToArray();
        var bytes = corpus.Sum(d => (long)Encoding.UTF8.GetByteCount(d.Text));
        Console.WriteLine($"corpus:   {corpus.Length:N0} paragraphs of translated man pages, {full.Count} languages × {perLanguage} " +
                          $"({string.Join(" ", full.Order(StringComparer.Ordinal))}), {Measure.Size(bytes)} UTF-8, mean {bytes / Math.Max(1, corpus.Length):N0} B");
        Console.WriteLine($"source:   {debs.Count} Debian packages unpacked in {manRoot}: {string.Join(", ", debs)}");
        Console.WriteLine($"skipped:  {string.Join(", ", counts.Where(kv => kv.Value < perLanguage).Select(kv => $"{kv.Key} ({kv.Value} paragraphs)"))}");
        if (full.Count < 20)
        {
            Console.WriteLine($"FAILED: only {full.Count} languages have {perLanguage} paragraphs");
            return Task.FromResult(1);
        }

        var folder = Path.Combine(Path.GetTempPath(), $"curation-bench-language-{Guid.NewGuid():N}");
        Directory.CreateDirectory(folder);
        try
        {
            var repeat = options.Repeat ?? 3;
            var jsonl = Path.Combine(folder, "corpus.jsonl");
            MultilingualCorpus.WriteJsonl(corpus.Select(d => new MultilingualCorpus.Document(d.Id, d.Language, d.Text)), jsonl);
            var texts = corpus.Select(d => d.Text).ToArray();
            var spec = new LanguageStageSpec();

            var cold = Stopwatch.StartNew();
            var ours = texts.Select(t => LanguageIdentifier.Identify(t, spec.MinLetters, spec.MaxChars).Code).ToArray();
            var coldSeconds = cold.Elapsed.TotalSeconds;
            var oursSeconds = double.MaxValue;
            for (var r = 0; r < repeat; r++)
            {
                Measure.Settle();
                var clock = Stopwatch.StartNew();
                foreach (var text in texts) LanguageIdentifier.Identify(text, spec.MinLetters, spec.MaxChars);
                oursSeconds = Math.Min(oursSeconds, clock.Elapsed.TotalSeconds);
            }
            var low = texts.Select(t => LanguageIdentifier.Identify(t, spec.MinLetters, spec.MaxChars, lowAccuracy: true).Code).ToArray();
            var lowSeconds = double.MaxValue;
            for (var r = 0; r < repeat; r++)
            {
                Measure.Settle();
                var clock = Stopwatch.StartNew();
                foreach (var text in texts) LanguageIdentifier.Identify(text, spec.MinLetters, spec.MaxChars, lowAccuracy: true);
                lowSeconds = Math.Min(lowSeconds, clock.Elapsed.TotalSeconds);
            }
            var parallelSeconds = double.MaxValue;
            for (var r = 0; r < repeat; r++)
            {
                var batch = RecordBatch.ForDocuments();
                for (var i = 0; i < texts.Length; i++) batch.AddDocument(corpus[i].Id, texts[i], "bench", i);
                Measure.Settle();
                var clock = Stopwatch.StartNew();
                new LanguageTransform(spec).Process(batch, new DropCollector(batch, "language"));
                parallelSeconds = Math.Min(parallelSeconds, clock.Elapsed.TotalSeconds);
            }
            var rssRun = Environment.WorkingSet;

            var (francAll, francAllSeconds) = Franc(franc, jsonl, repeat, null);
            var only = string.Join(",", LanguageInfo.All().Select(l => l.IsoCode6393().ToString().ToLowerInvariant())
                .Select(code => FrancAliases.FirstOrDefault(a => a.Value == code).Key ?? code));
            var (francOnly, francOnlySeconds) = Franc(franc, jsonl, repeat, only);

            Console.WriteLine();
            Console.WriteLine($"{"language",-9} {"docs",5} {"ours",6} {"low",6} {"franc",6} {"franc75",7}");
            foreach (var group in corpus.Select((d, i) => (d.Language, i)).GroupBy(x => x.Language).OrderBy(g => g.Key, StringComparer.Ordinal))
            {
                double Share(string[] answers) => group.Count(x => answers[x.i] == x.Language) / (double)group.Count();
                Console.WriteLine($"{group.Key,-9} {group.Count(),5} {Share(ours),6:0.000} {Share(low),6:0.000} {Share(francAll),6:0.000} {Share(francOnly),7:0.000}");
            }
            double Accuracy(string[] answers) => corpus.Where((d, i) => answers[i] == d.Language).Count() / (double)corpus.Length;
            Console.WriteLine();
            Console.WriteLine($"accuracy ours {Accuracy(ours):0.000}, peer {Accuracy(francAll):0.000} " +
                              $"(ours: Lingua 2.0.0, 75 languages; peer: franc 6.2.0, 187 languages; franc limited to Lingua's languages: {Accuracy(francOnly):0.000}; ours with lowAccuracy: {Accuracy(low):0.000})");
            Line("ours  (SearchPioneer.Lingua 2.0.0, 1 thread)", texts.Length, bytes, oursSeconds);
            Line("ours  (lowAccuracy: trigrams only, 1 thread)", texts.Length, bytes, lowSeconds);
            Line($"peer  (franc 6.2.0, node {TrainTokenizeBenchmark.NodeVersion()}, 1 thread)", texts.Length, bytes, francAllSeconds);
            Line("peer  (franc 6.2.0 limited to Lingua's 75, 1 thread)", texts.Length, bytes, francOnlySeconds);
            Console.WriteLine($"ratio ours / peer: {francAllSeconds / oursSeconds:0.00}× docs/s per core");
            Console.WriteLine($"ours on {Environment.ProcessorCount} cores (the stage's transform, one batch): {texts.Length / parallelSeconds,10:N0} docs/s, " +
                              $"{bytes / parallelSeconds / 1e6,6:0.00} MB/s, {parallelSeconds:0.000} s; first pass with model loading {coldSeconds:0.000} s");

            var preload = Stopwatch.StartNew();
            LanguageDetectorBuilder.FromAllLanguages().WithPreloadedLanguageModels().Build();
            GC.Collect();
            Console.WriteLine($"memory:   working set {rssRun / Measure.MiB:N0} MiB after the run (models of the scripts it met, loaded on demand); " +
                              $"{Environment.WorkingSet / Measure.MiB:N0} MiB with all 75 languages preloaded (high accuracy, plus the trigram models of lowAccuracy) ({preload.Elapsed.TotalSeconds:0.0} s), " +
                              $"managed heap {GC.GetTotalMemory(false) / Measure.MiB:N0} MiB");
            return Task.FromResult(0);
        }
        finally
        {
            try { Directory.Delete(folder, recursive: true); } catch (IOException) { }
        }
    }

    private static void Line(string who, int documents, long bytes, double seconds) =>
        Console.WriteLine($"{who,-55} {documents / seconds,10:N0} docs/s per core, {bytes / seconds / 1e6,6:0.00} MB/s per core, {seconds:0.000} s");

    /// <summary>franc's answers in the stage's codes (639-1 where one exists) and its detection time.</summary>
    private static (string[] Codes, double Seconds) Franc(string folder, string jsonl, int repeat, string? only)
    {
        var output = Path.ChangeExtension(jsonl, only is null ? ".franc" : ".franc75");
        string[] arguments = only is null ? [jsonl, output, repeat.ToString()] : [jsonl, output, repeat.ToString(), only];
        var stdout = NodeScript.Run(folder, "detect.mjs", arguments);
        using var summary = System.Text.Json.JsonDocument.Parse(stdout.Trim().Split('\n')[^1]);
        var codes = File.ReadLines(output).Where(l => l.Length > 0).Select(code =>
        {
            var lingua = FrancAliases.GetValueOrDefault(code, code);
            return LanguageIdentifier.IsKnownCode(lingua) ? LanguageIdentifier.Canonical(lingua) : code;
        }).ToArray();
        return (codes, summary.RootElement.GetProperty("seconds").GetDouble());
    }

    /// <summary>The unpacked <c>usr/share/man</c> of <see cref="Packages"/> under <paramref name="cache"/>, downloaded on first use.</summary>
    private static string FetchManPages(string cache, out List<string> debs)
    {
        var debFolder = Path.Combine(cache, "debs");
        var root = Path.Combine(cache, "root");
        Directory.CreateDirectory(debFolder);
        if (Directory.GetFiles(debFolder, "*.deb").Length < Packages.Length)
        {
            Console.WriteLine($"fetching: apt-get download {string.Join(' ', Packages)} (once, into {debFolder})");
            RunTool("apt-get", ["download", .. Packages], debFolder);
        }
        debs = Directory.GetFiles(debFolder, "*.deb").Select(Path.GetFileName).Order(StringComparer.Ordinal).ToList()!;
        if (!Directory.Exists(Path.Combine(root, "usr", "share", "man")))
            foreach (var deb in debs) RunTool("dpkg", ["-x", deb, root], debFolder);
        return Path.Combine(root, "usr", "share", "man");
    }

    private static void RunTool(string tool, IEnumerable<string> arguments, string folder)
    {
        using var process = Process.Start(new ProcessStartInfo(tool, arguments) { WorkingDirectory = folder, RedirectStandardError = true, RedirectStandardOutput = true })
            ?? throw new InvalidOperationException($"{tool} did not start");
        var stderr = process.StandardError.ReadToEndAsync();
        process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0) throw new InvalidOperationException($"{tool} {string.Join(' ', arguments)} failed ({process.ExitCode}): {stderr.Result}");
    }
}
