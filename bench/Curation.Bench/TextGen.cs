using System.Text;

namespace Curation.Bench;

/// <summary>
/// Deterministic prose-like text: words from a fixed synthetic vocabulary (a few with accents), sentences and
/// paragraphs. Every document is a pure function of (seed, document number), so a duplicate can regenerate its
/// original instead of the generator holding every text in memory.
/// </summary>
public sealed class TextGen
{
    private static readonly string[] Onsets = ["", "b", "c", "d", "f", "g", "h", "l", "m", "n", "p", "r", "s", "t", "v", "st", "tr", "pl", "ch", "br"];
    private static readonly string[] Vowels = ["a", "e", "i", "o", "u", "ou", "ea", "io", "é", "ü"];
    private static readonly string[] Codas = ["", "", "n", "r", "s", "t", "l", "nd", "st", "m"];

    private readonly string[] _words;
    private readonly int _seed;

    public TextGen(int seed, int vocabulary = 4000)
    {
        _seed = seed;
        var random = new Random(seed);
        var words = new HashSet<string>(StringComparer.Ordinal);
        while (words.Count < vocabulary)
        {
            var word = new StringBuilder();
            var syllables = 1 + random.Next(3);
            for (var s = 0; s < syllables; s++)
            {
                word.Append(Onsets[random.Next(Onsets.Length)]);
                // Accented vowels are rare, as in English-dominated web text.
                word.Append(Vowels[random.Next(100) < 97 ? random.Next(8) : 8 + random.Next(2)]);
                word.Append(Codas[random.Next(Codas.Length)]);
            }
            words.Add(word.ToString());
        }
        _words = words.Order(StringComparer.Ordinal).ToArray();
    }

    /// <summary>
    /// A random source for one item. Not <see cref="HashCode"/> (randomised per process): the seed is a bijection of
    /// the item number onto non-negative ints (odd multiplier, then XOR, modulo 2^31), so every run generates the
    /// same corpus and no two items share a seed (Random(s) and Random(-s) would be the same sequence).
    /// </summary>
    public Random For(long item) => new((int)(((ulong)item * 0x9E3779B1UL ^ (uint)_seed * 0x85EBCA6BUL) & 0x7FFF_FFFF));

    /// <summary>~<paramref name="targetChars"/> characters of sentences in 1–4 paragraphs.</summary>
    public string Prose(Random random, int targetChars)
    {
        var text = new StringBuilder(targetChars + 64);
        var paragraphs = 1 + random.Next(4);
        var perParagraph = targetChars / paragraphs;
        for (var p = 0; p < paragraphs; p++)
        {
            if (p > 0) text.Append(random.Next(3) == 0 ? "\n" : "\n\n");
            var start = text.Length;
            while (text.Length - start < perParagraph)
            {
                if (text.Length > start) text.Append(' ');
                var words = 6 + random.Next(13);
                for (var w = 0; w < words; w++)
                {
                    var word = _words[Zipf(random)];
                    if (w == 0) text.Append(char.ToUpperInvariant(word[0])).Append(word, 1, word.Length - 1);
                    else text.Append(' ').Append(word);
                    if (w < words - 1 && random.Next(12) == 0) text.Append(',');
                }
                text.Append(random.Next(10) == 0 ? '?' : '.');
            }
        }
        return text.ToString();
    }

    /// <summary>Word ranks skewed towards the frequent ones, roughly like natural text.</summary>
    private int Zipf(Random random)
    {
        var u = random.NextDouble();
        return Math.Min(_words.Length - 1, (int)(Math.Pow(_words.Length, u * u) - 1));
    }
}
