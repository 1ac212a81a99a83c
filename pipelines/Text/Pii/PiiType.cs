namespace Curation.Pipelines.Text.Pii;

/// <summary>The kinds of personal data and secrets the pii stage finds; each has its own placeholder and count column.</summary>
public enum PiiType { Email, IpAddress, Phone, Card, Iban, Secret }

/// <summary>One found span of a text: where it is and what it is, never its value outside the text itself.</summary>
public readonly record struct PiiMatch(int Start, int Length, PiiType Type)
{
    public int End => Start + Length;
}

public static class PiiTypes
{
    public static readonly IReadOnlyList<PiiType> All = Enum.GetValues<PiiType>();

    /// <summary>The typed placeholder a redacted span becomes: <c>&lt;EMAIL&gt;</c>, <c>&lt;IP_ADDRESS&gt;</c>, …</summary>
    public static string Placeholder(PiiType type) => type switch
    {
        PiiType.Email => "<EMAIL>",
        PiiType.IpAddress => "<IP_ADDRESS>",
        PiiType.Phone => "<PHONE>",
        PiiType.Card => "<CARD>",
        PiiType.Iban => "<IBAN>",
        _ => "<SECRET>",
    };

    /// <summary>snake_case name (the spec's <c>types</c> value and the column suffix).</summary>
    public static string Name(PiiType type) => type switch
    {
        PiiType.IpAddress => "ip_address",
        _ => type.ToString().ToLowerInvariant(),
    };
}
