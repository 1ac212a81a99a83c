using System.Collections.Concurrent;

namespace Curation.Pipelines.Embedding;

/// <summary>
/// The ids <see cref="WordPieceTokenizer.Tokenize"/> gives, found word by word in a bounded cache: the static embedder's
/// tokenizer (a table lookup per piece leaves tokenizing most of its cost, and natural text repeats its words).
/// <para>
/// The text is cut into <em>chunks</em> at ASCII whitespace and ASCII punctuation only, which are word boundaries for BERT
/// in every context (its pre-tokenizer splits at whitespace and makes each punctuation character a word; normalisation
/// never joins across an ASCII character, which is a canonical starter, so NFD and mark stripping do not either) and at
/// the special literals ([CLS], [SEP]…) the tokenizer matches on raw text. Every other character, non-ASCII and ASCII
/// controls included, stays inside its chunk. A chunk is therefore a run of whole words, and its ids are those
/// <see cref="WordPieceTokenizer.Tokenize"/> gives for the chunk alone: the concatenation is the text's ids, the same
/// ids in the same order (tested on the demo corpus, HuggingFace's reference cases and texts in several scripts).
/// Text without ASCII separators (Chinese, Thai) is one long chunk and goes to the tokenizer uncached.
/// </para>
/// <para>
/// A chunk of at most <see cref="MaxCachedChunk"/> characters is looked up by its characters (no string is made on a
/// hit); a miss tokenizes it and adds it while the cache holds fewer than its capacity (no eviction: what is cached
/// never changes an id, so the output does not depend on the order documents come in or on the threads). Thread-safe.
/// Memory: at most capacity × (a chunk's string + its ids + an entry), about 10 MB at the default 65,536 (never more
/// entries than the capacity, whatever the threads).
/// </para>
/// </summary>
public sealed class WordPieceCache
{
    /// <summary>Longest chunk cached, in UTF-16 code units; longer chunks are tokenized on every occurrence.</summary>
    public const int MaxCachedChunk = 32;

    /// <summary>Entries kept by default.</summary>
    public const int DefaultCapacity = 1 << 16;

    private readonly WordPieceTokenizer _tokenizer;
    private readonly BertTextScanner _scanner;
    private readonly ConcurrentDictionary<string, int[]> _chunks = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, int[]>.AlternateLookup<ReadOnlySpan<char>> _lookup;
    private readonly int[]?[] _asciiBoundaries = new int[]?[128];
    private readonly int _capacity;
    private int _count;

    public WordPieceCache(WordPieceTokenizer tokenizer, int capacity = DefaultCapacity)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        ArgumentOutOfRangeException.ThrowIfNegative(capacity);
        _tokenizer = tokenizer;
        _scanner = tokenizer.Scanner;
        _capacity = capacity;
        _lookup = _chunks.GetAlternateLookup<ReadOnlySpan<char>>();
        // Each ASCII punctuation character alone (whitespace gives no ids): its ids, looked up by the character.
        for (var c = (char)0; c < 128; c++)
        {
            if (BertTextScanner.ClassifyAscii(c) == BertTextScanner.CharClass.Boundary && !char.IsWhiteSpace(c))
                _asciiBoundaries[c] = tokenizer.Tokenize(c.ToString());
        }
    }

    /// <summary>Chunks cached so far (at most the capacity).</summary>
    public int Count => Volatile.Read(ref _count);

    /// <summary>The ids of <paramref name="text"/>, as <see cref="WordPieceTokenizer.Tokenize"/> gives them.</summary>
    public int[] Tokenize(string text)
    {
        var buffer = new int[16 + text.Length / 4];
        var count = Tokenize(text, ref buffer);
        return buffer.AsSpan(0, count).ToArray();
    }

    /// <summary>
    /// Writes the ids of <paramref name="text"/> to the start of <paramref name="buffer"/> (replaced by a larger array when
    /// it is too small) and returns how many there are.
    /// </summary>
    public int Tokenize(string text, ref int[] buffer)
    {
        ArgumentNullException.ThrowIfNull(text);
        var span = text.AsSpan();
        var count = 0;
        var start = 0;
        var i = 0;
        while (i < span.Length)
        {
            var c = span[i];
            if (c >= 128 || BertTextScanner.ClassifyAscii(c) != BertTextScanner.CharClass.Boundary)
            {
                i++;
                continue;
            }
            AppendChunk(span[start..i], ref buffer, ref count);
            if (c == '[' && _scanner.MatchSpecial(span, i) is { } special)
            {
                Append(ref buffer, ref count, special.Id);
                i += special.Literal.Length;
            }
            else
            {
                if (_asciiBoundaries[c] is { } ids) Append(ref buffer, ref count, ids);
                i++;
            }
            start = i;
        }
        AppendChunk(span[start..], ref buffer, ref count);
        return count;
    }

    private void AppendChunk(ReadOnlySpan<char> chunk, ref int[] buffer, ref int count)
    {
        if (chunk.IsEmpty) return;
        if (chunk.Length > MaxCachedChunk)
        {
            Append(ref buffer, ref count, _tokenizer.Tokenize(chunk.ToString()));
            return;
        }
        if (!_lookup.TryGetValue(chunk, out var ids))
        {
            var key = chunk.ToString();
            ids = _tokenizer.Tokenize(key);
            TryKeep(key, ids);
        }
        Append(ref buffer, ref count, ids);
    }

    /// <summary>Adds a chunk while fewer than the capacity are kept: a slot is reserved first, so threads never overshoot it.</summary>
    private void TryKeep(string key, int[] ids)
    {
        var kept = Volatile.Read(ref _count);
        while (kept < _capacity)
        {
            var seen = Interlocked.CompareExchange(ref _count, kept + 1, kept);
            if (seen == kept)
            {
                if (!_chunks.TryAdd(key, ids)) Interlocked.Decrement(ref _count); // another thread kept it first
                return;
            }
            kept = seen;
        }
    }

    private static void Append(ref int[] buffer, ref int count, int id)
    {
        if (count == buffer.Length) Array.Resize(ref buffer, Math.Max(16, buffer.Length * 2));
        buffer[count++] = id;
    }

    private static void Append(ref int[] buffer, ref int count, ReadOnlySpan<int> ids)
    {
        if (count + ids.Length > buffer.Length) Array.Resize(ref buffer, Math.Max(count + ids.Length, buffer.Length * 2));
        if (ids.Length == 1) buffer[count] = ids[0];
        else ids.CopyTo(buffer.AsSpan(count));
        count += ids.Length;
    }
}
