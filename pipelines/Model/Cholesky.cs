namespace Curation.Pipelines.Model;

/// <summary>
/// Symmetric positive definite systems A·s = b in double, in a fixed order (the same bits on every machine): the factor
/// A = L·Lᵀ is computed in place in A's lower triangle (row-major p × p), then each right-hand side is solved by forward
/// and back substitution.
/// </summary>
internal static class Cholesky
{
    /// <summary>Overwrites <paramref name="a"/>'s lower triangle with L; throws when A is not positive definite.</summary>
    public static void Factor(double[] a, int p)
    {
        for (var j = 0; j < p; j++)
        {
            var diagonal = a[j * p + j];
            for (var k = 0; k < j; k++) diagonal -= a[j * p + k] * a[j * p + k];
            if (!(diagonal > 0)) throw new InvalidOperationException($"The system is not positive definite at row {j} ({diagonal}).");
            var root = Math.Sqrt(diagonal);
            a[j * p + j] = root;
            for (var i = j + 1; i < p; i++)
            {
                var value = a[i * p + j];
                for (var k = 0; k < j; k++) value -= a[i * p + k] * a[j * p + k];
                a[i * p + j] = value / root;
            }
        }
    }

    /// <summary>Solves L·Lᵀ·s = b with the factor <see cref="Factor"/> left in <paramref name="l"/>.</summary>
    public static void Solve(double[] l, int p, ReadOnlySpan<double> b, Span<double> s)
    {
        for (var i = 0; i < p; i++) // L·y = b
        {
            var value = b[i];
            for (var k = 0; k < i; k++) value -= l[i * p + k] * s[k];
            s[i] = value / l[i * p + i];
        }
        for (var i = p - 1; i >= 0; i--) // Lᵀ·s = y
        {
            var value = s[i];
            for (var k = i + 1; k < p; k++) value -= l[k * p + i] * s[k];
            s[i] = value / l[i * p + i];
        }
    }
}
