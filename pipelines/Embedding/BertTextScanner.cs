using System.Globalization;
using System.Text;

namespace Curation.Pipelines.Embedding;

/// <summary>
/// The two places where FastBertTokenizer 1.2.6 differs from HuggingFace's BERT tokenizer, found with HuggingFace's own
/// rules (BertNormalizer + BertPreTokenizer + WordPiece in <c>tokenizers</c>) so that <see cref="WordPieceTokenizer"/>
/// can cut the text around them:
/// <list type="bullet">
/// <item>a word longer than 100 characters (after normalisation) is one [UNK] in HuggingFace; FastBertTokenizer splits
/// it into pieces, e.g. 500,000 of them for a 1 MB run of 'a';</item>
/// <item>the literal special tokens ([CLS], [SEP], [PAD], [MASK], [UNK]) in the text are matched before normalisation
/// and become their ids; FastBertTokenizer makes [UNK] of some and splits [MASK] into '[', 'mask', ']'.</item>
/// </list>
/// Everything else goes to FastBertTokenizer unchanged, which matches HuggingFace there.
/// </summary>
internal sealed class BertTextScanner
{
    /// <summary>HuggingFace WordPiece's <c>max_input_chars_per_word</c>.</summary>
    public const int MaxInputCharsPerWord = 100;

    // Canonical decomposition turns one code point into at most 3 that are not non-spacing marks (a Hangul syllable into
    // its jamo; checked over all of Unicode), so a word of at most 33 code points can never grow past 100: only longer
    // ones need the exact (allocating) count.
    private const int MaxDecompositionGrowth = 3;
    private const int AlwaysShortWord = MaxInputCharsPerWord / MaxDecompositionGrowth;

    private enum CharClass : byte { Word, Boundary, Removed }

    private static readonly CharClass[] Ascii = BuildAsciiTable();

    private readonly (string Literal, int Id)[] _specials;
    private readonly int _unknownId;
    private readonly bool _stripAccents;

    public BertTextScanner(IEnumerable<(string Literal, int Id)> specials, int unknownId, bool stripAccents)
    {
        _specials = specials.OrderByDescending(s => s.Literal.Length).ToArray();
        _unknownId = unknownId;
        _stripAccents = stripAccents;
    }

    /// <summary>A run of text for FastBertTokenizer (<see cref="TokenId"/> &lt; 0), or one token id to emit as it is.</summary>
    public readonly record struct Piece(int Start, int Length, int TokenId);

    /// <summary>
    /// Cuts <paramref name="text"/> into pieces where a special-token literal or an over-long word sits.
    /// Returns false, adding nothing, when there is none (the common case: tokenize the text whole).
    /// </summary>
    public bool TrySplit(string text, List<Piece> pieces)
    {
        var pieceStart = 0; // start of the text not yet given to a piece
        var wordStart = -1;
        var wordEnd = 0;
        var wordCodePoints = 0;
        var split = false;
        var i = 0;
        while (i < text.Length)
        {
            var c = text[i];
            if (c == '[' && MatchSpecial(text, i) is { } special)
            {
                EndWord();
                AddText(pieceStart, i);
                pieces.Add(new Piece(i, special.Literal.Length, special.Id));
                split = true;
                i += special.Literal.Length;
                pieceStart = i;
                continue;
            }

            CharClass kind;
            int width;
            if (c < 128)
            {
                kind = Ascii[c];
                width = 1;
            }
            else if (Rune.DecodeFromUtf16(text.AsSpan(i), out var rune, out width) != System.Buffers.OperationStatus.Done)
            {
                kind = CharClass.Removed; // a lone surrogate: unassigned, cleaned away like a control character
            }
            else
            {
                kind = Classify(rune);
            }

            switch (kind)
            {
                case CharClass.Word:
                    if (wordStart < 0)
                    {
                        wordStart = i;
                        wordCodePoints = 0;
                    }
                    wordCodePoints++;
                    wordEnd = i + width;
                    break;
                case CharClass.Boundary:
                    EndWord();
                    break;
                case CharClass.Removed:
                    break; // cleaned away before pre-tokenizing: it neither ends nor lengthens a word
            }
            i += width;
        }
        EndWord();
        if (split) AddText(pieceStart, text.Length);
        return split;

        void EndWord()
        {
            if (wordStart < 0) return;
            if (wordCodePoints > AlwaysShortWord && NormalizedLength(text.AsSpan(wordStart, wordEnd - wordStart), wordCodePoints) > MaxInputCharsPerWord)
            {
                AddText(pieceStart, wordStart);
                pieces.Add(new Piece(wordStart, wordEnd - wordStart, _unknownId));
                pieceStart = wordEnd;
                split = true;
            }
            wordStart = -1;
        }

        void AddText(int start, int end)
        {
            if (end > start) pieces.Add(new Piece(start, end - start, -1));
        }
    }

    private (string Literal, int Id)? MatchSpecial(string text, int index)
    {
        foreach (var special in _specials)
        {
            if (string.CompareOrdinal(text, index, special.Literal, 0, special.Literal.Length) == 0)
                return special;
        }
        return null;
    }

    /// <summary>
    /// The word's length in code points as HuggingFace's WordPiece sees it: control characters cleaned away, then (uncased
    /// models) canonically decomposed with the non-spacing marks dropped. Returns -1 (never over-long) where decomposition
    /// brings out a punctuation or space character, which would split the word: rare enough to leave to FastBertTokenizer.
    /// </summary>
    private int NormalizedLength(ReadOnlySpan<char> word, int rawCodePoints)
    {
        if (!_stripAccents) return rawCodePoints;
        var cleaned = new StringBuilder(word.Length);
        foreach (var rune in word.EnumerateRunes())
        {
            if (rune.Value < 128 ? Ascii[rune.Value] != CharClass.Removed : Classify(rune) != CharClass.Removed)
                cleaned.Append(rune.ToString());
        }
        string decomposed;
        try
        {
            decomposed = cleaned.ToString().Normalize(NormalizationForm.FormD);
        }
        catch (ArgumentException)
        {
            return -1; // a code point this runtime's normaliser rejects: leave the word as it is
        }
        var length = 0;
        foreach (var rune in decomposed.EnumerateRunes())
        {
            if (Rune.GetUnicodeCategory(rune) == UnicodeCategory.NonSpacingMark) continue;
            if ((rune.Value < 128 ? Ascii[rune.Value] : Classify(rune)) != CharClass.Word) return -1;
            length++;
        }
        return length;
    }

    private static CharClass Classify(Rune rune)
    {
        if (rune.Value == 0xFFFD) return CharClass.Removed;
        var category = Rune.GetUnicodeCategory(rune);
        switch (category)
        {
            case UnicodeCategory.Control:
            case UnicodeCategory.Format:
            case UnicodeCategory.Surrogate:
            case UnicodeCategory.PrivateUse:
            case UnicodeCategory.OtherNotAssigned:
                return CharClass.Removed;
            case UnicodeCategory.ConnectorPunctuation:
            case UnicodeCategory.DashPunctuation:
            case UnicodeCategory.OpenPunctuation:
            case UnicodeCategory.ClosePunctuation:
            case UnicodeCategory.InitialQuotePunctuation:
            case UnicodeCategory.FinalQuotePunctuation:
            case UnicodeCategory.OtherPunctuation:
                return CharClass.Boundary;
        }
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
