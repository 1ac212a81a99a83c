using System.Text;
using System.Text.RegularExpressions;
using AngleSharp.Dom;
using AngleSharp.Html.Parser;

namespace Curation.Pipelines.Text;

/// <summary>
/// Main-content extraction from an HTML page (AngleSharp's HTML5 parser plus our own boilerplate removal): drops
/// scripts, styles, forms, navigation, headers, footers, asides, hidden elements and blocks whose class or id names
/// site chrome (menu, cookie banner, sidebar, related links, share buttons…); takes the page's single
/// <c>&lt;article&gt;</c>, else its <c>&lt;main&gt;</c>, else the block holding the most paragraph text (links
/// discounted); drops link lists inside it; and writes its text with paragraph breaks (blank line between blocks,
/// one line per list item or table row, <c>&lt;pre&gt;</c> kept as it is).
/// </summary>
public sealed partial class HtmlExtractor
{
    private static readonly HashSet<string> Removed =
    [
        "script", "style", "noscript", "template", "svg", "canvas", "iframe", "object", "embed", "form", "button", "input",
        "select", "textarea", "nav", "footer", "aside", "dialog", "menu", "head", "link", "meta",
    ];

    private static readonly HashSet<string> ChromeRoles = ["navigation", "banner", "contentinfo", "complementary", "search", "dialog", "alertdialog", "menu", "menubar"];

    /// <summary>Blocks that end a paragraph (blank line before and after).</summary>
    private static readonly HashSet<string> Paragraphs =
    [
        "p", "h1", "h2", "h3", "h4", "h5", "h6", "pre", "blockquote", "section", "article", "main", "div", "table", "ul", "ol", "dl",
        "figure", "figcaption", "address", "hr", "center", "body", "details", "summary", "fieldset",
    ];

    /// <summary>Blocks on a line of their own.</summary>
    private static readonly HashSet<string> Lines = ["li", "tr", "dt", "dd", "caption", "option"];

    private readonly HtmlParser _parser = new(new HtmlParserOptions { IsScripting = false });

    public readonly record struct Result(string Title, string Text);

    public Result Extract(string html)
    {
        using var document = _parser.ParseDocument(html);
        var title = Collapse(document.Title ?? "");
        var body = document.Body;
        if (body is null) return new Result(title, "");
        if (title.Length == 0 && body.QuerySelector("h1") is { } h1) title = Collapse(h1.TextContent);

        foreach (var element in body.QuerySelectorAll("*").ToArray())
            if (element.Parent is not null && IsChrome(element)) element.Remove();

        var root = PickRoot(body);
        // Link lists inside the content are chrome (related links, tag clouds) unless they are most of it (an index page).
        var rootLength = Collapse(root.TextContent).Length;
        foreach (var element in root.QuerySelectorAll("ul, ol, table, div, p").ToArray())
            if (element.Parent is not null && element.Closest("pre") is null && IsLinkList(element, rootLength)) element.Remove(); // a pre's lines stay

        var text = new TextWriter();
        text.Write(root);
        return new Result(title, text.ToString());
    }

    private static bool IsChrome(IElement element)
    {
        var name = element.LocalName;
        if (Removed.Contains(name)) return true;
        if (name == "header" && element.Closest("article, main") is null) return true;
        if (element.HasAttribute("hidden") || element.GetAttribute("aria-hidden") == "true") return true;
        if (element.GetAttribute("style") is { } style && HiddenStyle().IsMatch(style)) return true;
        // Inside code the class names are a highlighter's tokens (rustdoc's and Prism's "comment", highlight.js's
        // "hljs-comment"), never site chrome: Mozilla Readability's unlikely-candidate rule skips code the same way.
        if (element.Closest("code, pre") is not null) return false;
        if (element.GetAttribute("role") is { } role && ChromeRoles.Contains(role.ToLowerInvariant())) return true;
        var names = $"{element.ClassName} {element.Id}";
        return names.Length > 1 && ChromeName().IsMatch(names) && !ContentName().IsMatch(names);
    }

    /// <summary>The single article, else main, else the element with the most paragraph text.</summary>
    private static IElement PickRoot(IElement body)
    {
        var articles = body.QuerySelectorAll("article");
        if (articles.Length == 1) return articles[0];
        if (body.QuerySelector("main, [role=main]") is { } main) return main;

        // Text, link text at a fifth, counted into every ancestor: the deepest element holding most of it is the content.
        var weight = new Dictionary<IElement, int>();
        foreach (var node in body.Descendants<IText>())
        {
            var length = node.Data.AsSpan().Trim().Length;
            if (node.ParentElement?.Closest("a") is not null) length /= 5;
            if (length == 0) continue;
            for (var e = node.ParentElement; e is not null; e = e.ParentElement)
            {
                weight[e] = weight.GetValueOrDefault(e) + length;
                if (e == body) break;
            }
        }
        var total = weight.GetValueOrDefault(body);
        if (total == 0) return body;
        var best = body;
        while (true)
        {
            var next = best.Children.FirstOrDefault(c => weight.GetValueOrDefault(c) >= ContentShare * total);
            if (next is null || next.LocalName is "p" or "pre" or "li" or "td" or "tr" or "tbody" or "table" or "ul" or "ol") return best;
            best = next;
        }
    }

    /// <summary>The share of the page's (link-discounted) text the content element holds.</summary>
    private const double ContentShare = 0.85;

    /// <summary>A link list holding more than this share of the content's text is the content (an index page), not chrome.</summary>
    private const double IndexShare = 0.4;

    private static int LinkTextLength(IElement element) => element.QuerySelectorAll("a").Sum(a => Collapse(a.TextContent).Length);

    private static bool IsLinkList(IElement element, int rootLength)
    {
        var length = Collapse(element.TextContent).Length;
        if (length == 0) return element.QuerySelector("img, pre") is null;
        if (length > IndexShare * rootLength) return false;
        if (element.LocalName == "p" && length > 200) return false;
        return LinkTextLength(element) > 0.6 * length && element.QuerySelectorAll("a").Length >= 2;
    }

    private static string Collapse(string text) => Whitespace().Replace(text, " ").Trim();

    /// <summary>Writes text with paragraph breaks: blank line between paragraphs, newline between lines.</summary>
    private sealed class TextWriter
    {
        private readonly StringBuilder _text = new();
        private int _pendingBreak;   // 0 none, 1 newline, 2 blank line
        private bool _space;

        public void Write(INode node)
        {
            switch (node)
            {
                case IText t:
                    WriteInline(t.Data);
                    break;
                case IElement e when e.LocalName == "br":
                    Break(1);
                    break;
                case IElement e when e.LocalName == "pre":
                    Break(2);
                    WriteRaw(PreText(e).Trim('\n', '\r'));
                    Break(2);
                    break;
                case IElement e:
                    var level = Paragraphs.Contains(e.LocalName) ? 2 : Lines.Contains(e.LocalName) ? 1 : 0;
                    if (level > 0) Break(level);
                    var cell = e.LocalName is "td" or "th";
                    foreach (var child in e.ChildNodes) Write(child);
                    if (cell) _space = true;
                    if (level > 0) Break(level);
                    break;
            }
        }

        /// <summary>
        /// A pre's text as a browser lays it out: its characters as they are, a line for each <c>br</c> and around block
        /// elements (highlighters write a line as a <c>div</c> or <c>li</c>, or end it with a <c>br</c>).
        /// </summary>
        private static string PreText(IElement pre)
        {
            var text = new StringBuilder();
            void Line()
            {
                if (text.Length > 0 && text[^1] != '\n') text.Append('\n');
            }
            void Walk(INode node)
            {
                foreach (var child in node.ChildNodes)
                {
                    if (child is IText t) text.Append(t.Data);
                    else if (child is IElement { LocalName: "br" }) text.Append('\n');
                    else if (child is IElement e)
                    {
                        var block = Paragraphs.Contains(e.LocalName) || Lines.Contains(e.LocalName);
                        if (block) Line();
                        Walk(e);
                        if (block) Line();
                    }
                }
            }
            Walk(pre);
            return text.ToString();
        }

        private void Break(int level) => _pendingBreak = Math.Max(_pendingBreak, level);

        private void Flush()
        {
            if (_text.Length > 0 && _pendingBreak > 0) _text.Append(_pendingBreak == 2 ? "\n\n" : "\n");
            else if (_text.Length > 0 && _space) _text.Append(' ');
            _pendingBreak = 0;
            _space = false;
        }

        private void WriteInline(string data)
        {
            var i = 0;
            while (i < data.Length)
            {
                if (char.IsWhiteSpace(data[i])) { _space = true; i++; continue; }
                var start = i;
                while (i < data.Length && !char.IsWhiteSpace(data[i])) i++;
                Flush();
                _text.Append(data, start, i - start);
            }
        }

        private void WriteRaw(string text)
        {
            if (text.Length == 0) return;
            Flush();
            _text.Append(text);
        }

        public override string ToString() => _text.ToString().Trim();
    }

    [GeneratedRegex(@"(^|[\s_-])(nav|navbar|navigation|menu|menubar|topbar|masthead|site-header|footer|sidebar|side-bar|cookie|cookies|consent|gdpr|banner|breadcrumbs?|related|share|sharing|social|subscribe|newsletter|advert|advertisement|ads|ad|promo|popup|modal|skip-link|toolbar|pagination|pager|comments?)($|[\s_-])", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex ChromeName();

    [GeneratedRegex(@"(^|[\s_-])(article|main|post-body|entry-content|content-body|story)($|[\s_-])", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex ContentName();

    [GeneratedRegex(@"display\s*:\s*none|visibility\s*:\s*hidden", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex HiddenStyle();

    [GeneratedRegex(@"\s+")]
    private static partial Regex Whitespace();
}
