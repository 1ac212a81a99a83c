using Microsoft.Extensions.Options;

namespace Curation.Pipelines.Embedding;

/// <summary>What to do with a document longer than one model input.</summary>
public enum WindowStrategy
{
    /// <summary>Embed only its first window.</summary>
    Truncate,

    /// <summary>Embed every window and average them, weighted by their token counts, then L2-normalise.</summary>
    Average,
}

/// <summary>How windows are grouped into model calls.</summary>
public enum BatchingMode
{
    /// <summary>
    /// Length bucketing: windows sorted by length (longest first) and cut into batches of at most
    /// <see cref="EmbeddingBatchOptions.TokenBudget"/> padded tokens, so short texts are not padded to long ones.
    /// </summary>
    Bucketed,

    /// <summary>Fixed <see cref="EmbeddingBatchOptions.NaiveBatchSize"/> windows in input order, padded to the longest (the baseline to compare with).</summary>
    Naive,
}

public sealed class EmbeddingBatchOptions
{
    public WindowStrategy Windows { get; set; } = WindowStrategy.Average;

    /// <summary>Tokens per window, [CLS]/[SEP] not counted; null means the model's longest (<see cref="OnnxEmbedder.MaxSequenceLength"/>).</summary>
    public int? WindowSize { get; set; }

    /// <summary>Tokens from one window's start to the next; null means the window size (no overlap).</summary>
    public int? WindowStride { get; set; }

    /// <summary>Bucketed: most padded tokens (rows × (longest window + 2)) one model call may take; one over-long window still goes alone.</summary>
    public int TokenBudget { get; set; } = 8192;

    /// <summary>Bucketed: most windows one model call may take.</summary>
    public int MaxBatchRows { get; set; } = 64;

    public BatchingMode Batching { get; set; } = BatchingMode.Bucketed;

    /// <summary>Naive: windows per model call.</summary>
    public int NaiveBatchSize { get; set; } = 32;
}

public sealed class EmbeddingBatchOptionsValidator : IValidateOptions<EmbeddingBatchOptions>
{
    public ValidateOptionsResult Validate(string? name, EmbeddingBatchOptions options)
    {
        const string type = nameof(EmbeddingBatchOptions);
        var failures = new List<string>();
        if (!Enum.IsDefined(options.Windows))
            failures.Add($"{type}.{nameof(options.Windows)} '{options.Windows}' must be one of {string.Join(", ", Enum.GetNames<WindowStrategy>())}.");
        if (options.WindowSize is < 1)
            failures.Add($"{type}.{nameof(options.WindowSize)} {options.WindowSize} must be at least 1 (or null for the model's longest input).");
        if (options.WindowStride is < 1)
            failures.Add($"{type}.{nameof(options.WindowStride)} {options.WindowStride} must be at least 1 (or null for the window size).");
        else if (options is { WindowStride: { } stride, WindowSize: { } size } && stride > size)
            failures.Add($"{type}.{nameof(options.WindowStride)} {stride} must not exceed {nameof(options.WindowSize)} {size}: tokens between windows would be skipped.");
        if (options.TokenBudget is < 16 or > 16 * 1024 * 1024)
            failures.Add($"{type}.{nameof(options.TokenBudget)} {options.TokenBudget} must be between 16 and 16,777,216 padded tokens.");
        if (options.MaxBatchRows is < 1 or > 65_536)
            failures.Add($"{type}.{nameof(options.MaxBatchRows)} {options.MaxBatchRows} must be between 1 and 65,536.");
        if (!Enum.IsDefined(options.Batching))
            failures.Add($"{type}.{nameof(options.Batching)} '{options.Batching}' must be one of {string.Join(", ", Enum.GetNames<BatchingMode>())}.");
        if (options.NaiveBatchSize is < 1 or > 65_536)
            failures.Add($"{type}.{nameof(options.NaiveBatchSize)} {options.NaiveBatchSize} must be between 1 and 65,536.");
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}

/// <summary>A run of one document's tokens embedded as one model input.</summary>
public readonly record struct EmbeddingWindow(int Document, int Start, int Length);

/// <summary>One model call: windows [Start, Start + Count) of <see cref="EmbeddingPlan.Windows"/>.</summary>
public readonly record struct EmbeddingBatch(int Start, int Count, int PaddedLength)
{
    /// <summary>Tokens the model processes, padding included: rows × (longest window + [CLS] + [SEP]).</summary>
    public long PaddedTokens => (long)Count * PaddedLength;
}

/// <summary>What happened to one document.</summary>
/// <param name="Tokens">Its tokens (no special tokens).</param>
/// <param name="Windows">How many windows were embedded for it; 0 for an empty document.</param>
/// <param name="Truncated">Tokens past the first window were left out (<see cref="WindowStrategy.Truncate"/>).</param>
public readonly record struct DocumentEmbeddingInfo(int Tokens, int Windows, bool Truncated)
{
    /// <summary>No tokens: nothing was embedded and the document's row is all zeros. Drop it with a reason.</summary>
    public bool IsEmpty => Tokens == 0;
}

/// <summary>Windows in the order they run, cut into model calls, and the per-document outcome.</summary>
public sealed class EmbeddingPlan
{
    internal EmbeddingPlan(EmbeddingWindow[] windows, EmbeddingBatch[] batches, DocumentEmbeddingInfo[] documents)
    {
        WindowArray = windows;
        Windows = windows;
        Batches = batches;
        Documents = documents;
        foreach (var batch in batches) PaddedTokens += batch.PaddedTokens;
        foreach (var window in windows) AttendedTokens += window.Length + 2;
    }

    public IReadOnlyList<EmbeddingWindow> Windows { get; }

    public IReadOnlyList<EmbeddingBatch> Batches { get; }

    /// <summary>Per input document, in input order.</summary>
    public IReadOnlyList<DocumentEmbeddingInfo> Documents { get; }

    /// <summary>Tokens the model processes, padding included.</summary>
    public long PaddedTokens { get; }

    /// <summary>Tokens that carry text ([CLS] and [SEP] counted): <see cref="PaddedTokens"/> less padding.</summary>
    public long AttendedTokens { get; }

    internal EmbeddingWindow[] WindowArray { get; }
}

/// <summary>Splits documents into windows and windows into batches; pure, needs only the documents' token counts.</summary>
public static class EmbeddingPlanner
{
    /// <param name="documentLengths">Each document's token count (no special tokens).</param>
    /// <param name="maxSequenceLength">The model's longest input less [CLS] and [SEP].</param>
    public static EmbeddingPlan Create(ReadOnlySpan<int> documentLengths, int maxSequenceLength, EmbeddingBatchOptions options)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxSequenceLength, 1);
        var failures = new EmbeddingBatchOptionsValidator().Validate(null, options);
        if (failures.Failed) throw new OptionsValidationException(Options.DefaultName, typeof(EmbeddingBatchOptions), failures.Failures);
        var windowSize = options.WindowSize ?? maxSequenceLength;
        if (windowSize > maxSequenceLength)
            throw new ArgumentException($"{nameof(EmbeddingBatchOptions)}.{nameof(options.WindowSize)} {windowSize} exceeds the model's {maxSequenceLength} tokens per input.", nameof(options));
        var stride = options.WindowStride ?? windowSize;
        if (stride > windowSize)
            throw new ArgumentException($"{nameof(EmbeddingBatchOptions)}.{nameof(options.WindowStride)} {stride} exceeds the window size {windowSize}.", nameof(options));

        var documents = new DocumentEmbeddingInfo[documentLengths.Length];
        var windows = new List<EmbeddingWindow>(documentLengths.Length);
        for (var d = 0; d < documentLengths.Length; d++)
        {
            var length = documentLengths[d];
            ArgumentOutOfRangeException.ThrowIfNegative(length, nameof(documentLengths));
            if (length == 0)
            {
                documents[d] = new DocumentEmbeddingInfo(0, 0, false);
                continue;
            }
            if (options.Windows == WindowStrategy.Truncate || length <= windowSize)
            {
                windows.Add(new EmbeddingWindow(d, 0, Math.Min(length, windowSize)));
                documents[d] = new DocumentEmbeddingInfo(length, 1, length > windowSize);
                continue;
            }
            var count = 0;
            for (var start = 0; ; start += stride)
            {
                var end = Math.Min(start + windowSize, length);
                windows.Add(new EmbeddingWindow(d, start, end - start));
                count++;
                if (end == length) break;
            }
            documents[d] = new DocumentEmbeddingInfo(length, count, false);
        }

        var ordered = windows.ToArray();
        var batches = new List<EmbeddingBatch>();
        if (options.Batching == BatchingMode.Naive)
        {
            for (var start = 0; start < ordered.Length; start += options.NaiveBatchSize)
            {
                var count = Math.Min(options.NaiveBatchSize, ordered.Length - start);
                var longest = 0;
                for (var i = start; i < start + count; i++) longest = Math.Max(longest, ordered[i].Length);
                batches.Add(new EmbeddingBatch(start, count, longest + 2));
            }
        }
        else
        {
            // Longest first (the first call shows the peak memory), ties in document order: the plan is deterministic.
            Array.Sort(ordered, static (a, b) =>
                a.Length != b.Length ? b.Length.CompareTo(a.Length)
                : a.Document != b.Document ? a.Document.CompareTo(b.Document)
                : a.Start.CompareTo(b.Start));
            for (var start = 0; start < ordered.Length;)
            {
                var padded = ordered[start].Length + 2; // the batch's longest: every later window is no longer
                var rows = Math.Min(options.MaxBatchRows, Math.Max(1, options.TokenBudget / padded));
                rows = Math.Min(rows, ordered.Length - start);
                batches.Add(new EmbeddingBatch(start, rows, padded));
                start += rows;
            }
        }
        return new EmbeddingPlan(ordered, batches.ToArray(), documents);
    }
}
