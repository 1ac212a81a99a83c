using System.Diagnostics;
using System.Text;
using Curation.Pipelines.Spec;
using Curation.Pipelines.Training;
using Curation.Testing;

namespace Curation.Bench;

/// <summary>
/// <c>train-tokenize</c>: the training tokenizer of the train_tokenize stage (Microsoft.ML.Tokenizers' tiktoken with
/// the ranks shipped in NuGet) against the reference js-tiktoken in node, on the same multilingual corpus the parity
/// test uses, one thread each (node's encode is single-threaded): tokens/s per core, best of --repeat. The ids are
/// compared first: a fast wrong answer is no result.
/// </summary>
public static class TrainTokenizeBenchmark
{
    public static Task<int> RunAsync(BenchOptions options)
    {
        if (TiktokenReference.Find(out var why) is null)
        {
            Console.WriteLine($"FAILED: {why}");
            return Task.FromResult(1);
        }
        var repeat = options.Repeat ?? 3;
        var folder = Path.Combine(Path.GetTempPath(), $"curation-bench-tokenize-{Guid.NewGuid():N}");
        Directory.CreateDirectory(folder);
        try
        {
            var corpus = MultilingualCorpus.Build(options.TokenizeDocs);
            var bytes = corpus.Sum(d => (long)Encoding.UTF8.GetByteCount(d.Text));
            Console.WriteLine($"corpus:   {corpus.Count:N0} documents, {Measure.Size(bytes)} UTF-8, {corpus.Select(d => d.Language).Distinct().Count()} languages " +
                              "(demo corpus + installed .mo catalogs and translated man pages)");
            var jsonl = Path.Combine(folder, "corpus.jsonl");
            MultilingualCorpus.WriteJsonl(corpus, jsonl);
            var failures = 0;
            foreach (var encoding in new[] { "o200k_base", "cl100k_base" })
            {
                var reference = TiktokenReference.Encode(encoding, jsonl, repeat);
                var tokenizer = TrainingTokenizer.For(new TrainTokenizeStageSpec { Encoding = encoding });
                var texts = corpus.Select(d => d.Text).ToArray();
                foreach (var text in texts.Take(2000)) tokenizer.Encode(text);   // warm-up: JIT tiers and the BPE cache's first fills
                var best = double.MaxValue;
                var differences = 0;
                long tokens = 0;
                for (var r = 0; r < repeat; r++)
                {
                    Measure.Settle();
                    var ids = new IReadOnlyList<int>[texts.Length];
                    var clock = Stopwatch.StartNew();
                    for (var i = 0; i < texts.Length; i++) ids[i] = tokenizer.Encode(texts[i]);
                    best = Math.Min(best, clock.Elapsed.TotalSeconds);
                    if (r > 0) continue;
                    tokens = ids.Sum(a => (long)a.Count);
                    differences = Enumerable.Range(0, texts.Length).Count(i => !ids[i].SequenceEqual(reference.Ids[i]));
                }
                var ours = tokens / best;
                var theirs = reference.Tokens / reference.Seconds;
                Console.WriteLine($"{encoding,-12} ours (Microsoft.ML.Tokenizers 3.0.0, 1 thread): {ours,12:N0} tokens/s per core, {bytes / best / 1e6,6:0.0} MB/s, {best:0.000} s");
                Console.WriteLine($"{"",-12} js-tiktoken 1.0.21 (node {NodeVersion()}, 1 thread): {theirs,12:N0} tokens/s per core, {bytes / reference.Seconds / 1e6,6:0.0} MB/s, {reference.Seconds:0.000} s");
                Console.WriteLine($"{"",-12} ratio ours / reference: {ours / theirs:0.00}×; {tokens:N0} tokens; {differences} documents with different ids");
                if (differences > 0 || tokens != reference.Tokens) failures++;
            }
            return Task.FromResult(failures == 0 ? 0 : 1);
        }
        finally
        {
            try { Directory.Delete(folder, recursive: true); } catch (IOException) { }
        }
    }

    internal static string NodeVersion()
    {
        using var process = Process.Start(new ProcessStartInfo("node", "--version") { RedirectStandardOutput = true })!;
        var version = process.StandardOutput.ReadToEnd().Trim();
        process.WaitForExit();
        return version;
    }
}
