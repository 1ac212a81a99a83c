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
    /// Paragraphs of <paramref name="text"/>: the text trimmed of white space at both ends, split at every run of two or
    /// more newlines (one element when there is none, an empty one for an empty text). How many, how many equal an
    /// earlier one, and their characters; no string is made (<paramref name="scratch"/> counts slices of the text).
    /// </summary>
    public static (int Elements, int Duplicates, long Chars) Paragraphs(string text, SliceCounts scratch)
    {
        int start = 0, end = text.Length;
        while (start < end && char.IsWhiteSpace(text[start])) start++;
        while (end > start && char.IsWhiteSpace(text[end - 1])) end--;
        return Split(text, start, end, minBreak: 2, scratch);
    }

    /// <summary>Lines of <paramref name="text"/>: split at every run of newlines (as <see cref="Paragraphs"/>, untrimmed).</summary>
    public static (int Elements, int Duplicates, long Chars) Lines(string text, SliceCounts scratch) =>
        Split(text, 0, text.Length, minBreak: 1, scratch);

    /// <summary>The elements of <c>text[start..end)</c> between runs of at least <paramref name="minBreak"/> newlines.</summary>
    private static (int Elements, int Duplicates, long Chars) Split(string text, int start, int end, int minBreak, SliceCounts scratch)
    {
        scratch.Reset(text.AsMemory(), 16);
        int elements = 0, duplicates = 0;
        long chars = 0;
        var span = text.AsSpan();
        var elementStart = start;
        var i = start;
        while (true)
        {
            var next = span[i..end].IndexOf('\n');
            var runStart = next < 0 ? end : i + next;
            var runEnd = runStart;
            while (runEnd < end && span[runEnd] == '\n') runEnd++;
            if (runEnd - runStart >= minBreak || runStart == end)
            {
                elements++;
                var element = span[elementStart..runStart];
                var hash = System.IO.Hashing.XxHash3.HashToUInt64(System.Runtime.InteropServices.MemoryMarshal.AsBytes(element));
                if (!scratch.Add(elementStart, element.Length, hash))
                {
                    duplicates++;
                    chars += element.Length;
                }
                if (runStart == end) return (elements, duplicates, chars);
                elementStart = runEnd;
            }
            i = runEnd;
        }
    }

    /// <summary>
    /// Characters of the most frequent word n-gram (words joined by one space; two units of a script written without
    /// spaces, <paramref name="glued"/>, by none) times its count; 0 when the text has fewer than n words. Ties go to the
    /// n-gram seen first (Python's <c>Counter.most_common</c>). <see cref="WordNGrams.TopNGramChars"/> for a text's words.
    /// </summary>
    public static long TopNGramChars(IReadOnlyList<string> words, int n, IReadOnlyList<bool>? glued = null)
    {
        var grams = new WordNGrams();
        grams.Load(words, glued);
        return grams.TopNGramChars(n);
    }

    /// <summary>
    /// Characters (words concatenated without spaces) covered by n-grams that repeat an earlier n-gram; after a repeat the
    /// scan jumps past it, so no character is counted twice. <see cref="WordNGrams.DuplicatedNGramChars"/> for a text's words.
    /// </summary>
    public static long DuplicatedNGramChars(IReadOnlyList<string> words, int n)
    {
        var grams = new WordNGrams();
        grams.Load(words);
        return grams.DuplicatedNGramChars(n);
    }
}
