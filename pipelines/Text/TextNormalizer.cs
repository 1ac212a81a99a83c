using System.Globalization;
using System.Text;
using Curation.Pipelines.IO;

namespace Curation.Pipelines.Text;

/// <summary>
/// Canonical text: Unicode NFC (or NFKC), line breaks as '\n', control and invisible format characters removed,
/// runs of spaces collapsed, lines trimmed, at most one blank line in a row. Pure and allocation-light.
/// </summary>
public sealed class TextNormalizer(NormalizationForm form = NormalizationForm.FormC, bool keepLineBreaks = true)
{
    public string Normalize(string text)
    {
        // The result is never longer than the text (a kept break or space stands for at least one character of it):
        // one pooled buffer, and the text itself back when nothing changed, so a big document is copied at most once.
        var rented = ScratchArray.Rent<char>(Math.Max(1, text.Length));
        try
        {
            var length = Canonical(text, rented);
            var canonical = rented.AsSpan(0, length);
            var result = canonical.SequenceEqual(text) ? text : new string(canonical);
            return result.IsNormalized(form) ? result : result.Normalize(form);
        }
        finally
        {
            ScratchArray.Return(rented);
        }
    }

    private int Canonical(string text, char[] output)
    {
        var builder = new CharWriter(output);
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

        return builder.Length;
    }

    /// <summary>Appends to a buffer known to be large enough.</summary>
    private sealed class CharWriter(char[] buffer)
    {
        public int Length { get; private set; }

        public CharWriter Append(char c)
        {
            buffer[Length++] = c;
            return this;
        }

        public CharWriter Append(string s)
        {
            s.CopyTo(buffer.AsSpan(Length));
            Length += s.Length;
            return this;
        }
    }

    private static void Flush(CharWriter builder, ref bool pendingSpace, ref int newlines, ref bool atStart)
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
