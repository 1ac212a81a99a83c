using System.Text;
using System.Text.Json;
using Curation.Pipelines.Execution;
using Curation.Pipelines.IO.Readers;
using Curation.Pipelines.Semantic;
using Curation.Pipelines.Spec;
using Curation.Pipelines.Storage;

namespace Curation.Pipelines.Stages.QualityScore;

/// <summary>
/// What the train phase learnt (<c>classifier.json</c>): the weights and how well they do on the held-out examples; or,
/// with a scoring model, what the inspect phase found (the model's path and <see cref="Head"/>, no weights).
/// </summary>
public sealed record TrainedClassifier
{
    /// <summary>The embedding model the examples were embedded with (the embed stage's), or the scoring model's path.</summary>
    public required string Model { get; init; }
    public required double[] Weights { get; init; }
    public double Bias { get; init; }

    /// <summary>How the classifier was trained; null for a scoring model.</summary>
    public ClassifierTraining? Training { get; init; }

    /// <summary>A scoring model's outputs and how they become scores; null for the trained classifier.</summary>
    public ModelHead? Head { get; init; }

    public LinearClassifier ToClassifier() => new(Weights, Bias);
}

/// <summary>How the classifier was trained and measured.</summary>
public sealed record ClassifierTraining
{
    public required string Path { get; init; }

    /// <summary>Lines read, and the usable labelled examples among them.</summary>
    public long Lines { get; init; }
    public long Examples { get; init; }
    public long Positive { get; init; }
    public long Negative { get; init; }

    /// <summary>Lines left out (bad JSON, no text, a label that is not one, a text without word pieces).</summary>
    public long Skipped { get; init; }

    /// <summary>The first few skipped lines, each as "line N: why".</summary>
    public IReadOnlyList<string> SkippedSamples { get; init; } = [];
    public long TrainExamples { get; init; }
    public long HeldOutExamples { get; init; }
    public double TrainAccuracy { get; init; }

    /// <summary>Accuracy (score ≥ 0.5 means positive) on the held-out examples; null when none were held out.</summary>
    public double? HeldOutAccuracy { get; init; }
    public double L2 { get; init; }
    public int Iterations { get; init; }
    public double HeldOutFraction { get; init; }
    public long Seed { get; init; }
}

/// <summary>
/// train: reads the labelled JSONL (streamed), embeds the texts with the embed stage's model (the process's loaded copy,
/// <see cref="StageEmbedder"/>), splits them by a seeded hash of the text (a text and its duplicates land on the same
/// side), fits <see cref="LogisticRegression"/> on the training side and measures it on the held-out side.
/// </summary>
internal static class TrainPhase
{
    private const int EmbedChunk = 256;
    private const int SkippedSampleCount = 10;

    private sealed record Example(long Line, string Text, bool Label);

    public static async Task<TaskStats> RunAsync(QualityScoreStage stage, TaskContext task, CancellationToken cancellationToken)
    {
        var spec = stage.Spec;
        var embed = task.Job.Stages.Take(stage.Index).OfType<EmbedStage>().LastOrDefault()
            ?? throw new InvalidOperationException($"{stage} needs an embed stage before it.");
        var path = spec.Training!;
        var skipped = new List<string>();
        long skippedCount = 0, lines = 0;
        var unit = "line"; // "element" when the file is one JSON array
        void Skip(long line, string why)
        {
            skippedCount++;
            if (skipped.Count < SkippedSampleCount) skipped.Add($"{unit} {line}: {why}");
        }

        var examples = new List<Example>();
        var (store, key) = Locate(task.Job.Stores, path);
        Stream input;
        try { input = await store.OpenReadAsync(key, cancellationToken).ConfigureAwait(false); }
        catch (ObjectNotFoundException e) { throw new InvalidOperationException($"{stage}: the training file {path} does not exist.", e); }
        await using (input)
        {
            // JSON Lines, or one JSON array of examples (as labelled sets are often shipped): each element is a line.
            var (splitter, recordUnit) = await RecordSplitters.OpenAsync(input, int.MaxValue - 64, null, cancellationToken).ConfigureAwait(false);
            using var records = splitter;
            unit = recordUnit;
            while (true)
            {
                try
                {
                    if (!await records.MoveNextAsync(cancellationToken).ConfigureAwait(false)) break;
                }
                catch (FormatException e)
                {
                    throw new InvalidOperationException($"{stage}: {path}: {e.Message}", e);
                }
                var line = Encoding.UTF8.GetString(records.Current.Span);
                lines++;
                if (string.IsNullOrWhiteSpace(line)) continue;
                var (example, problem) = Parse(line, lines, spec.PositiveLabel);
                if (example is null) { Skip(lines, problem!); continue; }
                if (examples.Count == spec.MaxExamples)
                    throw new InvalidOperationException($"{stage}: {path} holds more than maxExamples = {spec.MaxExamples:N0} labelled examples ({unit} {lines}).");
                examples.Add(example);
            }
        }

        var embedder = await StageEmbedder.LoadAsync(task.Services.Embedding, embed, cancellationToken).ConfigureAwait(false);
        var dimensions = embedder.Dimensions;
        TaskProgress.Expect(examples.Count);
        var vectors = new float[examples.Count * dimensions];
        var usable = new bool[examples.Count];
        for (var start = 0; start < examples.Count; start += EmbedChunk)
        {
            var count = Math.Min(EmbedChunk, examples.Count - start);
            var texts = examples.GetRange(start, count).Select(e => e.Text).ToArray();
            var chunk = new float[count * dimensions];
            var result = await embedder.EmbedAsync(texts, chunk, cancellationToken).ConfigureAwait(false);
            chunk.CopyTo(vectors, start * dimensions);
            for (var i = 0; i < count; i++)
            {
                usable[start + i] = !result.Documents[i].IsEmpty;
                if (!usable[start + i]) Skip(examples[start + i].Line, "the text has no word pieces");
            }
        }

        // The split: a seeded hash of the text, so the same text is never on both sides.
        var seed = unchecked((ulong)task.Job.Spec.Seed);
        var train = new List<int>();
        var heldOut = new List<int>();
        for (var i = 0; i < examples.Count; i++)
            if (usable[i]) (StableRandom.Unit(StableRandom.KeyOf(examples[i].Text, seed)) < spec.HeldOutFraction ? heldOut : train).Add(i);
        var positive = train.Count(i => examples[i].Label);
        if (positive == 0 || positive == train.Count)
            throw new InvalidOperationException(
                $"{stage}: {path} gives {positive:N0} positive and {train.Count - positive:N0} negative training examples; both labels are needed.");

        var trainVectors = Gather(vectors, dimensions, train);
        var trainLabels = train.Select(i => examples[i].Label).ToArray();
        var classifier = LogisticRegression.Train(trainVectors, dimensions, trainLabels, spec.L2, spec.Iterations);
        var heldOutLabels = heldOut.Select(i => examples[i].Label).ToArray();
        var trained = new TrainedClassifier
        {
            Model = ModelName(embed.Spec.Model),
            Weights = classifier.Weights,
            Bias = classifier.Bias,
            Training = new ClassifierTraining
            {
                Path = path, Lines = lines, Examples = train.Count + heldOut.Count,
                Positive = train.Concat(heldOut).Count(i => examples[i].Label), Negative = train.Concat(heldOut).Count(i => !examples[i].Label),
                Skipped = skippedCount, SkippedSamples = skipped,
                TrainExamples = train.Count, HeldOutExamples = heldOut.Count,
                TrainAccuracy = Accuracy(classifier, trainVectors, dimensions, trainLabels)!.Value,
                HeldOutAccuracy = Accuracy(classifier, Gather(vectors, dimensions, heldOut), dimensions, heldOutLabels),
                L2 = spec.L2, Iterations = spec.Iterations, HeldOutFraction = spec.HeldOutFraction, Seed = task.Job.Spec.Seed,
            },
        };
        await StageObjects.WriteJsonOnceAsync(task.Job.Data, stage.ClassifierKey(task), trained, cancellationToken).ConfigureAwait(false);
        return new TaskStats
        {
            In = examples.Count,
            Metrics = { ["examples"] = train.Count + heldOut.Count, ["held_out"] = heldOut.Count, ["skipped"] = skippedCount },
        };
    }

    /// <summary>The accuracy of the classifier on these examples (score ≥ 0.5: positive); null for none.</summary>
    public static double? Accuracy(LinearClassifier classifier, float[] vectors, int dimensions, IReadOnlyList<bool> labels)
    {
        if (labels.Count == 0) return null;
        var right = 0;
        for (var i = 0; i < labels.Count; i++)
            if (classifier.Logit(vectors.AsSpan(i * dimensions, dimensions)) >= 0 == labels[i]) right++;
        return (double)right / labels.Count;
    }

    private static string ModelName(ModelSpec model) =>
        (model.ModelPath ?? Embedding.ShippedModel.ModelName) + (model.Kind == ModelKind.Transformer ? "" : $" {model.Kind.ToString().ToLowerInvariant()}");

    private static float[] Gather(float[] vectors, int dimensions, List<int> rows)
    {
        var result = new float[rows.Count * dimensions];
        for (var i = 0; i < rows.Count; i++) vectors.AsSpan(rows[i] * dimensions, dimensions).CopyTo(result.AsSpan(i * dimensions));
        return result;
    }

    /// <summary>A spec path naming one object: its store and key (a local file is a key in its folder's store).</summary>
    internal static (IObjectStore Store, string Key) Locate(IStoreResolver stores, string path)
    {
        var location = StoreLocation.Parse(path);
        if (location.Kind == StoreKind.LocalFolder && location.Prefix.Length == 0)
            location = location with { Root = System.IO.Path.GetDirectoryName(location.Root) ?? "/", Prefix = System.IO.Path.GetFileName(location.Root) };
        return (stores.Resolve(location), location.Prefix);
    }

    /// <summary>One JSONL line as an example, or why it is not one.</summary>
    private static (Example? Example, string? Problem) Parse(string line, long number, string? positiveLabel)
    {
        JsonDocument json;
        try { json = JsonDocument.Parse(line); }
        catch (JsonException e) { return (null, $"not JSON ({e.Message})"); }
        using (json)
        {
            var root = json.RootElement;
            if (root.ValueKind != JsonValueKind.Object) return (null, "not a JSON object");
            if (!root.TryGetProperty("text", out var text) || text.ValueKind != JsonValueKind.String || string.IsNullOrWhiteSpace(text.GetString()))
                return (null, "no text (a non-empty string)");
            if (!root.TryGetProperty("label", out var label)) return (null, "no label");
            bool? value = label.ValueKind switch
            {
                JsonValueKind.True => true,
                JsonValueKind.False => false,
                JsonValueKind.Number when label.TryGetDouble(out var d) && d is 0 or 1 => d == 1,
                JsonValueKind.String when positiveLabel is not null => label.GetString() == positiveLabel,
                _ => null,
            };
            if (value is null)
                return (null, positiveLabel is null
                    ? $"label {label.GetRawText()} is not 1/0 or true/false (set positiveLabel for string labels)"
                    : $"label {label.GetRawText()} is not a string, 1/0 or true/false");
            return (new Example(number, text.GetString()!, value.Value), null);
        }
    }
}
