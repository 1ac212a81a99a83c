using Curation.Pipelines.Spec;
using Curation.Pipelines.Training;

namespace Curation.Pipelines.Execution;

/// <summary>
/// The manifest's account of training tokens: the curated corpus in the training tokenizer (in total, per source
/// object, per language when a <c>language</c> column exists), the mixing applied to the token files (per key: weight,
/// documents, copies, tokens written and their share) and every token file with its counts and SHA-256.
/// </summary>
public sealed record TokensSection
{
    public const string MixDocuments = "mix.documents:";
    public const string MixCopies = "mix.copies:";
    public const string MixTokens = "mix.tokens:";

    public required string Tokenizer { get; init; }
    public required string DType { get; init; }
    public required int VocabSize { get; init; }
    public required int EndOfDocument { get; init; }

    /// <summary>Curated documents and their tokens (no end-of-document tokens, before mixing).</summary>
    public required long Documents { get; init; }
    public required long Tokens { get; init; }
    public required SortedDictionary<string, long> PerSource { get; init; }
    public required SortedDictionary<string, long> PerLanguage { get; init; }

    /// <summary>What the token files hold: sequences (document copies) and tokens, end-of-document tokens included.</summary>
    public required long FileSequences { get; init; }
    public required long FileTokens { get; init; }
    public required MixSection Mix { get; init; }
    public required IReadOnlyList<TokenFile> Files { get; init; }

    public static TokensSection Of(JobSpec spec, TrainTokenizeStageSpec stage, IReadOnlyList<TokenFile> files, IReadOnlyDictionary<string, double> metrics)
    {
        var tokenizer = TrainingTokenizer.For(stage);
        SortedDictionary<string, long> WithPrefix(string prefix) => new(
            metrics.Where(m => m.Key.StartsWith(prefix, StringComparison.Ordinal)).ToDictionary(m => m.Key[prefix.Length..], m => (long)m.Value),
            StringComparer.Ordinal);
        var mix = spec.Output.Mix ?? new MixSpec();
        var mixTokens = WithPrefix(MixTokens);
        var mixDocuments = WithPrefix(MixDocuments);
        var mixCopies = WithPrefix(MixCopies);
        var written = mixTokens.Values.Sum();
        var keys = mixDocuments.Keys.Select(key => new MixShare(key, mix.Weights.TryGetValue(key, out var w) ? w : mix.DefaultWeight,
            mixDocuments[key], mixCopies.GetValueOrDefault(key), mixTokens.GetValueOrDefault(key),
            written == 0 ? 0 : (double)mixTokens.GetValueOrDefault(key) / written)).ToArray();
        var sequences = files.Where(f => f.Kind is Stages.TokenShards.MegatronIdx or Stages.TokenShards.NpyOffsets)
            .GroupBy(f => f.Kind).Select(g => g.Sum(f => f.Documents)).FirstOrDefault();
        return new TokensSection
        {
            Tokenizer = tokenizer.Name, DType = tokenizer.DType.Name(), VocabSize = tokenizer.VocabSize, EndOfDocument = tokenizer.EndOfDocument,
            Documents = (long)metrics.GetValueOrDefault(TokenTotals.DocumentsMetric), Tokens = (long)metrics.GetValueOrDefault(TokenTotals.TokensMetric),
            PerSource = WithPrefix(TokenTotals.SourcePrefix), PerLanguage = WithPrefix(TokenTotals.LanguagePrefix),
            FileSequences = sequences, FileTokens = written,
            Mix = new MixSection(mix.By, unchecked((long)new TokenMix(mix, spec.Seed, new Dictionary<string, int>()).Seed), mix.DefaultWeight, keys),
            Files = files.OrderBy(f => f.Shard).ThenBy(f => f.Kind, StringComparer.Ordinal).ToArray(),
        };
    }
}

/// <summary>How the token files were mixed: the key, the seed, the default weight and the result per key.</summary>
public sealed record MixSection(string By, long Seed, double DefaultWeight, IReadOnlyList<MixShare> Keys);

/// <summary>One mixing key: its weight, curated documents, copies written, tokens written and their share of all tokens written.</summary>
public sealed record MixShare(string Key, double Weight, long Documents, long Copies, long Tokens, double Share);

/// <summary>One token file: its kind (tokens.megatron.bin/idx, tokens.npy, tokens.offsets.npy), key, shard, sequences, tokens, bytes and SHA-256.</summary>
public sealed record TokenFile(string Kind, string Key, int Shard, long Documents, long Tokens, long Bytes, string Sha256);
