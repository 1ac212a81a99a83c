using Curation.Pipelines.Text;

namespace Curation.Pipelines.Tests.Text;

public sealed class HtmlExtractorTests
{
    private readonly HtmlExtractor _extractor = new();

    [Fact]
    public void Keeps_paragraph_breaks_lines_and_pre_and_drops_chrome_scripts_and_link_lists()
    {
        const string html = """
            <html><head><title> The  Title </title><style>p{}</style><script>var x = 1;</script></head><body>
            <div class="navbar"><a href="/">Home</a> <a href="/a">About</a></div>
            <div id="cookie-banner"><p>We use cookies on this site to give you the best experience.</p></div>
            <div class="content">
              <h1>Heading</h1>
              <p>First   paragraph with <b>bold</b> text
              across lines.</p>
              <p>Second line one<br>second line two</p>
              <ul><li>item one</li><li>item two</li></ul>
              <pre>  code  kept
                as is</pre>
              <div class="links"><a href="/1">Related one</a> <a href="/2">Related two</a></div>
              <p hidden>hidden text</p>
            </div>
            <footer><p>Copyright 2026</p></footer>
            </body></html>
            """;
        var result = _extractor.Extract(html);
        Assert.Equal("The Title", result.Title);
        Assert.Equal("Heading\n\nFirst paragraph with bold text across lines.\n\nSecond line one\nsecond line two\n\nitem one\nitem two\n\n  code  kept\n    as is",
            result.Text.Replace("\r", ""));
    }

    [Fact]
    public void Prefers_the_single_article_and_reads_unspaced_scripts()
    {
        var result = _extractor.Extract("<body><div class=\"sidebar\"><p>Side text that is long enough to count here.</p></div><article><h1>題</h1><p>これは本文です。句読点も残ります。</p></article></body>");
        Assert.Equal("題\n\nこれは本文です。句読点も残ります。", result.Text);
        Assert.Equal("題", result.Title);
        Assert.Equal("", _extractor.Extract("<html><body><nav><a href=\"/\">x</a></nav></body></html>").Text);
    }
}
