using System.Buffers;
using System.IO.Hashing;
using System.Runtime.InteropServices;
using System.Text;
using Curation.Pipelines.Spec;
using Curation.Pipelines.Text;

namespace Curation.Pipelines.NearDup;

/// <summary>How a document was cut into shingles (each outcome is a counter in the manifest).</summary>
public enum ShingleOutcome
{
    /// <summary>Word n-grams (the default).</summary>
    Words,

    /// <summary>Character n-grams because the spec asks for them (<c>shingle: "char"</c>).</summary>
    Characters,

    /// <summary>Character n-grams because the text is mostly in a script written without spaces (CJK, Thai, …).</summary>
    CharacterFallback,

    /// <summary>Shorter than one shingle: the whole normalised text is the document's only shingle.</summary>
    SingleShingle,

    /// <summary>Nothing left after normalisation: no shingles, the document is kept and never compared.</summary>
    Empty,
}

/// <summary>
/// Cuts a text into shingles and hashes each with XxHash64 (64 bits). Normalisation: Unicode NFC, lower case
/// (invariant culture), whitespace runs collapsed to one space and trimmed; punctuation stays attached to its word.
/// Word mode: the n-grams of whitespace-separated words, written with single spaces (the same shingles the demo
/// corpus generator measures Jaccard on); a text of fewer than n words is one shingle; a text mostly in scripts written
/// without spaces (<see cref="Scripts.IsWrittenWithoutSpaces"/>, the definition every text measure shares) falls back
/// to character n-grams. Char mode: character n-grams of the normalised text (one shingle
/// when shorter). Not thread-safe: one per task (it reuses its buffers).
/// </summary>
public sealed class Shingler
{
    private readonly NearDedupShingle _mode;
    private readonly int _words;
    private readonly int _chars;
    private char[] _text = new char[1024];
    private int[] _starts = new int[256];
    private int[] _ends = new int[256];

    /// <summary>Characters lowered at a time (see <see cref="Normalise"/>).</summary>
    private const int LowerChunk = 4096;

    public Shingler(NearDedupShingle mode, int ngram, int charNgram)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(ngram, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(charNgram, 1);
        (_mode, _words, _chars) = (mode, ngram, charNgram);
    }

    public Shingler(NearDedupStageSpec spec) : this(spec.Shingle, spec.Ngram, spec.CharNgram) { }

    /// <summary>
    /// Appends the 64-bit hash of every shingle of <paramref name="text"/> (in text order, repeats included) to
    /// <paramref name="hashes"/> (cleared first) and says how the text was cut.
    /// </summary>
    public ShingleOutcome Shingle(string text, List<ulong> hashes)
    {
        hashes.Clear();
        var length = Normalise(text, out var words, out var unspaced);
        if (length == 0) return ShingleOutcome.Empty;
        var normalised = _text.AsSpan(0, length);

        if (_mode == NearDedupShingle.Word && !unspaced)
        {
            if (words < _words)
            {
                hashes.Add(Hash(normalised));
                return ShingleOutcome.SingleShingle;
            }
            for (var i = 0; i + _words <= words; i++)
                hashes.Add(Hash(normalised[_starts[i].._ends[i + _words - 1]]));
            return ShingleOutcome.Words;
        }

        if (length < _chars)
        {
            hashes.Add(Hash(normalised));
            return ShingleOutcome.SingleShingle;
        }
        for (var i = 0; i + _chars <= length; i++) hashes.Add(Hash(normalised.Slice(i, _chars)));
        return _mode == NearDedupShingle.Char ? ShingleOutcome.Characters : ShingleOutcome.CharacterFallback;
    }

    /// <summary>The distinct shingle hashes of a text, sorted: the set exact Jaccard compares.</summary>
    public ulong[] ShingleSet(string text, List<ulong> scratch)
    {
        Shingle(text, scratch);
        var set = scratch.ToArray();
        Array.Sort(set);
        var distinct = set.Length == 0 ? 0 : 1;
        for (var i = 1; i < set.Length; i++)
            if (set[i] != set[distinct - 1]) set[distinct++] = set[i];
        return distinct == set.Length ? set : set[..distinct];
    }

    private static ulong Hash(ReadOnlySpan<char> shingle) => XxHash64.HashToUInt64(MemoryMarshal.AsBytes(shingle));

    /// <summary>
    /// Writes the normalised text into <see cref="_text"/> and the word boundaries into <see cref="_starts"/>/<see cref="_ends"/>;
    /// returns its length. <paramref name="unspaced"/>: more than half of the non-space characters are in scripts written
    /// without spaces between words.
    /// </summary>
    private int Normalise(string text, out int words, out bool unspaced)
    {
        var source = Nfc(text);
        if (_text.Length < source.Length) _text = new char[Math.Max(source.Length, _text.Length * 2)];
        // Lowered a chunk at a time into a small buffer (a big document is not copied whole), never splitting a
        // surrogate pair: invariant lowering maps each code point on its own, so chunks give the same characters.
        var lowered = ArrayPool<char>.Shared.Rent(LowerChunk);
        try
        {
            var length = 0;
            words = 0;
            int visible = 0, noSpaceScript = 0;
            var inWord = false;
            for (var at = 0; at < source.Length;)
            {
                var count = Math.Min(LowerChunk, source.Length - at);
                if (at + count < source.Length && char.IsHighSurrogate(source[at + count - 1])) count--;
                source.AsSpan(at, count).ToLowerInvariant(lowered);
                at += count;
                for (var i = 0; i < count; i++)
                {
                    var c = lowered[i];
                    if (c < 128 ? c is ' ' or '\t' or '\n' or '\r' or '\v' or '\f' : char.IsWhiteSpace(c))
                    {
                        if (inWord)
                        {
                            _ends[words++] = length;
                            inWord = false;
                        }
                        continue;
                    }
                    if (!inWord)
                    {
                        if (words == _starts.Length)
                        {
                            Array.Resize(ref _starts, words * 2);
                            Array.Resize(ref _ends, words * 2);
                        }
                        if (length > 0) _text[length++] = ' ';
                        _starts[words] = length;
                        inWord = true;
                    }
                    visible++;
                    if (Scripts.IsWrittenWithoutSpaces(c)) noSpaceScript++;
                    _text[length++] = c;
                }
            }
            if (inWord) _ends[words++] = length;
            unspaced = noSpaceScript * 2 > visible;
            return length;
        }
        finally
        {
            ArrayPool<char>.Shared.Return(lowered);
        }
    }

    /// <summary>NFC; a text that cannot be normalised (a lone surrogate: readers quarantine those) is shingled as it is.</summary>
    private static string Nfc(string text)
    {
        try
        {
            return text.IsNormalized(NormalizationForm.FormC) ? text : text.Normalize(NormalizationForm.FormC);
        }
        catch (ArgumentException)
        {
            return text;
        }
    }
}
