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

    /// <summary>
    /// Syntax highlighters mark a code comment with a class naming it: rustdoc <c>comment</c> (markup as in the shipped
    /// Rust documentation's <c>std/iter/struct.Peekable.html</c>), Prism <c>token comment</c>, highlight.js
    /// <c>hljs-comment</c>. The chrome rule took them for a comments section and cut every comment out of the code; as in
    /// Mozilla Readability, whose unlikely-candidate rule skips anything inside <c>code</c>, the class rules leave code alone.
    /// </summary>
    [Fact]
    public void Keeps_the_comments_of_highlighted_code()
    {
        const string html = """
            <html><body><main>
            <pre class="rust item-decl"><code>pub struct Peekable&lt;I&gt;<div class="where">where
                I: <a class="trait" href="trait.Iterator.html">Iterator</a>,</div>{ <span class="comment">/* private fields */</span> }</code></pre>
            <p>An iterator with a peek() that returns an optional reference to the next element.</p>
            <div class="example-wrap"><pre class="rust rust-example-rendered"><code><span class="kw">let </span>xs = [<span class="number">1</span>, <span class="number">2</span>];

            <span class="comment">// peek() lets us see into the future
            </span><span class="macro">assert_eq!</span>(iter.peek(), <span class="prelude-val">Some</span>(&amp;&amp;<span class="number">1</span>));</code></pre></div>
            <pre><code class="language-python"><span class="token comment"># Prism: a comment</span>
            x <span class="token operator">=</span> <span class="token number">1</span></code></pre>
            <pre><code class="hljs"><span class="hljs-comment">// highlight.js: a comment</span>
            <span class="hljs-keyword">let</span> y = 2;</code></pre>
            <div class="comments"><h2>3 Comments</h2><p>Great post, thanks for sharing this with all of us!</p></div>
            </main></body></html>
            """;
        var text = _extractor.Extract(html).Text.Replace("\r", "");
        Assert.Contains("{ /* private fields */ }", text);
        Assert.Contains("// peek() lets us see into the future\nassert_eq!(iter.peek(), Some(&&1));", text);
        Assert.Contains("# Prism: a comment\nx = 1", text);
        Assert.Contains("// highlight.js: a comment\nlet y = 2;", text);
        Assert.DoesNotContain("Great post", text); // a comments section outside code is still chrome
    }

    /// <summary>
    /// A <c>pre</c> was written as its text content, which holds no line for a <c>br</c> and none between block elements:
    /// code whose highlighter writes a <c>br</c> per line, or a <c>div</c> or <c>li</c> per line (line-numbered listings),
    /// came out as one line; rustdoc's <c>where</c> clause (a <c>div</c>) was glued to the declaration. Now the lines are
    /// there as a browser renders them.
    /// </summary>
    [Fact]
    public void Keeps_the_lines_of_a_pre_written_with_br_div_or_li()
    {
        string Text(string pre) => _extractor.Extract($"<html><body><main><p>Listing:</p>{pre}</main></body></html>").Text.Replace("\r", "");
        Assert.Equal("Listing:\n\na = 1\nb = 2", Text("<pre>a = 1<br>b = 2</pre>"));
        Assert.Equal("Listing:\n\ndef f():\n    return 1\n\nf()", Text("<pre><div class=\"line\">def f():</div><div class=\"line\">    return 1</div><div class=\"line\"><br></div><div class=\"line\">f()</div></pre>"));
        Assert.Equal("Listing:\n\nx = 1\ny = 2", Text("<pre class=\"prettyprint\"><code><ol class=\"linenums\"><li>x = 1</li><li>y = 2</li></ol></code></pre>"));
        Assert.Equal("Listing:\n\npub struct Peekable<I>\nwhere\n    I: Iterator,\n{ /* private fields */ }",
            Text("<pre class=\"rust item-decl\"><code>pub struct Peekable&lt;I&gt;<div class=\"where\">where\n    I: <a href=\"trait.Iterator.html\">Iterator</a>,</div>{ <span class=\"comment\">/* private fields */</span> }</code></pre>"));
        Assert.Equal("Listing:\n\n  kept\n    as is", Text("<pre>\n  kept\n    as is\n</pre>"));
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
