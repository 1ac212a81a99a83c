using System.Diagnostics;
using Curation.Pipelines.Model;
using Curation.Pipelines.Stages;
using Curation.Pipelines.Text;
using Curation.Testing;

namespace Curation.Bench;

/// <summary>
/// <c>gopher-repetition</c>: the gopher_repetition stage's per-document check (<see cref="GopherRepetitionTransform"/>)
/// against the check as it was before issue 20 (<see cref="ReferenceGopherRepetition"/>: regex splits, a string per word
/// and per n-gram), both on one thread over the same batch in the same run, on two corpora: the texts of the sizing
/// corpus (<see cref="Corpus.Texts"/>, what <c>bench sizing --stage gopher_repetition</c> reads) and real text in many
/// scripts (<see cref="MultilingualCorpus"/>). Also timed: the word split and dominant-script scan alone, a floor both
/// sides pay. Every answer must be the same (each document's reason and detail, the kept rows, the what-if measures) or
/// the benchmark fails.
/// </summary>
public static class GopherRepetitionBenchmark
{
    public static Task<int> RunAsync(BenchOptions options)
    {
        var spec = new GopherRepetitionStageSpec();
        var repeat = options.Repeat ?? 5;
        var sizing = Corpus.Texts(options.RepetitionDocs, options.Seed).Select(d => d.Text).ToArray();
        var real = MultilingualCorpus.Build(options.RepetitionDocs).Select(d => d.Text).ToArray();
        var failures = 0;
        foreach (var (name, texts) in new[] { ("sizing", sizing), ("real", real) })
        {
            var batch = RecordBatch.ForDocuments(texts.Length);
            for (var i = 0; i < texts.Length; i++) batch.AddDocument($"d{i}", texts[i], "bench", i);

            var ours = new GopherRepetitionTransform(spec);
            var reference = new ReferenceGopherRepetition(spec);
            DropCollector oursDrops = null!, referenceDrops = null!;
            var tokens = new List<Word>();
            // Rounds alternate which side goes first, so both see the same load; best of each side, and each round's ratio.
            double referenceSeconds = double.MaxValue, oursSeconds = double.MaxValue, floorSeconds = double.MaxValue;
            var ratios = new List<double>();
            for (var round = 0; round < repeat; round++)
            {
                double RunReference() => Time(() => reference.Process(batch, referenceDrops = new DropCollector(batch, spec.Type)));
                double RunOurs() => Time(() => ours.Process(batch, oursDrops = new DropCollector(batch, spec.Type)));
                double r, o;
                if (round % 2 == 0) (r, o) = (RunReference(), RunOurs());
                else (o, r) = (RunOurs(), RunReference());
                var f = Time(() =>
                {
                    foreach (var t in texts)
                    {
                        Words.Split(t, tokens);
                        Scripts.Dominant(t);
                    }
                });
                referenceSeconds = Math.Min(referenceSeconds, r);
                oursSeconds = Math.Min(oursSeconds, o);
                floorSeconds = Math.Min(floorSeconds, f);
                ratios.Add(r / o);
            }

            var differ = 0;
            for (var i = 0; i < texts.Length; i++)
                if (ours.Check(texts[i]) != reference.Check(texts[i])) differ++;
            var same = oursDrops.KeptRows().SequenceEqual(referenceDrops.KeptRows()) && Same(Reasons(oursDrops), Reasons(referenceDrops))
                       && Same(Measures(oursDrops), Measures(referenceDrops));

            Console.WriteLine();
            Console.WriteLine($"{name}: {texts.Length:N0} documents, mean {texts.Average(t => t.Length):0} chars; " +
                              $"{texts.Length - oursDrops.KeptRows().Count:N0} dropped ({string.Join(", ", Reasons(oursDrops).OrderBy(r => r.Key, StringComparer.Ordinal).Select(r => $"{r.Key} {r.Value:N0}"))})");
            Line("reference: the pre-issue-20 check (1 thread)", texts.Length, referenceSeconds);
            Line("ours: GopherRepetitionTransform (1 thread)", texts.Length, oursSeconds);
            Line("floor: Words.Split + Scripts.Dominant only", texts.Length, floorSeconds);
            Console.WriteLine($"  ratio ours / reference: {referenceSeconds / oursSeconds:0.00}× docs/s per core (best of each; per round {string.Join(" ", ratios.Select(x => x.ToString("0.00")))}, " +
                              $"median {Measure.Median(ratios):0.00}); {differ} answers (reason and detail) differ; " +
                              $"kept rows, reason counts and what-if measures {(same ? "identical" : "DIFFER")}");
            if (differ > 0 || !same)
            {
                Console.WriteLine($"FAILED: answers differ on {name}");
                failures++;
            }
        }
        return Task.FromResult(failures == 0 ? 0 : 1);
    }

    private static Dictionary<string, long> Reasons(DropCollector drops)
    {
        var counts = new Dictionary<string, long>(StringComparer.Ordinal);
        drops.CountReasons(counts);
        return counts;
    }

    private static Dictionary<string, double> Measures(DropCollector drops)
    {
        var metrics = new Dictionary<string, double>(StringComparer.Ordinal);
        drops.AddMeasures(metrics);
        return metrics;
    }

    private static bool Same<T>(Dictionary<string, T> a, Dictionary<string, T> b) =>
        a.Count == b.Count && a.All(kv => b.TryGetValue(kv.Key, out var v) && EqualityComparer<T>.Default.Equals(v, kv.Value));

    private static double Time(Action body)
    {
        Measure.Settle();
        var clock = Stopwatch.StartNew();
        body();
        return clock.Elapsed.TotalSeconds;
    }

    private static void Line(string who, int documents, double seconds) =>
        Console.WriteLine($"  {who,-46} {documents / seconds,10:N0} docs/s per core, {seconds:0.000} s");
}
