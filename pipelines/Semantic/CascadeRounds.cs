using System.Numerics.Tensors;
using Curation.Pipelines.Embedding.Static;

namespace Curation.Pipelines.Semantic;

/// <summary>How <see cref="CascadeRounds"/> predicts a transformer vector for a document the transformer has not embedded yet.</summary>
public enum RoundPredictor
{
    /// <summary>No prediction: every round ranks by the static score (the one-pass budget rule, spent in batches).</summary>
    None,

    /// <summary>A ridge map static → transformer fitted on the documents embedded so far (closed form, <see cref="StaticFit.Ridge"/>).</summary>
    Ridge,

    /// <summary>The ridge prediction plus the mean ridge residual (transformer − predicted) of the k nearest embedded documents by static cosine.</summary>
    RidgeKnn,

    /// <summary>No map: the static-cosine-weighted mean of the transformer vectors of the k nearest embedded documents.</summary>
    Knn,
}

/// <param name="Budget">The most documents embedded, as a fraction of the members (⌊budget × n⌋).</param>
/// <param name="FirstBatch">Round 1: the fraction embedded by the static score alone.</param>
/// <param name="Batch">Every later round: the fraction embedded by the rescored ranking.</param>
/// <param name="Predictor">How the not-yet-embedded documents' transformer vectors are predicted.</param>
/// <param name="Lambda">The ridge coefficient, relative to tr(XᵀX)/d (as <see cref="StaticFit.Ridge"/>).</param>
/// <param name="Refit">Refit the map after every round (true) or keep the one fitted after round 1.</param>
/// <param name="Neighbours">k of <see cref="RoundPredictor.RidgeKnn"/> and <see cref="RoundPredictor.Knn"/>.</param>
/// <param name="TrueWhereKnown">
/// An embedded document is compared by its transformer vector (true) or, like the others, by its prediction (false: every
/// cosine is prediction against prediction, so the map's smoothing biases no pair).
/// </param>
/// <param name="StaticWeight">w of a document's score w·(static score) + (1 − w)·(score in the predicted space); 0: the predicted alone.</param>
/// <param name="Explore">
/// Round 1 also embeds this fraction of the members spread evenly over the rest of the static ranking (every j-th), so the
/// map is fitted on more than the documents the static tier already ranks highest.
/// </param>
public sealed record CascadeRoundsSettings(double Budget, double FirstBatch, double Batch, RoundPredictor Predictor, double Lambda = 0.1, bool Refit = true,
    int Neighbours = 10, bool TrueWhereKnown = true, double StaticWeight = 0, double Explore = 0);

/// <summary>
/// The cascade's transformer budget spent in rounds (a bench-measured candidate rule for <c>semantic_dedup.verify</c>;
/// the stage does not use it): round 1 embeds the documents whose highest static cosine to any other member is
/// highest; then, transductively on this cluster, a map static → transformer is fitted on the documents embedded so far,
/// every other document gets a predicted transformer vector, and each document's score becomes its highest cosine to
/// any other member — the true transformer vector where known, the predicted one otherwise; the next batch is the
/// highest-scoring documents not yet embedded; repeat until the budget is spent. The caller then decides the pairs among
/// the embedded documents (the <c>set</c> rule, <see cref="SemanticCascade.VerifySet"/>).
/// <para>
/// Deterministic: scores are computed row by row in a fixed order (threads split rows, never a sum), ties go to the lower
/// member index, the map is solved in double in a fixed order (<see cref="StaticFit.Ridge"/>), and the embed callback is
/// asked for each batch in ascending member order. Never embeds more than ⌊budget × n⌋ documents, never one twice.
/// </para>
/// </summary>
public static class CascadeRounds
{
    /// <summary>
    /// The documents to embed, in the order they were picked (round by round; within a round by score, ties to the lower
    /// index), so a prefix is what a smaller budget would have embedded up to its last, partial round. <paramref name="staticVectors"/>: n
    /// normalised rows of <paramref name="staticDims"/>; <paramref name="embed"/> returns the transformer's rows
    /// (<paramref name="transformerDims"/> each, normalised) of the ids given, in their order.
    /// </summary>
    /// <param name="features">
    /// The map's input, n rows of <paramref name="featureDims"/> (for instance the static vector joined with other O(tokens)
    /// features of the same document); null: the static vectors. Ranking and kNN neighbours always use the static vectors.
    /// </param>
    public static int[] Pick(float[] staticVectors, int staticDims, Func<int[], float[]> embed, int transformerDims, CascadeRoundsSettings settings,
        float[]? features = null, int featureDims = 0)
    {
        ArgumentNullException.ThrowIfNull(staticVectors);
        ArgumentNullException.ThrowIfNull(embed);
        ArgumentNullException.ThrowIfNull(settings);
        if (staticDims <= 0 || staticVectors.Length % staticDims != 0) throw new ArgumentException($"{staticVectors.Length} floats are not rows of {staticDims}.", nameof(staticVectors));
        if (settings.FirstBatch <= 0 || settings.Batch <= 0) throw new ArgumentOutOfRangeException(nameof(settings), "batches must be positive fractions");
        var n = staticVectors.Length / staticDims;
        if (features is null) (features, featureDims) = (staticVectors, staticDims);
        else if (featureDims <= 0 || features.Length != (long)n * featureDims) throw new ArgumentException($"{features.Length} floats are not {n} rows of {featureDims}.", nameof(features));
        var cap = Math.Max(0, (int)Math.Floor(settings.Budget * n));
        var picks = new List<int>(cap);
        var embedded = new bool[n];
        var truth = new float[(long)n * transformerDims];
        var staticScore = HighestCosine(staticVectors, staticDims, embedded);

        void Take(float[] score, int count)
        {
            var ranked = Enumerable.Range(0, n).Where(i => !embedded[i]).OrderByDescending(i => score[i]).ThenBy(i => i).Take(count).ToArray();
            if (ranked.Length == 0) return;
            var batch = ranked.Order().ToArray();
            var rows = embed(batch);
            if (rows.Length != batch.Length * transformerDims)
                throw new InvalidOperationException($"The verifier returned {rows.Length} floats for {batch.Length} members of {transformerDims} dimensions.");
            for (var i = 0; i < batch.Length; i++)
            {
                rows.AsSpan(i * transformerDims, transformerDims).CopyTo(truth.AsSpan(batch[i] * transformerDims, transformerDims));
                embedded[batch[i]] = true;
            }
            picks.AddRange(ranked);
        }

        Take(staticScore, Math.Min(cap, Math.Max(1, (int)Math.Floor(settings.FirstBatch * n))));
        var explore = Math.Min(cap - picks.Count, (int)Math.Floor(settings.Explore * n));
        if (explore > 0)
        {
            var rest = Enumerable.Range(0, n).Where(i => !embedded[i]).OrderByDescending(i => staticScore[i]).ThenBy(i => i).ToArray();
            var spread = new float[n]; // the evenly spaced ranks score highest, in rank order
            for (var j = 0; j < explore; j++) spread[rest[(int)((long)j * rest.Length / explore)]] = explore - j;
            Take(spread, explore);
        }
        var batchSize = Math.Max(1, (int)Math.Floor(settings.Batch * n));
        double[]? map = null;
        while (picks.Count < cap && picks.Count < n)
        {
            var score = staticScore;
            if (settings.Predictor != RoundPredictor.None)
            {
                if (settings.Predictor != RoundPredictor.Knn && (map is null || settings.Refit)) map = Fit(features, featureDims, truth, transformerDims, picks, settings.Lambda);
                var joint = Predict(staticVectors, staticDims, features, featureDims, truth, transformerDims, embedded, picks, map, settings);
                score = HighestCosine(joint, transformerDims, embedded);
                if (settings.StaticWeight != 0)
                    for (var u = 0; u < n; u++) score[u] = (float)(settings.StaticWeight * staticScore[u] + (1 - settings.StaticWeight) * score[u]);
            }
            Take(score, Math.Min(batchSize, cap - picks.Count));
        }
        return [.. picks];
    }

    /// <summary>
    /// Each row's highest cosine to any other row (rows of <paramref name="dims"/>, normalised); rows with
    /// <paramref name="skip"/> set get −∞ (not computed). Row by row, the same bits whatever the thread count.
    /// </summary>
    public static float[] HighestCosine(float[] vectors, int dims, bool[] skip)
    {
        ArgumentNullException.ThrowIfNull(vectors);
        ArgumentNullException.ThrowIfNull(skip);
        var n = vectors.Length / dims;
        var highest = new float[n];
        Parallel.For(0, n, u =>
        {
            if (skip[u]) { highest[u] = float.NegativeInfinity; return; }
            var row = vectors.AsSpan(u * dims, dims);
            var best = float.NegativeInfinity;
            for (var v = 0; v < n; v++)
            {
                if (v == u) continue;
                var cosine = TensorPrimitives.Dot(row, vectors.AsSpan(v * dims, dims));
                if (cosine > best) best = cosine;
            }
            highest[u] = best;
        });
        return highest;
    }

    /// <summary>The ridge map [staticDims × transformerDims] fitted on the embedded documents (feature row → transformer row).</summary>
    private static double[] Fit(float[] staticVectors, int staticDims, float[] truth, int transformerDims, List<int> picks, double lambda)
    {
        var x = new double[(long)picks.Count * staticDims];
        var y = new float[(long)picks.Count * transformerDims];
        for (var r = 0; r < picks.Count; r++)
        {
            var source = staticVectors.AsSpan(picks[r] * staticDims, staticDims);
            for (var i = 0; i < staticDims; i++) x[r * staticDims + i] = source[i];
            truth.AsSpan(picks[r] * transformerDims, transformerDims).CopyTo(y.AsSpan(r * transformerDims, transformerDims));
        }
        return StaticFit.Ridge(x, staticDims, y, transformerDims, picks.Count, lambda);
    }

    /// <summary>
    /// Every member in the transformer's space, normalised: its transformer row where embedded, its prediction otherwise.
    /// </summary>
    private static float[] Predict(float[] staticVectors, int staticDims, float[] features, int featureDims, float[] truth, int k, bool[] embedded, List<int> picks, double[]? map,
        CascadeRoundsSettings settings)
    {
        var n = embedded.Length;
        var joint = new float[(long)n * k];
        // The ridge prediction of every member (the embedded ones' too: RidgeKnn needs their residuals).
        var mapped = map is null ? null : new float[(long)n * k];
        if (mapped is not null)
            Parallel.For(0, n, u =>
            {
                var x = features.AsSpan(u * featureDims, featureDims);
                var row = mapped.AsSpan(u * k, k);
                for (var j = 0; j < k; j++)
                {
                    double sum = 0;
                    for (var i = 0; i < featureDims; i++) sum += x[i] * map![i * k + j];
                    row[j] = (float)sum;
                }
            });
        Parallel.For(0, n, u =>
        {
            var row = joint.AsSpan(u * k, k);
            if (embedded[u] && (settings.TrueWhereKnown || settings.Predictor == RoundPredictor.Knn)) { truth.AsSpan(u * k, k).CopyTo(row); return; }
            if (mapped is not null) mapped.AsSpan(u * k, k).CopyTo(row);
            if (settings.Predictor is RoundPredictor.RidgeKnn or RoundPredictor.Knn)
            {
                var start = u * staticDims;
                var near = picks.Select(p => (Member: p, Cosine: TensorPrimitives.Dot(staticVectors.AsSpan(start, staticDims), staticVectors.AsSpan(p * staticDims, staticDims))))
                    .OrderByDescending(p => p.Cosine).ThenBy(p => p.Member).Take(settings.Neighbours).ToArray();
                foreach (var (member, cosine) in near)
                {
                    var target = truth.AsSpan(member * k, k);
                    if (settings.Predictor == RoundPredictor.Knn)
                    {
                        var weight = Math.Max(0f, cosine);
                        for (var j = 0; j < k; j++) row[j] += weight * target[j];
                    }
                    else
                    {
                        var predicted = mapped!.AsSpan(member * k, k);
                        for (var j = 0; j < k; j++) row[j] += (target[j] - predicted[j]) / near.Length;
                    }
                }
            }
            var norm = TensorPrimitives.Norm(row);
            if (norm > 0) TensorPrimitives.Divide(row, norm, row);
        });
        return joint;
    }
}
