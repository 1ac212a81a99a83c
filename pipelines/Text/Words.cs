using System.Globalization;
using System.Text;

namespace Curation.Pipelines.Text;

/// <summary>
/// One word (or punctuation token) of a text: <see cref="Start"/>/<see cref="Length"/> in UTF-16 units,
/// <see cref="Letters"/> its length in letters (code points; a Hangul syllable block counts its 2–3 jamo),
/// <see cref="IsPunctuation"/> when it holds only punctuation and symbols.
/// </summary>
public readonly record struct Word(int Start, int Length, int Letters, Script Script, bool IsPunctuation)
{
    public ReadOnlySpan<char> In(string text) => text.AsSpan(Start, Length);

    public int End => Start + Length;
}

/// <summary>
/// The one script-aware word definition of Curation (quality_filter, the published rule sets, the near-dedup shingler's
/// fallback), dictionary-free and deterministic:
/// <list type="bullet">
/// <item>Scripts written with spaces (Latin, Cyrillic, Greek, Arabic, Devanagari, Hangul, …): a word is a run of
/// non-space characters; punctuation and symbols at its ends are split off as one punctuation token on each side
/// (<c>"end."</c> → <c>end</c>, <c>.</c>; inner marks stay: <c>don't</c>, <c>e-mail</c>), approximating the NLTK Treebank
/// tokenizer datatrove counts words with.</item>
/// <item>Han and kana (Chinese, Japanese): one word per character: a Chinese word averages 1.5 characters, so a per
/// character count is within a factor two of a dictionary segmenter's (jieba, MeCab) and never depends on a dictionary.</item>
/// <item>Thai, Lao, Khmer, Myanmar, Tibetan: one word per orthographic cluster (a letter with the combining vowel and tone
/// marks that follow it), the unit these scripts' line breaking works on without a dictionary; a word of these scripts
/// is 2–4 clusters, so word counts run high (lenient lower bounds) and word lengths are not comparable with spaced
/// scripts (rules on mean word length skip them).</item>
/// </list>
/// A change of script inside a run of non-space characters also separates words (<c>Linux内核</c> → <c>Linux</c>, 内, 核).
/// </summary>
public static class Words
{
    /// <summary>Appends the words and punctuation tokens of <paramref name="text"/> in text order (cleared first).</summary>
    public static void Split(string text, List<Word> into)
    {
        into.Clear();
        var span = text.AsSpan();
        var tokenStart = -1;
        var i = 0;
        while (i < span.Length)
        {
            Rune.DecodeFromUtf16(span[i..], out var rune, out var width);
            if (Rune.IsWhiteSpace(rune))
            {
                Flush(text, ref tokenStart, i, into);
                i += width;
                continue;
            }
            var script = Scripts.Of(rune.Value);
            if (Scripts.IsUnspaced(script) && Rune.IsLetter(rune))
            {
                Flush(text, ref tokenStart, i, into);
                var end = i + width;
                if (script is not (Script.Han or Script.Kana))
                    while (end < span.Length && Rune.DecodeFromUtf16(span[end..], out var next, out var w) == System.Buffers.OperationStatus.Done
                           && IsMark(next)) end += w;
                into.Add(new Word(i, end - i, 1, script, false));
                i = end;
                continue;
            }
            if (tokenStart < 0) tokenStart = i;
            i += width;
        }
        Flush(text, ref tokenStart, span.Length, into);
    }

    /// <summary>The number of words of <paramref name="text"/>, punctuation tokens not counted.</summary>
    public static int Count(string text, List<Word> scratch)
    {
        Split(text, scratch);
        var n = 0;
        foreach (var w in scratch)
            if (!w.IsPunctuation) n++;
        return n;
    }

    private static bool IsMark(Rune r) => Rune.GetUnicodeCategory(r) is UnicodeCategory.NonSpacingMark
        or UnicodeCategory.SpacingCombiningMark or UnicodeCategory.EnclosingMark;

    /// <summary>Emits the spaced-script token [start, end): leading punctuation, the word, trailing punctuation.</summary>
    private static void Flush(string text, ref int start, int end, List<Word> into)
    {
        if (start < 0) return;
        var token = text.AsSpan(start, end - start);
        int first = -1, last = -1, position = 0;
        foreach (var rune in token.EnumerateRunes())
        {
            if (!Scripts.IsPunctuationOrSymbol(rune))
            {
                if (first < 0) first = position;
                last = position + rune.Utf16SequenceLength;
            }
            position += rune.Utf16SequenceLength;
        }
        if (first < 0)
        {
            into.Add(new Word(start, token.Length, Letters(token), Script.Other, true));
        }
        else
        {
            if (first > 0) into.Add(new Word(start, first, Letters(token[..first]), Script.Other, true));
            var word = token[first..last];
            into.Add(new Word(start + first, last - first, Letters(word), Scripts.Dominant(word), false));
            if (last < token.Length) into.Add(new Word(start + last, token.Length - last, Letters(token[last..]), Script.Other, true));
        }
        start = -1;
    }

    /// <summary>Code points, a precomposed Hangul syllable counted as its jamo (2, or 3 with a final consonant).</summary>
    public static int Letters(ReadOnlySpan<char> word)
    {
        var n = 0;
        foreach (var rune in word.EnumerateRunes())
            n += rune.Value is >= 0xAC00 and <= 0xD7A3 ? ((rune.Value - 0xAC00) % 28 == 0 ? 2 : 3) : 1;
        return n;
    }
}
