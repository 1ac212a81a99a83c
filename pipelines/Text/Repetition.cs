namespace Curation.Pipelines.Text;

/// <summary>
/// Repetition measures of Gopher (Rae et al. 2021, table A1) as datatrove defines them: duplicated elements (lines,
/// paragraphs) and their characters, the most frequent n-gram's characters, and the characters covered by duplicated
/// n-grams. Lengths are UTF-16 units (datatrove: code points; they differ only outside the BMP).
/// </summary>
public static class Repetition
{
    /// <summary>Elements equal to an earlier element: how many, and their characters.</summary>
    public static (int Elements, long Chars) Duplicates(IEnumerable<string> elements)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        int duplicates = 0;
        long chars = 0;
        foreach (var e in elements)
        {
            if (seen.Add(e)) continue;
            duplicates++;
            chars += e.Length;
        }
        return (duplicates, chars);
    }

    /// <summary>
    /// Characters of the most frequent word n-gram (words joined by one space; two units of a script written without
    /// spaces, <paramref name="glued"/>, by none) times its count; 0 when the text has fewer than n words. Ties go to the
    /// n-gram seen first (Python's <c>Counter.most_common</c>).
    /// </summary>
    public static long TopNGramChars(IReadOnlyList<string> words, int n, IReadOnlyList<bool>? glued = null)
    {
        if (words.Count < n) return 0;
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        var firstSeen = new List<string>();
        var sb = new System.Text.StringBuilder();
        for (var i = 0; i + n <= words.Count; i++)
        {
            sb.Clear();
            for (var j = i; j < i + n; j++)
            {
                if (j > i && !(glued is not null && glued[j - 1] && glued[j])) sb.Append(' ');
                sb.Append(words[j]);
            }
            var gram = sb.ToString();
            if (counts.TryGetValue(gram, out var c))
            {
                counts[gram] = c + 1;
            }
            else
            {
                counts[gram] = 1;
                firstSeen.Add(gram);
            }
        }

        // The tie rule needs the order of first appearance, not the order in which counts reach the maximum:
        // in "a b b a" both grams count 2 and "a" wins.
        var top = firstSeen[0];
        foreach (var gram in firstSeen)
            if (counts[gram] > counts[top]) top = gram;
        return (long)top.Length * counts[top];
    }

    /// <summary>
    /// Characters (words concatenated without spaces) covered by n-grams that repeat an earlier n-gram; after a repeat the
    /// scan jumps past it, so no character is counted twice.
    /// </summary>
    public static long DuplicatedNGramChars(IReadOnlyList<string> words, int n)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        long repeated = 0;
        var i = 0;
        while (i < words.Count - n + 1)
        {
            var gram = string.Concat(words.Skip(i).Take(n));
            if (seen.Add(gram))
            {
                i++;
                continue;
            }
            repeated += gram.Length;
            i += n;
        }
        return repeated;
    }
}
