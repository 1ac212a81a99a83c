using System.Numerics.Tensors;
using Curation.Pipelines.Embedding;

namespace Curation.Pipelines.Tests.Embedding;

[Collection(EmbeddingModelCollection.Name)]
public sealed class BatchEmbedderTests(EmbeddingModelFixture model)
{
    private int Dimensions => model.Embedder.Dimensions;

    private static void AssertClose(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, float tolerance = 1e-5f)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (var i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= tolerance, $"dimension {i}: expected {expected[i]}, got {actual[i]}");
    }

    private int[] Tokens(string text) => model.Tokenizer.Tokenize(text);

    [Fact]
    public void A_long_document_is_the_token_weighted_average_of_its_windows()
    {
        // 40 tokens in windows of 16: 16 + 16 + 8.
        var document = Tokens("Curation turns raw text corpora into curated training corpora, one shard at a time, and every " +
                              "dropped document has a reason and a pointer to the document it duplicates. Embeddings are computed " +
                              "on GPU workers when there are any, otherwise on the CPU.")[..40];
        var embedder = new BatchEmbedder(model.Embedder, new EmbeddingBatchOptions { WindowSize = 16 });

        var actual = new float[Dimensions];
        var plan = embedder.Embed([document], actual);

        Assert.Equal(new DocumentEmbeddingInfo(40, 3, false), plan.Documents[0]);
        Assert.Equal([new EmbeddingWindow(0, 0, 16), new EmbeddingWindow(0, 16, 16), new EmbeddingWindow(0, 32, 8)],
            plan.Windows.OrderBy(w => w.Start));

        var windows = new float[3 * Dimensions];
        model.Embedder.Embed([document.AsMemory(0, 16), document.AsMemory(16, 16), document.AsMemory(32, 8)], windows);
        var expected = new float[Dimensions];
        for (var w = 0; w < 3; w++)
            TensorPrimitives.MultiplyAdd(windows.AsSpan(w * Dimensions, Dimensions), w == 2 ? 8f : 16f, expected, expected);
        TensorPrimitives.Divide(expected, TensorPrimitives.Norm(expected), expected);

        AssertClose(expected, actual);
        Assert.Equal(1f, TensorPrimitives.Norm(actual), 1e-5f);
        // Not just the first window.
        Assert.True(TensorPrimitives.CosineSimilarity(windows.AsSpan(0, Dimensions), actual) < 0.999f);
    }

    [Fact]
    public void Overlapping_windows_cover_the_document_and_end_at_its_end()
    {
        var plan = EmbeddingPlanner.Create([10], 510, new EmbeddingBatchOptions { WindowSize = 4, WindowStride = 3 });
        Assert.Equal([new EmbeddingWindow(0, 0, 4), new EmbeddingWindow(0, 3, 4), new EmbeddingWindow(0, 6, 4)],
            plan.Windows.OrderBy(w => w.Start));
        Assert.Equal(new DocumentEmbeddingInfo(10, 3, false), plan.Documents[0]);
    }

    [Fact]
    public void Truncate_keeps_the_first_window_and_says_so()
    {
        var document = Tokens(string.Join(" ", Enumerable.Range(0, 100).Select(i => $"word{i}")));
        var embedder = new BatchEmbedder(model.Embedder, new EmbeddingBatchOptions { Windows = WindowStrategy.Truncate, WindowSize = 32 });

        var actual = new float[Dimensions];
        var plan = embedder.Embed([document], actual);

        Assert.Equal(new DocumentEmbeddingInfo(document.Length, 1, true), plan.Documents[0]);
        var expected = new float[Dimensions];
        model.Embedder.Embed([document.AsMemory(0, 32)], expected);
        AssertClose(expected, actual);
    }

    [Fact]
    public void Documents_without_tokens_are_flagged_and_not_embedded()
    {
        string[] texts = ["", "A man is eating food.", " \t\u200B ", "\u0000", "The girl is carrying a baby."];
        var documents = texts.Select(t => (ReadOnlyMemory<int>)Tokens(t)).ToArray();
        var vectors = new float[texts.Length * Dimensions];
        vectors.AsSpan().Fill(float.NaN); // stale content must not survive

        var plan = new BatchEmbedder(model.Embedder).Embed(documents, vectors);

        Assert.Equal([true, false, true, true, false], plan.Documents.Select(d => d.IsEmpty));
        Assert.Equal(2, plan.Windows.Count);
        Assert.DoesNotContain(plan.Windows, w => plan.Documents[w.Document].IsEmpty);
        foreach (var empty in new[] { 0, 2, 3 })
            Assert.All(vectors.AsSpan(empty * Dimensions, Dimensions).ToArray(), v => Assert.Equal(0f, v));
        AssertClose(model.EmbedTexts("The girl is carrying a baby."), vectors.AsSpan(4 * Dimensions, Dimensions));

        var none = new BatchEmbedder(model.Embedder).Embed([ReadOnlyMemory<int>.Empty], new float[Dimensions]);
        Assert.Empty(none.Batches);
        Assert.True(none.Documents[0].IsEmpty);
    }

    [Fact]
    public void Output_follows_input_order_whatever_the_bucketing()
    {
        string[] texts =
        [
            "A short one.",
            string.Join(" ", Enumerable.Range(0, 60).Select(i => $"token{i}")),
            "A man is eating food.",
            string.Join(" ", Enumerable.Range(0, 20).Select(i => $"medium{i}")),
            "Yes.",
        ];
        var documents = texts.Select(t => (ReadOnlyMemory<int>)Tokens(t)).ToArray();
        var bucketed = new float[texts.Length * Dimensions];
        var plan = new BatchEmbedder(model.Embedder, new EmbeddingBatchOptions { TokenBudget = 200 }).Embed(documents, bucketed);

        Assert.True(plan.Batches.Count > 1);
        Assert.Equal(plan.Windows.Select(w => w.Length).OrderDescending(), plan.Windows.Select(w => w.Length)); // longest first
        for (var d = 0; d < texts.Length; d++)
        {
            var alone = new float[Dimensions];
            model.Embedder.Embed([documents[d]], alone);
            AssertClose(alone, bucketed.AsSpan(d * Dimensions, Dimensions));
        }
    }

    [Fact]
    public void Bucketing_pads_less_than_naive_batching()
    {
        var lengths = Enumerable.Range(0, 200).Select(i => i % 10 == 0 ? 400 : 20 + i % 7).ToArray();
        var bucketed = EmbeddingPlanner.Create(lengths, 510, new EmbeddingBatchOptions());
        var naive = EmbeddingPlanner.Create(lengths, 510, new EmbeddingBatchOptions { Batching = BatchingMode.Naive, NaiveBatchSize = 32 });

        Assert.Equal(bucketed.AttendedTokens, naive.AttendedTokens);
        Assert.True(bucketed.PaddedTokens * 3 < naive.PaddedTokens, $"bucketed {bucketed.PaddedTokens}, naive {naive.PaddedTokens}");
        Assert.All(bucketed.Batches, b => Assert.True(b.PaddedTokens <= 8192 && b.Count <= 64));
        // Naive: input order, fixed size, padded to each batch's longest.
        Assert.Equal(Enumerable.Range(0, 200), naive.Windows.Select(w => w.Document));
        Assert.Equal([32, 32, 32, 32, 32, 32, 8], naive.Batches.Select(b => b.Count));
        Assert.All(naive.Batches.Take(6), b => Assert.Equal(402, b.PaddedLength));
        Assert.Equal(28, naive.Batches[6].PaddedLength); // documents 192..199: no long one among them
    }

    [Fact]
    public void Bucketed_batches_respect_the_budget_and_row_limit_and_are_deterministic()
    {
        var random = new Random(3);
        var lengths = Enumerable.Range(0, 1000).Select(_ => random.Next(0, 1500)).ToArray();
        var options = new EmbeddingBatchOptions { TokenBudget = 4096, MaxBatchRows = 48 };

        var plan = EmbeddingPlanner.Create(lengths, 510, options);

        Assert.All(plan.Batches, b => Assert.True(b.Count <= 48 && (b.PaddedTokens <= 4096 || b.Count == 1)));
        Assert.Equal(plan.Windows.Count, plan.Batches.Sum(b => b.Count));
        foreach (var batch in plan.Batches)
            Assert.Equal(batch.PaddedLength, plan.Windows.Skip(batch.Start).Take(batch.Count).Max(w => w.Length) + 2);
        for (var d = 0; d < lengths.Length; d++)
        {
            var covered = plan.Windows.Where(w => w.Document == d).Sum(w => w.Length);
            Assert.Equal(lengths[d], covered);
            Assert.Equal(lengths[d] == 0 ? 0 : (lengths[d] + 509) / 510, plan.Documents[d].Windows);
        }
        Assert.Equal(plan.Windows, EmbeddingPlanner.Create(lengths, 510, options).Windows);
    }

    [Fact]
    public void Bad_batch_options_are_named()
    {
        var error = Assert.Throws<Microsoft.Extensions.Options.OptionsValidationException>(() => EmbeddingPlanner.Create([1], 510,
            new EmbeddingBatchOptions { WindowSize = 8, WindowStride = 9, TokenBudget = 1, MaxBatchRows = 0, NaiveBatchSize = 0 }));
        foreach (var field in new[] { "WindowStride", "TokenBudget", "MaxBatchRows", "NaiveBatchSize" })
            Assert.Contains(error.Failures, f => f.Contains($"EmbeddingBatchOptions.{field}", StringComparison.Ordinal));

        Assert.Throws<ArgumentException>(() => new BatchEmbedder(model.Embedder, new EmbeddingBatchOptions { WindowSize = 511 }));
    }
}
