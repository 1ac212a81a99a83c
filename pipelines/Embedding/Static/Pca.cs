namespace Curation.Pipelines.Embedding.Static;

/// <summary>
/// Principal components of a row-major matrix, computed deterministically: covariance in double precision summed in
/// row order, cyclic Jacobi eigen-decomposition (no BLAS, no threads, no random start), components ordered by variance
/// and each sign fixed so its largest-magnitude coordinate is positive. The same input gives the same bytes everywhere.
/// </summary>
public sealed class Pca
{
    private Pca(double[] mean, double[] components, double[] variances, int inputDims, int outputDims)
    {
        Mean = mean;
        Components = components;
        Variances = variances;
        InputDims = inputDims;
        OutputDims = outputDims;
    }

    public int InputDims { get; }
    public int OutputDims { get; }

    /// <summary>The column means subtracted before projecting.</summary>
    public double[] Mean { get; }

    /// <summary>Row-major [OutputDims × InputDims]: component c is row c.</summary>
    public double[] Components { get; }

    /// <summary>Variance along every component (all InputDims of them, largest first).</summary>
    public double[] Variances { get; }

    /// <summary>Fraction of the total variance the kept components explain.</summary>
    public double ExplainedFraction
    {
        get
        {
            double kept = 0, total = 0;
            for (var c = 0; c < Variances.Length; c++) { total += Variances[c]; if (c < OutputDims) kept += Variances[c]; }
            return total == 0 ? 1 : kept / total;
        }
    }

    public static Pca Fit(ReadOnlySpan<float> rows, int dims, int outputDims)
    {
        if (dims <= 0 || rows.Length % dims != 0) throw new ArgumentException($"{rows.Length} values are not rows of {dims}.", nameof(rows));
        if (outputDims < 1 || outputDims > dims) throw new ArgumentOutOfRangeException(nameof(outputDims), outputDims, $"must be between 1 and {dims}");
        var n = rows.Length / dims;
        var mean = new double[dims];
        for (var r = 0; r < n; r++)
            for (var d = 0; d < dims; d++) mean[d] += rows[r * dims + d];
        for (var d = 0; d < dims; d++) mean[d] /= Math.Max(1, n);

        var covariance = new double[dims * dims];
        var centred = new double[dims];
        for (var r = 0; r < n; r++)
        {
            for (var d = 0; d < dims; d++) centred[d] = rows[r * dims + d] - mean[d];
            for (var i = 0; i < dims; i++)
            {
                var ci = centred[i];
                var row = i * dims;
                for (var j = i; j < dims; j++) covariance[row + j] += ci * centred[j];
            }
        }
        for (var i = 0; i < dims; i++)
            for (var j = i; j < dims; j++)
            {
                covariance[i * dims + j] /= Math.Max(1, n - 1);
                covariance[j * dims + i] = covariance[i * dims + j];
            }

        var (values, vectors) = Jacobi(covariance, dims);
        var order = Enumerable.Range(0, dims).OrderByDescending(c => values[c]).ThenBy(c => c).ToArray();
        var components = new double[outputDims * dims];
        var variances = new double[dims];
        for (var k = 0; k < dims; k++)
        {
            var c = order[k];
            variances[k] = values[c];
            if (k >= outputDims) continue;
            // Column c of the eigenvector matrix, with its sign fixed by its largest-magnitude coordinate.
            var largest = 0;
            for (var d = 1; d < dims; d++)
                if (Math.Abs(vectors[d * dims + c]) > Math.Abs(vectors[largest * dims + c])) largest = d;
            var sign = vectors[largest * dims + c] < 0 ? -1.0 : 1.0;
            for (var d = 0; d < dims; d++) components[k * dims + d] = sign * vectors[d * dims + c];
        }
        return new Pca(mean, components, variances, dims, outputDims);
    }

    /// <summary>Projects one row: (row − mean) · componentsᵀ.</summary>
    public void Project(ReadOnlySpan<float> row, Span<float> destination)
    {
        for (var c = 0; c < OutputDims; c++)
        {
            double sum = 0;
            var component = Components.AsSpan(c * InputDims, InputDims);
            for (var d = 0; d < InputDims; d++) sum += (row[d] - Mean[d]) * component[d];
            destination[c] = (float)sum;
        }
    }

    /// <summary>Cyclic Jacobi rotations on a symmetric matrix: its eigenvalues and (column) eigenvectors.</summary>
    private static (double[] Values, double[] Vectors) Jacobi(double[] symmetric, int n)
    {
        var a = (double[])symmetric.Clone();
        var v = new double[n * n];
        for (var i = 0; i < n; i++) v[i * n + i] = 1;
        for (var sweep = 0; sweep < 100; sweep++)
        {
            double off = 0, diagonal = 0;
            for (var i = 0; i < n; i++)
            {
                diagonal += a[i * n + i] * a[i * n + i];
                for (var j = i + 1; j < n; j++) off += a[i * n + j] * a[i * n + j];
            }
            if (off <= 1e-30 * Math.Max(diagonal, 1e-300)) break;
            for (var p = 0; p < n - 1; p++)
                for (var q = p + 1; q < n; q++)
                {
                    var apq = a[p * n + q];
                    if (Math.Abs(apq) < 1e-300) continue;
                    var app = a[p * n + p];
                    var aqq = a[q * n + q];
                    var theta = (aqq - app) / (2 * apq);
                    var t = Math.Sign(theta == 0 ? 1 : theta) / (Math.Abs(theta) + Math.Sqrt(theta * theta + 1));
                    var c = 1 / Math.Sqrt(t * t + 1);
                    var s = t * c;
                    for (var k = 0; k < n; k++)
                    {
                        var akp = a[k * n + p];
                        var akq = a[k * n + q];
                        a[k * n + p] = c * akp - s * akq;
                        a[k * n + q] = s * akp + c * akq;
                    }
                    for (var k = 0; k < n; k++)
                    {
                        var apk = a[p * n + k];
                        var aqk = a[q * n + k];
                        a[p * n + k] = c * apk - s * aqk;
                        a[q * n + k] = s * apk + c * aqk;
                    }
                    for (var k = 0; k < n; k++)
                    {
                        var vkp = v[k * n + p];
                        var vkq = v[k * n + q];
                        v[k * n + p] = c * vkp - s * vkq;
                        v[k * n + q] = s * vkp + c * vkq;
                    }
                }
        }
        var values = new double[n];
        for (var i = 0; i < n; i++) values[i] = a[i * n + i];
        return (values, v);
    }
}
