using Curation.Pipelines.Model;
using Curation.Pipelines.Spec;
using Curation.Pipelines.Text;

namespace Curation.Pipelines.Stages;

/// <summary>
/// Drops documents whose <c>url</c> (from WARC/HTML inputs or metadata passthrough) is on a blocklist: a domain list
/// (one per line; a listed domain blocks its subdomains too; <c>#</c> comments) and a substring list (one per line,
/// matched case-insensitively against the normalised URL). A document without a URL is kept; a job whose data has
/// no <c>url</c> column fails naming the stage.
/// </summary>
[Stage(TypeName, Role = StageRole.Filter)]
public sealed record UrlFilterStageSpec : DocumentStageSpec
{
    public const string TypeName = "url_filter";

    /// <summary>Absolute path of a text file of blocked domains, one a line; null: none.</summary>
    public string? DomainsPath { get; init; }

    /// <summary>Absolute path of a text file of blocked URL substrings, one a line; null: none.</summary>
    public string? SubstringsPath { get; init; }

    public override void Validate(StageChecks check)
    {
        check.That(DomainsPath is not null || SubstringsPath is not null, "domainsPath", "name a domain list, a substring list or both");
        check.That(DomainsPath is null || Path.IsPathRooted(DomainsPath), "domainsPath", "must be an absolute path");
        check.That(SubstringsPath is null || Path.IsPathRooted(SubstringsPath), "substringsPath", "must be an absolute path");
    }

    public override IDocumentTransform CreateTransform() => new UrlFilterTransform(this);

    public override IEnumerable<StageFile> FilesRead() =>
        new[] { (DomainsPath, "domainsPath"), (SubstringsPath, "substringsPath") }.Where(f => f.Item1 is not null).Select(f => new StageFile(f.Item2, f.Item1!));
}

public sealed class UrlFilterTransform : IDocumentTransform
{
    public const string UrlColumn = "url";
    public const string BlockedDomain = "blocked_domain";
    public const string BlockedSubstring = "blocked_url_substring";

    private readonly Lazy<(HashSet<string> Domains, string[] Substrings)> _lists;

    /// <summary>The lists are read when the first batch comes, not when the stage is built (validation builds stages too).</summary>
    public UrlFilterTransform(UrlFilterStageSpec spec) => _lists = new(() =>
        (Lines(spec.DomainsPath, "domainsPath").Select(d => d.ToLowerInvariant().TrimEnd('.')).Select(d => d.StartsWith("www.", StringComparison.Ordinal) ? d[4..] : d)
            .ToHashSet(StringComparer.Ordinal),
         Lines(spec.SubstringsPath, "substringsPath").Select(s => s.ToLowerInvariant()).Distinct().ToArray()));

    private static List<string> Lines(string? path, string field)
    {
        if (path is null) return [];
        try
        {
            return File.ReadLines(path).Select(l => l.Trim()).Where(l => l.Length > 0 && !l.StartsWith('#')).ToList();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new IOException($"{UrlFilterStageSpec.TypeName}: {field} '{path}' cannot be read ({e.Message})", e);
        }
    }

    public IReadOnlyList<ColumnSchema> AddedColumns { get; } = [];

    public void Process(RecordBatch batch, DropCollector drops)
    {
        if (batch.RowCount == 0) return;
        var (domains, substrings) = _lists.Value;
        if (batch.Find(UrlColumn) is not Column<string> urls)
            throw new InvalidOperationException(
                $"{UrlFilterStageSpec.TypeName} needs a '{UrlColumn}' column (WARC/HTML inputs or a passed-through metadata field named url); this data has none.");
        for (var row = 0; row < batch.RowCount; row++)
        {
            var url = urls[row];
            if (string.IsNullOrEmpty(url)) continue;
            if (BlockedDomainOf(domains, UrlNormalizer.Host(url)) is { } domain) { drops.Drop(row, BlockedDomain, $"domain {domain} is on the blocklist"); continue; }
            var normal = (UrlNormalizer.Normalize(url) ?? url).ToLowerInvariant();
            foreach (var s in substrings)
                if (normal.Contains(s, StringComparison.Ordinal)) { drops.Drop(row, BlockedSubstring, $"url contains blocked '{s}'"); break; }
        }
    }

    /// <summary>The listed domain that <paramref name="host"/> is or is a subdomain of.</summary>
    private static string? BlockedDomainOf(HashSet<string> domains, string? host)
    {
        if (host is null || domains.Count == 0) return null;
        for (var at = 0; at >= 0; at = host.IndexOf('.', at) is var dot and >= 0 ? dot + 1 : -1)
            if (domains.Contains(host[at..])) return host[at..];
        return null;
    }
}
