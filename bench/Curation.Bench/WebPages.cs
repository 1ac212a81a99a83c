using System.Net;
using System.Text;
using Curation.Testing;

namespace Curation.Bench;

/// <summary>
/// The generated corpus as crawled pages (<see cref="CorpusForm.Warc"/>): each text's paragraphs as the article of an HTML
/// page in the site chrome <c>bench extract</c> and the extraction tests use (<see cref="WebPageCorpus.Wrap(string, string, string, string, Random)"/>:
/// navigation, cookie banner, sidebar, newsletter box, footer; ~2.3 KB), in a WARC response record (HTTP headers, UTF-8)
/// compressed as one gzip member, as in Common Crawl's <c>.warc.gz</c> files.
/// </summary>
public static class WebPages
{
    public static byte[] Record(int doc, string url, string text, Random style)
    {
        var title = Title(text);
        var body = new StringBuilder(text.Length + 256);
        body.Append($"<article><h1>{WebUtility.HtmlEncode(title)}</h1>");
        foreach (var paragraph in text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            body.Append("<p>").Append(WebUtility.HtmlEncode(paragraph)).Append("</p>");
        body.Append("</article>");
        var page = WebPageCorpus.Wrap(url, title, body.ToString(), text, style);
        var http = WebPageCorpus.HttpResponse("text/html; charset=utf-8", Encoding.UTF8.GetBytes(page.Html));
        return WebPageCorpus.GzipMember(WebPageCorpus.WarcRecord("WARC/1.1", "response", url, http, "application/http; msgtype=response", doc));
    }

    /// <summary>The page title: the text's first words (at most 8), or "Untitled" for a text with none.</summary>
    private static string Title(string text)
    {
        var words = text.Split((char[]?)null, 9, StringSplitOptions.RemoveEmptyEntries);
        return words.Length == 0 ? "Untitled" : string.Join(' ', words.Take(8)).TrimEnd('.', ',');
    }
}
