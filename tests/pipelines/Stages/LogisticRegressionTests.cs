using Curation.Pipelines.Stages.QualityScore;

namespace Curation.Pipelines.Tests.Stages;

/// <summary>The quality classifier's fit: it reaches the optimum of its objective, and the same data gives the same bits.</summary>
public sealed class LogisticRegressionTests
{
    /// <summary>n noisy examples in d dimensions: the label is the sign of a fixed direction's projection plus noise.</summary>
    private static (float[] X, bool[] Labels) Data(int n, int d, int seed, double noise)
    {
        var random = new Random(seed);
        var direction = Enumerable.Range(0, d).Select(_ => random.NextDouble() - 0.5).ToArray();
        var x = new float[n * d];
        var labels = new bool[n];
        for (var i = 0; i < n; i++)
        {
            double projection = 0;
            for (var j = 0; j < d; j++)
            {
                x[i * d + j] = (float)(random.NextDouble() * 2 - 1);
                projection += x[i * d + j] * direction[j];
            }
            labels[i] = projection + noise * (random.NextDouble() - 0.5) + 0.1 > 0;
        }
        return (x, labels);
    }

    [Theory]
    [InlineData(400, 8, 1.0, 0.5)]
    [InlineData(300, 40, 0.1, 0.0)] // separable: only the penalty keeps the weights finite
    [InlineData(50, 100, 1.0, 1.0)] // more dimensions than examples
    public void The_fit_is_the_optimum_of_the_penalised_log_loss(int n, int d, double l2, double noise)
    {
        var (x, labels) = Data(n, d, seed: n + d, noise);
        var classifier = LogisticRegression.Train(x, d, labels, l2, iterations: 25);
        var gradient = LogisticRegression.Gradient(x, d, labels, l2, classifier);
        var norm = Math.Sqrt(gradient.Sum(g => g * g));
        Assert.True(norm < 1e-8 * n, $"gradient norm {norm}");

        // Any nudge of the weights or the bias raises the objective.
        var theta = classifier.Weights.Append(classifier.Bias).ToArray();
        var best = LogisticRegression.Objective(x, d, labels, l2, theta);
        var random = new Random(1);
        for (var trial = 0; trial < 20; trial++)
        {
            var moved = theta.Select(t => t + 1e-3 * (random.NextDouble() - 0.5)).ToArray();
            Assert.True(LogisticRegression.Objective(x, d, labels, l2, moved) > best);
        }
    }

    [Fact]
    public void Learns_a_noisy_linear_rule_and_the_same_data_gives_the_same_bits()
    {
        var (x, labels) = Data(2000, 16, seed: 9, noise: 0.2);
        var a = LogisticRegression.Train(x, 16, labels, 1.0, 25);
        var b = LogisticRegression.Train(x.ToArray(), 16, labels.ToArray(), 1.0, 25);
        Assert.Equal(a.Weights.Select(BitConverter.DoubleToInt64Bits), b.Weights.Select(BitConverter.DoubleToInt64Bits));
        Assert.Equal(BitConverter.DoubleToInt64Bits(a.Bias), BitConverter.DoubleToInt64Bits(b.Bias));
        var right = Enumerable.Range(0, labels.Length).Count(i => a.Score(x.AsSpan(i * 16, 16)) >= 0.5 == labels[i]);
        Assert.True(right > 0.93 * labels.Length, $"{right} of {labels.Length}");
        Assert.Equal(0.5, LogisticRegression.Sigmoid(0));
        Assert.Equal(1.0, LogisticRegression.Sigmoid(800));
        Assert.Equal(0.0, LogisticRegression.Sigmoid(-800));
    }
}
