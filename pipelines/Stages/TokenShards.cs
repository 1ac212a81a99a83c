using Curation.Pipelines.Execution;
using Curation.Pipelines.IO;
using Curation.Pipelines.Model;
using Curation.Pipelines.Spec;
using Curation.Pipelines.Training;

namespace Curation.Pipelines.Stages;

/// <summary>
/// The token files of one output shard, made from its curated Parquet: every document encoded with the job's
/// training tokenizer, followed by the end-of-document token, copies and order decided by <see cref="TokenMix"/>.
/// Two passes with bounded memory: the encoded documents are spooled once (int32 per token, offsets in memory), then
/// written in the mixed order into the requested formats.
/// </summary>
public sealed class TokenShards : IAsyncDisposable
{
    public const string MegatronBin = "tokens.megatron.bin";
    public const string MegatronIdx = "tokens.megatron.idx";
    public const string NpyTokens = "tokens.npy";
    public const string NpyOffsets = "tokens.offsets.npy";

    private readonly List<(string Kind, string Suffix, SpoolFile File, long Documents, long Tokens)> _files = [];

    public IReadOnlyList<(string Kind, string Suffix, SpoolFile File, long Documents, long Tokens)> Files => _files;

    /// <summary>The curated documents' training tokens (no end-of-document tokens, no mixing).</summary>
    public TokenTotals Corpus { get; } = new();

    /// <summary>Per mixing key: documents, copies written and tokens written (end-of-document tokens included).</summary>
    public SortedDictionary<string, MixKeyCount> Mixed { get; } = new(StringComparer.Ordinal);

    public static async Task<TokenShards> WriteAsync(JobContext job, TrainTokenizeStage stage, SpoolFile documents, CancellationToken cancellationToken)
    {
        var spec = job.Spec.Output.Tokens ?? throw new InvalidOperationException("output.tokens is not set.");
        var tokenizer = TrainingTokenizer.For(stage.Spec);
        var inputOfSource = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var o in job.Plan.Shards.SelectMany(s => s.Objects)) inputOfSource.TryAdd(o.Source, o.Input);
        var mix = new TokenMix(job.Spec.Output.Mix, job.Spec.Seed, inputOfSource);
        var result = new TokenShards();

        // Pass 1: encode every document once, in shard order, into a spool of int32 tokens.
        await using var encoded = SpoolFile.Create();
        var offsets = new List<long>();
        var lengths = new List<int>();
        var copies = new List<(ulong Order, int Document, int Copy)>();
        documents.Stream.Position = 0;
        await using (var reader = await ParquetTableReader.OpenAsync(new NonClosingStream(documents.Stream), cancellationToken).ConfigureAwait(false))
        {
            var hasLanguage = reader.Schema.Any(c => c.Name == TrainTokenizeStage.LanguageColumn && c.Type == typeof(string));
            var keyColumn = mix.KeyColumn;
            Type[] keyTypes = mix.Bucketed ? [typeof(int), typeof(long), typeof(float), typeof(double)] : [typeof(string)];
            if (keyColumn is not null && !reader.Schema.Any(c => c.Name == keyColumn && keyTypes.Contains(c.Type)))
                throw new InvalidOperationException($"output.mix.by '{keyColumn}' is not a {(mix.Bucketed ? "numeric" : "string")} column of the curated documents " +
                    $"(columns: {string.Join(", ", reader.Schema.Select(c => $"{c.Name} {c.Type.Name}"))}).");
            var softColumn = mix.SoftDedupColumn;
            if (softColumn is not null && !reader.Schema.Any(c => c.Name == softColumn && c.Type == typeof(float)))
                throw new InvalidOperationException($"output.mix.softDedup needs the column {softColumn} (written by semantic_dedup) in the curated documents.");
            string[] columns = [Columns.Id, Columns.Text, Columns.Source, .. hasLanguage ? [TrainTokenizeStage.LanguageColumn] : Array.Empty<string>(),
                .. keyColumn is not null && keyColumn != TrainTokenizeStage.LanguageColumn ? [keyColumn] : Array.Empty<string>(),
                .. softColumn is not null ? [softColumn] : Array.Empty<string>()];
            var buffer = new byte[1 << 16];
            await foreach (var batch in reader.ReadColumnsAsync(columns, cancellationToken).ConfigureAwait(false))
            {
                var tokens = new IReadOnlyList<int>[batch.RowCount];
                var texts = batch.Texts.List;
                Parallel.For(0, batch.RowCount, row => tokens[row] = tokenizer.Encode(texts[row]));
                var languages = hasLanguage ? batch.GetColumn<string>(TrainTokenizeStage.LanguageColumn) : null;
                var keyValues = keyColumn is null ? null : batch.Find(keyColumn)!.Values;
                var similarities = softColumn is null ? null : batch.GetColumn<float>(softColumn);
                for (var row = 0; row < batch.RowCount; row++)
                {
                    var document = offsets.Count;
                    offsets.Add(encoded.Stream.Position);
                    lengths.Add(tokens[row].Count);
                    await WriteInt32Async(encoded.Stream, tokens[row], buffer, cancellationToken).ConfigureAwait(false);
                    result.Corpus.Add(batch.Sources[row], languages?[row], tokens[row].Count);

                    // A passed-through numeric column may be null in a row: NaN, the lowest bucket.
                    var key = mix.Bucketed ? mix.BucketOf(keyValues![row] is { } number ? Convert.ToDouble(number, System.Globalization.CultureInfo.InvariantCulture) : double.NaN)
                        : mix.KeyOf(batch.Sources[row], (string?)keyValues?[row]);
                    var id = batch.Ids[row];
                    var weight = mix.WeightOf(key) * (similarities is null ? 1.0 : mix.SoftDedupFactor(similarities[row]));
                    var n = mix.Copies(id, weight);
                    for (var copy = 0; copy < n; copy++) copies.Add((mix.OrderKey(id, copy), document, copy));
                    var count = result.Mixed.TryGetValue(key, out var c) ? c : new MixKeyCount(mix.WeightOf(key), 0, 0, 0);
                    result.Mixed[key] = count with { Documents = count.Documents + 1, Copies = count.Copies + n, Tokens = count.Tokens + (long)n * (tokens[row].Count + 1) };
                }
            }
        }
        copies.Sort();   // by order key, then document and copy: a total order

        // Pass 2: the mixed sequence, each copy followed by the end-of-document token.
        var dtype = tokenizer.DType;
        var sequenceLengths = copies.Select(c => lengths[c.Document] + 1).ToArray();
        long total = sequenceLengths.Sum(l => (long)l);
        var megatron = spec.Formats.Contains(TokenFormat.Megatron);
        var npy = spec.Formats.Contains(TokenFormat.Npy);
        var bin = megatron ? result.Add(MegatronBin, ".bin", copies.Count, total) : null;
        var tokensNpy = npy ? result.Add(NpyTokens, ".tokens.npy", copies.Count, total) : null;
        if (tokensNpy is not null) NpyFile.WriteHeader(tokensNpy.Stream, dtype.NumpyDescr(), total);
        var ids = new int[lengths.Count == 0 ? 0 : lengths.Max() + 1];
        var raw = new byte[ids.Length * 4];
        var typed = new byte[ids.Length * dtype.Size()];
        foreach (var (_, document, _) in copies)
        {
            var length = lengths[document];
            encoded.Stream.Position = offsets[document];
            await encoded.Stream.ReadExactlyAsync(raw.AsMemory(0, length * 4), cancellationToken).ConfigureAwait(false);
            for (var i = 0; i < length; i++) ids[i] = BitConverter.ToInt32(raw, i * 4);
            ids[length] = tokenizer.EndOfDocument;
            var bytes = Pack(ids.AsSpan(0, length + 1), dtype, typed);
            if (bin is not null) await bin.Stream.WriteAsync(typed.AsMemory(0, bytes), cancellationToken).ConfigureAwait(false);
            if (tokensNpy is not null) await tokensNpy.Stream.WriteAsync(typed.AsMemory(0, bytes), cancellationToken).ConfigureAwait(false);
        }
        if (megatron) MegatronIndex.Write(result.Add(MegatronIdx, ".idx", copies.Count, total).Stream, dtype, sequenceLengths);
        if (npy)
        {
            var offsetsNpy = result.Add(NpyOffsets, ".offsets.npy", copies.Count, total).Stream;
            NpyFile.WriteHeader(offsetsNpy, "<i8", sequenceLengths.Length + 1);
            using var writer = new BinaryWriter(offsetsNpy, System.Text.Encoding.UTF8, leaveOpen: true);
            long at = 0;
            writer.Write(at);
            foreach (var length in sequenceLengths) writer.Write(at += length);
        }
        foreach (var file in result._files) await file.File.Stream.FlushAsync(cancellationToken).ConfigureAwait(false);
        return result;
    }

    private SpoolFile Add(string kind, string suffix, long documents, long tokens)
    {
        var file = SpoolFile.Create();
        _files.Add((kind, suffix, file, documents, tokens));
        return file;
    }

    private static async Task WriteInt32Async(Stream target, IReadOnlyList<int> tokens, byte[] buffer, CancellationToken cancellationToken)
    {
        var filled = 0;
        foreach (var token in tokens)
        {
            if (filled == buffer.Length)
            {
                await target.WriteAsync(buffer.AsMemory(0, filled), cancellationToken).ConfigureAwait(false);
                filled = 0;
            }
            System.Buffers.Binary.BinaryPrimitives.WriteInt32LittleEndian(buffer.AsSpan(filled), token);
            filled += 4;
        }
        await target.WriteAsync(buffer.AsMemory(0, filled), cancellationToken).ConfigureAwait(false);
    }

    private static int Pack(ReadOnlySpan<int> ids, TokenDType dtype, byte[] target)
    {
        for (var i = 0; i < ids.Length; i++)
            if (dtype == TokenDType.UInt16) System.Buffers.Binary.BinaryPrimitives.WriteUInt16LittleEndian(target.AsSpan(i * 2), checked((ushort)ids[i]));
            else System.Buffers.Binary.BinaryPrimitives.WriteInt32LittleEndian(target.AsSpan(i * 4), ids[i]);
        return ids.Length * dtype.Size();
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var file in _files) await file.File.DisposeAsync().ConfigureAwait(false);
    }
}

/// <summary>One mixing key in one shard (or summed over the job): its weight, documents, copies written and tokens written.</summary>
public sealed record MixKeyCount(double Weight, long Documents, long Copies, long Tokens);
