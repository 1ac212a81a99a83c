using System.Collections.Concurrent;
using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using Curation.Pipelines.Storage;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.ML.OnnxRuntime;

namespace Curation.Pipelines.Embedding;

/// <summary>One row's last-layer states, [CLS] first and [SEP] last, <c>hidden</c> floats a position.</summary>
public delegate void TokenStates(int row, ReadOnlySpan<float> states);

/// <summary>
/// One ONNX Runtime session of a BERT-family embedding model, on CUDA when asked for and available, else on the CPU.
/// <para>
/// <see cref="Embed(ReadOnlySpan{ReadOnlyMemory{int}}, Span{float})"/> is thread-safe: ONNX Runtime runs concurrent calls on one session, and each call borrows its own
/// pre-allocated input/output buffers from a pool (grown to the largest batch seen, then reused). Share one instance
/// per device and bound the number of concurrent calls yourself: on the CPU each call already uses
/// <see cref="EmbeddingModelOptions.IntraOpThreads"/> threads, so more than one or two at a time only adds memory.
/// </para>
/// </summary>
public sealed class OnnxEmbedder : IDisposable
{
    private const string InputIds = "input_ids";
    private const string AttentionMask = "attention_mask";
    private const string TokenTypeIds = "token_type_ids";

    // Serialises the brief lowering of ONNX Runtime's process-wide log level around the CUDA probe.
    private static readonly Lock EnvLogLevelLock = new();

    private readonly InferenceSession _session;
    private readonly SessionOptions _sessionOptions;
    private readonly string[] _inputNames;
    private readonly string[] _outputNames;
    private readonly bool _pooledOutput; // rank-2 output: the model pools itself
    private readonly ConcurrentBag<Workspace> _workspaces = [];
    // A silo shutting down disposes its sessions while a task may still be inside Run: the native session is released by
    // whichever of Dispose and the last running Run comes last, never under a running inference (that would crash the process).
    private readonly Lock _lifetime = new();
    private int _running;
    private int _entered;
    private bool _disposed;

    /// <param name="modelPath">The ONNX file (see <see cref="ModelFiles.ResolveAsync"/>).</param>
    /// <param name="specialTokens">[CLS]/[SEP]/[PAD] ids, from <see cref="WordPieceTokenizer.SpecialTokens"/>.</param>
    public OnnxEmbedder(string modelPath, SpecialTokenIds specialTokens, EmbeddingModelOptions options, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(modelPath);
        new EmbeddingModelOptionsValidator().ThrowIfInvalid(options);
        logger ??= NullLogger.Instance;
        if (!File.Exists(modelPath))
            throw new FileNotFoundException($"Embedding model {modelPath} does not exist.", modelPath);

        SpecialTokens = specialTokens;
        MaxTokens = options.MaxTokens;
        Pooling = options.Pooling;
        Normalize = options.Normalize;

        (_session, _sessionOptions, ActiveProvider) = CreateSession(modelPath, options, logger);
        try
        {
            (_inputNames, Dimensions, _pooledOutput) = InspectModel(_session, options.OutputName, modelPath);
            _outputNames = [options.OutputName];
        }
        catch
        {
            _session.Dispose();
            _sessionOptions.Dispose();
            throw;
        }
        logger.LogDebug("Embedding model {Model}: {Dimensions} dimensions, inputs {Inputs}, {Pooling} pooling, {Provider} provider",
            modelPath, Dimensions, string.Join(", ", _inputNames), _pooledOutput ? "model's own" : Pooling.ToString(), ActiveProvider);
    }

    /// <summary>How many calls got past the disposed check (and so will finish even if the embedder is disposed meanwhile).</summary>
    internal int CallsEntered
    {
        get { lock (_lifetime) return _entered; }
    }

    /// <summary>Length of one embedding, read from the model's output metadata.</summary>
    public int Dimensions { get; }

    /// <summary>Longest model input, [CLS] and [SEP] included.</summary>
    public int MaxTokens { get; }

    /// <summary>Longest token sequence <see cref="Embed(ReadOnlySpan{ReadOnlyMemory{int}}, Span{float})"/> accepts: <see cref="MaxTokens"/> less [CLS] and [SEP].</summary>
    public int MaxSequenceLength => MaxTokens - 2;

    public ActiveExecutionProvider ActiveProvider { get; }

    /// <summary>The output is [batch, n]: the model pools (or classifies) itself, and <see cref="Dimensions"/> is n.</summary>
    public bool PooledOutput => _pooledOutput;

    public SpecialTokenIds SpecialTokens { get; }

    public PoolingMode Pooling { get; }

    public bool Normalize { get; }

    /// <summary>
    /// Embeds a batch: each sequence (token ids without special tokens, at most <see cref="MaxSequenceLength"/>) is framed
    /// as [CLS] … [SEP], the batch is padded to its longest, run through the model, pooled and (per the options)
    /// L2-normalised into <paramref name="destination"/>, row i at [i × Dimensions, (i + 1) × Dimensions).
    /// An empty sequence is embedded as [CLS] [SEP].
    /// </summary>
    public void Embed(ReadOnlySpan<ReadOnlyMemory<int>> sequences, Span<float> destination) => Run(sequences, destination, null);

    /// <summary>
    /// <see cref="Embed(ReadOnlySpan{ReadOnlyMemory{int}}, Span{float})"/>, also handing each row's last-layer token states to <paramref name="tokenStates"/> before they
    /// are pooled (a model whose output is per token only).
    /// </summary>
    public void Embed(ReadOnlySpan<ReadOnlyMemory<int>> sequences, Span<float> destination, TokenStates tokenStates)
    {
        if (_pooledOutput) throw new NotSupportedException("The model's output is already pooled: it has no per-token states.");
        Run(sequences, destination, tokenStates);
    }

    private void Run(ReadOnlySpan<ReadOnlyMemory<int>> sequences, Span<float> destination, TokenStates? tokenStates)
    {
        lock (_lifetime)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            _running++;
            _entered++;
        }
        try
        {
            RunSession(sequences, destination, tokenStates);
        }
        finally
        {
            bool release;
            lock (_lifetime) release = --_running == 0 && _disposed;
            if (release) ReleaseSession();
        }
    }

    private void RunSession(ReadOnlySpan<ReadOnlyMemory<int>> sequences, Span<float> destination, TokenStates? tokenStates)
    {
        var rows = sequences.Length;
        if (rows == 0) return;
        if (destination.Length < rows * Dimensions)
            throw new ArgumentException($"Destination holds {destination.Length} floats; {rows} rows of {Dimensions} need {rows * Dimensions}.", nameof(destination));
        var longest = 0;
        for (var r = 0; r < rows; r++)
        {
            var length = sequences[r].Length;
            if (length > MaxSequenceLength)
                throw new ArgumentException($"Sequence {r} has {length} tokens; the model takes at most {MaxSequenceLength} besides [CLS] and [SEP].", nameof(sequences));
            longest = Math.Max(longest, length);
        }

        var width = longest + 2;
        var cells = rows * width;
        var hidden = Dimensions;
        var outputLength = _pooledOutput ? rows * hidden : cells * hidden;

        if (!_workspaces.TryTake(out var workspace)) workspace = new Workspace();
        try
        {
            workspace.Reserve(cells, outputLength);
            var ids = workspace.Ids.AsSpan(0, cells);
            var mask = workspace.Mask.AsSpan(0, cells);
            for (var r = 0; r < rows; r++)
            {
                var tokens = sequences[r].Span;
                var rowIds = ids.Slice(r * width, width);
                var rowMask = mask.Slice(r * width, width);
                rowIds[0] = SpecialTokens.Cls;
                for (var t = 0; t < tokens.Length; t++) rowIds[t + 1] = tokens[t];
                rowIds[tokens.Length + 1] = SpecialTokens.Sep;
                rowIds[(tokens.Length + 2)..].Fill(SpecialTokens.Pad);
                rowMask[..(tokens.Length + 2)].Fill(1);
                rowMask[(tokens.Length + 2)..].Clear();
            }

            long[] inputShape = [rows, width];
            using var idsValue = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, workspace.Ids.AsMemory(0, cells), inputShape);
            using var maskValue = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, workspace.Mask.AsMemory(0, cells), inputShape);
            using var typesValue = _inputNames.Length == 3
                ? OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, workspace.TokenTypes.AsMemory(0, cells), inputShape)
                : null;
            long[] outputShape = _pooledOutput ? [rows, hidden] : [rows, width, hidden];
            using var outputValue = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, workspace.Output.AsMemory(0, outputLength), outputShape);
            OrtValue[] inputs = typesValue is null ? [idsValue, maskValue] : [idsValue, maskValue, typesValue];
            _session.Run(workspace.RunOptions, _inputNames, inputs, _outputNames, [outputValue]);

            var output = workspace.Output.AsSpan(0, outputLength);
            for (var r = 0; r < rows; r++)
            {
                var row = destination.Slice(r * hidden, hidden);
                if (_pooledOutput)
                    output.Slice(r * hidden, hidden).CopyTo(row);
                else
                {
                    tokenStates?.Invoke(r, output.Slice(r * width * hidden, (sequences[r].Length + 2) * hidden));
                    Pool(output.Slice(r * width * hidden, width * hidden), sequences[r].Length + 2, hidden, row);
                }
                if (Normalize) NormalizeInPlace(row);
            }
        }
        finally
        {
            _workspaces.Add(workspace);
        }
    }

    private void Pool(ReadOnlySpan<float> tokenVectors, int attended, int hidden, Span<float> destination)
    {
        switch (Pooling)
        {
            case PoolingMode.Cls:
                tokenVectors[..hidden].CopyTo(destination);
                break;
            case PoolingMode.LastToken:
                tokenVectors.Slice((attended - 1) * hidden, hidden).CopyTo(destination);
                break;
            default:
                tokenVectors[..hidden].CopyTo(destination);
                for (var t = 1; t < attended; t++)
                    TensorPrimitives.Add(destination, tokenVectors.Slice(t * hidden, hidden), destination);
                TensorPrimitives.Multiply(destination, 1f / attended, destination);
                break;
        }
    }

    /// <summary>Scales to unit L2 length (a zero vector stays zero), as torch.nn.functional.normalize does.</summary>
    internal static void NormalizeInPlace(Span<float> vector)
    {
        var norm = TensorPrimitives.Norm(vector);
        if (norm > 1e-12f) TensorPrimitives.Multiply(vector, 1f / norm, vector);
    }

    /// <summary>Releases the session now, or when the inferences running at this moment end.</summary>
    public void Dispose()
    {
        bool release;
        lock (_lifetime)
        {
            if (_disposed) return;
            _disposed = true;
            release = _running == 0;
        }
        if (release) ReleaseSession();
    }

    private void ReleaseSession()
    {
        _session.Dispose();
        _sessionOptions.Dispose();
        while (_workspaces.TryTake(out var workspace)) workspace.Dispose();
    }

    private static (InferenceSession, SessionOptions, ActiveExecutionProvider) CreateSession(
        string modelPath, EmbeddingModelOptions options, ILogger logger)
    {
        if (options.Provider != ExecutionProviderPreference.Cpu)
        {
            string reason;
            SessionOptions? cuda = null;
            try
            {
                cuda = CreateSessionOptions(options);
                AppendCuda(cuda, options.DeviceId);
                return (new InferenceSession(modelPath, cuda), cuda, ActiveExecutionProvider.Cuda);
            }
            catch (Exception e) when (e is OnnxRuntimeException or DllNotFoundException or EntryPointNotFoundException)
            {
                cuda?.Dispose();
                reason = DescribeCudaFailure(e);
            }
            logger.Log(options.Provider == ExecutionProviderPreference.Cuda ? LogLevel.Warning : LogLevel.Information,
                "CUDA execution provider unavailable on this machine ({Reason}); embedding on the CPU provider", reason);
        }
        var cpu = CreateSessionOptions(options);
        try
        {
            return (new InferenceSession(modelPath, cpu), cpu, ActiveExecutionProvider.Cpu);
        }
        catch
        {
            cpu.Dispose();
            throw;
        }
    }

    private static SessionOptions CreateSessionOptions(EmbeddingModelOptions options) => new()
    {
        GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
        ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
        IntraOpNumThreads = options.IntraOpThreads,
        LogId = "curation-embedding",
    };

    /// <summary>
    /// Appends the CUDA provider. Without the CUDA libraries ONNX Runtime throws at once, after printing its own error
    /// line to stderr; the process-wide log level is raised for that moment so that our single log line is the only one.
    /// </summary>
    private static void AppendCuda(SessionOptions sessionOptions, int deviceId)
    {
        lock (EnvLogLevelLock)
        {
            var environment = OrtEnv.Instance();
            var level = environment.EnvLogLevel;
            environment.EnvLogLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_FATAL;
            try
            {
                sessionOptions.AppendExecutionProvider_CUDA(deviceId);
            }
            finally
            {
                environment.EnvLogLevel = level;
            }
        }
    }

    /// <summary>
    /// ONNX Runtime says only "Failed to load shared library"; the loader knows which library is missing
    /// (e.g. libcublasLt.so.13), so ask it once more for the message.
    /// </summary>
    private static string DescribeCudaFailure(Exception e)
    {
        var message = e.Message.ReplaceLineEndings(" ").Trim();
        const string provider = "libonnxruntime_providers_cuda.so";
        var candidates = new[]
        {
            Path.Combine(AppContext.BaseDirectory, provider),
            Path.Combine(AppContext.BaseDirectory, "runtimes", RuntimeInformation.RuntimeIdentifier, "native", provider),
        };
        var path = candidates.FirstOrDefault(File.Exists);
        if (path is null) return $"{message}; {provider} is not beside the program";
        try
        {
            NativeLibrary.Free(NativeLibrary.Load(path));
            return message;
        }
        catch (DllNotFoundException loadFailure)
        {
            // .NET's message ends with the dynamic loader's own, e.g. "libcublasLt.so.13: cannot open shared object file: ..."
            var detail = loadFailure.Message.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault();
            return string.IsNullOrEmpty(detail) ? message : $"{message}: {detail}";
        }
    }

    private static (string[] Inputs, int Dimensions, bool PooledOutput) InspectModel(InferenceSession session, string outputName, string modelPath)
    {
        var inputs = session.InputMetadata;
        foreach (var required in new[] { InputIds, AttentionMask })
        {
            if (!inputs.ContainsKey(required))
                throw new NotSupportedException($"Model {modelPath} has no input '{required}' (inputs: {string.Join(", ", inputs.Keys)}); a BERT-family model needs input_ids and attention_mask.");
        }
        var unexpected = inputs.Keys.Where(k => k is not (InputIds or AttentionMask or TokenTypeIds)).ToList();
        if (unexpected.Count > 0)
            throw new NotSupportedException($"Model {modelPath} has inputs this embedder cannot fill: {string.Join(", ", unexpected)}.");
        foreach (var (name, meta) in inputs)
        {
            if (meta.ElementType != typeof(long) || meta.Dimensions.Length != 2)
                throw new NotSupportedException($"Model {modelPath} input '{name}' is {meta.ElementType.Name}[{string.Join(",", meta.Dimensions)}]; expected Int64[batch, sequence].");
        }

        if (!session.OutputMetadata.TryGetValue(outputName, out var output))
            throw new NotSupportedException($"Model {modelPath} has no output '{outputName}' (outputs: {string.Join(", ", session.OutputMetadata.Keys)}); set EmbeddingModelOptions.OutputName.");
        if (output.ElementType != typeof(float) || output.Dimensions.Length is not (2 or 3) || output.Dimensions[^1] <= 0)
            throw new NotSupportedException($"Model {modelPath} output '{outputName}' is {output.ElementType.Name}[{string.Join(",", output.Dimensions)}]; expected Single[batch, sequence, hidden] or Single[batch, hidden] with a fixed hidden size.");

        string[] names = inputs.ContainsKey(TokenTypeIds) ? [InputIds, AttentionMask, TokenTypeIds] : [InputIds, AttentionMask];
        return (names, output.Dimensions[^1], output.Dimensions.Length == 2);
    }

    /// <summary>One call's buffers; token types stay all zero (single-segment input).</summary>
    private sealed class Workspace : IDisposable
    {
        public long[] Ids = [];
        public long[] Mask = [];
        public long[] TokenTypes = [];
        public float[] Output = [];
        public RunOptions RunOptions { get; } = new();

        public void Reserve(int cells, int outputLength)
        {
            if (Ids.Length < cells)
            {
                var size = Math.Max(cells, Ids.Length * 3 / 2);
                Ids = new long[size];
                Mask = new long[size];
                TokenTypes = new long[size];
            }
            if (Output.Length < outputLength)
                Output = new float[Math.Max(outputLength, Output.Length * 3 / 2)];
        }

        public void Dispose() => RunOptions.Dispose();
    }
}
