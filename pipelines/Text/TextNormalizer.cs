using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Text;
using Curation.Pipelines.IO;

namespace Curation.Pipelines.Text;

/// <summary>
/// Canonical text: Unicode NFC (or NFKC), line breaks as '\n' (CR, CRLF and Unicode's other mandatory breaks: vertical
/// tab, form feed, NEL, U+2028, the ASCII file/group/record separators; U+2029 as a blank line; the unit separator a
/// space), other control and invisible format characters removed,
/// runs of spaces collapsed, lines trimmed (with <c>keepIndentation</c>, each line's leading whitespace stays as it is:
/// code and indented paragraphs), at most one blank line in a row. Pure and allocation-light.
/// </summary>
public sealed class TextNormalizer(NormalizationForm form = NormalizationForm.FormC, bool keepLineBreaks = true, bool keepIndentation = false)
{
    public string Normalize(string text)
    {
        // The result is never longer than the text (a kept break or space stands for at least one character of it).
        // While it matches the text it is only compared with it: an unchanged text (most big documents) comes back
        // itself with no copy; from the first difference on it goes to one scratch buffer, so a changed one is copied once.
        var writer = new CharWriter(text);
        try
        {
            Canonical(text, writer);
            var result = writer.Result();
            return result.IsNormalized(form) ? result : result.Normalize(form);
        }
        finally
        {
            writer.Release();
        }
    }

    private void Canonical(string text, CharWriter builder)
    {
        var pendingSpace = false;
        var newlines = 0; // newlines seen since the last visible character
        var atStart = true;
        StringBuilder? indent = null; // the current line's leading whitespace, written before its first visible character

        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (char.IsSurrogate(c))
            {
                // Lone surrogates cannot be normalised (string.Normalize throws) and encode nothing: drop them.
                if (char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
                {
                    Flush(builder, ref pendingSpace, ref newlines, ref atStart, indent);
                    builder.Append(c).Append(text[++i]);
                }
                continue;
            }
            if (c == '\r')
            {
                if (i + 1 < text.Length && text[i + 1] == '\n') continue;
                c = '\n';
            }
            if (c is '\n' or '\v' or '\f' or '\u0085' or '\u2028' or '\u2029' or '\u001C' or '\u001D' or '\u001E')
            {
                // Unicode's mandatory breaks (UAX #14: line feed, vertical tab, form feed, next line, line separator) are
                // line breaks and the paragraph separator a blank line: read as spaces, they joined the lines they end.
                // The ASCII file, group and record separators end lines too (Unicode's paragraph separators, Python's
                // str.splitlines): removed as controls, they joined the records of a database or MARC export.
                if (keepLineBreaks) { newlines += c == '\u2029' ? 2 : 1; pendingSpace = false; }
                else pendingSpace = true;
                indent?.Clear(); // a line of whitespace alone is blank
                continue;
            }
            // The unit separator parts fields as a tab does (Unicode's segment separator).
            if (c is '\t' or '\u001F' || char.IsWhiteSpace(c))
            {
                if (keepIndentation && (atStart || newlines > 0)) (indent ??= new StringBuilder()).Append(c == '\u001F' ? ' ' : c);
                else pendingSpace = true;
                continue;
            }
            if (IsInvisible(c)) continue;
            Flush(builder, ref pendingSpace, ref newlines, ref atStart, indent);
            builder.Append(c);
        }
    }

    /// <summary>
    /// The canonical text, written over <paramref name="source"/>: compared with it while the two agree, copied into a
    /// scratch buffer (at most the source's length) from the first character that differs.
    /// </summary>
    private sealed class CharWriter(string source)
    {
        private char[]? _buffer;

        public int Length { get; private set; }

        public CharWriter Append(char c)
        {
            if (_buffer is null)
            {
                if (Length < source.Length && source[Length] == c)
                {
                    Length++;
                    return this;
                }
                Diverge();
            }
            _buffer[Length++] = c;
            return this;
        }

        public CharWriter Append(string s)
        {
            foreach (var c in s) Append(c);
            return this;
        }

        /// <summary>The text written: the source itself (or its prefix) while nothing differed.</summary>
        public string Result() => _buffer is not null ? new string(_buffer, 0, Length) : Length == source.Length ? source : source[..Length];

        public void Release()
        {
            if (_buffer is not null) ScratchArray.Return(_buffer);
        }

        [MemberNotNull(nameof(_buffer))]
        private void Diverge()
        {
            _buffer = ScratchArray.Rent<char>(Math.Max(1, source.Length));
            source.AsSpan(0, Length).CopyTo(_buffer);
        }
    }

    private static void Flush(CharWriter builder, ref bool pendingSpace, ref int newlines, ref bool atStart, StringBuilder? indent)
    {
        if (!atStart)
        {
            if (newlines > 0) builder.Append(newlines > 1 ? "\n\n" : "\n");
            else if (pendingSpace) builder.Append(' ');
        }
        if (indent is { Length: > 0 })
        {
            foreach (var chunk in indent.GetChunks())
                foreach (var c in chunk.Span) builder.Append(c);
            indent.Clear();
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
