using System.Diagnostics;
using System.Numerics.Tensors;
using Curation.Pipelines.Embedding;
using Microsoft.Extensions.Logging;

namespace Curation.Pipelines.Tests.Embedding;

[Collection(EmbeddingModelCollection.Name)]
public sealed class OnnxEmbedderTests(EmbeddingModelFixture model)
{
    private const string Food = "A man is eating food.";
    private const string Bread = "A man is eating a piece of bread.";
    private const string Baby = "The girl is carrying a baby.";

    private static float Cosine(float[] vectors, int a, int b, int dimensions) =>
        TensorPrimitives.CosineSimilarity(vectors.AsSpan(a * dimensions, dimensions), vectors.AsSpan(b * dimensions, dimensions));

    [Fact]
    public void Reads_the_model_shape_from_its_metadata()
    {
        Assert.Equal(ShippedModel.Dimensions, model.Embedder.Dimensions);
        Assert.Equal(512, model.Embedder.MaxTokens);
        Assert.Equal(510, model.Embedder.MaxSequenceLength);
        Assert.Equal(ActiveExecutionProvider.Cpu, model.Embedder.ActiveProvider);
    }

    [Fact]
    public void Sentence_similarities_match_the_reference_model()
    {
        var vectors = model.EmbedTexts(Food, Bread, Baby);
        var dimensions = model.Embedder.Dimensions;

        Assert.InRange(Cosine(vectors, 0, 1, dimensions), 0.745f, 0.765f);   // sentence-transformers: 0.755
        Assert.InRange(Cosine(vectors, 0, 2, dimensions), -0.125f, -0.085f); // sentence-transformers: -0.105
        for (var i = 0; i < 3; i++)
            Assert.Equal(1f, TensorPrimitives.Norm(vectors.AsSpan(i * dimensions, dimensions)), 1e-5f);
    }

    [Fact]
    public void An_embedding_does_not_depend_on_the_batch_it_is_in()
    {
        var dimensions = model.Embedder.Dimensions;
        var target = model.Tokenizer.Tokenize(Food);
        var alone = new float[dimensions];
        model.Embedder.Embed([target], alone);

        var longText = string.Join(" ", Enumerable.Range(0, 45).Select(i => $"Paragraph {i} talks about something else entirely."));
        var others = new[] { longText, Baby, "x", Bread, longText[..200] }.Select(t => (ReadOnlyMemory<int>)model.Tokenizer.Tokenize(t)).ToList();
        ReadOnlyMemory<int>[] batch = [others[0], others[1], target, others[2], others[3], others[4]];
        Assert.InRange(others[0].Length, 300, 510);

        foreach (var (batching, rows) in new[] { (BatchingMode.Bucketed, 64), (BatchingMode.Bucketed, 2), (BatchingMode.Naive, 6), (BatchingMode.Naive, 4) })
        {
            var embedder = new BatchEmbedder(model.Embedder, new EmbeddingBatchOptions { Batching = batching, MaxBatchRows = rows, NaiveBatchSize = rows });
            var vectors = new float[batch.Length * dimensions];
            embedder.Embed(batch, vectors);
            var mixed = vectors.AsSpan(2 * dimensions, dimensions);
            for (var i = 0; i < dimensions; i++)
                Assert.True(Math.Abs(alone[i] - mixed[i]) < 1e-5f, $"{batching}, {rows} rows: dimension {i} is {mixed[i]}, alone {alone[i]}");
        }

        // The direct call too: padded to a 300-token neighbour.
        var padded = new float[2 * dimensions];
        model.Embedder.Embed([others[0][..300], target], padded);
        for (var i = 0; i < dimensions; i++)
            Assert.True(Math.Abs(alone[i] - padded[dimensions + i]) < 1e-5f);
    }

    [Fact]
    public void Refuses_sequences_longer_than_the_model_and_short_destinations()
    {
        var tooLong = new int[model.Embedder.MaxSequenceLength + 1];
        Array.Fill(tooLong, 1037);
        var error = Assert.Throws<ArgumentException>(() => model.Embedder.Embed([tooLong], new float[model.Embedder.Dimensions]));
        Assert.Contains("511 tokens", error.Message);

        Assert.Throws<ArgumentException>(() => model.Embedder.Embed([new[] { 1037 }, new[] { 2158 }], new float[model.Embedder.Dimensions]));
        model.Embedder.Embed([], Span<float>.Empty); // nothing to do
    }

    [Fact]
    public void The_longest_sequence_the_model_takes_embeds()
    {
        var longest = new int[model.Embedder.MaxSequenceLength];
        Array.Fill(longest, 2833);
        var vector = new float[model.Embedder.Dimensions];
        model.Embedder.Embed([longest, Array.Empty<int>()], new float[2 * model.Embedder.Dimensions]);
        model.Embedder.Embed([longest], vector);
        Assert.Equal(1f, TensorPrimitives.Norm(vector), 1e-5f);
    }

    [Fact]
    public async Task Concurrent_calls_on_one_session_agree()
    {
        var dimensions = model.Embedder.Dimensions;
        var sequences = new[] { Food, Bread, Baby, "Something rather different, and a little longer than the others." }
            .Select(t => (ReadOnlyMemory<int>)model.Tokenizer.Tokenize(t)).ToArray();
        var expected = new float[sequences.Length * dimensions];
        model.Embedder.Embed(sequences, expected);

        var results = await Task.WhenAll(Enumerable.Range(0, 6).Select(_ => Task.Run(() =>
        {
            var vectors = new float[sequences.Length * dimensions];
            model.Embedder.Embed(sequences, vectors);
            return vectors;
        })));
        foreach (var vectors in results)
            for (var i = 0; i < vectors.Length; i++)
                Assert.True(Math.Abs(expected[i] - vectors[i]) < 1e-5f);
    }

    [Theory]
    [InlineData(ExecutionProviderPreference.Auto, LogLevel.Information)]
    [InlineData(ExecutionProviderPreference.Cuda, LogLevel.Warning)]
    public void Without_CUDA_it_falls_back_to_the_CPU_and_says_so_once(ExecutionProviderPreference provider, LogLevel level)
    {
        var logger = new CapturingLogger();
        using var embedder = new OnnxEmbedder(model.Files.ModelPath, model.Tokenizer.SpecialTokens, new EmbeddingModelOptions { Provider = provider }, logger);

        var cudaLines = logger.Entries.Where(e => e.Message.Contains("CUDA", StringComparison.Ordinal)).ToList();
        if (embedder.ActiveProvider == ActiveExecutionProvider.Cuda)
        {
            Assert.Empty(cudaLines); // a machine with CUDA: nothing to fall back from
            return;
        }
        var line = Assert.Single(cudaLines);
        Assert.Equal(level, line.Level);
        Assert.StartsWith("CUDA execution provider unavailable on this machine (", line.Message);
        Assert.EndsWith("); embedding on the CPU provider", line.Message);
        Assert.DoesNotContain(logger.Entries, e => e.Level >= LogLevel.Error);

        // And the fallback session works.
        var vector = new float[embedder.Dimensions];
        embedder.Embed([model.Tokenizer.Tokenize(Food)], vector);
        Assert.Equal(1f, TensorPrimitives.Norm(vector), 1e-5f);
    }

    [Fact]
    public void The_CPU_provider_never_tries_CUDA()
    {
        var logger = new CapturingLogger();
        using var embedder = new OnnxEmbedder(model.Files.ModelPath, model.Tokenizer.SpecialTokens,
            new EmbeddingModelOptions { Provider = ExecutionProviderPreference.Cpu, Pooling = PoolingMode.Cls, Normalize = false, IntraOpThreads = 1 }, logger);

        Assert.Equal(ActiveExecutionProvider.Cpu, embedder.ActiveProvider);
        Assert.DoesNotContain(logger.Entries, e => e.Message.Contains("CUDA", StringComparison.Ordinal));

        // CLS pooling without normalisation: a different, unnormalised vector.
        var cls = new float[embedder.Dimensions];
        embedder.Embed([model.Tokenizer.Tokenize(Food)], cls);
        var mean = model.EmbedTexts(Food);
        Assert.NotEqual(1f, TensorPrimitives.Norm(cls), 1e-3f);
        Assert.True(TensorPrimitives.CosineSimilarity(cls, mean) < 0.99f);
    }

    [Fact]
    public void A_model_without_the_configured_output_is_refused_clearly()
    {
        var error = Assert.Throws<NotSupportedException>(() => new OnnxEmbedder(model.Files.ModelPath, model.Tokenizer.SpecialTokens,
            new EmbeddingModelOptions { Provider = ExecutionProviderPreference.Cpu, OutputName = "sentence_embedding" }));
        Assert.Contains("no output 'sentence_embedding'", error.Message);
        Assert.Contains("last_hidden_state", error.Message);
    }

    [Fact]
    public async Task Disposing_while_inferences_run_lets_them_finish_and_refuses_later_calls()
    {
        // A silo shutting down disposes its session while tasks may still be inside Run: they finish with the right
        // vectors (the native session is released after the last one), and a call after Dispose is refused, not a crash.
        var seed = Environment.TickCount;
        var random = new Random(seed);
        var embedder = new OnnxEmbedder(model.Files.ModelPath, model.Tokenizer.SpecialTokens,
            new EmbeddingModelOptions { Provider = ExecutionProviderPreference.Cpu, IntraOpThreads = 1 });
        var text = string.Join(" ", Enumerable.Range(0, 60).Select(i => $"Sentence {i} about eating food and bread."));
        ReadOnlyMemory<int>[] batch = [.. Enumerable.Range(0, 8).Select(_ => (ReadOnlyMemory<int>)model.Tokenizer.Tokenize(text))];
        var expected = new float[batch.Length * embedder.Dimensions];
        model.Embedder.Embed(batch, expected);

        var runs = Enumerable.Range(0, 3).Select(_ => Task.Run(() =>
        {
            var vectors = new float[batch.Length * embedder.Dimensions];
            embedder.Embed(batch, vectors);
            return vectors;
        })).ToArray();
        // All three are inside Run (past the disposed check) before the shutdown: on a loaded machine a task may not
        // even have started yet, and a call that arrives after Dispose is refused, as the last assertion checks.
        var waited = Stopwatch.StartNew();
        while (embedder.CallsEntered < runs.Length)
        {
            Assert.True(waited.Elapsed < TimeSpan.FromMinutes(1), $"only {embedder.CallsEntered} of {runs.Length} calls started");
            await Task.Delay(1);
        }
        await Task.Delay(random.Next(0, 40)); // the moment of the shutdown, seeded
        embedder.Dispose();
        foreach (var vectors in await Task.WhenAll(runs))
            for (var i = 0; i < vectors.Length; i++)
                Assert.True(Math.Abs(expected[i] - vectors[i]) < 1e-5f, $"seed {seed}: value {i} is {vectors[i]}, expected {expected[i]}");
        Assert.Throws<ObjectDisposedException>(() => embedder.Embed(batch, new float[batch.Length * embedder.Dimensions]));
        embedder.Dispose(); // twice is harmless
    }
}
