using Curation.Pipelines.Embedding;
using Curation.Pipelines.Embedding.Static;
using Curation.Pipelines.Spec;

namespace Curation.Pipelines.Stages;

/// <summary>
/// The embed stage's model as one task uses it: the process's loaded model (<see cref="EmbeddingRuntime"/>, never a
/// second copy) and the stage's windowing and batching. Embeds texts exactly as the embed stage does, so a stage that
/// embeds other texts later (quality_score's labelled examples) places them in the same space as the corpus.
/// </summary>
public sealed class StageEmbedder
{
    private readonly EmbeddingRuntime _runtime;
    private readonly LoadedStaticModel? _table;
    private readonly LoadedModel? _model;
    private readonly BatchEmbedder? _embedder;

    private StageEmbedder(EmbeddingRuntime runtime, LoadedStaticModel? table, LoadedModel? model, EmbeddingBatchOptions options)
    {
        _runtime = runtime;
        _table = table;
        _model = model;
        _embedder = model is null ? null : new BatchEmbedder(model.Embedder, options);
    }

    /// <summary>The model of <paramref name="stage"/>, loaded once per process.</summary>
    public static Task<StageEmbedder> LoadAsync(EmbeddingRuntime runtime, EmbedStage stage, CancellationToken cancellationToken) =>
        LoadAsync(runtime, stage.Spec.Model, stage.BatchOptions, cancellationToken);

    /// <summary>
    /// Any model spec with its windowing and batching, loaded once per process (quality_score's classifier model runs
    /// through the same session plumbing: its <c>logits</c> [batch, n] are a pooled output of n dimensions).
    /// </summary>
    public static async Task<StageEmbedder> LoadAsync(EmbeddingRuntime runtime, ModelSpec spec, EmbeddingBatchOptions options, CancellationToken cancellationToken)
    {
        // Static kinds need no inference session: a table lookup per word piece (see StaticModel).
        var table = spec.Kind == ModelKind.Transformer ? null : await runtime.GetStaticAsync(spec, cancellationToken).ConfigureAwait(false);
        var model = table is null ? await runtime.GetAsync(spec, cancellationToken).ConfigureAwait(false) : null;
        return new StageEmbedder(runtime, table, model, options);
    }

    public int Dimensions => _table?.Table.Dimensions ?? _embedder!.Dimensions;

    /// <summary>The static table behind a static kind; null for the transformer.</summary>
    public StaticModel? Table => _table?.Table;

    /// <summary>The transformer's session; null for a static kind.</summary>
    public OnnxEmbedder? Session => _model?.Embedder;

    /// <summary>What one call embedded: per text its tokens and windows (empty: no word pieces), and the tokens run.</summary>
    public readonly record struct Result(DocumentEmbeddingInfo[] Documents, long AttendedTokens, long PaddedTokens);

    /// <summary>Embeds <paramref name="texts"/> into <paramref name="vectors"/> (texts × <see cref="Dimensions"/>, row-major).</summary>
    public async Task<Result> EmbedAsync(IReadOnlyList<string> texts, float[] vectors, CancellationToken cancellationToken)
    {
        var infos = new DocumentEmbeddingInfo[texts.Count];
        if (_table is not null)
        {
            // Text → word cache → table row sums, per thread: the same vectors as tokenizing then embedding the ids.
            var counts = new int[texts.Count];
            _table.Text.EmbedMany(texts, vectors, counts, Environment.ProcessorCount);
            Execution.TaskProgress.Add(texts.Count);
            long attended = 0;
            for (var row = 0; row < texts.Count; row++)
            {
                infos[row] = new DocumentEmbeddingInfo(counts[row], counts[row] == 0 ? 0 : 1, false);
                attended += counts[row];
            }
            return new Result(infos, attended, 0);
        }
        var tokenizer = _model!.Tokenizer;
        var tokens = new ReadOnlyMemory<int>[texts.Count];
        Parallel.For(0, texts.Count, row => tokens[row] = tokenizer.Tokenize(texts[row]));
        EmbeddingPlan plan;
        using (await _runtime.AcquireInferenceAsync(cancellationToken).ConfigureAwait(false))
            plan = _embedder!.Embed(tokens, vectors, cancellationToken);
        for (var row = 0; row < texts.Count; row++) infos[row] = plan.Documents[row];
        return new Result(infos, plan.AttendedTokens, plan.PaddedTokens);
    }
}
