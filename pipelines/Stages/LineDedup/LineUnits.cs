using System.Numerics;
using Curation.Pipelines.Text;

namespace Curation.Pipelines.Stages;

/// <summary>One line or paragraph of a text: its characters [Start, End) and what removing it takes away [Start, RemoveEnd).</summary>
public readonly record struct LineUnit(int Start, int End, int RemoveEnd)
{
    public int Length => End - Start;
}

/// <summary>
/// Cuts a text into the units line_dedup compares and hashes them (<see cref="ContentHash"/>: NFC, invisible characters
/// removed, case folded, whitespace collapsed). Blank units are never listed: they are neither counted nor removed.
/// </summary>
public static class LineUnits
{
    public static void Split(string text, LineDedupUnit unit, List<LineUnit> units) =>
        Split(text.AsSpan(), unit, units, static line => line.IsWhiteSpace());

    /// <summary>Whether a line (without its line feed) is blank.</summary>
    internal delegate bool BlankTest<T>(ReadOnlySpan<T> line);

    /// <summary>
    /// The units of <paramref name="text"/>, its characters or its UTF-8 bytes (line feeds and carriage returns are the
    /// same code in both, and never part of a multi-byte sequence), positions in the span's elements.
    /// </summary>
    internal static void Split<T>(ReadOnlySpan<T> text, LineDedupUnit unit, List<LineUnit> units, BlankTest<T> isBlank)
        where T : unmanaged, INumberBase<T>
    {
        units.Clear();
        var (lineFeed, carriageReturn) = (T.CreateTruncating('\n'), T.CreateTruncating('\r'));
        var position = 0;
        int paragraphStart = -1, paragraphEnd = -1;
        while (position <= text.Length)
        {
            var newline = text[position..].IndexOf(lineFeed);
            var lineEnd = newline < 0 ? text.Length : position + newline;
            var next = newline < 0 ? text.Length + 1 : lineEnd + 1;
            var blank = isBlank(text[position..lineEnd]);
            var end = lineEnd > position && text[lineEnd - 1] == carriageReturn ? lineEnd - 1 : lineEnd;
            if (unit == LineDedupUnit.Line)
            {
                if (!blank) units.Add(new LineUnit(position, end, Math.Min(next, text.Length)));
            }
            else if (blank)
            {
                if (paragraphStart >= 0) units.Add(new LineUnit(paragraphStart, paragraphEnd, Math.Min(next, text.Length)));
                paragraphStart = -1;
            }
            else
            {
                if (paragraphStart < 0) paragraphStart = position;
                paragraphEnd = end;
            }
            if (newline < 0) break;
            position = next;
        }
        if (paragraphStart >= 0) units.Add(new LineUnit(paragraphStart, paragraphEnd, text.Length));
        // A paragraph swallows the blank lines after it; the last unit also what trails it.
        if (unit == LineDedupUnit.Paragraph)
            for (var i = 0; i + 1 < units.Count; i++) units[i] = units[i] with { RemoveEnd = units[i + 1].Start };
        if (units.Count > 0) units[^1] = units[^1] with { RemoveEnd = text.Length };
    }

    public static ContentHash Hash(string text, LineUnit unit) =>
        ContentHash.Of(text.AsSpan(unit.Start, unit.Length), caseFold: true, collapseWhitespace: true);

    /// <summary>
    /// The text without the units marked in <paramref name="remove"/>. Whatever separated a removed last unit from the
    /// unit kept before it (its line break) goes with it, so the text does not end in a dangling break it did not have.
    /// </summary>
    public static string Without(string text, List<LineUnit> units, bool[] remove)
    {
        // The kept pieces are measured first, so the result is written once at its length (no builder to grow and copy).
        var result = string.Create(KeptLength(text.Length, units, remove), (text, units, remove), static (target, state) =>
            Without(state.text.AsSpan(), state.units, state.remove, target));
        var end = TrimmedEnd(result.AsSpan(), units, remove);
        return end < result.Length ? result[..end] : result;
    }

    /// <summary>
    /// <see cref="Without(string, List{LineUnit}, bool[])"/> on a text's characters or its UTF-8 bytes (units as
    /// <see cref="Split{T}"/> cut them there): the kept elements written to <paramref name="target"/> (at least
    /// <see cref="KeptLength"/> long); returns how many, the dangling break of a removed last unit left out.
    /// </summary>
    internal static int Without<T>(ReadOnlySpan<T> text, List<LineUnit> units, ReadOnlySpan<bool> remove, Span<T> target)
        where T : unmanaged, INumberBase<T>
    {
        var (position, written) = (0, 0);
        for (var i = 0; i < units.Count; i++)
        {
            if (!remove[i]) continue;
            text[position..units[i].Start].CopyTo(target[written..]);
            written += units[i].Start - position;
            position = units[i].RemoveEnd;
        }
        text[position..].CopyTo(target[written..]);
        written += text.Length - position;
        return TrimmedEnd(target[..written], units, remove);
    }

    /// <summary>The length of the text without the marked units, before a dangling break is trimmed.</summary>
    internal static int KeptLength(int length, List<LineUnit> units, ReadOnlySpan<bool> remove)
    {
        for (var i = 0; i < units.Count; i++)
            if (remove[i]) length -= units[i].RemoveEnd - units[i].Start;
        return length;
    }

    /// <summary>Where the kept text ends: before the line feeds and carriage returns it ends in when its last unit was removed.</summary>
    private static int TrimmedEnd<T>(ReadOnlySpan<T> kept, List<LineUnit> units, ReadOnlySpan<bool> remove)
        where T : unmanaged, INumberBase<T>
    {
        var end = kept.Length;
        if (units.Count == 0 || !remove[units.Count - 1]) return end;
        var (lineFeed, carriageReturn) = (T.CreateTruncating('\n'), T.CreateTruncating('\r'));
        while (end > 0 && (kept[end - 1] == lineFeed || kept[end - 1] == carriageReturn)) end--;
        return end;
    }
}
