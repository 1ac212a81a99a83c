using System.Numerics.Tensors;
using Curation.Pipelines.Embedding;

namespace Curation.Bench;

/// <summary>
/// Other poolings of the distillation's per-token pass (each vocabulary entry alone through the model as [CLS] t [SEP]),
/// from one pass: the mean of the three last-layer states (what <c>StaticModelStore.DistillTokens</c> keeps, returned
/// too as a check), the token's own state only ([CLS] and [SEP] left out of the pool, so the two frame states every
/// row shares do not pull the rows together), and the [CLS] state. Each normalised and rounded to float16 precision
/// like the shipped pass; row-major [vocabulary × hidden].
/// </summary>
internal static class StaticTokenPooling
{
    private const int Batch = 1024;

    public sealed record Rows(float[] Mean, float[] TokenOnly, float[] Cls, int Hidden);

    public static Rows Distill(Func<OnnxEmbedder> createEmbedder, int vocabulary)
    {
        using var embedder = createEmbedder();
        var hidden = embedder.Dimensions;
        var mean = new float[(long)vocabulary * hidden];
        var tokenOnly = new float[mean.Length];
        var cls = new float[mean.Length];
        var sequences = new ReadOnlyMemory<int>[Batch];
        var pooled = new float[Batch * hidden];
        for (var start = 0; start < vocabulary; start += Batch)
        {
            var count = Math.Min(Batch, vocabulary - start);
            for (var i = 0; i < count; i++) sequences[i] = new[] { start + i };
            embedder.Embed(sequences.AsSpan(0, count), pooled.AsSpan(0, count * hidden), (row, states) =>
            {
                var t = start + row;
                var first = states[..hidden];
                var token = states.Slice(hidden, hidden);
                var last = states.Slice(2 * hidden, hidden);
                var m = mean.AsSpan(t * hidden, hidden);
                TensorPrimitives.Add(first, token, m);
                TensorPrimitives.Add(m, last, m);
                Store(m, m);
                Store(token, tokenOnly.AsSpan(t * hidden, hidden));
                Store(first, cls.AsSpan(t * hidden, hidden));
            });
        }
        return new Rows(mean, tokenOnly, cls, hidden);
    }

    private static void Store(ReadOnlySpan<float> state, Span<float> row)
    {
        var norm = TensorPrimitives.Norm(state);
        for (var d = 0; d < row.Length; d++) row[d] = (float)(Half)(state[d] / norm);
    }
}
