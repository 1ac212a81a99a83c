using System.Globalization;
using System.IO.Hashing;
using System.Runtime.InteropServices;
using System.Text;
using Curation.Pipelines.Text;

namespace Curation.Pipelines.Stages;

/// <summary>A token of a text: its characters [Start, End) in the original text and the hash of its normalised form.</summary>
public readonly record struct NgramToken(int Start, int End, ulong Hash);

/// <summary>
/// The n-grams decontamination compares. Tokens: runs of letters, marks and digits (punctuation, symbols and whitespace
/// only separate them, so re-wrapped or re-punctuated passages match); in scripts written without spaces (Han, kana,
/// Thai, Lao, Khmer, Myanmar, Tibetan) every character (with its combining marks) is a token. Each token is lower-cased
/// (invariant) and put in NFC before hashing, so case changes match. An n-gram's hash is the XxHash64 of its n token
/// hashes. Not thread-safe: one per task.
/// </summary>
public sealed class EvaluationNgrams(int n)
{
    private readonly List<ulong> _hashes = [];
    private char[] _lowered = new char[64];

    public int N => n;

    /// <summary>The tokens of <paramref name="text"/> (cleared first), in order.</summary>
    public void Tokenize(string text, List<NgramToken> tokens)
    {
        tokens.Clear();
        var i = 0;
        while (i < text.Length)
        {
            var (word, unspaced, width) = Classify(text, i);
            if (!word)
            {
                i += width;
                continue;
            }
            var start = i;
            i += width;
            if (unspaced)
                while (i < text.Length && IsMark(text, i)) i++;
            else
                while (i < text.Length)
                {
                    var (w, u, wd) = Classify(text, i);
                    if (!w || u) break;
                    i += wd;
                }
            tokens.Add(new NgramToken(start, i, HashToken(text.AsSpan(start, i - start))));
        }
    }

    /// <summary>The hash of every n-gram of <paramref name="tokens"/> (position p covers tokens p … p + n − 1), cleared first.</summary>
    public void Ngrams(List<NgramToken> tokens, List<ulong> ngrams)
    {
        ngrams.Clear();
        _hashes.Clear();
        foreach (var token in tokens) _hashes.Add(token.Hash);
        var span = CollectionsMarshal.AsSpan(_hashes);
        for (var p = 0; p + n <= span.Length; p++) ngrams.Add(XxHash64.HashToUInt64(MemoryMarshal.AsBytes(span.Slice(p, n))));
    }

    private static (bool Word, bool Unspaced, int Width) Classify(string text, int i)
    {
        var c = text[i];
        if (c < 128) return (char.IsAsciiLetterOrDigit(c), false, 1);
        var pair = char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]);
        var category = pair ? CharUnicodeInfo.GetUnicodeCategory(text, i) : CharUnicodeInfo.GetUnicodeCategory(c);
        var word = category <= UnicodeCategory.OtherNumber; // letters, marks, numbers: the first ten categories
        return (word, word && Scripts.IsWrittenWithoutSpaces(c), pair ? 2 : 1);
    }

    private static bool IsMark(string text, int i) =>
        text[i] >= 128 && CharUnicodeInfo.GetUnicodeCategory(text[i]) is UnicodeCategory.NonSpacingMark or UnicodeCategory.SpacingCombiningMark or UnicodeCategory.EnclosingMark;

    private ulong HashToken(ReadOnlySpan<char> token)
    {
        if (_lowered.Length < token.Length) _lowered = new char[Math.Max(token.Length, _lowered.Length * 2)];
        var lowered = _lowered.AsSpan(0, token.Length);
        token.ToLowerInvariant(lowered);
        foreach (var c in lowered)
            if (c >= 128)
            {
                string nfc;
                try { nfc = new string(lowered).Normalize(NormalizationForm.FormC); }
                catch (ArgumentException) { break; } // a lone surrogate: hashed as it is (readers quarantine those)
                return XxHash64.HashToUInt64(MemoryMarshal.AsBytes(nfc.AsSpan()));
            }
        return XxHash64.HashToUInt64(MemoryMarshal.AsBytes(lowered));
    }
}
