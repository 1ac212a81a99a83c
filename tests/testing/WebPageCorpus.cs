using System.IO.Compression;
using System.Net;
using System.Text;
using System.Text.RegularExpressions;
using AngleSharp.Html.Parser;

namespace Curation.Testing;

/// <summary>
/// Real web pages with a known article: the HTML documentation Debian packages ship under /usr/share/doc, each page's
/// body wrapped in generated site chrome (navigation, cookie banner, sidebar of related links, newsletter box, footer)
/// in one of several markup styles (semantic tags or divs with class names). The article text is the original page's
/// body text. Also writes WARC records and scores extractions (token-level precision, recall, F1).
/// </summary>
public static partial class WebPageCorpus
{
    public sealed record Page(string Path, string Title, string Html, string ArticleText);

    /// <summary>
    /// Debian's HTML documentation pages of at least 3 KB, in path order, each content once (several packages ship the
    /// same NEWS.html); none on a machine without them.
    /// </summary>
    public static IReadOnlyList<string> DebianPages(int max) =>
        Directory.Exists("/usr/share/doc")
            ? Directory.EnumerateFiles("/usr/share/doc", "*.html", SearchOption.AllDirectories)
                .Where(p => new FileInfo(p).Length >= 3000 && !p.Contains("/changelog", StringComparison.Ordinal))
                .Order(StringComparer.Ordinal)
                .DistinctBy(p => Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(p))))
                .Take(max).ToArray()
            : [];

    /// <summary>A page wrapped in generated chrome; the style and the chrome's words depend on <paramref name="random"/>.</summary>
    public static Page Wrap(string path, Random random)
    {
        var parser = new HtmlParser();
        using var original = parser.ParseDocument(File.ReadAllText(path));
        foreach (var e in original.QuerySelectorAll("script, style").ToArray()) e.Remove();
        var title = Whitespace().Replace(original.Title ?? "", " ").Trim();
        return Wrap(path, title, original.Body?.InnerHtml ?? "", original.Body?.TextContent ?? "", random);
    }

    /// <summary>
    /// A page of <paramref name="title"/> whose article is <paramref name="body"/> (HTML; its text <paramref name="article"/>)
    /// wrapped in generated chrome (~2.3 KB); the style and the chrome's words depend on <paramref name="random"/>.
    /// </summary>
    public static Page Wrap(string path, string title, string body, string article, Random random)
    {
        var site = Pick(random, ["Acme Docs", "OpenKnowledge", "DevNotes Hub", "The Manual Site"]);
        var semantic = random.Next(2) == 0;
        var html = new StringBuilder();
        html.Append($"<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>{WebUtility.HtmlEncode(title)}</title>");
        html.Append("<style>.cookie-banner{position:fixed}</style><script>window.analytics = { track: function() {} };</script></head><body>");
        html.Append(semantic ? "<header class=\"site-header\">" : "<div class=\"site-header\">");
        html.Append($"<a class=\"logo\" href=\"/\">{site}</a>");
        html.Append(semantic ? "<nav>" : "<div class=\"navbar\">");
        html.Append("<ul>");
        foreach (var item in new[] { "Home", "Products", "Documentation", "Blog", "Community", "About us", "Contact" })
            html.Append($"<li><a href=\"/{item.ToLowerInvariant().Replace(' ', '-')}\">{item}</a></li>");
        html.Append("</ul>");
        html.Append(semantic ? "</nav></header>" : "</div></div>");
        html.Append("<div id=\"cookie-consent\" class=\"cookie-banner\"><p>We use cookies and similar technologies to improve your browsing experience, ");
        html.Append("personalise content and analyse our traffic. By clicking Accept you consent to our use of cookies.</p><button>Accept</button> <a href=\"/privacy\">Learn more</a></div>");
        html.Append("<div class=\"breadcrumb\"><a href=\"/\">Home</a> › <a href=\"/docs\">Docs</a> › " + WebUtility.HtmlEncode(title) + "</div>");
        html.Append("<div class=\"layout\">");
        html.Append(random.Next(2) == 0 ? $"<div class=\"content\">{body}</div>" : $"<div id=\"page-body\"><div class=\"post\">{body}</div></div>");
        html.Append(semantic ? "<aside>" : "<div class=\"sidebar\">");
        html.Append("<h3>Related articles</h3><ul>");
        for (var i = 0; i < 6; i++)
            html.Append($"<li><a href=\"/articles/{random.Next(10_000)}\">{Pick(random, ["How to", "Getting started with", "A guide to", "Ten tips for", "Understanding"])} {Pick(random, ["shell scripting", "package management", "networking", "file systems", "system logs", "backups"])}</a></li>");
        html.Append("</ul><div class=\"newsletter\"><h4>Subscribe to our newsletter</h4><p>Get the latest tutorials, release notes and community news ");
        html.Append("delivered to your inbox every week. No spam, unsubscribe at any time.</p><form><input type=\"email\"><button>Subscribe</button></form></div>");
        html.Append(semantic ? "</aside>" : "</div>");
        html.Append("</div>");
        html.Append(semantic ? "<footer>" : "<div class=\"footer\">");
        html.Append($"<p>© 2026 {site}. All rights reserved. Content is provided as is without warranty of any kind.</p>");
        html.Append("<ul><li><a href=\"/privacy\">Privacy policy</a></li><li><a href=\"/terms\">Terms of use</a></li><li><a href=\"/imprint\">Imprint</a></li></ul>");
        html.Append(semantic ? "</footer>" : "</div>");
        html.Append("<div class=\"share\"><a href=\"#\">Share on Twitter</a> <a href=\"#\">Share on Facebook</a> <a href=\"#\">Share by e-mail</a></div>");
        html.Append("</body></html>");
        return new Page(path, title, html.ToString(), article);
    }

    private static string Pick(Random random, string[] items) => items[random.Next(items.Length)];

    /// <summary>Lower-case word tokens (letters and digits, any script).</summary>
    public static List<string> Tokens(string text) => Word().Matches(text.ToLowerInvariant()).Select(m => m.Value).ToList();

    /// <summary>Token-level precision, recall and F1 of an extraction against the true text (bags of words).</summary>
    public static (double Precision, double Recall, double F1) Score(string extracted, string truth)
    {
        var want = Tokens(truth).GroupBy(t => t).ToDictionary(g => g.Key, g => g.Count());
        var got = Tokens(extracted);
        var overlap = 0;
        foreach (var token in got)
            if (want.TryGetValue(token, out var left) && left > 0) { overlap++; want[token] = left - 1; }
        var truthCount = Tokens(truth).Count;
        var precision = got.Count == 0 ? 0 : (double)overlap / got.Count;
        var recall = truthCount == 0 ? 0 : (double)overlap / truthCount;
        return (precision, recall, precision + recall == 0 ? 0 : 2 * precision * recall / (precision + recall));
    }

    /// <summary>One WARC record (version line, headers, block, two CRLFs).</summary>
    public static byte[] WarcRecord(string version, string type, string? url, byte[] block, string contentType, int serial)
    {
        var head = new StringBuilder();
        head.Append($"{version}\r\nWARC-Type: {type}\r\n");
        if (url is not null) head.Append($"WARC-Target-URI: {url}\r\n");
        head.Append($"WARC-Date: 2026-01-{1 + serial % 28:D2}T10:00:00Z\r\nWARC-Record-ID: <urn:uuid:00000000-0000-4000-8000-{serial:D12}>\r\n");
        head.Append($"Content-Type: {contentType}\r\nContent-Length: {block.Length}\r\n\r\n");
        return [.. Encoding.ASCII.GetBytes(head.ToString()), .. block, .. "\r\n\r\n"u8];
    }

    /// <summary>An HTTP response block of a WARC response record.</summary>
    public static byte[] HttpResponse(string contentType, byte[] body) =>
        [.. Encoding.ASCII.GetBytes($"HTTP/1.1 200 OK\r\nContent-Type: {contentType}\r\nContent-Length: {body.Length}\r\n\r\n"), .. body];

    /// <summary>One gzip member (WARC.gz files hold one per record).</summary>
    public static byte[] GzipMember(byte[] data)
    {
        var output = new MemoryStream();
        using (var gzip = new GZipStream(output, CompressionLevel.Fastest, leaveOpen: true)) gzip.Write(data);
        return output.ToArray();
    }

    [GeneratedRegex(@"[\p{L}\p{N}]+")]
    private static partial Regex Word();

    [GeneratedRegex(@"\s+")]
    private static partial Regex Whitespace();
}
