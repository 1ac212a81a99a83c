using System.Text;
using System.Text.Json;
using Curation.Pipelines.IO;
using Curation.Pipelines.IO.Readers;
using Curation.Testing;
using static Curation.Pipelines.Tests.IO.ReaderTestSupport;

namespace Curation.Pipelines.Tests.IO;

/// <summary>
/// Pages that declare no charset (no HTTP header, byte order mark or meta tag) and are not UTF-8 are decoded as a
/// browser does, by guessing, instead of being quarantined as invalid UTF-8: Debian's own libxslt manual
/// (<c>/usr/share/doc/libxslt1-dev/html/xslt.html</c>, ISO-8859-1 without a charset) was lost that way. Real text of
/// several scripts (the Debian FAQ's translations in <c>tests/data/multilingual</c>) in the legacy charsets their pages
/// used must come back exactly.
/// </summary>
public sealed class HtmlCharsetTests
{
    static HtmlCharsetTests() => Encoding.RegisterProvider(CodePagesEncodingProvider.Instance);

    private static string Faq(string language, int paragraphs = 3)
    {
        var path = Path.Combine(RepositoryRoot.Get(), "tests", "data", "multilingual", language == "th" ? "th.jsonl" : "faq.jsonl");
        return string.Join("\n", File.ReadLines(path)
            .Select(line => JsonDocument.Parse(line).RootElement)
            .Where(e => e.GetProperty("id").GetString()!.StartsWith(language == "th" ? "" : $"faq-{language}-", StringComparison.Ordinal))
            .Take(paragraphs).Select(e => $"<p>{e.GetProperty("text").GetString()}</p>"));
    }

    private static string Page(string body) => $"<!DOCTYPE html>\n<html><head><title>FAQ</title></head>\n<body>\n{body}\n</body></html>\n";

    [Theory]
    [InlineData("de", "windows-1252", "windows-1252")]
    [InlineData("de", "iso-8859-1", "windows-1252")]
    [InlineData("zh-cn", "gb18030", "gb2312 gbk gb18030")]
    [InlineData("ja", "shift_jis", "shift_jis")]
    [InlineData("ja", "euc-jp", "euc-jp")]
    [InlineData("ko", "euc-kr", "euc-kr ks_c_5601-1987")]
    [InlineData("th", "windows-874", "windows-874 tis-620")]
    public void An_undeclared_legacy_page_is_decoded_to_its_text_and_names_the_charset(string language, string encoding, string acceptedCharsets)
    {
        // What the bytes say (ISO-8859-1 has no „ of the German text): the page as its author's editor saved it.
        var bytes = Encoding.GetEncoding(encoding).GetBytes(Page(Faq(language)));
        var html = Encoding.GetEncoding(encoding).GetString(bytes);
        Assert.True(ReaderText.FirstInvalidUtf8(bytes) >= 0, "the test page must not be valid UTF-8");

        var (text, charset, problem, detail) = HtmlText.Decode(bytes, null);

        Assert.Null(problem);
        Assert.Null(detail);
        Assert.Equal(html, text);
        Assert.Contains(charset, acceptedCharsets.Split(' '));
    }

    [Fact]
    public void A_page_declaring_UTF_8_or_one_that_is_UTF_8_with_a_bad_byte_is_still_quarantined()
    {
        var html = Encoding.UTF8.GetBytes(Page(Faq("ja") + Faq("de")));
        var damaged = html.ToArray();
        var at = Array.IndexOf(damaged, (byte)0xE3, 200);
        damaged[at] = 0xFF;

        var undeclared = HtmlText.Decode(damaged, null);
        Assert.Equal(QuarantineReasons.InvalidUtf8, undeclared.Problem);
        Assert.Contains($"byte {ReaderText.Num(at)}", undeclared.Detail);
        Assert.Equal(QuarantineReasons.InvalidUtf8, HtmlText.Decode(damaged, "utf-8").Problem);
        Assert.Equal(QuarantineReasons.InvalidUtf8, HtmlText.Decode([.. "<meta charset=\"utf-8\">"u8, .. Encoding.Latin1.GetBytes("caf\u00e9")], null).Problem);
        Assert.Null(HtmlText.Decode(html, null).Problem);
    }

    [Fact]
    public void A_declared_charset_is_obeyed_and_the_guess_is_the_same_for_the_same_bytes()
    {
        var page = Page(Faq("de"));
        var latin = Encoding.Latin1.GetBytes(page);
        // Declared windows-1251 (a wrong label): the declaration wins, as in a browser.
        Assert.Equal("windows-1251", HtmlText.Decode(latin, "windows-1251").Charset);
        var guesses = Enumerable.Range(0, 3).Select(_ => HtmlText.Guess(latin)?.WebName ?? "none").Distinct().ToArray();
        Assert.Equal(["windows-1252"], guesses);
    }

    [Fact]
    public async Task An_html_file_and_a_warc_response_without_a_charset_become_documents()
    {
        var latin = Encoding.GetEncoding("windows-1252").GetBytes(Page(Faq("de")));
        var html = Encoding.GetEncoding("windows-1252").GetString(latin);
        var file = Assert.Single(await ReadAllAsync(HtmlFileReader.Instance, latin, MakeSpec(), "manual/xslt.html"));
        Assert.Null(file.Problem);
        Assert.Equal(html, file.Text);
        Assert.Equal("windows-1252", file.Fields!.Single(f => f.Name == "charset").Value);

        var sjis = Encoding.GetEncoding("shift_jis").GetBytes(Page(Faq("ja")));
        var warc = WebPageCorpus.WarcRecord("WARC/1.1", "response", "https://ja.example/faq",
            WebPageCorpus.HttpResponse("text/html", sjis), "application/http; msgtype=response", 1);
        var record = Assert.Single(await ReadAllAsync(WarcReader.Plain, warc, MakeSpec(), "crawl.warc"));
        Assert.Null(record.Problem);
        Assert.Equal(Page(Faq("ja")), record.Text);
        Assert.Equal("shift_jis", record.Fields!.Single(f => f.Name == "charset").Value);
    }
}
