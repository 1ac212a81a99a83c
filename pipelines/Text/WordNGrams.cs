namespace Curation.Pipelines.Text;

/// <summary>
/// The word n-grams of one text for Gopher's repetition measures (<see cref="Repetition"/> defines them), without a string
/// per word or per n-gram: the words are copied once into two buffers, one joined as the top n-gram joins them (one space,
/// none between two units of a script written without spaces) and one concatenated as the duplicated n-grams do, so every
/// n-gram of every size is one slice of a buffer; a polynomial prefix hash (mod 2⁶¹ − 1) gives each slice's hash in O(1)
/// and <see cref="SliceCounts"/> compares the characters. One split serves every n. Reusable per thread.
/// </summary>
public sealed class WordNGrams
{
    private const ulong Modulus = (1UL << 61) - 1, Base = 1_000_003;

    private readonly Buffer _spaced = new(), _joined = new();
    private readonly SliceCounts _counts = new();
    private int[] _spacedStart = new int[64], _spacedEnd = new int[64], _joinedStart = new int[65];
    private int _words;

    /// <summary>The number of words loaded.</summary>
    public int Count => _words;

    /// <summary>Loads the words of <paramref name="text"/> (as <see cref="Words.Split"/> gave them).</summary>
    public void Load(string text, ReadOnlySpan<Word> words)
    {
        Begin(words.Length, text.Length);
        for (var i = 0; i < words.Length; i++)
            Append(text.AsSpan(words[i].Start, words[i].Length), Scripts.IsUnspaced(words[i].Script));
        End();
    }

    /// <summary>Loads words given as strings; <paramref name="glued"/>: which are units of a script written without spaces (none when null).</summary>
    public void Load(IReadOnlyList<string> words, IReadOnlyList<bool>? glued = null)
    {
        var chars = 0;
        foreach (var w in words) chars += w.Length;
        Begin(words.Count, chars);
        for (var i = 0; i < words.Count; i++) Append(words[i], glued is not null && glued[i]);
        End();
    }

    /// <summary>Characters of the most frequent n-gram times its count (ties: the first seen); 0 below n words.</summary>
    public long TopNGramChars(int n)
    {
        if (_words < n) return 0;
        _counts.Reset(_spaced.Chars.AsMemory(0, _spaced.Length), _words - n + 1);
        for (var i = 0; i + n <= _words; i++)
        {
            int start = _spacedStart[i], end = _spacedEnd[i + n - 1];
            _counts.Increment(start, end - start, _spaced.Hash(start, end));
        }
        var top = 0;
        for (var g = 1; g < _counts.Distinct; g++)
            if (_counts.CountAt(g) > _counts.CountAt(top)) top = g;
        return (long)_counts.LengthAt(top) * _counts.CountAt(top);
    }

    /// <summary>Characters (words concatenated) covered by n-grams repeating an earlier one; the scan jumps past a repeat.</summary>
    public long DuplicatedNGramChars(int n)
    {
        long repeated = 0;
        if (_words - n + 1 <= 0) return 0;
        _counts.Reset(_joined.Chars.AsMemory(0, _joined.Length), _words - n + 1);
        var i = 0;
        while (i < _words - n + 1)
        {
            int start = _joinedStart[i], end = _joinedStart[i + n];
            if (_counts.Add(start, end - start, _joined.Hash(start, end)))
            {
                i++;
                continue;
            }
            repeated += end - start;
            i += n;
        }
        return repeated;
    }

    private bool _previousGlued;

    private void Begin(int words, int chars)
    {
        _words = 0;
        _previousGlued = false;
        if (_spacedStart.Length < words)
        {
            var size = Math.Max(words, _spacedStart.Length * 2);
            _spacedStart = new int[size];
            _spacedEnd = new int[size];
            _joinedStart = new int[size + 1];
        }
        _spaced.Begin(chars + words);
        _joined.Begin(chars);
    }

    private void Append(ReadOnlySpan<char> word, bool glued)
    {
        if (_words > 0 && !(_previousGlued && glued)) _spaced.Append(' ');
        _spacedStart[_words] = _spaced.Length;
        _spaced.Append(word);
        _spacedEnd[_words] = _spaced.Length;
        _joinedStart[_words] = _joined.Length;
        _joined.Append(word);
        _previousGlued = glued;
        _words++;
    }

    private void End()
    {
        _joinedStart[_words] = _joined.Length;
        _spaced.Finish();
        _joined.Finish();
    }

    /// <summary>Characters with their prefix hashes: <c>prefix[k]</c> hashes the first k characters.</summary>
    private sealed class Buffer
    {
        private ulong[] _prefix = new ulong[257], _powers = InitialPowers(257);

        public char[] Chars = new char[256];
        public int Length;

        public void Begin(int capacity)
        {
            Length = 0;
            if (Chars.Length < capacity) Chars = new char[Math.Max(capacity, Chars.Length * 2)];
        }

        public void Append(char c) => Chars[Length++] = c;

        public void Append(ReadOnlySpan<char> s)
        {
            s.CopyTo(Chars.AsSpan(Length));
            Length += s.Length;
        }

        public void Finish()
        {
            if (_prefix.Length < Length + 1)
            {
                _prefix = new ulong[Math.Max(Length + 1, _prefix.Length * 2)];
                _powers = InitialPowers(_prefix.Length);
            }
            ulong h = 0;
            for (var k = 0; k < Length; k++)
            {
                h = Add(MulMod(h, Base), (ulong)Chars[k] + 1);
                _prefix[k + 1] = h;
            }
        }

        /// <summary>The hash of <c>Chars[start..end)</c>.</summary>
        public ulong Hash(int start, int end) => Sub(_prefix[end], MulMod(_prefix[start], _powers[end - start]));

        private static ulong[] InitialPowers(int size)
        {
            var powers = new ulong[size];
            powers[0] = 1;
            for (var k = 1; k < size; k++) powers[k] = MulMod(powers[k - 1], Base);
            return powers;
        }
    }

    private static ulong MulMod(ulong a, ulong b)
    {
        var product = (UInt128)a * b;
        var r = ((ulong)product & Modulus) + (ulong)(product >> 61);
        r = (r & Modulus) + (r >> 61);
        return r >= Modulus ? r - Modulus : r;
    }

    private static ulong Add(ulong a, ulong b)
    {
        var r = a + b;
        return r >= Modulus ? r - Modulus : r;
    }

    private static ulong Sub(ulong a, ulong b) => a >= b ? a - b : a + Modulus - b;
}
