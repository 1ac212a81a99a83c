using System.Diagnostics;
using System.Text;
using Curation.Pipelines.Model;
using Curation.Pipelines.Stages;
using Curation.Pipelines.Text.Pii;
using Curation.Testing;

namespace Curation.Bench;

/// <summary>
/// <c>pii</c>: the pii stage's transform on the generated set of tests/testing/PiiCorpus.cs (the demo corpus' real
/// paragraphs with planted values of every type and format plus look-alikes). Prints precision and recall per type
/// and MB/s on one core (the second of two passes), against a bare loop over the same texts that only classifies
/// every character (digits, '@', ':' — the least any scanner must do), measured in the same run.
/// </summary>
public static class PiiBenchmark
{
    public static Task<int> RunAsync(BenchOptions options)
    {
        var documents = Math.Min(options.Docs, 20_000);
        var corpus = PiiCorpus.Generate(documents, options.Seed);
        var texts = corpus.Documents.Select(d => d.Text).ToList();
        var bytes = texts.Sum(t => (long)Encoding.UTF8.GetByteCount(t));
        Console.WriteLine($"corpus:    {documents:N0} documents, {Measure.Size(bytes)}, {corpus.Documents.Sum(d => d.Planted.Count):N0} planted values (seed {options.Seed})");

        var all = PiiTypes.All.ToHashSet();
        var shown = new Dictionary<PiiType, int>();
        var scores = PiiCorpus.Score(corpus.Documents.Select(d => (d, (IReadOnlyList<PiiMatch>)PiiScanner.Find(d.Text, all, PhoneRegions.For(d.Language, "US")))));
        Console.WriteLine("type          planted  found  precision  recall");
        foreach (var (type, s) in scores) Console.WriteLine($"{PiiTypes.Name(type),-12} {s.Planted,8} {s.Found,6} {s.Precision,10:0.0000} {s.Recall,7:0.0000}");

        // The first false positives of each type, in context: generated text, so showing them leaks nothing.
        foreach (var d in corpus.Documents)
            foreach (var f in PiiScanner.Find(d.Text, all, PhoneRegions.For(d.Language, "US")))
                if (!d.Planted.Any(p => p.Type == f.Type && f.Start < p.Start + p.Length && p.Start < f.End) && (shown[f.Type] = shown.GetValueOrDefault(f.Type) + 1) <= 4)
                    Console.WriteLine($"false {PiiTypes.Name(f.Type)} ({d.Language}): …{d.Text[Math.Max(0, f.Start - 30)..f.Start]}[{d.Text.Substring(f.Start, f.Length)}]{d.Text[f.End..Math.Min(d.Text.Length, f.End + 20)]}…");

        var transform = new PiiTransform(new PiiStageSpec());
        double ours = 0, bare = 0;
        long sink = 0;
        for (var pass = 0; pass < 2; pass++)
        {
            var batch = RecordBatch.WithSchema(Columns.Core, texts.Count);
            foreach (var (d, i) in corpus.Documents.Select((d, i) => (d, i)))
            {
                batch.Ids.Add(d.Id);
                batch.Texts.Add(d.Text);
                batch.Sources.Add("bench");
                batch.Positions.Add(i);
            }
            var clock = Stopwatch.StartNew();
            transform.Process(batch, new DropCollector(batch, "pii"));
            ours = clock.Elapsed.TotalSeconds;

            clock.Restart();
            foreach (var text in texts)
                foreach (var c in text)
                    if (char.IsAsciiDigit(c) || c is '@' or ':') sink++;
            bare = clock.Elapsed.TotalSeconds;
        }
        // Where the time goes: each detector alone over the same texts.
        foreach (var type in PiiTypes.All)
        {
            var only = new HashSet<PiiType> { type };
            var clock = Stopwatch.StartNew();
            foreach (var d in corpus.Documents) sink += PiiScanner.Find(d.Text, only, PhoneRegions.For(d.Language, "US")).Count;
            Console.WriteLine($"  {PiiTypes.Name(type),-12} alone: {clock.Elapsed.TotalSeconds,7:0.000} s");
        }
        Console.WriteLine($"pii:       {Measure.MiBps(bytes, ours)} MiB/s on 1 core ({ours:0.000} s)");
        Console.WriteLine($"bare loop: {Measure.MiBps(bytes, bare)} MiB/s on 1 core ({bare:0.000} s; {sink:N0} characters classified)");
        Console.WriteLine($"ratio:     {bare / ours:0.000} of the bare loop's speed");
        var failed = scores.Where(s => s.Value.Precision < 0.98 || s.Value.Recall < 0.95).Select(s => PiiTypes.Name(s.Key)).ToList();
        if (failed.Count > 0) Console.WriteLine($"FAILED: precision < 0.98 or recall < 0.95 for {string.Join(", ", failed)}");
        return Task.FromResult(failed.Count > 0 ? 1 : 0);
    }
}
