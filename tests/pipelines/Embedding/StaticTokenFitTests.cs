using System.Numerics.Tensors;
using Curation.Pipelines.Embedding.Static;

namespace Curation.Pipelines.Tests.Embedding;

/// <summary>The token-level fit of the static table (<see cref="StaticTokenFit"/>).</summary>
public sealed class StaticTokenFitTests
{
    /// <summary>
    /// A planted table, a start that differs from it on the seen rows by noise, documents over the first
    /// <paramref name="seen"/> ids only (the rest never occur) and the planted table's normalised document vectors as targets.
    /// </summary>
    private static (StaticModel Planted, StaticModel Start, ReadOnlyMemory<int>[] Documents, float[] Targets) Planted(int vocabulary, int seen, int dims,
        int documents, double noise, int seed)
    {
        var random = new Random(seed);
        var rows = new float[vocabulary * dims];
        for (var i = 0; i < rows.Length; i++) rows[i] = (float)(random.NextDouble() * 2 - 1);
        var start = (float[])rows.Clone();
        for (var i = 0; i < seen * dims; i++) start[i] += (float)(noise * (random.NextDouble() * 2 - 1));
        var docs = new ReadOnlyMemory<int>[documents];
        for (var d = 0; d < documents; d++)
            docs[d] = Enumerable.Range(0, 4 + random.Next(10)).Select(_ => random.Next(seen)).ToArray();
        var planted = new StaticModel(StaticRecipe.Distilled, vocabulary, dims, rows);
        var targets = new float[documents * dims];
        for (var d = 0; d < documents; d++) planted.Embed(docs[d].Span, targets.AsSpan(d * dims, dims));
        return (planted, new StaticModel(StaticRecipe.Distilled, vocabulary, dims, start), docs, targets);
    }

    private static double MeanCosine(StaticModel table, ReadOnlyMemory<int>[] documents, float[] targets)
    {
        var v = new float[table.Dimensions];
        double sum = 0;
        for (var d = 0; d < documents.Length; d++)
        {
            table.Embed(documents[d].Span, v);
            sum += TensorPrimitives.CosineSimilarity(v, targets.AsSpan(d * table.Dimensions, table.Dimensions));
        }
        return sum / documents.Length;
    }

    private static byte[] Bytes(StaticModel table)
    {
        using var stream = new MemoryStream();
        table.Write(stream);
        return stream.ToArray();
    }

    [Fact]
    public void The_row_fit_moves_the_seen_rows_toward_the_targets_and_leaves_unseen_rows_and_the_pooling_alone()
    {
        var (_, start, documents, targets) = Planted(vocabulary: 80, seen: 50, dims: 6, documents: 600, noise: 0.6, seed: 1);
        var before = MeanCosine(start, documents, targets);
        var fitted = StaticTokenFit.FitRows(start, documents, targets, lambda: 1e-4, iterations: 200);
        var after = MeanCosine(fitted, documents, targets);
        Assert.True(before < 0.95, $"the start is already close: {before}");
        Assert.True(after > 0.995, $"mean cosine {before:0.0000} → {after:0.0000}");
        Assert.Equal(start.Pooling, fitted.Pooling);
        Assert.Equal(start.Dimensions, fitted.Dimensions);
        Assert.Equal(start.Table.AsSpan(50 * 6).ToArray(), fitted.Table.AsSpan(50 * 6).ToArray());
        Assert.NotEqual(start.Table.AsSpan(0, 50 * 6).ToArray(), fitted.Table.AsSpan(0, 50 * 6).ToArray());
    }

    [Fact]
    public void A_strong_regularisation_keeps_the_rows_near_the_start()
    {
        var (_, start, documents, targets) = Planted(vocabulary: 80, seen: 50, dims: 6, documents: 600, noise: 0.6, seed: 2);
        var loose = StaticTokenFit.FitRows(start, documents, targets, lambda: 1e-4, iterations: 200);
        var tight = StaticTokenFit.FitRows(start, documents, targets, lambda: 1e3, iterations: 200);
        double Moved(StaticModel m) => Enumerable.Range(0, start.Table.Length).Sum(i => Math.Abs(m.Table[i] - start.Table[i]));
        Assert.True(Moved(tight) < 0.01 * Moved(loose), $"moved {Moved(tight)} vs {Moved(loose)}");
    }

    [Fact]
    public void The_weight_fit_recovers_planted_row_scales()
    {
        var random = new Random(3);
        var (planted, _, documents, _) = Planted(vocabulary: 60, seen: 40, dims: 8, documents: 800, noise: 0, seed: 3);
        var scales = Enumerable.Range(0, 40).Select(_ => 0.3 + 1.4 * random.NextDouble()).ToArray();
        var scaled = (float[])planted.Table.Clone();
        for (var t = 0; t < 40; t++)
            for (var i = 0; i < 8; i++) scaled[t * 8 + i] = (float)(planted.Table[t * 8 + i] * scales[t]);
        var truth = new StaticModel(StaticRecipe.Distilled, 60, 8, scaled);
        var targets = new float[documents.Length * 8];
        for (var d = 0; d < documents.Length; d++) truth.Embed(documents[d].Span, targets.AsSpan(d * 8, 8));
        var before = MeanCosine(planted, documents, targets);
        var fitted = StaticTokenFit.FitWeights(planted, documents, targets, lambda: 1e-6, iterations: 200);
        var after = MeanCosine(fitted, documents, targets);
        // Not 1: the fit keeps each document's scale as the start gives it, so the planted scales are not exactly representable.
        Assert.True(after > 0.99 && after > before, $"mean cosine {before:0.0000} → {after:0.0000}");
        // Each fitted row is a non-negative multiple of its start row; unseen rows keep their bytes.
        for (var t = 0; t < 40; t++)
        {
            var g = fitted.Table[t * 8] / planted.Table[t * 8];
            Assert.True(g >= 0);
            for (var i = 1; i < 8; i++) Assert.Equal(planted.Table[t * 8 + i] * g, fitted.Table[t * 8 + i], 3);
        }
        Assert.Equal(planted.Table.AsSpan(40 * 8).ToArray(), fitted.Table.AsSpan(40 * 8).ToArray());
    }

    [Fact]
    public void The_fits_are_byte_deterministic()
    {
        var (_, start, documents, targets) = Planted(vocabulary: 200, seen: 150, dims: 12, documents: 500, noise: 0.5, seed: 4);
        Assert.Equal(Bytes(StaticTokenFit.FitRows(start, documents, targets, 0.1, 30)), Bytes(StaticTokenFit.FitRows(start, documents, targets, 0.1, 30)));
        Assert.Equal(Bytes(StaticTokenFit.FitWeights(start, documents, targets, 0.1, 30)), Bytes(StaticTokenFit.FitWeights(start, documents, targets, 0.1, 30)));
        Assert.Equal(Bytes(StaticTokenFit.Reduce(start, documents, 5)), Bytes(StaticTokenFit.Reduce(start, documents, 5)));
    }

    [Fact]
    public void The_fits_give_the_same_bytes_on_one_thread_as_on_many()
    {
        var (_, start, documents, targets) = Planted(vocabulary: 200, seen: 150, dims: 12, documents: 500, noise: 0.5, seed: 6);
        // Parallel.For runs on the current scheduler: one that runs one task at a time gives a single worker.
        var one = new ConcurrentExclusiveSchedulerPair(TaskScheduler.Default, 1).ConcurrentScheduler;
        byte[] OnOneThread(Func<StaticModel> fit) => Task.Factory.StartNew(() => Bytes(fit()), CancellationToken.None, TaskCreationOptions.None, one).Result;
        Assert.Equal(Bytes(StaticTokenFit.FitRows(start, documents, targets, 0.1, 30)), OnOneThread(() => StaticTokenFit.FitRows(start, documents, targets, 0.1, 30)));
        Assert.Equal(Bytes(StaticTokenFit.FitWeights(start, documents, targets, 0.1, 30)), OnOneThread(() => StaticTokenFit.FitWeights(start, documents, targets, 0.1, 30)));
        Assert.Equal(Bytes(StaticTokenFit.Reduce(start, documents, 5)), OnOneThread(() => StaticTokenFit.Reduce(start, documents, 5)));
    }

    [Fact]
    public void Reducing_a_table_whose_rows_span_fewer_dimensions_keeps_every_cosine()
    {
        // Rows in a 3-dimensional subspace of 7: the reduction to 3 is a rotation of that subspace.
        var random = new Random(5);
        var basis = Enumerable.Range(0, 3 * 7).Select(_ => random.NextDouble() * 2 - 1).ToArray();
        var rows = new float[70 * 7];
        for (var t = 0; t < 70; t++)
        {
            var c = Enumerable.Range(0, 3).Select(_ => random.NextDouble() * 2 - 1).ToArray();
            for (var i = 0; i < 7; i++) rows[t * 7 + i] = (float)(c[0] * basis[i] + c[1] * basis[7 + i] + c[2] * basis[14 + i]);
        }
        var table = new StaticModel(StaticRecipe.Distilled, 70, 7, rows);
        var documents = Enumerable.Range(0, 200).Select(_ => (ReadOnlyMemory<int>)Enumerable.Range(0, 3 + random.Next(8)).Select(_ => random.Next(70)).ToArray()).ToArray();
        var reduced = StaticTokenFit.Reduce(table, documents, 3);
        Assert.Equal(3, reduced.Dimensions);
        float Cos(StaticModel m, int a, int b)
        {
            var (u, v) = (new float[m.Dimensions], new float[m.Dimensions]);
            m.Embed(documents[a].Span, u);
            m.Embed(documents[b].Span, v);
            return TensorPrimitives.Dot(u, v);
        }
        for (var a = 0; a < 60; a++) Assert.Equal(Cos(table, a, a + 1), Cos(reduced, a, a + 1), 4);
    }
}
