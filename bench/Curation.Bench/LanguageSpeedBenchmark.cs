using System.Diagnostics;
using Curation.Pipelines.Model;
using Curation.Pipelines.Stages;
using Curation.Testing;
using Lingua;

namespace Curation.Bench;

/// <summary>
/// <c>language-speed</c>: the language stage's throughput against a bare Lingua loop over the same texts in the same
/// run, on two corpora: the generated prose the sizing benchmark reads (~500 characters, a synthetic Latin vocabulary)
/// and real text in many scripts (<see cref="MultilingualCorpus"/>: the demo corpus, installed message catalogs and
/// translated man pages). Bare: one <c>LanguageDetectorBuilder.FromAllLanguages().Build()</c> detector, one thread,
/// <c>ComputeLanguageConfidenceValues</c> on each text's first <c>maxChars</c> characters. Ours:
/// <see cref="LanguageIdentifier.Identify"/> on one thread, then the stage's transform over one batch on every core.
/// Every answer of ours (language and score) must equal the one read off the bare loop's values, or the benchmark fails.
/// </summary>
public static class LanguageSpeedBenchmark
{
    public static Task<int> RunAsync(BenchOptions options)
    {
        var spec = new LanguageStageSpec();
        var repeat = options.Repeat ?? 2;
        var gen = new TextGen(options.Seed);
        var prose = Enumerable.Range(0, options.LanguageSpeedDocs).Select(i => gen.Prose(gen.For(i), 500)).ToArray();
        var real = MultilingualCorpus.Build(options.LanguageSpeedDocs).Select(d => d.Text).ToArray();
        Console.WriteLine($"corpora:  {prose.Length:N0} generated prose documents (mean {prose.Average(t => t.Length):0} chars, as `sizing`); " +
                          $"{real.Length:N0} real documents in many scripts (mean {real.Average(t => t.Length):0} chars; demo corpus, .mo catalogs, man pages); maxChars {spec.MaxChars}");

        Measure.Settle();
        var heapBefore = GC.GetTotalMemory(forceFullCollection: true);
        var build = Stopwatch.StartNew();
        if (LanguageTrigramScorer.Shared is null)
        {
            Console.WriteLine("FAILED: the trigram scorer could not bind to Lingua");
            return Task.FromResult(1);
        }
        var buildSeconds = build.Elapsed.TotalSeconds;
        Measure.Settle();
        Console.WriteLine($"index:    the trigram scorer's index of every language's 1-3-grams: {(GC.GetTotalMemory(forceFullCollection: true) - heapBefore) / Measure.MiB:N0} MiB " +
                          $"of managed heap, built in {buildSeconds:0.0} s");
        var load = Stopwatch.StartNew();
        LanguageIdentifier.Preload();
        Console.WriteLine($"preload:  {load.Elapsed.TotalSeconds:0.0} s to load every model the stage can use ({Environment.WorkingSet / Measure.MiB:N0} MiB working set)");

        var bare = LanguageDetectorBuilder.FromAllLanguages().Build();
        var failures = 0;
        foreach (var (name, texts) in new[] { ("prose", prose), ("real", real) })
        {
            var samples = texts.Select(t => t.Length <= spec.MaxChars ? t : t[..(char.IsHighSurrogate(t[spec.MaxChars - 1]) ? spec.MaxChars - 1 : spec.MaxChars)]).ToArray();
            LanguageIdentifier.Answer[] bareAnswers = [];
            var bareSeconds = Best(repeat, () => bareAnswers = samples.Select(s => BareAnswer(bare, s, spec.MinLetters)).ToArray());
            LanguageIdentifier.Answer[] ours = [];
            var oursSeconds = Best(repeat, () => ours = texts.Select(t => LanguageIdentifier.Identify(t, spec.MinLetters, spec.MaxChars)).ToArray());
            var lowSeconds = Best(repeat, () =>
            {
                foreach (var t in texts) LanguageIdentifier.Identify(t, spec.MinLetters, spec.MaxChars, lowAccuracy: true);
            });
            var stageSeconds = Best(repeat, () =>
            {
                var batch = RecordBatch.ForDocuments();
                for (var i = 0; i < texts.Length; i++) batch.AddDocument($"d{i}", texts[i], "bench", i);
                new LanguageTransform(spec).Process(batch, new DropCollector(batch, "language"));
            });
            var differ = ours.Where((answer, i) => answer != bareAnswers[i]).Count();
            Console.WriteLine();
            Console.WriteLine($"{name}: {texts.Length:N0} documents");
            Line("bare Lingua loop (1 thread)", texts.Length, bareSeconds);
            Line("ours: LanguageIdentifier (1 thread)", texts.Length, oursSeconds);
            Line("ours: lowAccuracy (1 thread)", texts.Length, lowSeconds);
            Console.WriteLine($"  {$"ours: the stage's transform ({Environment.ProcessorCount} cores)",-44} {texts.Length / stageSeconds / Environment.ProcessorCount,10:N0} docs/s per core, {stageSeconds:0.000} s");
            Console.WriteLine($"  ratio ours / bare: {bareSeconds / oursSeconds:0.00}× docs/s per core (1 thread each); {differ} answers (language and score) differ from the bare loop's");
            if (differ > 0)
            {
                Console.WriteLine($"FAILED: {differ} answers differ on {name}");
                failures++;
            }
        }
        return Task.FromResult(failures == 0 ? 0 : 1);
    }

    /// <summary>The stage's reading of a bare detector's values: und below minLetters letters, on no winner or a tie; else the winner and its value rounded to 6 digits.</summary>
    private static LanguageIdentifier.Answer BareAnswer(LanguageDetector detector, string sample, int minLetters)
    {
        if (sample.EnumerateRunes().Count(System.Text.Rune.IsLetter) < minLetters) return new(LanguageIdentifier.Undetermined, 0);
        var values = detector.ComputeLanguageConfidenceValues(sample).Take(2).ToArray();
        if (values.Length == 0 || values[0].Value <= 0 || (values.Length > 1 && values[1].Value >= values[0].Value)) return new(LanguageIdentifier.Undetermined, 0);
        return new(LanguageIdentifier.Canonical(values[0].Key.IsoCode6393().ToString()), Math.Round(values[0].Value, 6));
    }

    private static double Best(int repeat, Action body)
    {
        var best = double.MaxValue;
        for (var r = 0; r < repeat; r++)
        {
            Measure.Settle();
            var clock = Stopwatch.StartNew();
            body();
            best = Math.Min(best, clock.Elapsed.TotalSeconds);
        }
        return best;
    }

    private static void Line(string who, int documents, double seconds) =>
        Console.WriteLine($"  {who,-44} {documents / seconds,10:N0} docs/s per core, {seconds:0.000} s");
}
