using System.Globalization;
using System.Text;
using System.Text.Json.Serialization;
using Curation.Pipelines.Model;
using Curation.Pipelines.Spec;
using Curation.Pipelines.Text.Pii;

namespace Curation.Pipelines.Stages;

public enum PiiMode { Redact, Drop }

/// <summary>Which IP addresses the pii stage finds (<see cref="PiiStageSpec.IpAddresses"/>).</summary>
public enum PiiIpScope { Public, All }

/// <summary>
/// Finds personal data and secrets (e-mail, IPv4/IPv6, phone numbers, payment cards, IBANs, private keys and API
/// tokens) and replaces each with a typed placeholder (<c>redact</c>) or drops the document (<c>drop</c>). Found values
/// never leave the text: columns, drop details and metrics carry counts per type only.
/// </summary>
[Stage(TypeName, Role = StageRole.Filter)]
public sealed record PiiStageSpec : DocumentStageSpec
{
    public const string TypeName = "pii";

    /// <summary><c>redact</c>: replace each found value with its placeholder (<c>&lt;EMAIL&gt;</c>, …); <c>drop</c>: drop a document holding any.</summary>
    public PiiMode Mode { get; init; } = PiiMode.Redact;

    /// <summary>Which kinds to find: <c>email</c>, <c>ip_address</c>, <c>phone</c>, <c>card</c>, <c>iban</c>, <c>secret</c>; null: all.</summary>
    public IReadOnlyList<string>? Types { get; init; }

    /// <summary>Region (ISO 3166) for phone numbers without a country code when the document has no <c>language</c> column value to hint one; null: only numbers written with <c>+</c>.</summary>
    public string? DefaultRegion { get; init; } = "US";

    /// <summary>
    /// <c>public</c> (the default, as datatrove's <c>only_remove_public_ips</c>): only globally reachable addresses are
    /// personal data — a private, loopback, link-local or documentation address (192.168.1.1, 10.0.0.5, 192.0.2.7,
    /// fe80::1, 2001:db8::1) names no one; <c>all</c>: every address. Omitted from the JSON when <c>public</c>.
    /// </summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public PiiIpScope IpAddresses { get; init; }

    public override void Validate(StageChecks check)
    {
        var known = PiiTypes.All.Select(PiiTypes.Name).ToHashSet();
        foreach (var type in Types ?? [])
            check.That(known.Contains(type), "types", $"'{type}' is not one of {string.Join(", ", known)}");
        check.That(Types is null || Types.Count > 0, "types", "must name at least one type (omit it for all)");
        check.That(DefaultRegion is null || PhoneNumbers.PhoneNumberUtil.GetInstance().GetSupportedRegions().Contains(DefaultRegion),
            "defaultRegion", $"'{DefaultRegion}' is not a region code libphonenumber knows (e.g. US, DE, JP)");
    }

    public IReadOnlySet<PiiType> SelectedTypes() =>
        (Types is null ? PiiTypes.All : PiiTypes.All.Where(t => Types.Contains(PiiTypes.Name(t)))).ToHashSet();

    public override IDocumentTransform CreateTransform() => new PiiTransform(this);
}

/// <summary>The pii stage's transform: one scan per document, counts per type as columns, then redaction or a drop.</summary>
public sealed class PiiTransform : IDocumentTransform
{
    public const string ContainsPii = "contains_pii";

    private readonly PiiStageSpec _spec;
    private readonly IReadOnlySet<PiiType> _types;

    public PiiTransform(PiiStageSpec spec)
    {
        _spec = spec;
        _types = spec.SelectedTypes();
        AddedColumns = PiiTypes.All.Where(_types.Contains).Select(t => new ColumnSchema(CountColumn(t), typeof(int))).ToArray();
    }

    /// <summary>The count column of a type: <c>pii_email</c>, <c>pii_ip_address</c>, ….</summary>
    public static string CountColumn(PiiType type) => "pii_" + PiiTypes.Name(type);

    public IReadOnlyList<ColumnSchema> AddedColumns { get; }

    public void Process(RecordBatch batch, DropCollector drops)
    {
        var columns = PiiTypes.All.Where(_types.Contains).ToDictionary(t => t, t => batch.ResetColumn<int>(CountColumn(t), batch.RowCount));
        var languages = batch.Find(TrainTokenizeStage.LanguageColumn) as Column<string>;
        var texts = batch.Texts;
        Span<int> counts = stackalloc int[PiiTypes.All.Count];
        for (var row = 0; row < batch.RowCount; row++)
        {
            var text = texts[row];
            var matches = PiiScanner.Find(text, _types, PhoneRegions.For(languages?[row], _spec.DefaultRegion), _spec.IpAddresses == PiiIpScope.All);
            counts.Clear();
            foreach (var m in matches) counts[(int)m.Type]++;
            foreach (var (type, column) in columns) column.Add(counts[(int)type]);
            if (matches.Count == 0) continue;
            if (_spec.Mode == PiiMode.Drop) drops.Drop(row, ContainsPii, Describe(counts));
            else texts[row] = Redact(text, matches);
        }
    }

    /// <summary>The text with every match replaced by its type's placeholder.</summary>
    public static string Redact(string text, IReadOnlyList<PiiMatch> matches)
    {
        var result = new StringBuilder(text.Length);
        var at = 0;
        foreach (var m in matches)
        {
            result.Append(text, at, m.Start - at).Append(PiiTypes.Placeholder(m.Type));
            at = m.End;
        }
        return result.Append(text, at, text.Length - at).ToString();
    }

    /// <summary>Counts only, e.g. <c>email 2, phone 1</c>: a found value never appears in a detail.</summary>
    private static string Describe(ReadOnlySpan<int> counts)
    {
        var parts = new List<string>();
        for (var t = 0; t < counts.Length; t++)
            if (counts[t] > 0) parts.Add($"{PiiTypes.Name((PiiType)t)} {counts[t].ToString(CultureInfo.InvariantCulture)}");
        return string.Join(", ", parts);
    }
}
