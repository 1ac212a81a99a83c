using System.Globalization;
using System.Net;
using System.Text;

namespace Curation.Pipelines.Reports;

/// <summary>
/// report.html: one self-contained page (inline SVG, inline CSS, no script, no external reference). Every value from
/// the corpus (ids, sources, texts, reasons) is HTML-encoded: a document's markup stays text.
/// </summary>
public static class CorpusReportHtml
{
    private static string E(object? value) => WebUtility.HtmlEncode(Convert.ToString(value, CultureInfo.InvariantCulture) ?? "");

    public static string Render(CorpusReport report)
    {
        var html = new StringBuilder();
        html.Append("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Corpus report: ").Append(E(report.JobName)).Append("</title>")
            .Append("<style>body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#1d2330}table{border-collapse:collapse;margin-bottom:1em}")
            .Append("th,td{text-align:left;padding:.2em .6em;border-bottom:1px solid #e6e8ec;vertical-align:top}svg text{font-size:11px}")
            .Append(".text{white-space:pre-wrap;font-family:monospace;font-size:12px;max-width:70em}</style></head><body>");
        html.Append("<h1>Corpus report: ").Append(E(report.JobName)).Append("</h1><p>job ").Append(E(report.JobId)).Append(" · ")
            .Append(report.Documents.ToString("N0", CultureInfo.InvariantCulture)).Append(" curated documents</p>");

        html.Append("<section id=\"funnel\"><h2>Funnel</h2>").Append(Bars(report.Funnel)).Append("</section>");
        html.Append("<section id=\"books\"><h2>Books and drop reasons</h2><table><tr><th>stage</th><th>in</th><th>kept</th><th>dropped</th><th>quarantined</th></tr>");
        foreach (var s in report.Books)
            html.Append("<tr><td>").Append(E(s.Stage)).Append("</td><td>").Append(s.In).Append("</td><td>").Append(s.Kept).Append("</td><td>")
                .Append(E(string.Join(", ", s.Dropped.OrderBy(d => d.Key, StringComparer.Ordinal).Select(d => $"{d.Key} {d.Value}")))).Append("</td><td>")
                .Append(E(string.Join(", ", s.Quarantined.OrderBy(d => d.Key, StringComparer.Ordinal).Select(d => $"{d.Key} {d.Value}")))).Append("</td></tr>");
        html.Append("</table></section>");
        html.Append("<section id=\"length\"><h2>Length (characters)</h2>").Append(Bars(report.LengthChars)).Append("</section>");
        if (report.Distributions.Count > 0)
        {
            html.Append("<section id=\"distributions\"><h2>Distributions</h2>");
            foreach (var d in report.Distributions)
                html.Append("<div id=\"").Append(E(d.Id)).Append("\" class=\"distribution\"><h3>").Append(E(d.Title)).Append("</h3>").Append(Bars(d.Bars)).Append("</div>");
            html.Append("</section>");
        }
        if (report.Languages.Count > 0)
        {
            html.Append("<section id=\"languages\"><h2>Per language</h2><table><tr><th>language</th><th>documents</th><th>mean characters</th><th>mean tokens</th></tr>");
            foreach (var l in report.Languages)
                html.Append("<tr><td>").Append(E(l.Language)).Append("</td><td>").Append(l.Documents).Append("</td><td>").Append(E(l.MeanChars))
                    .Append("</td><td>").Append(E(l.MeanTokens)).Append("</td></tr>");
            html.Append("</table>");
            if (report.LanguageScores.Count > 0)
                html.Append("<h3>Language score</h3>")
                    .Append(Bars(report.LanguageScores.Select(b => new Bar(string.Create(CultureInfo.InvariantCulture, $"{b.From:0.0}–{b.To:0.0}"), b.Count)).ToList()));
            html.Append("</section>");
        }
        RemovedLines(html, report);
        html.Append("<section id=\"sources\"><h2>Per source</h2>").Append(Bars(report.Sources)).Append("</section>");
        html.Append("<section id=\"kept-samples\"><h2>Sample of kept documents</h2><table><tr><th>id</th><th>source</th><th>text</th></tr>");
        foreach (var s in report.Kept)
            html.Append("<tr><td>").Append(E(s.Id)).Append("</td><td>").Append(E(s.Source)).Append("</td><td class=\"text\">").Append(E(s.Text)).Append("</td></tr>");
        html.Append("</table></section>");
        html.Append("<section id=\"dropped-samples\"><h2>Sample of dropped documents, per reason</h2><table><tr><th>id</th><th>reason</th><th>duplicate of</th><th>source</th></tr>");
        foreach (var s in report.Dropped)
            html.Append("<tr><td>").Append(E(s.Id)).Append("</td><td>").Append(E(s.Reason)).Append("</td><td>").Append(E(s.Twin)).Append("</td><td>")
                .Append(E(s.Source)).Append("</td></tr>");
        html.Append("</table></section></body></html>\n");
        return html.ToString();
    }

    /// <summary>Rows of the removed-lines table per line_dedup stage.</summary>
    private const int RemovedLineRows = 20;

    /// <summary>The longest excerpt of a removed line shown (the stage already keeps only its start).</summary>
    private const int RemovedLineChars = 120;

    /// <summary>
    /// Each line_dedup stage's most repeated removed lines (or paragraphs), from its report in the manifest: the text
    /// (escaped, truncated), the documents it occurs in and how many lost it.
    /// </summary>
    private static void RemovedLines(StringBuilder html, CorpusReport report)
    {
        foreach (var (folder, stage) in report.StageReports.OrderBy(r => r.Key, StringComparer.Ordinal))
        {
            if (stage.ValueKind != System.Text.Json.JsonValueKind.Object || !stage.TryGetProperty("topRemoved", out var top)
                || top.ValueKind != System.Text.Json.JsonValueKind.Array) continue;
            var unit = stage.TryGetProperty("unit", out var u) ? u.ToString().ToLowerInvariant() : "line";
            html.Append("<section id=\"removed-lines-").Append(E(folder)).Append("\" class=\"removed-lines\"><h2>Top removed ").Append(E(unit))
                .Append("s: ").Append(E(folder)).Append("</h2><p>").Append(E(Number(stage, "unitsRemoved"))).Append(" removed of ")
                .Append(E(Number(stage, "units"))).Append(" · ").Append(E(Number(stage, "documentsChanged"))).Append(" documents changed · ")
                .Append(E(Number(stage, "documentsDropped"))).Append(" dropped</p>")
                .Append("<table><tr><th>documents</th><th>removed from</th><th>text</th></tr>");
            foreach (var row in top.EnumerateArray().Take(RemovedLineRows))
            {
                var sample = row.TryGetProperty("sample", out var t) && t.ValueKind == System.Text.Json.JsonValueKind.String ? t.GetString()! : "";
                if (sample.Length > RemovedLineChars) sample = sample[..(char.IsHighSurrogate(sample[RemovedLineChars - 1]) ? RemovedLineChars - 1 : RemovedLineChars)] + "…";
                html.Append("<tr><td>").Append(E(Number(row, "documents"))).Append("</td><td>").Append(E(Number(row, "removed")))
                    .Append("</td><td class=\"text\">").Append(E(sample)).Append("</td></tr>");
            }
            html.Append("</table></section>");
        }

        static string Number(System.Text.Json.JsonElement element, string name) =>
            element.TryGetProperty(name, out var value) && value.TryGetInt64(out var n) ? n.ToString("N0", CultureInfo.InvariantCulture) : "";
    }

    /// <summary>Horizontal bars, one row each, label left and count right (inline SVG).</summary>
    private static string Bars(IReadOnlyList<Bar> bars)
    {
        const int row = 20, labelWidth = 220, barWidth = 420;
        var max = Math.Max(1, bars.Count == 0 ? 1 : bars.Max(b => b.Count));
        var svg = new StringBuilder();
        svg.Append(CultureInfo.InvariantCulture, $"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{labelWidth + barWidth + 90}\" height=\"{Math.Max(1, bars.Count) * row + 4}\" role=\"img\">");
        for (var i = 0; i < bars.Count; i++)
        {
            var width = (int)Math.Round(barWidth * (double)bars[i].Count / max);
            var y = i * row + 2;
            svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{labelWidth - 6}\" y=\"{y + 14}\" text-anchor=\"end\">{E(bars[i].Label)}</text>")
                .Append(CultureInfo.InvariantCulture, $"<rect x=\"{labelWidth}\" y=\"{y + 2}\" width=\"{width}\" height=\"{row - 6}\" fill=\"#3d7bf7\"/>")
                .Append(CultureInfo.InvariantCulture, $"<text x=\"{labelWidth + width + 6}\" y=\"{y + 14}\">{bars[i].Count.ToString("N0", CultureInfo.InvariantCulture)}</text>");
        }
        return svg.Append("</svg>").ToString();
    }
}
