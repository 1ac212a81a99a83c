namespace Curation.Pipelines.Text.Pii;

/// <summary>The phone region a document's <c>language</c> hints (the country most of its speakers dial from), for numbers without a country code.</summary>
public static class PhoneRegions
{
    private static readonly Dictionary<string, string> ByLanguage = new(StringComparer.OrdinalIgnoreCase)
    {
        ["en"] = "US", ["de"] = "DE", ["fr"] = "FR", ["es"] = "ES", ["it"] = "IT", ["nl"] = "NL", ["pt"] = "BR", ["pl"] = "PL",
        ["sv"] = "SE", ["da"] = "DK", ["nb"] = "NO", ["no"] = "NO", ["fi"] = "FI", ["cs"] = "CZ", ["sk"] = "SK", ["hu"] = "HU",
        ["ro"] = "RO", ["el"] = "GR", ["tr"] = "TR", ["ru"] = "RU", ["uk"] = "UA", ["ja"] = "JP", ["zh"] = "CN", ["ko"] = "KR",
        ["th"] = "TH", ["vi"] = "VN", ["id"] = "ID", ["hi"] = "IN", ["ar"] = "SA", ["he"] = "IL", ["fa"] = "IR",
    };

    /// <summary>A tag's region when it names one (<c>pt-PT</c> → PT), else its language's (<c>de</c> → DE), else <paramref name="fallback"/>.</summary>
    public static string? For(string? language, string? fallback)
    {
        if (string.IsNullOrEmpty(language)) return fallback;
        var parts = language.Split('-', '_');
        if (parts.Length > 1 && parts[^1].Length == 2 && parts[^1].All(char.IsAsciiLetter)) return parts[^1].ToUpperInvariant();
        return ByLanguage.GetValueOrDefault(parts[0], fallback!) ?? fallback;
    }
}
