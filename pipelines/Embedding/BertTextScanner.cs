using System.Buffers;
using System.Globalization;
using System.Text;

namespace Curation.Pipelines.Embedding;

/// <summary>
/// Prepares text for FastBertTokenizer so that the ids come out as HuggingFace's BERT tokenizer (<c>tokenizers</c>:
/// added special tokens, BertNormalizer, BertPreTokenizer, WordPiece) gives them. FastBertTokenizer alone differs where
/// <list type="bullet">
/// <item>a literal special token ([CLS], [SEP], [PAD], [MASK], [UNK]) is in the text: HuggingFace matches it on the raw
/// text and emits its id; FastBertTokenizer makes [UNK] of some and splits [MASK] into '[', 'mask', ']';</item>
/// <item>a word is longer than 100 characters after normalisation: HuggingFace emits one [UNK]; FastBertTokenizer splits
/// it into pieces (500,000 of them for a 1 MB run of 'a');</item>
/// <item>normalisation is involved (non-ASCII text): a word of nothing but combining marks, characters whose canonical
/// decomposition holds punctuation (U+037E, U+1FEF), CJK ideographs outside the BMP, and a few letters (İ, ǅ).</item>
/// <item>ASCII control characters \v and \f are in a word: HuggingFace deletes them, FastBertTokenizer splits the word there.</item>
/// </list>
/// So: special literals are cut out first; a segment that is not plain ASCII (printable, \t, \n, \r) is normalised
/// here exactly as BertNormalizer does (drop control characters, whitespace to ' ', spaces around CJK ideographs and, for
/// uncased models, NFD, drop non-spacing marks, lowercase), which FastBertTokenizer then leaves as it is; and words over
/// 100 code points become [UNK]. Plain ASCII without special literals or over-long words, the usual case, goes to
/// FastBertTokenizer whole.
/// </summary>
internal sealed class BertTextScanner
{
    /// <summary>HuggingFace WordPiece's <c>max_input_chars_per_word</c>.</summary>
    public const int MaxInputCharsPerWord = 100;

    internal enum CharClass : byte { Word, Boundary, Removed }

    private static readonly CharClass[] Ascii = BuildAsciiTable();

    /// <summary>
    /// How BERT's pre-tokenizer sees an ASCII character (<paramref name="c"/> &lt; 128): a word character, a boundary
    /// (whitespace, or punctuation: every ASCII symbol is a word of its own), or a control character that normalisation
    /// deletes without ending the word.
    /// </summary>
    internal static CharClass ClassifyAscii(char c) => Ascii[c];

    /// <summary>The special literal that starts at <paramref name="index"/> of <paramref name="text"/>, if any (case-sensitive).</summary>
    internal (string Literal, int Id)? MatchSpecial(ReadOnlySpan<char> text, int index)
    {
        foreach (var special in _specials)
        {
            if (text[index..].StartsWith(special.Literal, StringComparison.Ordinal))
                return special;
        }
        return null;
    }

    // ASCII controls other than \t \n \r: BertNormalizer deletes them, FastBertTokenizer takes some (\v, \f) for spaces.
    private static readonly SearchValues<char> AsciiControls = SearchValues.Create(
        Enumerable.Range(0, 32).Where(c => c is not ('\t' or '\n' or '\r')).Append(127).Select(c => (char)c).ToArray());

    private readonly (string Literal, int Id)[] _specials;
    private readonly int _unknownId;
    private readonly bool _uncased;

    /// <param name="uncased">Lowercase and strip accents (HuggingFace do_lower_case, strip_accents following it).</param>
    public BertTextScanner(IEnumerable<(string Literal, int Id)> specials, int unknownId, bool uncased)
    {
        _specials = specials.OrderByDescending(s => s.Literal.Length).ToArray();
        _unknownId = unknownId;
        _uncased = uncased;
    }

    /// <summary>Text for FastBertTokenizer (<see cref="TokenId"/> &lt; 0), or one token id to emit as it is.</summary>
    public readonly record struct Piece(string Text, int TokenId);

    /// <summary>
    /// Returns false, leaving <paramref name="pieces"/> unspecified, when <paramref name="text"/> can go to
    /// FastBertTokenizer whole; else fills <paramref name="pieces"/> with what to tokenize, in order.
    /// </summary>
    public bool TrySplit(string text, List<Piece> pieces)
    {
        var changed = false;
        var segmentStart = 0;
        var next = text.IndexOf('[');
        while (next >= 0)
        {
            if (MatchSpecial(text, next) is { } special)
            {
                AddSegment(text, segmentStart, next, pieces, ref changed);
                pieces.Add(new Piece(special.Literal, special.Id));
                changed = true;
                segmentStart = next + special.Literal.Length;
                next = segmentStart;
            }
            else
            {
                next++;
            }
            next = next < text.Length ? text.IndexOf('[', next) : -1;
        }
        AddSegment(text, segmentStart, text.Length, pieces, ref changed);
        return changed;
    }

    private void AddSegment(string text, int start, int end, List<Piece> pieces, ref bool changed)
    {
        if (end <= start) return;
        var segment = text.AsSpan(start, end - start);
        string prepared;
        if (System.Text.Ascii.IsValid(segment) && !segment.ContainsAny(AsciiControls))
        {
            prepared = start == 0 && end == text.Length ? text : segment.ToString();
        }
        else
        {
            prepared = Normalize(segment);
            changed = true;
        }
        changed |= CutLongWords(prepared, pieces);
    }

    /// <summary>Adds <paramref name="text"/> as pieces, each word of more than 100 code points as one [UNK].</summary>
    /// <returns>Whether it cut a word.</returns>
    private bool CutLongWords(string text, List<Piece> pieces)
    {
        var cut = false;
        var pieceStart = 0;
        var wordStart = -1;
        var wordEnd = 0;
        var wordLength = 0;
        var i = 0;
        while (i < text.Length)
        {
            var c = text[i];
            CharClass kind;
            var width = 1;
            if (c < 128)
                kind = Ascii[c];
            else if (Rune.DecodeFromUtf16(text.AsSpan(i), out var rune, out width) != System.Buffers.OperationStatus.Done)
                kind = CharClass.Removed;
            else
                kind = Classify(rune);

            if (kind == CharClass.Word)
            {
                if (wordStart < 0)
                {
                    wordStart = i;
                    wordLength = 0;
                }
                wordLength++;
                wordEnd = i + width;
            }
            else if (kind == CharClass.Boundary)
            {
                EndWord();
            }
            // Removed characters (ASCII controls in text that was not normalised here) neither end nor lengthen a word.
            i += width;
        }
        EndWord();
        if (pieceStart < text.Length)
            pieces.Add(new Piece(pieceStart == 0 ? text : text[pieceStart..], -1));
        return cut;

        void EndWord()
        {
            if (wordStart >= 0 && wordLength > MaxInputCharsPerWord)
            {
                if (wordStart > pieceStart) pieces.Add(new Piece(text[pieceStart..wordStart], -1));
                pieces.Add(new Piece(string.Empty, _unknownId));
                pieceStart = wordEnd;
                cut = true;
            }
            wordStart = -1;
        }
    }

    /// <summary>HuggingFace's BertNormalizer: clean_text, handle_chinese_chars, then (uncased) strip_accents and lowercase.</summary>
    private string Normalize(ReadOnlySpan<char> text)
    {
        var cleaned = new StringBuilder(text.Length + 8);
        foreach (var rune in text.EnumerateRunes()) // a lone surrogate comes out as U+FFFD, which is cleaned away
        {
            var value = rune.Value;
            if (value is '\t' or '\n' or '\r')
            {
                cleaned.Append(' ');
                continue;
            }
            if (value == 0 || value == 0xFFFD || IsOther(Rune.GetUnicodeCategory(rune))) continue;
            if (Rune.IsWhiteSpace(rune))
                cleaned.Append(' ');
            else if (IsCjk(value))
                cleaned.Append(' ').Append(rune.ToString()).Append(' ');
            else
                AppendRune(cleaned, rune);
        }
        if (!_uncased) return cleaned.ToString();

        var decomposed = Decompose(cleaned.ToString());
        var result = new StringBuilder(decomposed.Length);
        foreach (var rune in decomposed.EnumerateRunes())
        {
            if (Rune.GetUnicodeCategory(rune) == UnicodeCategory.NonSpacingMark) continue;
            AppendRune(result, Rune.ToLowerInvariant(rune));
        }
        return result.ToString();
    }

    /// <summary>NFD; should the runtime reject some code point (an unassigned one it does not know), rune by rune.</summary>
    private static string Decompose(string text)
    {
        try
        {
            return text.Normalize(NormalizationForm.FormD);
        }
        catch (ArgumentException)
        {
            var result = new StringBuilder(text.Length);
            foreach (var rune in text.EnumerateRunes())
            {
                var single = rune.ToString();
                try
                {
                    result.Append(single.Normalize(NormalizationForm.FormD));
                }
                catch (ArgumentException)
                {
                    result.Append(single);
                }
            }
            return result.ToString();
        }
    }

    private static void AppendRune(StringBuilder builder, Rune rune)
    {
        if (rune.IsBmp)
        {
            builder.Append((char)rune.Value);
        }
        else
        {
            Span<char> pair = stackalloc char[2];
            rune.EncodeToUtf16(pair);
            builder.Append(pair);
        }
    }

    private static bool IsOther(UnicodeCategory category) => category is UnicodeCategory.Control or UnicodeCategory.Format
        or UnicodeCategory.Surrogate or UnicodeCategory.PrivateUse or UnicodeCategory.OtherNotAssigned;

    /// <summary>Word boundaries of BertPreTokenizer in normalised text: whitespace and punctuation.</summary>
    private static CharClass Classify(Rune rune)
    {
        if (rune.Value == 0xFFFD) return CharClass.Removed;
        var category = Rune.GetUnicodeCategory(rune);
        if (IsOther(category)) return CharClass.Removed;
        if (category is UnicodeCategory.ConnectorPunctuation or UnicodeCategory.DashPunctuation
            or UnicodeCategory.OpenPunctuation or UnicodeCategory.ClosePunctuation or UnicodeCategory.InitialQuotePunctuation
            or UnicodeCategory.FinalQuotePunctuation or UnicodeCategory.OtherPunctuation)
            return CharClass.Boundary;
        // Ideographs are words of their own once normalised (spaces around them): they never make a long word.
        return Rune.IsWhiteSpace(rune) || IsCjk(rune.Value) ? CharClass.Boundary : CharClass.Word;
    }

    /// <summary>The CJK ideograph blocks HuggingFace's <c>handle_chinese_chars</c> isolates.</summary>
    private static bool IsCjk(int cp) =>
        cp is (>= 0x4E00 and <= 0x9FFF) or (>= 0x3400 and <= 0x4DBF) or (>= 0x20000 and <= 0x2A6DF)
            or (>= 0x2A700 and <= 0x2B73F) or (>= 0x2B740 and <= 0x2B81F) or (>= 0x2B820 and <= 0x2CEAF)
            or (>= 0xF900 and <= 0xFAFF) or (>= 0x2F800 and <= 0x2FA1F);

    private static CharClass[] BuildAsciiTable()
    {
        var table = new CharClass[128];
        for (var c = 0; c < 128; c++)
        {
            table[c] = c switch
            {
                '\t' or '\n' or '\r' or ' ' => CharClass.Boundary,
                < 32 or 127 => CharClass.Removed,
                // BERT counts every ASCII symbol as punctuation, $ + < = > ^ ` | ~ included.
                (>= 33 and <= 47) or (>= 58 and <= 64) or (>= 91 and <= 96) or (>= 123 and <= 126) => CharClass.Boundary,
                _ => CharClass.Word,
            };
        }
        return table;
    }
}
