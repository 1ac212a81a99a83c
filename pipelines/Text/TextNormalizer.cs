using System.Globalization;
using System.Text;

namespace Curation.Pipelines.Text;

/// <summary>
/// Canonical text: Unicode NFC (or NFKC), line breaks as '\n', control and invisible format characters removed,
/// runs of spaces collapsed, lines trimmed, at most one blank line in a row. Pure and allocation-light.
/// </summary>
public sealed class TextNormalizer(NormalizationForm form = NormalizationForm.FormC, bool keepLineBreaks = true)
{
    public string Normalize(string text)
    {
        var builder = new StringBuilder(text.Length);
        var pendingSpace = false;
        var newlines = 0; // newlines seen since the last visible character
        var atStart = true;

        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (char.IsSurrogate(c))
            {
                // Lone surrogates cannot be normalised (string.Normalize throws) and encode nothing: drop them.
                if (char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
                {
                    Flush(builder, ref pendingSpace, ref newlines, ref atStart);
                    builder.Append(c).Append(text[++i]);
                }
                continue;
            }
            if (c == '\r')
            {
                if (i + 1 < text.Length && text[i + 1] == '\n') continue;
                c = '\n';
            }
            if (c == '\n')
            {
                if (keepLineBreaks) { newlines++; pendingSpace = false; }
                else pendingSpace = true;
                continue;
            }
            if (c == '\t' || char.IsWhiteSpace(c)) { pendingSpace = true; continue; }
            if (IsInvisible(c)) continue;
            Flush(builder, ref pendingSpace, ref newlines, ref atStart);
            builder.Append(c);
        }

        var result = builder.ToString();
        return result.IsNormalized(form) ? result : result.Normalize(form);
    }

    private static void Flush(StringBuilder builder, ref bool pendingSpace, ref int newlines, ref bool atStart)
    {
        if (!atStart)
        {
            if (newlines > 0) builder.Append(newlines > 1 ? "\n\n" : "\n");
            else if (pendingSpace) builder.Append(' ');
        }
        pendingSpace = false;
        newlines = 0;
        atStart = false;
    }

    /// <summary>Control characters and format characters that render as nothing (zero-width space, BOM, soft hyphen…).</summary>
    private static bool IsInvisible(char c) => c < 128
        ? c < 32 || c == 127
        : char.IsControl(c)
        || c is '\u200B' or '\u2060' or '\uFEFF' or '\u00AD' or '\u180E'
        || (CharUnicodeInfo.GetUnicodeCategory(c) == UnicodeCategory.Format && c is not '\u200C' and not '\u200D');
}
