using Curation.Pipelines.Embedding.Static;

namespace Curation.Bench;

/// <summary>
/// A fit toward the transformer's <b>similarity structure</b> rather than its vectors (issue 17, round 7): a linear map W
/// (k × k, from the identity) on a table's normalised document vectors x, so that the cosines of the mapped vectors
/// cos(W·x_i, W·x_j) match the transformer's t_ij on the training pairs that matter for pair recall — every pair whose
/// transformer or static cosine reaches <c>threshold</c>. Loss Σ (cos − t)² + μ‖W − I‖², Adam in double, a fixed number
/// of full-batch steps; W folds into the rows as the ridge map does (<see cref="StaticFit.Fold"/>). Deterministic: pairs
/// in (i, j) order, every sum in double in a fixed order; the parallel loops write disjoint rows.
/// </summary>
internal static class StaticPairFit
{
    public static (StaticModel Table, int Pairs, double LossBefore, double LossAfter) Fit(StaticModel table, IReadOnlyList<ReadOnlyMemory<int>> documents,
        float[] targets, double threshold, int steps, double rate, double mu)
    {
        var k = table.Dimensions;
        var n = documents.Count;
        var x = StaticFit.DocumentVectors(table, documents);
        var y = new double[(long)n * k];
        for (var i = 0; i < n; i++)
        {
            double norm = 0;
            for (var c = 0; c < k; c++) norm += (double)targets[i * k + c] * targets[i * k + c];
            norm = Math.Sqrt(norm);
            for (var c = 0; c < k; c++) y[i * k + c] = norm == 0 ? 0 : targets[i * k + c] / norm;
        }
        var pairs = new List<(int I, int J, double T)>();
        for (var i = 0; i < n; i++)
            for (var j = i + 1; j < n; j++)
            {
                double t = 0, s = 0;
                for (var c = 0; c < k; c++) { t += y[i * k + c] * y[j * k + c]; s += x[i * k + c] * x[j * k + c]; }
                if (Math.Max(t, s) >= threshold) pairs.Add((i, j, t));
            }

        var w = new double[k * k];
        for (var c = 0; c < k; c++) w[c * k + c] = 1;
        var m1 = new double[k * k];
        var m2 = new double[k * k];
        var grad = new double[k * k];
        var v = new double[(long)n * k];
        var z = new double[(long)n * k];
        var norms = new double[n];
        var gz = new double[(long)n * k];
        double lossBefore = double.NaN, loss = 0;
        for (var step = 0; step <= steps; step++)
        {
            // v_i = W·x_i, z_i = v_i / |v_i|.
            Parallel.For(0, n, i =>
            {
                double norm = 0;
                for (var a = 0; a < k; a++)
                {
                    double sum = 0;
                    for (var b = 0; b < k; b++) sum += w[a * k + b] * x[i * k + b];
                    v[i * k + a] = sum;
                    norm += sum * sum;
                }
                norm = Math.Sqrt(norm);
                norms[i] = norm;
                for (var a = 0; a < k; a++) z[i * k + a] = norm == 0 ? 0 : v[i * k + a] / norm;
            });
            Array.Clear(gz);
            loss = 0;
            foreach (var (i, j, t) in pairs)
            {
                double cos = 0;
                for (var c = 0; c < k; c++) cos += z[i * k + c] * z[j * k + c];
                var e = cos - t;
                loss += e * e;
                for (var c = 0; c < k; c++)
                {
                    gz[i * k + c] += 2 * e * z[j * k + c];
                    gz[j * k + c] += 2 * e * z[i * k + c];
                }
            }
            double drift = 0;
            for (var a = 0; a < k; a++)
                for (var b = 0; b < k; b++) { var d = w[a * k + b] - (a == b ? 1 : 0); drift += d * d; }
            loss += mu * drift;
            if (step == 0) lossBefore = loss;
            if (step == steps) break;
            // Through the normalisation: g_v = (g_z − (g_z·z) z) / |v|.
            Parallel.For(0, n, i =>
            {
                if (norms[i] == 0) return;
                double dot = 0;
                for (var c = 0; c < k; c++) dot += gz[i * k + c] * z[i * k + c];
                for (var c = 0; c < k; c++) gz[i * k + c] = (gz[i * k + c] - dot * z[i * k + c]) / norms[i];
            });
            // dL/dW[a, b] = Σ_i g_v[i, a]·x[i, b] + 2μ(W − I)[a, b]; rows of W independent.
            Parallel.For(0, k, a =>
            {
                var row = grad.AsSpan(a * k, k);
                row.Clear();
                for (var i = 0; i < n; i++)
                {
                    var g = gz[i * k + a];
                    if (g == 0) continue;
                    for (var b = 0; b < k; b++) row[b] += g * x[i * k + b];
                }
                for (var b = 0; b < k; b++) row[b] += 2 * mu * (w[a * k + b] - (a == b ? 1 : 0));
            });
            const double beta1 = 0.9, beta2 = 0.999, epsilon = 1e-12;
            var c1 = 1 - Math.Pow(beta1, step + 1);
            var c2 = 1 - Math.Pow(beta2, step + 1);
            for (var p = 0; p < w.Length; p++)
            {
                m1[p] = beta1 * m1[p] + (1 - beta1) * grad[p];
                m2[p] = beta2 * m2[p] + (1 - beta2) * grad[p] * grad[p];
                w[p] -= rate * (m1[p] / c1) / (Math.Sqrt(m2[p] / c2) + epsilon);
            }
        }
        // Fold: every row r becomes W·r, i.e. the matrix StaticFit.Fold multiplies by is Wᵀ ([d × k], row-vector convention).
        var fold = new double[k * k];
        for (var a = 0; a < k; a++)
            for (var b = 0; b < k; b++) fold[b * k + a] = w[a * k + b];
        return (StaticFit.Fold(table, fold, k), pairs.Count, lossBefore, loss);
    }
}
