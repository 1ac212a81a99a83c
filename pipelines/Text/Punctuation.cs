using System.Collections.Frozen;
using System.Text;

namespace Curation.Pipelines.Text;

/// <summary>Sentence-ending punctuation of every script, for line-punctuation and sentence rules.</summary>
public static class Punctuation
{
    /// <summary>
    /// The sentence terminals (Unicode's Sentence_Terminal property, as datatrove's <c>TERMINAL_PUNCTUATION</c> lists
    /// them) of the Basic Multilingual Plane: Latin <c>. ? !</c>, CJK 。？！．｡, Devanagari । ॥, Arabic ؟ ۔, Armenian ։,
    /// Ethiopic ።, Myanmar ။, Khmer ។ ៕, Tibetan ། ༎ and the rest. Thai and Lao have none: their sentences end with a space.
    /// </summary>
    public static readonly FrozenSet<int> SentenceTerminals = new[]
    {
        '!', '.', '?', '\u0589', '\u061D', '\u061E', '\u061F', '\u06D4', '\u0700', '\u0701', '\u0702', '\u07F9', '\u0837',
        '\u0839', '\u083D', '\u083E', '\u0964', '\u0965', '\u0F0D', '\u0F0E', '\u104A', '\u104B', '\u1362', '\u1367', '\u1368',
        '\u166E', '\u1735', '\u1736', '\u17D4', '\u17D5', '\u1803', '\u1809', '\u1944', '\u1945', '\u1AA8', '\u1AA9',
        '\u1AAA', '\u1AAB', '\u1B5A', '\u1B5B', '\u1B5E', '\u1B5F', '\u1B7D', '\u1B7E', '\u1C3B', '\u1C3C', '\u1C7E', '\u1C7F',
        '\u203C', '\u203D', '\u2047', '\u2048', '\u2049', '\u2E2E', '\u2E3C', '\u2E53', '\u2E54', '\u3002', '\uA4FF', '\uA60E',
        '\uA60F', '\uA6F3', '\uA6F7', '\uA876', '\uA877', '\uA8CE', '\uA8CF', '\uA92F', '\uA9C8', '\uA9C9', '\uAA5D', '\uAA5E',
        '\uAA5F', '\uAAF0', '\uAAF1', '\uABEB', '\uFE52', '\uFE56', '\uFE57', '\uFF01', '\uFF0E', '\uFF1F', '\uFF61',
    }.Select(c => (int)c).ToFrozenSet();

    public static bool IsSentenceTerminal(Rune r) => SentenceTerminals.Contains(r.Value);

    /// <summary>Whether the line (trailing spaces ignored) ends with a sentence terminal.</summary>
    public static bool EndsWithTerminal(ReadOnlySpan<char> line)
    {
        line = line.TrimEnd();
        return !line.IsEmpty && Rune.DecodeLastFromUtf16(line, out var last, out _) == System.Buffers.OperationStatus.Done
            && IsSentenceTerminal(last);
    }
}
