using System.Buffers;
using System.Collections.Concurrent;
using FastBertTokenizer;

namespace Curation.Pipelines.Embedding;

/// <summary>Ids of the special tokens a BERT model's input is built with.</summary>
public readonly record struct SpecialTokenIds(int Cls, int Sep, int Pad, int Unknown);

/// <summary>
/// BERT WordPiece tokenization matching HuggingFace's (<c>tokenizers</c> BertNormalizer + BertPreTokenizer + WordPiece,
/// as all-MiniLM-L6-v2 and bert-base-uncased use it): FastBertTokenizer 1.2.6 does the work, and a scan with
/// HuggingFace's rules handles what it does differently (words over 100 characters become one [UNK]; literal special
/// tokens in the text become their ids; see <see cref="BertTextScanner"/>).
/// <para>
/// Thread-safe: one instance serves any number of threads. FastBertTokenizer instances are not (they reuse internal
/// buffers), so this class keeps a small pool of them, one per concurrent caller, each loaded from the same vocabulary.
/// </para>
/// <para>
/// Output is the ids of the whole text, never truncated and without [CLS]/[SEP]: windowing over long documents is the
/// embedder's business (<see cref="BatchEmbedder"/>). Cost is linear in the text: a 1 MB single-token run is one [UNK].
/// </para>
/// </summary>
public sealed class WordPieceTokenizer
{
    private static readonly string[] SpecialLiterals = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"];

    private readonly string _vocabulary;
    private readonly BertTextScanner _scanner;
    private readonly ConcurrentBag<BertTokenizer> _pool = [];

    private WordPieceTokenizer(string vocabulary, bool lowerCase)
    {
        _vocabulary = vocabulary;
        LowerCase = lowerCase;

        var ids = new Dictionary<string, int>(StringComparer.Ordinal);
        var count = 0;
        using (var reader = new StringReader(vocabulary))
        {
            while (reader.ReadLine() is { } line)
            {
                ids.TryAdd(line, count); // the first occurrence wins, as in HuggingFace's load_vocab
                count++;
            }
        }
        VocabularySize = count;
        int Required(string token) => ids.TryGetValue(token, out var id)
            ? id
            : throw new InvalidDataException($"The vocabulary has no {token} token: it is not a BERT WordPiece vocabulary.");
        SpecialTokens = new SpecialTokenIds(Required("[CLS]"), Required("[SEP]"), Required("[PAD]"), Required("[UNK]"));
        _scanner = new BertTextScanner(
            SpecialLiterals.Where(ids.ContainsKey).Select(s => (s, ids[s])), SpecialTokens.Unknown, uncased: lowerCase);

        _pool.Add(CreateTokenizer()); // fail now on a bad vocabulary, not at first use
    }

    public SpecialTokenIds SpecialTokens { get; }

    /// <summary>The scanner that prepares text the way HuggingFace's normaliser and pre-tokenizer see it.</summary>
    internal BertTextScanner Scanner => _scanner;

    public int VocabularySize { get; }

    /// <summary>Uncased: text is lowercased and accents are stripped before WordPiece.</summary>
    public bool LowerCase { get; }

    /// <summary>Loads a <c>vocab.txt</c> (one token a line, the line number is the id; LF or CRLF).</summary>
    public static WordPieceTokenizer Load(string vocabPath, bool lowerCase = true) =>
        new(File.ReadAllText(vocabPath), lowerCase);

    /// <summary>The token ids of the whole text, without special tokens and without truncation.</summary>
    public int[] Tokenize(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return Run(text, static (ids, count) => ids.AsSpan(0, count).ToArray());
    }

    /// <summary>How many tokens <see cref="Tokenize"/> would return, without keeping them.</summary>
    public int CountTokens(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return Run(text, static (_, count) => count);
    }

    private T Run<T>(string text, Func<int[], int, T> result)
    {
        if (!_pool.TryTake(out var tokenizer)) tokenizer = CreateTokenizer();
        var output = ArrayPool<int>.Shared.Rent(16 + text.Length / 3);
        var count = 0;
        try
        {
            List<BertTextScanner.Piece> pieces = [];
            if (!_scanner.TrySplit(text, pieces))
            {
                Encode(tokenizer, text, ref output, ref count);
            }
            else
            {
                foreach (var piece in pieces)
                {
                    if (piece.TokenId >= 0)
                        Append(ref output, ref count, piece.TokenId);
                    else
                        Encode(tokenizer, piece.Text, ref output, ref count);
                }
            }
            return result(output, count);
        }
        finally
        {
            ArrayPool<int>.Shared.Return(output);
            _pool.Add(tokenizer);
        }
    }

    /// <summary>Appends the ids of <paramref name="text"/> (its [CLS] and [SEP] dropped) to <paramref name="output"/>.</summary>
    private static void Encode(BertTokenizer tokenizer, string text, ref int[] output, ref int count)
    {
        // FastBertTokenizer truncates to the span it is given: give it room for one token per character plus [CLS] and
        // [SEP], and when it fills that completely (it may have cut), once more with double the room. One character can
        // give up to three tokens (Hangul syllables decompose into jamo), so this ends after at most two rounds.
        var capacity = text.Length + 2;
        while (true)
        {
            var ids = ArrayPool<long>.Shared.Rent(capacity);
            var mask = ArrayPool<long>.Shared.Rent(capacity);
            try
            {
                var room = Math.Min(ids.Length, mask.Length);
                var produced = tokenizer.Encode(text, ids.AsSpan(0, room), mask.AsSpan(0, room));
                if (produced < room)
                {
                    var tokens = ids.AsSpan(1, produced - 2); // drop [CLS] and [SEP]
                    EnsureRoom(ref output, count + tokens.Length);
                    for (var i = 0; i < tokens.Length; i++) output[count + i] = (int)tokens[i];
                    count += tokens.Length;
                    return;
                }
                capacity = checked(room * 2);
            }
            finally
            {
                ArrayPool<long>.Shared.Return(ids);
                ArrayPool<long>.Shared.Return(mask);
            }
        }
    }

    private static void Append(ref int[] output, ref int count, int id)
    {
        EnsureRoom(ref output, count + 1);
        output[count++] = id;
    }

    private static void EnsureRoom(ref int[] output, int needed)
    {
        if (needed <= output.Length) return;
        var larger = ArrayPool<int>.Shared.Rent(Math.Max(needed, output.Length * 2));
        output.AsSpan().CopyTo(larger);
        ArrayPool<int>.Shared.Return(output);
        output = larger;
    }

    private BertTokenizer CreateTokenizer()
    {
        var tokenizer = new BertTokenizer();
        using var reader = new StringReader(_vocabulary);
        tokenizer.LoadVocabulary(reader, LowerCase);
        return tokenizer;
    }
}
