namespace Curation.Bench;

/// <summary>
/// Web-like urls for the generated corpus (<see cref="CorpusForm.JsonlWebUrls"/>, <see cref="CorpusForm.Warc"/>) and the
/// block lists url_filter is sized with. Document d lives on one of <see cref="Hosts"/> registered domains
/// (<c>site{n}.{tld}</c>, under www., blog., … or none) in a section path; every 20th domain is on the domain list
/// (~5% of the documents) and every 50th document's path is <c>/casino-bonus/</c>, on the substring list (~2%, of which
/// those already on a blocked domain count there). The lists are padded to UT1-like sizes with entries the corpus never
/// uses, so the figure is that of a real list's lookup structures, and the share blocked is known per document.
/// </summary>
public static class WebUrls
{
    public const int Hosts = 100_000;
    public const int BlockedHostEvery = 20;
    public const int BlockedPathEvery = 50;
    public const string BlockedSubstring = "casino-bonus";

    /// <summary>Domain-list size: UT1's categories run from ~100k to ~1M domains (its adult list is larger): the top of that range.</summary>
    public const int DomainListSize = 1_000_000;

    /// <summary>Substring-list size: a few hundred url fragments, as blocklists' "expressions" files hold.</summary>
    public const int SubstringListSize = 500;

    private static readonly string[] Tlds = ["com", "org", "net", "de", "info", "co.uk"];
    private static readonly string[] Subdomains = ["www.", "", "blog.", "news.", "shop.", "m."];
    private static readonly string[] Sections = ["news", "blog", "sport", "tech", "travel", "food", "health", "finance", "science", "culture"];

    /// <summary>The domain number of document <paramref name="doc"/> (a multiplicative hash, so neighbours differ).</summary>
    public static int HostOf(int doc) => (int)(unchecked((uint)doc * 2654435761u) % Hosts);

    public static string Domain(int host) => $"site{host}.{Tlds[host % Tlds.Length]}";

    public static string Of(int doc) =>
        $"https://{Subdomains[doc % Subdomains.Length]}{Domain(HostOf(doc))}/" +
        $"{(doc % BlockedPathEvery == 0 ? BlockedSubstring : Sections[doc / BlockedPathEvery % Sections.Length])}/{doc}";

    public static bool OnBlockedDomain(int doc) => HostOf(doc) % BlockedHostEvery == 0;

    public static bool OnBlockedPathOnly(int doc) => !OnBlockedDomain(doc) && doc % BlockedPathEvery == 0;

    /// <summary>How many of the first <paramref name="documents"/> documents the lists block by domain and (only) by substring.</summary>
    public static (long Domain, long Substring) Blocked(int documents)
    {
        long domain = 0, substring = 0;
        for (var doc = 0; doc < documents; doc++)
        {
            if (OnBlockedDomain(doc)) domain++;
            else if (OnBlockedPathOnly(doc)) substring++;
        }
        return (domain, substring);
    }

    /// <summary>Writes the domain list (the corpus' blocked domains among padding, one a line) and the substring list.</summary>
    public static (string Domains, string Substrings) WriteLists(string folder)
    {
        Directory.CreateDirectory(folder);
        var domains = Path.Combine(folder, "blocked-domains.txt");
        var substrings = Path.Combine(folder, "blocked-substrings.txt");
        using (var writer = new StreamWriter(domains))
        {
            writer.WriteLine("# generated UT1-style domain list: the corpus' blocked domains among padding");
            var padding = 0;
            for (var line = 0; line < DomainListSize; line++)
                if (line < Hosts && line % BlockedHostEvery == 0)
                    writer.WriteLine(Domain(line));
                else
                    writer.WriteLine($"ut1-{padding++:D7}-{Sections[padding % Sections.Length]}.{Tlds[padding % Tlds.Length]}");
        }
        using (var writer = new StreamWriter(substrings))
        {
            writer.WriteLine(BlockedSubstring);
            for (var i = 1; i < SubstringListSize; i++) writer.WriteLine($"xq{i:D4}-promo");
        }
        return (domains, substrings);
    }
}
