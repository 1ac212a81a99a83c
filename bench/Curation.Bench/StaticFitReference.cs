using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using Curation.Pipelines.Embedding;
using Curation.Pipelines.Embedding.Static;
using Curation.Testing;

namespace Curation.Bench;

/// <summary>
/// <c>static-fit --variants 4</c> (issue 17, round 7b): the v2 table fitted on <b>more varied training text</b>: the demo
/// documents (<see cref="StaticTrainingText"/>) plus the reference text (<see cref="StaticReferenceText"/>: API
/// documentation paragraphs of the Python standard library and of .NET), each unit embedded alone by the transformer
/// (cached under the temp folder, keyed by the model's and the units' SHA-256). First it proves the reference text
/// disjoint from the evaluation corpora: every unit and every evaluation paragraph is hashed (SHA-256 of its case-folded
/// text), and every run of <see cref="Shingle"/> word pieces is compared (word pieces, so unspaced scripts count too); an
/// evaluation paragraph equal to a unit or sharing such a run with one is left out of the held-out set (the count is
/// printed), and the shipped v3 fit is scored on that same set, so before and after are measured on the same paragraphs.
/// </summary>
internal static class StaticFitReference
{
    /// <summary>Word pieces in a run that counts as shared text between a training unit and an evaluation paragraph.</summary>
    private const int Shingle = 16;

    public static void Run(BenchOptions options, List<StaticRecipesBenchmark.Corpus> heldOut, WordPieceTokenizer tokenizer, StaticModel unfitted,
        StaticModel shipped, Func<OnnxEmbedder> createEmbedder, string modelSha, ReadOnlyMemory<int>[] docTokens, float[] docTargets, int truthDims,
        float[]? sentenceTargets, ReadOnlyMemory<int>[]? sentenceTokens)
    {
        var units = StaticReferenceText.Units;
        var unitTokens = units.Select(u => (ReadOnlyMemory<int>)tokenizer.Tokenize(u.Text)).ToArray();
        Console.WriteLine();
        Console.WriteLine($"=== round 7b: reference text, {units.Count:N0} units ({string.Join(", ", units.GroupBy(u => u.Licence).Select(g => $"{g.Key} {g.Count():N0}"))}), " +
                          $"{unitTokens.Sum(t => t.Length):N0} word pieces; {unitTokens.Count(t => t.Length > 510)} longer than 510 === {Machine.Load()}");

        var unitHashes = units.Select(u => Hash(u.Text)).ToHashSet(StringComparer.Ordinal);
        var unitShingles = new Dictionary<UInt128, int>();
        for (var u = 0; u < unitTokens.Length; u++) foreach (var s in Shingles(unitTokens[u].Span)) unitShingles.TryAdd(s, u);
        var disjoint = new List<StaticRecipesBenchmark.Corpus>();
        foreach (var corpus in heldOut)
        {
            var equal = 0;
            var shared = 0;
            var keep = new bool[corpus.Texts.Count];
            for (var i = 0; i < keep.Length; i++)
            {
                var isEqual = unitHashes.Contains(Hash(corpus.Texts[i]));
                var match = Shingles(corpus.Tokens[i].Span).Select(h => unitShingles.GetValueOrDefault(h, -1)).FirstOrDefault(u => u >= 0, -1);
                var isShared = match >= 0;
                if (isEqual) equal++;
                if (isShared && ++shared <= 5)
                    Console.WriteLine($"  shares a run: {corpus.Name} {(corpus.Ids is null ? $"#{i}" : corpus.Ids[i])} and {units[match].Source}: " +
                                      $"\"{corpus.Texts[i][..Math.Min(100, corpus.Texts[i].Length)].ReplaceLineEndings(" ")}\"");
                keep[i] = !isEqual && !isShared;
            }
            Console.WriteLine($"disjointness, {corpus.Name}: {equal} of {corpus.Texts.Count:N0} paragraphs equal a reference unit (SHA-256 of the case-folded text), " +
                              $"{shared} share a run of {Shingle} word pieces with one; {keep.Count(k => k):N0} held out");
            disjoint.Add(equal + shared == 0 ? corpus : corpus.Subset(i => keep[i], truthDims));
        }

        var key = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(modelSha + "\n" + string.Join("\u0001", units.Select(u => u.Text)))))[..16];
        var path = Path.Combine(Path.GetTempPath(), $"curation-fit-targets-{key}.bin");
        float[] unitTargets;
        if (File.Exists(path)) unitTargets = StaticRecipesBenchmark.ReadFloats(path);
        else
        {
            var clock = Stopwatch.StartNew();
            using (var embedder = createEmbedder()) unitTargets = StaticFit.Targets(embedder, unitTokens, null, default);
            Console.WriteLine($"transformer pass over {units.Count:N0} reference units ({unitTokens.Sum(t => t.Length):N0} word pieces): {clock.Elapsed.TotalSeconds:0.0} s ({Machine.Load()})");
            StaticRecipesBenchmark.WriteFloats(path, unitTargets);
        }
        Console.WriteLine($"reference targets cached at {path}");

        var sets = new List<(string Name, ReadOnlyMemory<int>[] Tokens, float[] Targets, double[] Lambdas)>
        {
            ("documents (v3)", docTokens, docTargets, [StaticFit.Lambda]),
            ($"documents + {units.Count:N0} reference units", [.. docTokens, .. unitTokens], [.. docTargets, .. unitTargets], [0.001, 0.01, 0.1]),
            ($"{units.Count:N0} reference units only", unitTokens, unitTargets, [0.01]),
        };
        foreach (var licence in units.Select(u => u.Licence).Distinct())
        {
            var picked = Enumerable.Range(0, units.Count).Where(i => units[i].Licence == licence).ToArray();
            sets.Add(($"documents + the {picked.Length:N0} {licence} units", [.. docTokens, .. picked.Select(i => unitTokens[i])],
                [.. docTargets, .. picked.SelectMany(i => unitTargets.AsSpan(i * truthDims, truthDims).ToArray())], [0.01]));
        }
        if (sentenceTargets is not null && sentenceTokens is not null)
            sets.Add(($"documents + reference units + {sentenceTokens.Length:N0} demo sentences", [.. docTokens, .. unitTokens, .. sentenceTokens],
                [.. docTargets, .. unitTargets, .. sentenceTargets], [0.01]));

        // The demo documents counted three times (their rows repeated): the reference text added without outweighing them.
        sets.Add(($"documents ×3 + {units.Count:N0} reference units", [.. docTokens, .. docTokens, .. docTokens, .. unitTokens],
            [.. docTargets, .. docTargets, .. docTargets, .. unitTargets], [0.01]));

        Console.WriteLine();
        Console.WriteLine($"=== base: v2, fitted on the demo documents plus the reference text (held out as printed above) === {Machine.Load()}");
        StaticFitHeldOut.Report("no fit", unfitted, disjoint, docTokens, docTargets, truthDims, options.Threads);
        foreach (var (setName, setTokens, setTargets, lambdas) in sets)
            foreach (var lambda in lambdas)
            {
                var clock = Stopwatch.StartNew();
                var fitted = StaticFit.Fit(unfitted, setTokens, setTargets, truthDims, lambda, truthDims);
                StaticFitHeldOut.Report(FormattableString.Invariant($"{setName}: ridge λ {lambda}, {fitted.Dimensions} dims (fit {clock.Elapsed.TotalSeconds:0.0} s)"),
                    fitted, disjoint, setTokens, setTargets, truthDims, options.Threads);
                if (lambda != StaticFit.Lambda || setName.StartsWith("documents (", StringComparison.Ordinal)) continue;
                // The width the store ships (the table's own, 256): its SHA-256, for the record if this set ships.
                var reduced = StaticFit.Fit(unfitted, setTokens, setTargets, truthDims, lambda, Math.Min(unfitted.Dimensions, truthDims));
                using (var sink = Stream.Null) reduced.Write(sink);
                Console.WriteLine($"   {reduced.Dimensions}-dim table of this fit: SHA-256 {reduced.Sha256}{(reduced.Sha256 == shipped.Sha256 ? " (the shipped table)" : "")}");
            }

        // Near-pair difference rows on top of the documents + reference units (no new transformer pass).
        ReadOnlyMemory<int>[] allTokens = [.. docTokens, .. unitTokens];
        float[] allTargets = [.. docTargets, .. unitTargets];
        foreach (var (neighbours, weight) in new[] { (3, 1.0), (3, 0.3), (10, 0.3) })
        {
            var clock = Stopwatch.StartNew();
            var fitted = FitWithNeighbourDifferences(unfitted, allTokens, allTargets, truthDims, StaticFit.Lambda, neighbours, weight, out var pairs);
            StaticFitHeldOut.Report(FormattableString.Invariant($"documents + reference units + {pairs:N0} near-pair differences ({neighbours} static neighbours, weight {weight}): ridge λ {StaticFit.Lambda}, {fitted.Dimensions} dims (fit {clock.Elapsed.TotalSeconds:0.0} s)"),
                fitted, disjoint, allTokens, allTargets, truthDims, options.Threads);
        }
    }

    /// <summary>
    /// The ridge fit with extra rows that teach W how near texts differ: for every training unit its
    /// <paramref name="neighbours"/> nearest other units by static cosine (ties to the lower index), each pair once, the row
    /// (xᵢ − xⱼ)·s → (yᵢ − yⱼ)·s with s = <paramref name="weight"/> / |xᵢ − xⱼ| (so a difference row weighs as a document
    /// row does when the weight is 1). A pair the transformer reads apart but the bag of pieces puts close (a licence's
    /// two variants) is what dedup ranks wrong; these rows put that case into the fit. Deterministic: each unit's
    /// neighbours are computed alone (double, fixed order); rows in unit order.
    /// </summary>
    internal static StaticModel FitWithNeighbourDifferences(StaticModel table, ReadOnlyMemory<int>[] tokens, float[] targets, int k, double lambda,
        int neighbours, double weight, out int pairs)
    {
        var d = table.Dimensions;
        var n = tokens.Length;
        var x = StaticFit.DocumentVectors(table, tokens);
        var nearest = new int[n][];
        Parallel.For(0, n, i =>
        {
            var best = new List<(double Cos, int J)>(neighbours + 1);
            var xi = x.AsSpan(i * d, d);
            for (var j = 0; j < n; j++)
            {
                if (j == i) continue;
                var xj = x.AsSpan(j * d, d);
                double dot = 0;
                for (var c = 0; c < d; c++) dot += xi[c] * xj[c];
                if (best.Count == neighbours && dot <= best[^1].Cos) continue;
                var at = best.FindIndex(b => dot > b.Cos);
                best.Insert(at < 0 ? best.Count : at, (dot, j));
                if (best.Count > neighbours) best.RemoveAt(best.Count - 1);
            }
            nearest[i] = best.Select(b => b.J).ToArray();
        });
        var chosen = new List<(int I, int J)>();
        var seen = new HashSet<(int, int)>();
        for (var i = 0; i < n; i++)
            foreach (var j in nearest[i])
                if (seen.Add((Math.Min(i, j), Math.Max(i, j)))) chosen.Add((i, j));
        var rows = n + chosen.Count;
        var xa = new double[(long)rows * d];
        var ya = new float[(long)rows * k];
        x.CopyTo(xa, 0);
        targets.CopyTo(ya, 0);
        var r = n;
        foreach (var (i, j) in chosen)
        {
            double norm = 0;
            for (var c = 0; c < d; c++) norm += (x[i * d + c] - x[j * d + c]) * (x[i * d + c] - x[j * d + c]);
            norm = Math.Sqrt(norm);
            if (norm < 1e-9) { rows--; continue; }
            var scale = weight / norm;
            for (var c = 0; c < d; c++) xa[r * d + c] = (x[i * d + c] - x[j * d + c]) * scale;
            for (var c = 0; c < k; c++) ya[r * k + c] = (float)((targets[i * k + c] - targets[j * k + c]) * scale);
            r++;
        }
        pairs = rows - n;
        var w = StaticFit.Ridge(xa, d, ya, k, rows, lambda);
        return StaticFit.Fold(table, w, k);
    }

    private static string Hash(string text) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text.ToLowerInvariant())));

    private static IEnumerable<UInt128> Shingles(ReadOnlySpan<int> tokens)
    {
        var list = new List<UInt128>();
        for (var i = 0; i + Shingle <= tokens.Length; i++)
        {
            var bytes = System.Runtime.InteropServices.MemoryMarshal.AsBytes(tokens.Slice(i, Shingle));
            list.Add(System.IO.Hashing.XxHash128.HashToUInt128(bytes));
        }
        return list;
    }
}
