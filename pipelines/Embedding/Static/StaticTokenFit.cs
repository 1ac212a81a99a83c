namespace Curation.Pipelines.Embedding.Static;

/// <summary>
/// A token-level fit of a static table to the transformer (Model2Vec's Tokenlearn idea, in a linear least-squares form):
/// the rows of the tokens that occur in the training text move so that each training document's pooled vector matches
/// the transformer's, regularised toward the rows they start from (so a token the text never shows keeps its row).
/// <para>
/// Document d's pooled vector is u_d = Σ_t a_dt·E[t] (a_dt = √tf, <see cref="StaticPooling.SqrtTf"/>); the fit keeps each
/// document's scale as the starting table gives it (c_dt = a_dt / |u⁰_d|, so the starting vector s⁰_d = Σ c_dt·E⁰[t] is
/// unit) and solves, for the change Δ = E − E⁰ of the seen rows,
/// min Σ_d ‖Σ_t c_dt·Δ[t] − (y_d − s⁰_d)‖² + μ·Σ_t ‖Δ[t]‖², μ = λ·tr(AᵀA)/m (A the n × m matrix of the c_dt, m the
/// tokens seen). Two forms: <see cref="FitRows"/> (every seen row free: m × k unknowns) and <see cref="FitWeights"/>
/// (one scale g_t per seen row: m unknowns, E[t] = g_t·E⁰[t], μ relative to tr(BᵀB)/m of that problem).
/// Both are solved by conjugate gradients on the normal equations, a fixed number of iterations from Δ = 0 (early
/// stopping regularises too).
/// </para>
/// <para>
/// Deterministic: tokens are indexed in order of first occurrence in the training documents, every sum is in double in a
/// fixed order, scalar (no SIMD-width-dependent reduction); <see cref="FitRows"/> solves each output column on its own
/// (columns run in parallel, but no sum spans two columns), <see cref="FitWeights"/> parallelises only over independent
/// rows or documents. The same inputs give the same bytes on every machine and thread count.
/// </para>
/// </summary>
public static class StaticTokenFit
{
    /// <summary>The training text as a sparse matrix: per document its distinct seen tokens (compact index) and c_dt.</summary>
    private sealed class Design
    {
        public required int[] Tokens { get; init; }            // compact index → vocabulary id
        public required int[] DocStart { get; init; }          // CSR over documents: [DocStart[d], DocStart[d + 1])
        public required int[] DocToken { get; init; }
        public required double[] DocWeight { get; init; }
        public required int[] TokenStart { get; init; }        // CSC over tokens, documents in order
        public required int[] TokenDoc { get; init; }
        public required double[] TokenWeight { get; init; }
        public required double[] Residual { get; init; }       // [n × k]: y_d − s⁰_d

        public int Documents => DocStart.Length - 1;
        public int Seen => Tokens.Length;
    }

    /// <summary>Every seen row free (m × k unknowns); returns the fitted table (same width, unseen rows unchanged).</summary>
    /// <param name="table">The starting table E⁰ (its width must be the targets' width).</param>
    /// <param name="documents">The training documents' word pieces.</param>
    /// <param name="targets">The transformer's normalised vectors [documents × table.Dimensions].</param>
    /// <param name="lambda">μ relative to tr(AᵀA)/m.</param>
    /// <param name="iterations">Conjugate-gradient iterations.</param>
    public static StaticModel FitRows(StaticModel table, IReadOnlyList<ReadOnlyMemory<int>> documents, float[] targets, double lambda, int iterations)
    {
        var design = Build(table, documents, targets);
        var k = table.Dimensions;
        var n = design.Documents;
        var m = design.Seen;
        double trace = 0;
        foreach (var w in design.DocWeight) trace += w * w;
        var mu = lambda * trace / Math.Max(1, m);
        var rows = (float[])table.Table.Clone();
        Parallel.For(0, k, () => (X: new double[m], R: new double[m], P: new double[m], Ap: new double[m], Q: new double[n], B: new double[m]),
            (j, _, s) =>
            {
                // b = Aᵀ·(column j of the residual).
                for (var d = 0; d < n; d++) s.Q[d] = design.Residual[d * k + j];
                TransposeTimes(design, s.Q, s.B);
                Array.Clear(s.X);
                Solve(s.B, s.X, s.R, s.P, s.Ap, iterations, p =>
                {
                    Times(design, p, s.Q);
                    TransposeTimes(design, s.Q, s.Ap);
                    for (var t = 0; t < m; t++) s.Ap[t] += mu * p[t];
                    return s.Ap;
                });
                for (var t = 0; t < m; t++)
                {
                    var index = (long)design.Tokens[t] * k + j;
                    rows[index] = (float)(rows[index] + s.X[t]);
                }
                return s;
            },
            _ => { });
        return new StaticModel(table.Recipe, table.VocabularySize, k, rows) { Pooling = table.Pooling };
    }

    /// <summary>One scale per seen row (E[t] = g_t·E⁰[t], g_t ≥ 0); returns the fitted table (unseen rows unchanged).</summary>
    public static StaticModel FitWeights(StaticModel table, IReadOnlyList<ReadOnlyMemory<int>> documents, float[] targets, double lambda, int iterations)
    {
        var design = Build(table, documents, targets);
        var k = table.Dimensions;
        var n = design.Documents;
        var m = design.Seen;
        var source = table.Table;
        // tr(BᵀB) = Σ_t Σ_d c_dt²·‖E⁰[t]‖².
        var rowNorm2 = new double[m];
        for (var t = 0; t < m; t++)
        {
            double sum = 0;
            var row = (long)design.Tokens[t] * k;
            for (var i = 0; i < k; i++) sum += (double)source[row + i] * source[row + i];
            rowNorm2[t] = sum;
        }
        double trace = 0;
        for (var t = 0; t < m; t++)
            for (var e = design.TokenStart[t]; e < design.TokenStart[t + 1]; e++) trace += design.TokenWeight[e] * design.TokenWeight[e] * rowNorm2[t];
        var mu = lambda * trace / Math.Max(1, m);
        var q = new double[(long)n * k];

        // v = B·h: per document Σ_t c_dt·h_t·E⁰[t] (documents independent).
        void Times(double[] h, double[] v) => Parallel.For(0, n, d =>
        {
            var target = v.AsSpan(d * k, k);
            target.Clear();
            for (var e = design.DocStart[d]; e < design.DocStart[d + 1]; e++)
            {
                var scale = design.DocWeight[e] * h[design.DocToken[e]];
                if (scale == 0) continue;
                var row = (long)design.Tokens[design.DocToken[e]] * k;
                for (var i = 0; i < k; i++) target[i] += scale * source[row + i];
            }
        });
        // h = Bᵀ·v: per token Σ_d c_dt·(E⁰[t]·v_d) (tokens independent, documents in order).
        void TransposeTimes(double[] v, double[] h) => Parallel.For(0, m, t =>
        {
            var row = (long)design.Tokens[t] * k;
            double sum = 0;
            for (var e = design.TokenStart[t]; e < design.TokenStart[t + 1]; e++)
            {
                var d = design.TokenDoc[e];
                double dot = 0;
                for (var i = 0; i < k; i++) dot += source[row + i] * v[d * k + i];
                sum += design.TokenWeight[e] * dot;
            }
            h[t] = sum;
        });

        var b = new double[m];
        TransposeTimes(design.Residual, b);
        var x = new double[m];
        var ap = new double[m];
        Solve(b, x, new double[m], new double[m], ap, iterations, p =>
        {
            Times(p, q);
            TransposeTimes(q, ap);
            for (var t = 0; t < m; t++) ap[t] += mu * p[t];
            return ap;
        });
        var rows = (float[])source.Clone();
        for (var t = 0; t < m; t++)
        {
            var g = Math.Max(0, 1 + x[t]);
            var row = (long)design.Tokens[t] * k;
            for (var i = 0; i < k; i++) rows[row + i] = (float)(source[row + i] * g);
        }
        return new StaticModel(table.Recipe, table.VocabularySize, k, rows) { Pooling = table.Pooling };
    }

    /// <summary>
    /// The table projected on the first <paramref name="outputDims"/> principal directions of its normalised document
    /// vectors of <paramref name="documents"/> (not centred: a rotation plus a cut, as <see cref="StaticFit.Reduce"/>).
    /// </summary>
    public static StaticModel Reduce(StaticModel table, IReadOnlyList<ReadOnlyMemory<int>> documents, int outputDims)
    {
        var k = table.Dimensions;
        var x = StaticFit.DocumentVectors(table, documents);
        var mapped = new float[x.Length];
        for (var i = 0; i < x.Length; i++) mapped[i] = (float)x[i];
        var pca = Pca.Fit(mapped, k, outputDims);
        var rows = new float[(long)table.VocabularySize * outputDims];
        Parallel.For(0, table.VocabularySize, t =>
        {
            var source = table.Table.AsSpan(t * k, k);
            for (var c = 0; c < outputDims; c++)
            {
                double sum = 0;
                var component = pca.Components.AsSpan(c * k, k);
                for (var i = 0; i < k; i++) sum += source[i] * component[i];
                rows[(long)t * outputDims + c] = (float)sum;
            }
        });
        return new StaticModel(table.Recipe, table.VocabularySize, outputDims, rows) { Pooling = table.Pooling };
    }

    /// <summary>
    /// Conjugate gradients on a symmetric positive definite system (x starts at 0): <paramref name="times"/>(p) returns
    /// the operator applied to p. Stops after <paramref name="iterations"/> or when the residual vanishes.
    /// </summary>
    private static void Solve(double[] b, double[] x, double[] r, double[] p, double[] ap, int iterations, Func<double[], double[]> times)
    {
        var m = b.Length;
        Array.Clear(x);
        b.CopyTo(r, 0);
        b.CopyTo(p, 0);
        var rs = Dot(r, r);
        var stop = rs * 1e-20;
        for (var it = 0; it < iterations && rs > stop && rs > 0; it++)
        {
            var applied = times(p);
            var pap = Dot(p, applied);
            if (pap <= 0) break;
            var alpha = rs / pap;
            for (var t = 0; t < m; t++)
            {
                x[t] += alpha * p[t];
                r[t] -= alpha * applied[t];
            }
            var next = Dot(r, r);
            var beta = next / rs;
            for (var t = 0; t < m; t++) p[t] = r[t] + beta * p[t];
            rs = next;
        }
    }

    private static double Dot(double[] a, double[] b)
    {
        double sum = 0;
        for (var i = 0; i < a.Length; i++) sum += a[i] * b[i];
        return sum;
    }

    /// <summary>q = A·p (one value per document).</summary>
    private static void Times(Design design, double[] p, double[] q)
    {
        for (var d = 0; d < design.Documents; d++)
        {
            double sum = 0;
            for (var e = design.DocStart[d]; e < design.DocStart[d + 1]; e++) sum += design.DocWeight[e] * p[design.DocToken[e]];
            q[d] = sum;
        }
    }

    /// <summary>h = Aᵀ·q (one value per seen token, its documents in order).</summary>
    private static void TransposeTimes(Design design, double[] q, double[] h)
    {
        for (var t = 0; t < design.Seen; t++)
        {
            double sum = 0;
            for (var e = design.TokenStart[t]; e < design.TokenStart[t + 1]; e++) sum += design.TokenWeight[e] * q[design.TokenDoc[e]];
            h[t] = sum;
        }
    }

    private static Design Build(StaticModel table, IReadOnlyList<ReadOnlyMemory<int>> documents, float[] targets)
    {
        var k = table.Dimensions;
        var n = documents.Count;
        if (targets.Length != (long)n * k) throw new ArgumentException($"one target row of {k} (the table's width) per document", nameof(targets));
        var compact = new Dictionary<int, int>();
        var tokens = new List<int>();
        var docStart = new int[n + 1];
        var docToken = new List<int>();
        var docWeight = new List<double>();
        var residual = new double[(long)n * k];
        var counts = new Dictionary<int, int>();
        var order = new List<int>();
        var u = new double[k];
        for (var d = 0; d < n; d++)
        {
            docStart[d] = docToken.Count;
            counts.Clear();
            order.Clear();
            foreach (var t in documents[d].Span)
            {
                if ((uint)t >= (uint)table.VocabularySize) throw new ArgumentOutOfRangeException(nameof(documents), t, "token id outside the vocabulary");
                if (counts.TryGetValue(t, out var c)) counts[t] = c + 1;
                else { counts[t] = 1; order.Add(t); }
            }
            Array.Clear(u);
            foreach (var t in order)
            {
                var a = table.Pooling == StaticPooling.SqrtTf ? Math.Sqrt(counts[t]) : table.Pooling == StaticPooling.Mean ? counts[t] : 1.0;
                for (var i = 0; i < k; i++) u[i] += a * table.Table[(long)t * k + i];
            }
            double norm = 0;
            for (var i = 0; i < k; i++) norm += u[i] * u[i];
            norm = Math.Sqrt(norm);
            // A document without pieces (or pooling to zero) gives no equation.
            if (norm == 0) continue;
            foreach (var t in order)
            {
                var a = table.Pooling == StaticPooling.SqrtTf ? Math.Sqrt(counts[t]) : table.Pooling == StaticPooling.Mean ? counts[t] : 1.0;
                if (!compact.TryGetValue(t, out var index))
                {
                    index = tokens.Count;
                    compact[t] = index;
                    tokens.Add(t);
                }
                docToken.Add(index);
                docWeight.Add(a / norm);
            }
            for (var i = 0; i < k; i++) residual[(long)d * k + i] = targets[(long)d * k + i] - u[i] / norm;
        }
        docStart[n] = docToken.Count;

        var m = tokens.Count;
        var tokenStart = new int[m + 1];
        foreach (var t in docToken) tokenStart[t + 1]++;
        for (var t = 0; t < m; t++) tokenStart[t + 1] += tokenStart[t];
        var fill = (int[])tokenStart.Clone();
        var tokenDoc = new int[docToken.Count];
        var tokenWeight = new double[docToken.Count];
        for (var d = 0; d < n; d++)
            for (var e = docStart[d]; e < docStart[d + 1]; e++)
            {
                var slot = fill[docToken[e]]++;
                tokenDoc[slot] = d;
                tokenWeight[slot] = docWeight[e];
            }
        return new Design
        {
            Tokens = [.. tokens], DocStart = docStart, DocToken = [.. docToken], DocWeight = [.. docWeight],
            TokenStart = tokenStart, TokenDoc = tokenDoc, TokenWeight = tokenWeight, Residual = residual,
        };
    }
}
