using System.Numerics;
using Curation.Pipelines.Model;

namespace Curation.Pipelines.Stages.QualityScore;

/// <summary>A trained linear classifier: score = σ(w·x + b), the probability of the positive label.</summary>
public sealed record LinearClassifier(double[] Weights, double Bias)
{
    public int Dimensions => Weights.Length;

    /// <summary>The logit w·x + b, summed in dimension order (the same number on every machine).</summary>
    public double Logit(ReadOnlySpan<float> x)
    {
        if (x.Length != Weights.Length) throw new ArgumentException($"A vector of {x.Length} dimensions for a classifier of {Weights.Length}.", nameof(x));
        var z = Bias;
        for (var j = 0; j < x.Length; j++) z += Weights[j] * x[j];
        return z;
    }

    public double Score(ReadOnlySpan<float> x) => LogisticRegression.Sigmoid(Logit(x));
}

/// <summary>
/// L2-regularised logistic regression fitted by Newton's method: minimises Σᵢ [log(1 + e^{zᵢ}) − yᵢ zᵢ] + λ/2·‖w‖²
/// (zᵢ = w·xᵢ + b; the bias is not penalised — scikit-learn's objective with C = 1/λ). Deterministic by construction:
/// starts at zero, a fixed number of iterations, double precision, every sum in example then dimension order, the
/// Newton system solved by a Cholesky factorisation in a fixed order, and a step halved (never searched) while it does
/// not lower the objective. Each iteration costs n·(d+1)²/2 multiply-adds for the Hessian: about a second at n = 20,000
/// and d = 384 on one core.
/// </summary>
public static class LogisticRegression
{
    /// <summary>Added to the bias' Hessian entry so the system stays positive definite when every example is saturated.</summary>
    private const double BiasRidge = 1e-9;

    public static double Sigmoid(double z) => z >= 0 ? 1 / (1 + Math.Exp(-z)) : Math.Exp(z) / (1 + Math.Exp(z));

    /// <summary>log(1 + e^z), without overflow.</summary>
    private static double Softplus(double z) => Math.Max(z, 0) + Math.Log(1 + Math.Exp(-Math.Abs(z)));

    /// <summary>Fits the classifier to <paramref name="x"/> (n × <paramref name="dimensions"/>, row-major) and the labels.</summary>
    public static LinearClassifier Train(ReadOnlySpan<float> x, int dimensions, IReadOnlyList<bool> labels, double l2, int iterations)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(dimensions, 1);
        var n = labels.Count;
        if (x.Length != n * dimensions) throw new ArgumentException($"{x.Length} values for {n} examples of {dimensions} dimensions.", nameof(x));
        if (n == 0) throw new ArgumentException("No examples to train on.", nameof(labels));
        var p = dimensions + 1; // the weights, then the bias
        var theta = new double[p];
        var hessian = new double[p * p];
        var gradient = new double[p];
        var step = new double[p];
        var row = new double[p];
        var loss = Objective(x, dimensions, labels, l2, theta);
        for (var iteration = 0; iteration < iterations; iteration++)
        {
            Array.Clear(hessian);
            Array.Clear(gradient);
            for (var i = 0; i < n; i++)
            {
                for (var j = 0; j < dimensions; j++) row[j] = x[i * dimensions + j];
                row[dimensions] = 1;
                var prob = Sigmoid(Logit(row, theta));
                var residual = prob - (labels[i] ? 1 : 0);
                var weight = prob * (1 - prob);
                for (var j = 0; j < p; j++) gradient[j] += residual * row[j];
                AddOuter(hessian, p, row, weight);
            }
            for (var j = 0; j < dimensions; j++)
            {
                gradient[j] += l2 * theta[j];
                hessian[j * p + j] += l2;
            }
            hessian[p * p - 1] += BiasRidge;
            Cholesky.Factor(hessian, p);
            Cholesky.Solve(hessian, p, gradient, step);

            // Full Newton step, halved while it does not lower the objective (at most 40 times).
            var candidate = new double[p];
            var accepted = false;
            for (double t = 1; t > 1e-12; t /= 2)
            {
                for (var j = 0; j < p; j++) candidate[j] = theta[j] - t * step[j];
                var candidateLoss = Objective(x, dimensions, labels, l2, candidate);
                if (candidateLoss <= loss)
                {
                    (theta, loss, accepted) = (candidate, candidateLoss, true);
                    break;
                }
            }
            if (!accepted) continue; // at the optimum to rounding: the remaining iterations change nothing
        }
        return new LinearClassifier(theta[..dimensions], theta[dimensions]);
    }

    /// <summary>The objective Σ log-loss + λ/2·‖w‖² at (w, b) = <paramref name="theta"/>.</summary>
    public static double Objective(ReadOnlySpan<float> x, int dimensions, IReadOnlyList<bool> labels, double l2, double[] theta)
    {
        double loss = 0;
        for (var i = 0; i < labels.Count; i++)
        {
            var z = theta[dimensions];
            for (var j = 0; j < dimensions; j++) z += theta[j] * x[i * dimensions + j];
            loss += Softplus(z) - (labels[i] ? z : 0);
        }
        double norm = 0;
        for (var j = 0; j < dimensions; j++) norm += theta[j] * theta[j];
        return loss + l2 / 2 * norm;
    }

    /// <summary>The objective's gradient at a classifier (the bias last): zero at the optimum.</summary>
    public static double[] Gradient(ReadOnlySpan<float> x, int dimensions, IReadOnlyList<bool> labels, double l2, LinearClassifier classifier)
    {
        var gradient = new double[dimensions + 1];
        for (var i = 0; i < labels.Count; i++)
        {
            var residual = classifier.Score(x.Slice(i * dimensions, dimensions)) - (labels[i] ? 1 : 0);
            for (var j = 0; j < dimensions; j++) gradient[j] += residual * x[i * dimensions + j];
            gradient[dimensions] += residual;
        }
        for (var j = 0; j < dimensions; j++) gradient[j] += l2 * classifier.Weights[j];
        return gradient;
    }

    private static double Logit(double[] row, double[] theta)
    {
        double z = 0;
        for (var j = 0; j < row.Length; j++) z += theta[j] * row[j];
        return z;
    }

    /// <summary>
    /// Lower triangle of <paramref name="matrix"/> += weight · row rowᵀ. Element-wise (no sums across lanes), so the vector
    /// width of the machine does not change a bit of the result.
    /// </summary>
    private static void AddOuter(double[] matrix, int p, double[] row, double weight)
    {
        var width = Vector<double>.Count;
        for (var j = 0; j < p; j++)
        {
            var scale = weight * row[j];
            if (scale == 0) continue;
            var target = matrix.AsSpan(j * p, j + 1);
            var source = row.AsSpan(0, j + 1);
            var k = 0;
            var factor = new Vector<double>(scale);
            for (; k + width <= target.Length; k += width)
                (new Vector<double>(target[k..]) + factor * new Vector<double>(source[k..])).CopyTo(target[k..]);
            for (; k < target.Length; k++) target[k] += scale * source[k];
        }
    }
}
