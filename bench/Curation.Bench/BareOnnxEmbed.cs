using Curation.Pipelines.Embedding;
using Microsoft.ML.OnnxRuntime;

namespace Curation.Bench;

/// <summary>
/// The reference of <c>embed</c>: a bare ONNX Runtime loop. Its own <see cref="InferenceSession"/> on the same model
/// file with the same session settings as the pipeline's embedder (CPU provider, all graph optimisations, sequential
/// execution, the same intra-op threads), fed the batches of a given <see cref="EmbeddingPlan"/>: per batch it frames
/// each window as [CLS] … [SEP], pads to the batch's width, builds int64 <c>input_ids</c>/<c>attention_mask</c>/
/// <c>token_type_ids</c> tensors over reused arrays, runs, and mean-pools + L2-normalises each row with a plain loop;
/// a document of several windows gets the token-weighted mean of its windows, normalised (as the pipeline does).
/// Nothing else: no tokenizer, no files, no options, no validation.
/// </summary>
public sealed class BareOnnxEmbed : IDisposable
{
    private const string OutputName = "last_hidden_state";

    private readonly SessionOptions _options;
    private readonly InferenceSession _session;
    private readonly RunOptions _run = new();
    private readonly string[] _inputNames;
    private readonly string[] _outputNames = [OutputName];
    private readonly SpecialTokenIds _special;

    /// <param name="cudaDevice">Run on this CUDA device (as the pipeline's session does when it got CUDA); null: the CPU.</param>
    public BareOnnxEmbed(string modelPath, int intraOpThreads, SpecialTokenIds special, int? cudaDevice = null)
    {
        _special = special;
        _options = new SessionOptions
        {
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            IntraOpNumThreads = intraOpThreads,
        };
        if (cudaDevice is { } device) _options.AppendExecutionProvider_CUDA(device);
        Provider = cudaDevice is null ? "CPU" : $"CUDA device {cudaDevice}";
        var threadsBefore = ProcessThreads();
        _session = new InferenceSession(modelPath, _options);
        ThreadsCreated = ProcessThreads() - threadsBefore;
        _inputNames = ["input_ids", "attention_mask", "token_type_ids"];
        _inputNames = _inputNames.Where(_session.InputMetadata.ContainsKey).ToArray();
        Dimensions = _session.OutputMetadata[OutputName].Dimensions[^1];
        InputShapes = string.Join(", ", _session.InputMetadata.Select(i => $"{i.Key} {i.Value.ElementType.Name}[{string.Join(",", i.Value.Dimensions)}]"));
        OutputShape = $"{OutputName} {_session.OutputMetadata[OutputName].ElementType.Name}[{string.Join(",", _session.OutputMetadata[OutputName].Dimensions)}]";
    }

    public int Dimensions { get; }

    /// <summary>Where the bare session runs.</summary>
    public string Provider { get; }

    /// <summary>Threads this process gained while the session was created: ONNX Runtime's intra-op pool less the caller.</summary>
    public int ThreadsCreated { get; }

    public string InputShapes { get; }

    public string OutputShape { get; }

    /// <summary>Embeds every document of the plan into <paramref name="destination"/> (row d = document d, zeros for an empty one).</summary>
    public void Run(IReadOnlyList<int[]> documents, EmbeddingPlan plan, float[] destination)
    {
        var hidden = Dimensions;
        Array.Clear(destination, 0, documents.Count * hidden);
        long largest = 0;
        foreach (var batch in plan.Batches) largest = Math.Max(largest, batch.PaddedTokens);
        var ids = new long[largest];
        var mask = new long[largest];
        var types = new long[largest]; // single segment: all zeros
        var output = new float[largest * hidden];
        var pooled = new float[hidden];
        var windows = plan.Windows;

        foreach (var batch in plan.Batches)
        {
            int rows = batch.Count, width = batch.PaddedLength, cells = rows * width;
            for (var r = 0; r < rows; r++)
            {
                var window = windows[batch.Start + r];
                var tokens = documents[window.Document].AsSpan(window.Start, window.Length);
                var at = r * width;
                ids[at] = _special.Cls;
                mask[at] = 1;
                for (var t = 0; t < tokens.Length; t++)
                {
                    ids[at + 1 + t] = tokens[t];
                    mask[at + 1 + t] = 1;
                }
                ids[at + 1 + tokens.Length] = _special.Sep;
                mask[at + 1 + tokens.Length] = 1;
                for (var t = tokens.Length + 2; t < width; t++)
                {
                    ids[at + t] = _special.Pad;
                    mask[at + t] = 0;
                }
            }

            long[] shape = [rows, width];
            using var idsValue = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, ids.AsMemory(0, cells), shape);
            using var maskValue = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, mask.AsMemory(0, cells), shape);
            using var typesValue = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, types.AsMemory(0, cells), shape);
            using var outputValue = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, output.AsMemory(0, cells * hidden),
                new long[] { rows, width, hidden });
            var inputs = _inputNames.Length == 3 ? new[] { idsValue, maskValue, typesValue } : new[] { idsValue, maskValue };
            _session.Run(_run, _inputNames, inputs, _outputNames, [outputValue]);

            for (var r = 0; r < rows; r++)
            {
                var window = windows[batch.Start + r];
                var attended = window.Length + 2;
                Array.Clear(pooled);
                var rowStart = r * width * hidden;
                for (var t = 0; t < attended; t++)
                {
                    var at = rowStart + t * hidden;
                    for (var h = 0; h < hidden; h++) pooled[h] += output[at + h];
                }
                double norm = 0;
                for (var h = 0; h < hidden; h++)
                {
                    pooled[h] /= attended;
                    norm += (double)pooled[h] * pooled[h];
                }
                var scale = norm > 1e-24 ? (float)(1 / Math.Sqrt(norm)) : 0f;
                var document = window.Document;
                var multi = plan.Documents[document].Windows > 1;
                var row = document * hidden;
                for (var h = 0; h < hidden; h++)
                    destination[row + h] += multi ? pooled[h] * scale * window.Length : pooled[h] * scale;
            }
        }

        // Documents of several windows hold the token-weighted sum of their window vectors: normalise it.
        for (var d = 0; d < documents.Count; d++)
        {
            if (plan.Documents[d].Windows < 2) continue;
            double norm = 0;
            for (var h = 0; h < hidden; h++) norm += (double)destination[d * hidden + h] * destination[d * hidden + h];
            var scale = norm > 1e-24 ? (float)(1 / Math.Sqrt(norm)) : 0f;
            for (var h = 0; h < hidden; h++) destination[d * hidden + h] *= scale;
        }
    }

    /// <summary>Threads of this process now (Linux: entries of /proc/self/task); -1 where that is not readable.</summary>
    public static int ProcessThreads()
    {
        try { return Directory.GetDirectories("/proc/self/task").Length; }
        catch (IOException) { return -1; }
        catch (UnauthorizedAccessException) { return -1; }
    }

    public void Dispose()
    {
        _session.Dispose();
        _options.Dispose();
        _run.Dispose();
    }
}
