using System.Diagnostics;
using System.Numerics.Tensors;
using System.Security.Cryptography;
using Curation.Pipelines.Embedding;
using Curation.Pipelines.Embedding.Static;
using Curation.Pipelines.Execution;
using Curation.Pipelines.Semantic;
using Curation.Pipelines.Spec;
using Curation.Pipelines.Stages;

namespace Curation.Bench;

/// <summary>
/// <c>cascade-rounds</c>: the cascade's transformer budget (20 % of the documents) spent in rounds that learn from what the
/// transformer already returned on this corpus (<see cref="CascadeRounds"/>: a ridge map static → transformer, refitted
/// each round, or a kNN residual correction), against today's one-pass rule (the documents with the highest static
/// cosine to any other document, <see cref="SemanticCascade.BudgetEps"/>). The corpora, truth and settings are
/// <c>cascade</c>'s (demo in-sample; Debian and man-page paragraphs held out of the static table's training text); every
/// rule ends with the <c>set</c> rule (the transformer decides every pair among the embedded documents), so precision is
/// 1 and the figure is pair recall at ≤ 20 % embedded. The transformer's vectors are looked up in the cached truth run.
/// </summary>
public static class CascadeRoundsBenchmark
{
    private const double Budget = 0.2;

    /// <summary>How far the rounds are continued to read off the budget each rule needs for recall 0.97.</summary>
    private const double SweepBudget = 0.6;

    /// <summary>The map's input besides the static vector: nothing, hashed word-piece bigrams, the input-embedding mean, or both.</summary>
    private enum MapInput { Static, Bigrams, InputMean, Both }

    /// <summary>One candidate rule; <see cref="Rounds"/> null is the stage's one-pass budget rule (with its candidate floor).</summary>
    private sealed record Variant(string Label, CascadeRoundsSettings? Rounds, MapInput Input = MapInput.Static);

    private static readonly Variant[] Variants =
    [
        new("one pass: the stage's budget rule (default candidate floor)", null),
        new("one pass, full budget (rounds of 5 %, no prediction)", new(Budget, 0.05, 0.05, RoundPredictor.None)),
        new("ridge λ 0.01, 5 % + rounds of 5 %, refit", new(Budget, 0.05, 0.05, RoundPredictor.Ridge, Lambda: 0.01)),
        new("ridge λ 0.1, 5 % + rounds of 5 %, refit", new(Budget, 0.05, 0.05, RoundPredictor.Ridge, Lambda: 0.1)),
        new("ridge λ 1, 5 % + rounds of 5 %, refit", new(Budget, 0.05, 0.05, RoundPredictor.Ridge, Lambda: 1)),
        new("ridge λ 0.1, 2.5 % + rounds of 2.5 %, refit", new(Budget, 0.025, 0.025, RoundPredictor.Ridge, Lambda: 0.1)),
        new("ridge λ 0.1, 10 % + one round of 10 %", new(Budget, 0.10, 0.10, RoundPredictor.Ridge, Lambda: 0.1)),
        new("ridge λ 0.1, 10 % + rounds of 2.5 %, refit", new(Budget, 0.10, 0.025, RoundPredictor.Ridge, Lambda: 0.1)),
        new("ridge λ 0.1, 5 % + rounds of 5 %, fitted once", new(Budget, 0.05, 0.05, RoundPredictor.Ridge, Lambda: 0.1, Refit: false)),
        new("ridge λ 0.1 + kNN residual (k 10), 5 % + 5 %", new(Budget, 0.05, 0.05, RoundPredictor.RidgeKnn, Lambda: 0.1, Neighbours: 10)),
        new("kNN mean (k 10, no map), 5 % + rounds of 5 %", new(Budget, 0.05, 0.05, RoundPredictor.Knn, Neighbours: 10)),
        new("ridge λ 0.001, 5 % + rounds of 5 %, refit", new(Budget, 0.05, 0.05, RoundPredictor.Ridge, Lambda: 0.001)),
        new("ridge λ 0.0001, 5 % + rounds of 5 %, refit", new(Budget, 0.05, 0.05, RoundPredictor.Ridge, Lambda: 0.0001)),
        new("ridge λ 0.01, 5 % + 5 %, predicted vs predicted", new(Budget, 0.05, 0.05, RoundPredictor.Ridge, Lambda: 0.01, TrueWhereKnown: false)),
        new("ridge λ 0.01, 5 % + 5 %, score ½ static + ½ predicted", new(Budget, 0.05, 0.05, RoundPredictor.Ridge, Lambda: 0.01, StaticWeight: 0.5)),
        new("ridge λ 0.01, 10 % + rounds of 2.5 %, refit", new(Budget, 0.10, 0.025, RoundPredictor.Ridge, Lambda: 0.01)),
        new("ridge λ 0.01 + kNN residual (k 10), 5 % + 5 %", new(Budget, 0.05, 0.05, RoundPredictor.RidgeKnn, Lambda: 0.01, Neighbours: 10)),
        new("ridge λ 0.03, 5 % + 5 %, predicted vs predicted", new(Budget, 0.05, 0.05, RoundPredictor.Ridge, Lambda: 0.03, TrueWhereKnown: false)),
        new("ridge λ 0.01 + kNN res. (k 10), 5 % + 5 %, pred. vs pred.", new(Budget, 0.05, 0.05, RoundPredictor.RidgeKnn, Lambda: 0.01, TrueWhereKnown: false)),
        new("ridge λ 0.01, 2.5 % + 2.5 % spread + 5 %, pred. vs pred.", new(Budget, 0.025, 0.05, RoundPredictor.Ridge, Lambda: 0.01, TrueWhereKnown: false, Explore: 0.025)),
        new("ridge λ 0.01, 5 % + 5 % spread + 5 %, pred. vs pred.", new(Budget, 0.05, 0.05, RoundPredictor.Ridge, Lambda: 0.01, TrueWhereKnown: false, Explore: 0.05)),
        new("ridge λ 0.01, 10 % + rounds of 2.5 %, pred. vs pred.", new(Budget, 0.10, 0.025, RoundPredictor.Ridge, Lambda: 0.01, TrueWhereKnown: false)),
        new("ridge λ 0.03 on static ⊕ bigrams, 5 % + 5 %, pred. vs pred.", new(Budget, 0.05, 0.05, RoundPredictor.Ridge, Lambda: 0.03, TrueWhereKnown: false), MapInput.Bigrams),
        new("ridge λ 0.03 on static ⊕ input_mean, 5 % + 5 %, pred. vs pred.", new(Budget, 0.05, 0.05, RoundPredictor.Ridge, Lambda: 0.03, TrueWhereKnown: false), MapInput.InputMean),
        new("ridge λ 0.03 on static ⊕ both, 5 % + 5 %, pred. vs pred.", new(Budget, 0.05, 0.05, RoundPredictor.Ridge, Lambda: 0.03, TrueWhereKnown: false), MapInput.Both),
        new("ridge λ 0.1 on static ⊕ both, 5 % + 5 %, pred. vs pred.", new(Budget, 0.05, 0.05, RoundPredictor.Ridge, Lambda: 0.1, TrueWhereKnown: false), MapInput.Both),
        new("ridge λ 0.03 on static ⊕ input_mean + kNN res., pred. vs pred.", new(Budget, 0.05, 0.05, RoundPredictor.RidgeKnn, Lambda: 0.03, TrueWhereKnown: false), MapInput.InputMean),
        new("ridge λ 0.03 on static ⊕ input_mean, 10 % + 2.5 %, pred. vs pred.", new(Budget, 0.10, 0.025, RoundPredictor.Ridge, Lambda: 0.03, TrueWhereKnown: false), MapInput.InputMean),
        new("ridge λ 0.01 on static ⊕ input_mean, 5 % + 5 %, pred. vs pred.", new(Budget, 0.05, 0.05, RoundPredictor.Ridge, Lambda: 0.01, TrueWhereKnown: false), MapInput.InputMean),
    ];

    public static async Task<int> RunAsync(BenchOptions options)
    {
        using var services = StageServices.CreateDefault();
        var transformer = await services.Embedding.GetAsync(new ModelSpec());
        var distilled = await services.Embedding.GetStaticAsync(new ModelSpec { Kind = ModelKind.Static });
        var inputMean = await services.Embedding.GetStaticAsync(new ModelSpec { Kind = ModelKind.InputMean });
        var embedder = new BatchEmbedder(transformer.Embedder, new EmbedStage(0, new EmbedStageSpec()).BatchOptions);
        var modelOptions = EmbeddingRuntime.ModelOptionsOf(new ModelSpec(), new EmbeddingRuntimeOptions());
        var modelSha = Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes((await ModelFiles.ResolveAsync(modelOptions)).ModelPath)));
        var variants = Variants.Select((v, i) => (Index: i, Variant: v)).Where(v => options.Variants is null || options.Variants.Contains(v.Index)).ToList();
        var met = new int[Variants.Length];
        var settingsRun = 0;
        foreach (var loaded in StaticRecipesBenchmark.LoadCorpora(options, transformer.Tokenizer, embedder, modelSha))
        {
            // As in `cascade`: the real corpora are scored on their part held out of the static table's training text.
            var corpus = loaded.Name == "demo" ? loaded : loaded.Subset(HeldOut(loaded), embedder.Dimensions);
            var n = corpus.Texts.Count;
            var (truth, k) = (corpus.Truth, embedder.Dimensions);
            var stat = new float[n * distilled.Table.Dimensions];
            distilled.Table.EmbedMany(corpus.Tokens, stat, new bool[n], options.Threads);
            var d = distilled.Table.Dimensions;
            // The map's other inputs: v3 ⊕ hashed word-piece bigrams (StaticFeatures, half the cosine each), and the input-embedding mean.
            var bigrams = new StaticFeatures(distilled.Table) { BigramDims = 256, BigramShare = 0.5 };
            var withBigrams = bigrams.EmbedMany(corpus.Tokens, options.Threads);
            var mean = new float[n * inputMean.Table.Dimensions];
            inputMean.Table.EmbedMany(corpus.Tokens, mean, new bool[n], options.Threads);
            (float[] Rows, int Dims) Input(MapInput input) => input switch
            {
                MapInput.Bigrams => (withBigrams, bigrams.Dimensions),
                MapInput.InputMean => (Join(stat, d, mean, inputMean.Table.Dimensions, n), d + inputMean.Table.Dimensions),
                MapInput.Both => (Join(withBigrams, bigrams.Dimensions, mean, inputMean.Table.Dimensions, n), bigrams.Dimensions + inputMean.Table.Dimensions),
                _ => (stat, d),
            };
            Console.WriteLine();
            Console.WriteLine($"--- corpus: {corpus.Name} ({n:N0} documents{(corpus.Name == "demo" ? ", in-sample" : $" held out of {loaded.Texts.Count:N0}")}); static v{StaticModelStore.RecipeVersion} {d} dims ---");
            var ranking = Enumerable.Range(0, n).ToArray();
            var truthPairs = corpus.Settings.Select(s => CascadeBenchmark.Pairs(SemanticCascade.FindCandidates(truth, k, ranking, s.Eps))).ToArray();
            Console.WriteLine("settings: " + string.Join("; ", corpus.Settings.Select((s, i) =>
                $"{s.Label} (eps {s.Eps:0.0000}, {truthPairs[i].Count:N0} truth pairs, feasible {StaticRecipesBenchmark.FeasibilityBound(truth, k, n, s.Eps):P1})")));
            Console.WriteLine($"pair recall at ≤ {Budget:P0} embedded, rule set (precision 1); per setting: recall (embedded %); {Machine.Load()}");
            var staticM = SemDeDup.ComputeMaxSimilarity(stat, d, ranking).MaxSimilarity.ToArray();
            foreach (var (index, variant) in variants)
            {
                var watch = Stopwatch.StartNew();
                var asked = 0;
                float[] LookUp(int[] rows)
                {
                    asked += rows.Length;
                    return LookUpRows(truth, k, rows);
                }
                var (features, featureDims) = Input(variant.Input);
                var picks = variant.Rounds is null ? null : CascadeRounds.Pick(stat, d, LookUp, k, variant.Rounds, features, featureDims);
                if (picks is not null && (picks.Length > Math.Floor(Budget * n) || asked != picks.Length || picks.Distinct().Count() != picks.Length))
                    throw new InvalidOperationException($"{variant.Label}: {picks.Length} picks, {asked} embedded, over the budget or repeated");
                var cells = new List<string>();
                var corpusMet = 0;
                for (var s = 0; s < corpus.Settings.Count; s++)
                {
                    if (truthPairs[s].Count == 0) { cells.Add("no truth pairs"); continue; }
                    var eps = corpus.Settings[s].Eps;
                    List<CandidatePair> candidates;
                    if (picks is null)
                    {
                        var floorEps = new SemanticVerifySpec { Budget = Budget }.CandidateEpsFor(eps);
                        var budgetEps = SemanticCascade.BudgetEps(stat, d, ranking, staticM, floorEps, Budget);
                        candidates = budgetEps < 0 ? [] : SemanticCascade.FindCandidates(stat, d, ranking, budgetEps);
                    }
                    else
                    {
                        // The set rule over the picked documents: one chain of pairs (each pick, the lowest pick) names them all.
                        var sorted = picks.Order().ToArray();
                        candidates = [.. sorted.Skip(1).Select(p => new CandidatePair(p, sorted[0], 0))];
                    }
                    var result = SemanticCascade.VerifySet(n, candidates, new int[n], LookUp, k, eps);
                    var (recall, precision) = CascadeBenchmark.Score(CascadeBenchmark.Pairs(result.Verified), truthPairs[s]);
                    var embedded = (double)result.Embedded.Length / n;
                    var goal = recall >= 0.97 && precision >= 0.97 && embedded <= Budget;
                    corpusMet += goal ? 1 : 0;
                    cells.Add($"{recall:0.000}{(precision < 1 ? $" p {precision:0.000}" : "")} ({embedded:P1}){(goal ? " *" : "")}");
                }
                met[index] += corpusMet;
                Console.WriteLine($"  {index,2} {variant.Label,-66} {string.Join(" / ", cells)}  met {corpusMet} of {truthPairs.Count(t => t.Count > 0)}  ({watch.Elapsed.TotalSeconds:0.0} s)");
            }
            // What each rule would need: the same rounds run on to a budget of 60 %; a pair is found once both its documents
            // are picked, so the fraction embedded for recall 0.97 is read off the pick order (one pass: the static ranking).
            Console.WriteLine($"  % embedded for pair recall 0.97 (rounds continued to {SweepBudget:P0}; > {SweepBudget:P0}: not reached):");
            foreach (var (index, variant) in variants.Where(v => v.Variant.Rounds is not null))
            {
                var (features, featureDims) = Input(variant.Input);
                var order = CascadeRounds.Pick(stat, d, rows => LookUpRows(truth, k, rows), k, variant.Rounds! with { Budget = SweepBudget }, features, featureDims);
                var needed = truthPairs.Where(t => t.Count > 0).Select(t => NeededFraction(order, t, n)).Select(f => f > SweepBudget ? $"> {SweepBudget:P0}" : $"{f:P1}");
                Console.WriteLine($"  {index,2} {variant.Label,-66} {string.Join(" / ", needed)}");
            }
            settingsRun += truthPairs.Count(t => t.Count > 0);
        }
        Console.WriteLine();
        Console.WriteLine($"cascade goal (recall ≥ 0.97, precision ≥ 0.97, ≤ {Budget:P0} embedded) met, of {settingsRun} settings:");
        foreach (var (index, variant) in variants) Console.WriteLine($"  {index,2} {variant.Label,-66} {met[index]}");
        return 0;
    }

    /// <summary>The fraction of the n documents that must be picked, in <paramref name="order"/>, for 97 % of <paramref name="truth"/>'s pairs to have both ends picked.</summary>
    internal static double NeededFraction(int[] order, HashSet<(int, int)> truth, int n)
    {
        var position = new int[n];
        Array.Fill(position, int.MaxValue);
        for (var i = 0; i < order.Length; i++) position[order[i]] = i;
        var found = truth.Select(p => Math.Max(position[p.Item1], position[p.Item2])).Order().ToArray();
        var last = found[(int)Math.Ceiling(0.97 * found.Length) - 1];
        return last == int.MaxValue ? double.PositiveInfinity : (last + 1.0) / n;
    }

    /// <summary>Row by row a ⊕ b, each half scaled by √½ (rows of unit vectors stay unit vectors).</summary>
    private static float[] Join(float[] a, int aDims, float[] b, int bDims, int n)
    {
        var joined = new float[n * (aDims + bDims)];
        var half = MathF.Sqrt(0.5f);
        for (var r = 0; r < n; r++)
        {
            var row = joined.AsSpan(r * (aDims + bDims), aDims + bDims);
            TensorPrimitives.Multiply(a.AsSpan(r * aDims, aDims), half, row[..aDims]);
            TensorPrimitives.Multiply(b.AsSpan(r * bDims, bDims), half, row[aDims..]);
        }
        return joined;
    }

    private static float[] LookUpRows(float[] truth, int k, int[] rows)
    {
        var vectors = new float[rows.Length * k];
        for (var i = 0; i < rows.Length; i++) truth.AsSpan(rows[i] * k, k).CopyTo(vectors.AsSpan(i * k, k));
        return vectors;
    }

    private static Func<int, bool> HeldOut(StaticRecipesBenchmark.Corpus corpus)
    {
        var keep = CascadeBenchmark.HeldOutRows(corpus.Texts, corpus.Name == "debian-docs" ? corpus.Ids : null);
        return i => keep[i];
    }
}
