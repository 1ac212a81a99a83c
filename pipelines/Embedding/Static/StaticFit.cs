using System.Diagnostics;
using Microsoft.Extensions.Logging;

namespace Curation.Pipelines.Embedding.Static;

/// <summary>
/// Fits a static table to the transformer's document vectors of a training text (the idea of Model2Vec's Tokenlearn, in
/// its closed-form linear version): W = (XᵀX + λ·tr(XᵀX)/d·I)⁻¹XᵀY, X the table's normalised document vectors
/// [n × d], Y the transformer's [n × k]. A document vector is a weighted sum of rows, so W folds into the table (every
/// row times W): the fitted table costs what the table cost. With <c>outputDims</c> &lt; k, W is followed by the
/// projection on the first principal directions of the mapped training documents (W·Pᵀ, d × outputDims).
/// <para>
/// Deterministic: document vectors, XᵀX, XᵀY, the Cholesky solve, the PCA (<see cref="Pca"/>) and the fold are computed
/// in double, single-threaded within a row, in a fixed order; no reduction depends on SIMD width or thread count. The
/// transformer targets are rounded to float16 precision (as the per-token pass is), so the fitted bytes agree wherever
/// ONNX Runtime's kernels agree within that rounding.
/// </para>
/// </summary>
public static class StaticFit
{
    /// <summary>The ridge coefficient, relative to tr(XᵀX)/d (measured by <c>bench static-fit</c>).</summary>
    public const double Lambda = 0.01;

    private const int Batch = 32;

    /// <summary>
    /// The transformer's vectors of <paramref name="documents"/> (each cut to its first <see cref="OnnxEmbedder.MaxSequenceLength"/>
    /// word pieces), rounded to float16 precision; row-major [documents × <see cref="OnnxEmbedder.Dimensions"/>].
    /// </summary>
    public static float[] Targets(OnnxEmbedder embedder, IReadOnlyList<ReadOnlyMemory<int>> documents, ILogger? logger, CancellationToken cancellationToken)
    {
        var k = embedder.Dimensions;
        var targets = new float[(long)documents.Count * k];
        var batch = new ReadOnlyMemory<int>[Batch];
        var clock = Stopwatch.StartNew();
        for (var start = 0; start < documents.Count; start += Batch)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var count = Math.Min(Batch, documents.Count - start);
            for (var i = 0; i < count; i++)
            {
                var document = documents[start + i];
                batch[i] = document.Length > embedder.MaxSequenceLength ? document[..embedder.MaxSequenceLength] : document;
            }
            embedder.Embed(batch.AsSpan(0, count), targets.AsSpan(start * k, count * k));
            if (start / Batch % 16 == 0)
                logger?.LogInformation("Static fit: the transformer embedded {Done}/{Total} training documents, {Seconds:0} s", start + count, documents.Count, clock.Elapsed.TotalSeconds);
        }
        for (var i = 0; i < targets.Length; i++) targets[i] = (float)(Half)targets[i];
        return targets;
    }

    /// <summary>
    /// The table's normalised document vectors in double (pooled as <see cref="StaticModel.Embed"/> pools: distinct pieces in
    /// first-occurrence order, each weighted per <see cref="StaticModel.Pooling"/>); row-major [documents × Dimensions].
    /// </summary>
    public static double[] DocumentVectors(StaticModel table, IReadOnlyList<ReadOnlyMemory<int>> documents)
    {
        var d = table.Dimensions;
        var x = new double[(long)documents.Count * d];
        Parallel.For(0, documents.Count, r =>
        {
            var row = x.AsSpan(r * d, d);
            var tokens = documents[r].Span;
            var counts = new Dictionary<int, int>();
            var order = new List<int>();
            foreach (var t in tokens)
            {
                if ((uint)t >= (uint)table.VocabularySize) throw new ArgumentOutOfRangeException(nameof(documents), t, "token id outside the vocabulary");
                if (counts.TryGetValue(t, out var c)) counts[t] = c + 1;
                else { counts[t] = 1; order.Add(t); }
            }
            foreach (var t in table.Pooling == StaticPooling.Mean ? tokens.ToArray() : order.ToArray())
            {
                var weight = table.Pooling switch
                {
                    StaticPooling.SqrtTf => Math.Sqrt(counts[t]),
                    _ => 1.0,
                };
                var source = table.Table.AsSpan(t * d, d);
                for (var i = 0; i < d; i++) row[i] += weight * source[i];
            }
            double norm = 0;
            for (var i = 0; i < d; i++) norm += row[i] * row[i];
            if (norm > 0)
            {
                norm = Math.Sqrt(norm);
                for (var i = 0; i < d; i++) row[i] /= norm;
            }
        });
        return x;
    }

    /// <summary>W = (XᵀX + λ·tr(XᵀX)/d·I)⁻¹XᵀY by Cholesky in double: [d × k]; X [n × d], Y [n × k].</summary>
    public static double[] Ridge(double[] x, int d, float[] y, int k, int n, double lambda)
    {
        var a = new double[d * d];
        var b = new double[d * k];
        for (var r = 0; r < n; r++)
        {
            var xr = x.AsSpan(r * d, d);
            var yr = y.AsSpan(r * k, k);
            for (var i = 0; i < d; i++)
            {
                var xi = xr[i];
                if (xi == 0) continue;
                for (var j = 0; j <= i; j++) a[i * d + j] += xi * xr[j];
                for (var j = 0; j < k; j++) b[i * k + j] += xi * yr[j];
            }
        }
        double trace = 0;
        for (var i = 0; i < d; i++) trace += a[i * d + i];
        for (var i = 0; i < d; i++) a[i * d + i] += lambda * trace / d;
        Model.Cholesky.Factor(a, d);
        var column = new double[d];
        var solved = new double[d];
        for (var c = 0; c < k; c++)
        {
            for (var i = 0; i < d; i++) column[i] = b[i * k + c];
            Model.Cholesky.Solve(a, d, column, solved);
            for (var i = 0; i < d; i++) b[i * k + c] = solved[i];
        }
        return b;
    }

    /// <summary>
    /// W [d × k] followed by the projection on the first <paramref name="outputDims"/> principal directions of the mapped
    /// training documents (X·W): W·Pᵀ, [d × outputDims]. The projection is a rotation plus a cut, so cosines are kept as far
    /// as the dropped directions allow.
    /// </summary>
    public static double[] Reduce(double[] w, int d, int k, double[] x, int n, int outputDims)
    {
        var mapped = new float[(long)n * k];
        for (var r = 0; r < n; r++)
            for (var j = 0; j < k; j++)
            {
                double sum = 0;
                for (var i = 0; i < d; i++) sum += x[r * d + i] * w[i * k + j];
                mapped[r * k + j] = (float)sum;
            }
        var pca = Pca.Fit(mapped, k, outputDims);
        var reduced = new double[d * outputDims];
        for (var i = 0; i < d; i++)
            for (var c = 0; c < outputDims; c++)
            {
                double sum = 0;
                for (var j = 0; j < k; j++) sum += w[i * k + j] * pca.Components[c * k + j];
                reduced[i * outputDims + c] = sum;
            }
        return reduced;
    }

    /// <summary>Every row of the table times W [d × k] (double, fixed order), pooled as the table was.</summary>
    public static StaticModel Fold(StaticModel table, double[] w, int k)
    {
        var d = table.Dimensions;
        if (w.Length != d * k) throw new ArgumentException($"W must be {d} × {k}.", nameof(w));
        var rows = new float[(long)table.VocabularySize * k];
        Parallel.For(0, table.VocabularySize, t =>
        {
            var source = table.Table.AsSpan(t * d, d);
            var target = new double[k];
            for (var i = 0; i < d; i++)
            {
                double v = source[i];
                if (v == 0) continue;
                for (var j = 0; j < k; j++) target[j] += v * w[i * k + j];
            }
            for (var j = 0; j < k; j++) rows[t * k + j] = (float)target[j];
        });
        return new StaticModel(table.Recipe, table.VocabularySize, k, rows) { Pooling = table.Pooling };
    }

    /// <summary>
    /// The whole fit: <paramref name="table"/>'s document vectors of <paramref name="documents"/>, the ridge map to
    /// <paramref name="targets"/> ([documents × <paramref name="targetDims"/>]), reduced to <paramref name="outputDims"/>
    /// when fewer, folded into the table.
    /// </summary>
    public static StaticModel Fit(StaticModel table, IReadOnlyList<ReadOnlyMemory<int>> documents, float[] targets, int targetDims, double lambda, int outputDims)
    {
        if (targets.Length != (long)documents.Count * targetDims) throw new ArgumentException("one target row per document", nameof(targets));
        if (outputDims < 1 || outputDims > targetDims) throw new ArgumentOutOfRangeException(nameof(outputDims), outputDims, $"must be between 1 and {targetDims}");
        var d = table.Dimensions;
        var x = DocumentVectors(table, documents);
        var w = Ridge(x, d, targets, targetDims, documents.Count, lambda);
        if (outputDims < targetDims) w = Reduce(w, d, targetDims, x, documents.Count, outputDims);
        return Fold(table, w, outputDims);
    }
}
