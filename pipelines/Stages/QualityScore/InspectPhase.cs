using Curation.Pipelines.Embedding;
using Curation.Pipelines.Execution;
using Microsoft.ML.OnnxRuntime;

namespace Curation.Pipelines.Stages.QualityScore;

/// <summary>
/// inspect (one task, embed role; in place of train when the stage scores with a model): loads the model (once per
/// silo, <see cref="EmbeddingRuntime"/>), checks that it is a sequence classifier — inputs by name, an output of shape
/// [batch, n] — and that <c>label</c> and <c>sigmoid</c> fit its n, so a wrong model fails the job once, naming the model,
/// before any shard runs; writes <c>classifier.json</c> (the model's path and <see cref="ModelHead"/>), create-once.
/// </summary>
internal static class InspectPhase
{
    public static async Task<TaskStats> RunAsync(QualityScoreStage stage, TaskContext task, CancellationToken cancellationToken)
    {
        var model = stage.Spec.Model!;
        var embedder = await LoadAsync(stage, task, cancellationToken).ConfigureAwait(false);
        var outputs = embedder.Dimensions;
        if (outputs >= 2 && model.Label >= outputs)
            throw new InvalidOperationException($"{stage}: model {model.ModelPath} has {outputs} outputs ('{model.OutputName}' [batch, {outputs}]); label {model.Label} is not one of 0…{outputs - 1}.");
        if (outputs >= 2 && model.Sigmoid)
            throw new InvalidOperationException($"{stage}: model {model.ModelPath} has {outputs} outputs; sigmoid is for a one-output model (with several, the score is the softmax probability of label).");
        var trained = new TrainedClassifier { Model = model.ModelPath!, Weights = [], Head = new ModelHead(outputs, outputs == 1 ? 0 : model.Label, model.Sigmoid) };
        await StageObjects.WriteJsonOnceAsync(task.Job.Data, stage.ClassifierKey(task), trained, cancellationToken).ConfigureAwait(false);
        return new TaskStats { Metrics = { ["outputs"] = outputs } };
    }

    /// <summary>The stage's model, loaded once per process, or an error naming the model when it cannot score.</summary>
    internal static async Task<StageEmbedder> LoadAsync(QualityScoreStage stage, TaskContext task, CancellationToken cancellationToken)
    {
        var model = stage.Spec.Model!;
        var options = new EmbeddingBatchOptions { Windows = WindowStrategy.Truncate, TokenBudget = model.BatchTokens };
        StageEmbedder embedder;
        try
        {
            embedder = await StageEmbedder.LoadAsync(task.Services.Embedding, model.ToModelSpec(), options, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is NotSupportedException or OnnxRuntimeException or IOException or InvalidDataException or Microsoft.Extensions.Options.OptionsValidationException)
        {
            throw new InvalidOperationException($"{stage}: model {model.ModelPath} (vocabulary {model.Vocabulary}) cannot be used: {e.Message}", e);
        }
        if (embedder.Session is not { PooledOutput: true })
            throw new InvalidOperationException(
                $"{stage}: model {model.ModelPath} output '{model.OutputName}' has a sequence axis ([batch, sequence, {embedder.Dimensions}]); a sequence classifier's is [batch, n].");
        return embedder;
    }
}
