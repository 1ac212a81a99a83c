using System.Text.Json.Serialization;
using Curation.Pipelines.Spec;

namespace Curation.Pipelines.Stages.QualityScore;

/// <summary>
/// quality_score's second score source (<c>model</c>): any ONNX sequence-classification model of the BERT family by
/// path, with its WordPiece vocabulary — the FineWeb-Edu classifier, a DCLM-style fastText replacement exported to
/// ONNX, a head fitted elsewhere. Inputs by name: <c>input_ids</c>, <c>attention_mask</c> and <c>token_type_ids</c>
/// when the graph has it; output <see cref="OutputName"/> of shape [batch, n]. A document is read as its first
/// <see cref="MaxTokens"/> tokens ([CLS] and [SEP] included; the rest is left out, as the classifiers' own pipelines
/// truncate, and counted in the score phase's <c>truncated</c> metric). Loaded once per silo by the embedding runtime,
/// on silos with the embed role.
/// </summary>
public sealed record ScoringModelSpec
{
    /// <summary>The ONNX file. Required. A local path: submitted jobs must name one inside the allowed roots.</summary>
    public string? ModelPath { get; init; }

    /// <summary>The model's WordPiece vocabulary (vocab.txt); null: <c>vocab.txt</c> beside the model.</summary>
    public string? VocabPath { get; init; }

    /// <summary>Longest input, [CLS] and [SEP] included: longer documents are scored on their first tokens.</summary>
    public int MaxTokens { get; init; } = 512;

    /// <summary>Lower-case and strip accents before WordPiece (uncased models); false for cased models.</summary>
    public bool LowerCase { get; init; } = true;

    /// <summary>The output holding the scores, [batch, n].</summary>
    public string OutputName { get; init; } = "logits";

    /// <summary>
    /// With n ≥ 2 outputs: the index of the label whose softmax probability is the score (default 1, the positive class
    /// of a binary classifier). Ignored with n = 1.
    /// </summary>
    public int Label { get; init; } = 1;

    /// <summary>
    /// With n = 1 (a regression head such as FineWeb-Edu's, or a binary logit): the score is sigmoid(logit) instead of
    /// the logit itself. Only for a one-output model.
    /// </summary>
    public bool Sigmoid { get; init; }

    /// <summary>Padded tokens per inference batch (documents are batched by length up to it).</summary>
    public int BatchTokens { get; init; } = 8192;

    /// <summary>The vocabulary read: <see cref="VocabPath"/>, or vocab.txt beside the model (not a field of the spec).</summary>
    [JsonIgnore]
    public string? Vocabulary => VocabPath ?? (ModelPath is null ? null : Path.Combine(Path.GetDirectoryName(ModelPath) ?? "", "vocab.txt"));

    /// <summary>The model as the embedding runtime loads it: its output taken as is (no pooling, no normalisation).</summary>
    public ModelSpec ToModelSpec() => new()
    {
        ModelPath = ModelPath, VocabPath = Vocabulary, MaxTokens = MaxTokens, LowerCase = LowerCase, OutputName = OutputName, Normalize = false,
    };

    public void Validate(StageChecks check, string field)
    {
        check.That(!string.IsNullOrWhiteSpace(ModelPath), $"{field}.modelPath", "is required: an ONNX sequence-classification model (output [batch, n])");
        check.Model(ToModelSpec(), field);
        check.That(Label >= 0, $"{field}.label", "must be ≥ 0 (an index into the model's outputs)");
        check.That(BatchTokens >= MaxTokens, $"{field}.batchTokens", $"must be at least {field}.maxTokens ({MaxTokens})");
    }

    public IEnumerable<StageFile> FilesRead(string field) => ModelPath is null ? [] : ToModelSpec().FilesRead(field);
}

/// <summary>
/// How a model's outputs become the stage's (logit, score), recorded in classifier.json. n = 1: the logit is the output,
/// the score the logit (or its sigmoid with <see cref="Sigmoid"/>). n ≥ 2: the score is the softmax probability of
/// <see cref="Label"/>, the logit its log-odds l_k − log Σ_{j≠k} e^{l_j} (sigmoid(logit) = the probability; the ranking
/// of keepFraction uses it, as it does not saturate).
/// </summary>
public sealed record ModelHead(int Outputs, int Label, bool Sigmoid)
{
    public (double Logit, double Score) Read(ReadOnlySpan<float> outputs)
    {
        if (Outputs == 1) return (outputs[0], Sigmoid ? LogisticRegression.Sigmoid(outputs[0]) : outputs[0]);
        var max = double.NegativeInfinity;
        for (var j = 0; j < Outputs; j++) if (j != Label) max = Math.Max(max, outputs[j]);
        var sum = 0.0;
        for (var j = 0; j < Outputs; j++) if (j != Label) sum += Math.Exp(outputs[j] - max);
        var logOdds = outputs[Label] - (max + Math.Log(sum));
        return (logOdds, LogisticRegression.Sigmoid(logOdds));
    }

    /// <summary>The score of a logit (the keepFraction cutoff's, for the report).</summary>
    public double ScoreOf(double logit) => Outputs == 1 && !Sigmoid ? logit : LogisticRegression.Sigmoid(logit);
}
