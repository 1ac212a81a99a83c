using System.Diagnostics;
using Curation.Pipelines.Embedding;
using Curation.Pipelines.Embedding.Static;

namespace Curation.Bench;

/// <summary>
/// <c>static-fit --variants 5</c> (issue 17, round 7): the token-level fit (<see cref="StaticTokenFit"/>) scored as
/// <see cref="StaticFitHeldOut"/> scores the ridge fit: trained on the shipped training text only (the documents, and
/// with <c>+ sentences</c> also their sentence units, <see cref="StaticTrainingSamples"/>), evaluated on the held-out
/// Debian and man-page paragraphs. The starting table is v2 + the ridge map at the transformer's 384 dimensions (the
/// shipped v3 table is the same map reduced to 256); each fit is printed at 384 dimensions and, for the row fit, reduced
/// to 256 (<see cref="StaticTokenFit.Reduce"/>). <c>--variants 0,6</c> instead fits the similarity structure
/// (<see cref="StaticPairFit"/>) on that starting table; <c>0,6</c> on the row fit λ 30. Figures: bench/README.md, round 7.
/// </summary>
internal static class StaticTokenFitHeldOut
{
    private const int Iterations = 40;

    private static readonly (double Threshold, int Steps, double Rate)[] PairFits = [(0.5, 60, 5e-4), (0.8, 60, 5e-4)];

    public static void Run(BenchOptions options, List<StaticRecipesBenchmark.Corpus> heldOut, WordPieceTokenizer tokenizer, StaticModel unfitted,
        StaticModel shipped, Func<OnnxEmbedder> createEmbedder, string modelSha, ReadOnlyMemory<int>[] tokens, float[] targets, int truthDims)
    {
        Console.WriteLine();
        Console.WriteLine($"=== token-level fit (StaticTokenFit), {Iterations} CG iterations, trained on the shipped training text === {Machine.Load()}");
        StaticFitHeldOut.Report("v3 shipped (v2 + ridge λ 0.01, 256)", shipped, heldOut, tokens, targets, truthDims, options.Threads);
        var clock = Stopwatch.StartNew();
        var ridge = StaticFit.Fit(unfitted, tokens, targets, truthDims, StaticFit.Lambda, truthDims);
        StaticFitHeldOut.Report(FormattableString.Invariant($"v2 + ridge λ 0.01, {truthDims} (start of every token fit; {clock.Elapsed.TotalSeconds:0.0} s)"),
            ridge, heldOut, tokens, targets, truthDims, options.Threads);

        if (options.Variants is { } pairVariants && (pairVariants.Contains(6) || pairVariants.Contains(7)))
        {
            // 5: the pair-structure fit on the ridge table; 6: on the row fit λ 30 (the best row fit), then reduced to 256.
            var onRows = pairVariants.Contains(7);
            var pairBase = onRows ? StaticTokenFit.FitRows(ridge, tokens, targets, 30, Iterations) : ridge;
            foreach (var (threshold, steps, rate) in onRows ? PairFits[..1] : PairFits)
            {
                clock.Restart();
                var (pairTable, pairs, before, after) = StaticPairFit.Fit(pairBase, tokens, targets, threshold, steps, rate, 0);
                var label = FormattableString.Invariant($"pair structure{(onRows ? " on rows λ 30" : "")}: {pairs:N0} pairs at cos ≥ {threshold}, {steps} Adam steps of {rate}, loss {before:0.000} → {after:0.000} (fit {clock.Elapsed.TotalSeconds:0.0} s)");
                StaticFitHeldOut.Report(label, pairTable, heldOut, tokens, targets, truthDims, options.Threads);
                if (onRows) StaticFitHeldOut.Report(label + ", reduced to 256", StaticTokenFit.Reduce(pairTable, tokens, 256), heldOut, tokens, targets, truthDims, options.Threads);
            }
            return;
        }

        var (unitTokens, unitTargets, sentences) = StaticFitHeldOut.UnitTargets(tokenizer, createEmbedder, modelSha, truthDims, 1);
        var sets = new List<(string Name, ReadOnlyMemory<int>[] Tokens, float[] Targets)>
        {
            ("documents", tokens, targets),
            ($"documents + {sentences:N0} sentences", [.. tokens, .. unitTokens[..sentences]], [.. targets, .. unitTargets.AsSpan(0, sentences * truthDims)]),
        };
        var reports = 0;
        foreach (var (setName, setTokens, setTargets) in sets)
        {
            foreach (var lambda in setName == "documents" ? new[] { 0.1, 1.0, 3.0, 10.0, 30.0, 100.0 } : [0.1, 1.0, 10.0])
            {
                clock.Restart();
                var rows = StaticTokenFit.FitRows(ridge, setTokens, setTargets, lambda, Iterations);
                var seconds = clock.Elapsed.TotalSeconds;
                StaticFitHeldOut.Report(FormattableString.Invariant($"{setName}: rows, λ {lambda}, {rows.Dimensions} dims (fit {seconds:0.0} s)"),
                    rows, heldOut, tokens, targets, truthDims, options.Threads);
                var reduced = StaticTokenFit.Reduce(rows, setTokens, 256);
                StaticFitHeldOut.Report(FormattableString.Invariant($"{setName}: rows, λ {lambda}, reduced to {reduced.Dimensions}"),
                    reduced, heldOut, tokens, targets, truthDims, options.Threads);
                reports += 2;
            }
            foreach (var lambda in new[] { 0.01, 0.1, 1.0 })
            {
                clock.Restart();
                var weights = StaticTokenFit.FitWeights(ridge, setTokens, setTargets, lambda, Iterations);
                var seconds = clock.Elapsed.TotalSeconds;
                StaticFitHeldOut.Report(FormattableString.Invariant($"{setName}: weights, λ {lambda}, {weights.Dimensions} dims (fit {seconds:0.0} s)"),
                    weights, heldOut, tokens, targets, truthDims, options.Threads);
                reports++;
            }
        }
        Console.WriteLine($"{reports} token fits reported {Machine.Load()}");
    }
}
