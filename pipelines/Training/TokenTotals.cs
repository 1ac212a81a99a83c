namespace Curation.Pipelines.Training;

/// <summary>Training tokens and documents in total, per source object and per language (when known).</summary>
public sealed class TokenTotals
{
    public const string TokensMetric = "train_tokens";
    public const string DocumentsMetric = "train_documents";
    public const string SourcePrefix = "train_tokens.source:";
    public const string LanguagePrefix = "train_tokens.language:";

    public long Tokens { get; private set; }
    public long Documents { get; private set; }
    public SortedDictionary<string, long> PerSource { get; } = new(StringComparer.Ordinal);
    public SortedDictionary<string, long> PerLanguage { get; } = new(StringComparer.Ordinal);

    public void Add(string source, string? language, long tokens)
    {
        Tokens += tokens;
        Documents++;
        PerSource[source] = PerSource.GetValueOrDefault(source) + tokens;
        if (!string.IsNullOrEmpty(language)) PerLanguage[language] = PerLanguage.GetValueOrDefault(language) + tokens;
    }

    /// <summary>As task metrics (the manifest sums them over tasks, per stage).</summary>
    public IEnumerable<KeyValuePair<string, double>> Metrics()
    {
        yield return new(TokensMetric, Tokens);
        yield return new(DocumentsMetric, Documents);
        foreach (var (source, tokens) in PerSource) yield return new(SourcePrefix + source, tokens);
        foreach (var (language, tokens) in PerLanguage) yield return new(LanguagePrefix + language, tokens);
    }
}
