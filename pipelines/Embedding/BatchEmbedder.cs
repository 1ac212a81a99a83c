using System.Buffers;
using System.Numerics.Tensors;
using Curation.Pipelines.Execution;

namespace Curation.Pipelines.Embedding;

/// <summary>
/// Embeds whole documents (token ids without special tokens, of any length) with an <see cref="OnnxEmbedder"/>:
/// long ones are split into windows (<see cref="EmbeddingBatchOptions"/>), windows are batched by length
/// (<see cref="EmbeddingPlanner"/>), and each document gets one vector, in input order. A document's vector does not
/// depend on what else is in the call (up to float rounding in the model's kernels).
/// <para>Thread-safe as far as the embedder is: it keeps no state between calls.</para>
/// </summary>
public sealed class BatchEmbedder
{
    private readonly OnnxEmbedder _embedder;

    public BatchEmbedder(OnnxEmbedder embedder, EmbeddingBatchOptions? options = null)
    {
        _embedder = embedder ?? throw new ArgumentNullException(nameof(embedder));
        Options = options ?? new EmbeddingBatchOptions();
        // Fail on bad options now rather than at the first call.
        EmbeddingPlanner.Create([], embedder.MaxSequenceLength, Options);
    }

    public EmbeddingBatchOptions Options { get; }

    public int Dimensions => _embedder.Dimensions;

    /// <summary>Plans a call without running it (e.g. to report padding or to size work).</summary>
    public EmbeddingPlan Plan(ReadOnlySpan<ReadOnlyMemory<int>> documents)
    {
        var lengths = ArrayPool<int>.Shared.Rent(documents.Length);
        try
        {
            for (var d = 0; d < documents.Length; d++) lengths[d] = documents[d].Length;
            return EmbeddingPlanner.Create(lengths.AsSpan(0, documents.Length), _embedder.MaxSequenceLength, Options);
        }
        finally
        {
            ArrayPool<int>.Shared.Return(lengths);
        }
    }

    /// <summary>
    /// Writes document i's embedding to <paramref name="destination"/>[i × Dimensions, (i + 1) × Dimensions).
    /// Documents without tokens are not embedded: their rows are zeros and
    /// <see cref="DocumentEmbeddingInfo.IsEmpty"/> is set in the returned plan.
    /// </summary>
    /// <remarks>Runs the model synchronously on the calling thread; cancellation is checked between model calls.</remarks>
    public EmbeddingPlan Embed(ReadOnlySpan<ReadOnlyMemory<int>> documents, Span<float> destination, CancellationToken cancellationToken = default)
    {
        var dimensions = _embedder.Dimensions;
        if (destination.Length < documents.Length * dimensions)
            throw new ArgumentException($"Destination holds {destination.Length} floats; {documents.Length} documents of {dimensions} need {documents.Length * dimensions}.", nameof(destination));
        var plan = Plan(documents);
        destination[..(documents.Length * dimensions)].Clear();
        if (plan.Batches.Count == 0)
        {
            TaskProgress.Add(documents.Length);
            return plan;
        }

        var maxRows = 0;
        foreach (var batch in plan.Batches) maxRows = Math.Max(maxRows, batch.Count);
        var sequences = ArrayPool<ReadOnlyMemory<int>>.Shared.Rent(maxRows);
        var vectors = ArrayPool<float>.Shared.Rent(maxRows * dimensions);
        try
        {
            var windows = plan.WindowArray;
            long windowsDone = 0, documentsReported = 0;
            foreach (var batch in plan.Batches)
            {
                cancellationToken.ThrowIfCancellationRequested();
                for (var k = 0; k < batch.Count; k++)
                {
                    var window = windows[batch.Start + k];
                    sequences[k] = documents[window.Document].Slice(window.Start, window.Length);
                }
                _embedder.Embed(sequences.AsSpan(0, batch.Count), vectors.AsSpan(0, batch.Count * dimensions));
                for (var k = 0; k < batch.Count; k++)
                {
                    var window = windows[batch.Start + k];
                    var vector = vectors.AsSpan(k * dimensions, dimensions);
                    var row = destination.Slice(window.Document * dimensions, dimensions);
                    if (plan.Documents[window.Document].Windows == 1)
                        vector.CopyTo(row);
                    else
                        TensorPrimitives.MultiplyAdd(vector, window.Length, row, row); // weighted by its tokens
                }
                // Long batches of a slow model: the task's progress moves with the windows embedded, in documents.
                windowsDone += batch.Count;
                var documentsDone = documents.Length * windowsDone / windows.Length;
                TaskProgress.Add(documentsDone - documentsReported);
                documentsReported = documentsDone;
            }
            TaskProgress.Add(documents.Length - documentsReported);
        }
        finally
        {
            ArrayPool<ReadOnlyMemory<int>>.Shared.Return(sequences, clearArray: true);
            ArrayPool<float>.Shared.Return(vectors);
        }

        // Multi-window documents hold the token-weighted sum of their windows: L2-normalise it, or (for a model
        // configured without normalisation) divide by the total weight to get the weighted mean.
        long[]? weights = null;
        if (!_embedder.Normalize)
        {
            weights = new long[documents.Length];
            foreach (var window in plan.Windows) weights[window.Document] += window.Length;
        }
        for (var d = 0; d < documents.Length; d++)
        {
            if (plan.Documents[d].Windows < 2) continue;
            var row = destination.Slice(d * dimensions, dimensions);
            if (weights is null)
                OnnxEmbedder.NormalizeInPlace(row);
            else
                TensorPrimitives.Multiply(row, 1f / weights[d], row);
        }
        return plan;
    }
}
