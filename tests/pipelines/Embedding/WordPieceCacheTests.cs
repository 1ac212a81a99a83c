using Curation.Pipelines.Embedding;
using Curation.Pipelines.Embedding.Static;
using Curation.Testing;

namespace Curation.Pipelines.Tests.Embedding;

/// <summary>
/// The static path's word cache (<see cref="WordPieceCache"/>) and text embedder (<see cref="StaticTextEmbedder"/>):
/// the same ids as <see cref="WordPieceTokenizer.Tokenize"/> and bit-identical vectors, on a cold and a warm cache, on
/// real text in many scripts, HuggingFace's reference cases and texts made to cross every chunk boundary rule.
/// </summary>
[Collection(EmbeddingModelCollection.Name)]
public sealed class WordPieceCacheTests(EmbeddingModelFixture model)
{
    /// <summary>Scripts, accents, emoji, specials, controls and long words, glued to ASCII separators in every way.</summary>
    private static readonly string[] Scripts =
    [
        "日本語の文章には空白がありません。東京都、大阪府.京都(きょうと)",
        "中文没有空格,标点符号:逗号、句号。English mixed中文mixed",
        "ภาษาไทยไม่มีช่องว่างระหว่างคำ,และ.ใช้(วงเล็บ)",
        "العربية: مرحبا بالعالم! (نص) \u064B\u064C\u064D حركات، ١٢٣٤٥",
        "한국어 텍스트, 한글.자모 (괄호) 안녕하세요",
        "Ελληνικά; ερωτηματικό\u037E Русский текст, ёлка. हिन्दी पाठ।",
        "Café naïve résumé façade Ångström ÉCOLE über straße ﬁle İstanbul",
        "e\u0301,\u0301.\u0308 x \u0301\u0308 y", // combining marks after punctuation and alone
        "😀 emoji 👩‍👩‍👧‍👦 family 🇫🇷, 🎉!🎉 x²™©½",
        "[CLS] foo[SEP]bar [cls] [Mask] [[SEP]] [MASK][UNK]x[PAD]",
        "zero\u200Bwidth\u00ADsoft hyphen au\fh 0\r0\v9 a\u0000b\u0007c",
        new string('x', 150) + ".yyy " + new string('é', 101) + " " + new string('a', 100) + "," + new string('b', 101),
        "antidisestablishmentarianism supercalifragilisticexpialidocious pneumonoultramicroscopicsilicovolcanoconiosis",
        "THE QUICK BROWN FOX — “quoted” ‘text’ … €5 £3 ¥7 e-mail: john.doe@example.com, https://example.org/path?q=1",
        "tab\tseparated\tvalues\r\nwindows line\r\n   leading and trailing   \n\n",
        "\uD800 lone surrogate \uDC00x", "", "   ", ",", "[", "[SEP", "a[SEP]",
        new string('あ', 300) + " " + string.Concat(Enumerable.Repeat("한", 40)),
    ];

    private static IEnumerable<string> Texts() =>
        Scripts
            .Concat(HuggingFaceReference.Cases.Select(c => c.Text))
            .Concat(MultilingualCorpus.Build(maxDocuments: 6_000).Select(d => d.Text));

    [Fact]
    public void Gives_the_tokenizers_ids_cold_and_warm()
    {
        var texts = Texts().ToArray();
        var cache = new WordPieceCache(model.Tokenizer);
        var failures = new List<string>();
        for (var pass = 0; pass < 2; pass++) // first pass: every chunk a miss once; second: hits
        {
            var buffer = new int[4]; // too small on purpose: it must grow
            foreach (var text in texts)
            {
                var expected = model.Tokenizer.Tokenize(text);
                var count = cache.Tokenize(text, ref buffer);
                if (!buffer.AsSpan(0, count).SequenceEqual(expected) || !cache.Tokenize(text).SequenceEqual(expected))
                    failures.Add($"pass {pass}: {Escape(text)}: expected [{string.Join(", ", expected)}], got [{string.Join(", ", buffer.Take(count))}]");
            }
        }
        Assert.True(failures.Count == 0, string.Join("\n", failures.Take(20)));
        Assert.True(texts.Length > 2_000, $"only {texts.Length} texts");
        Assert.InRange(cache.Count, 1_000, WordPieceCache.DefaultCapacity);
    }

    [Fact]
    public void A_full_cache_stops_growing_and_gives_the_same_ids()
    {
        var texts = MultilingualCorpus.Build(maxDocuments: 500).Select(d => d.Text).Concat(Scripts).ToArray();
        var small = new WordPieceCache(model.Tokenizer, capacity: 10);
        var none = new WordPieceCache(model.Tokenizer, capacity: 0);
        foreach (var text in texts)
        {
            var expected = model.Tokenizer.Tokenize(text);
            Assert.Equal(expected, small.Tokenize(text));
            Assert.Equal(expected, none.Tokenize(text));
        }
        Assert.Equal(10, small.Count);
        Assert.Equal(0, none.Count);
    }

    [Fact]
    public void Many_threads_share_one_cache()
    {
        var texts = MultilingualCorpus.Build(maxDocuments: 3_000).Select(d => d.Text).ToArray();
        var expected = texts.Select(model.Tokenizer.Tokenize).ToArray();
        var cache = new WordPieceCache(model.Tokenizer);
        var got = new int[texts.Length][];
        Parallel.For(0, texts.Length * 4, new ParallelOptions { MaxDegreeOfParallelism = 8 }, i => got[i % texts.Length] = cache.Tokenize(texts[i % texts.Length]));
        for (var i = 0; i < texts.Length; i++) Assert.Equal(expected[i], got[i]);

        // A small cache filled by many threads at once holds exactly its capacity, never more.
        var small = new WordPieceCache(model.Tokenizer, capacity: 50);
        Parallel.For(0, texts.Length, new ParallelOptions { MaxDegreeOfParallelism = 8 }, i => Assert.Equal(expected[i], small.Tokenize(texts[i])));
        Assert.Equal(50, small.Count);
    }

    [Theory]
    [InlineData(StaticPooling.SqrtTf)]
    [InlineData(StaticPooling.Mean)]
    public void Static_vectors_are_bit_identical_to_tokenizing_then_embedding(StaticPooling pooling)
    {
        // The model's input rows as a table (no distillation needed): only the ids decide whether vectors match.
        var rows = StaticModelStore.InputMean(model.Files.ModelPath, model.Tokenizer.VocabularySize);
        var table = new StaticModel(StaticRecipe.Distilled, rows.VocabularySize, rows.Dimensions, rows.Table) { Pooling = pooling };
        var embedder = new StaticTextEmbedder(new WordPieceCache(model.Tokenizer), table);
        var texts = Texts().ToArray();
        var dims = table.Dimensions;
        var vectors = new float[texts.Length * dims];
        var counts = new int[texts.Length];
        embedder.EmbedMany(texts, vectors, counts, threads: 2); // cold: many threads filling the cache
        var reference = new float[dims];
        var warm = new float[dims];
        var buffer = new int[1];
        var differ = new List<string>();
        for (var i = 0; i < texts.Length; i++)
        {
            var ids = model.Tokenizer.Tokenize(texts[i]);
            var nonEmpty = table.Embed(ids, reference);
            Assert.Equal(ids.Length, counts[i]);
            Assert.Equal(ids.Length, embedder.Embed(texts[i], warm, ref buffer));
            Assert.Equal(nonEmpty, counts[i] > 0);
            if (!reference.AsSpan().SequenceEqual(vectors.AsSpan(i * dims, dims)) || !reference.AsSpan().SequenceEqual(warm))
                differ.Add(Escape(texts[i]));
        }
        Assert.True(differ.Count == 0, $"{differ.Count} vectors differ, e.g. {string.Join("\n", differ.Take(5))}");
    }

    private static string Escape(string text) =>
        string.Concat(text.Take(200).Select(ch => ch is >= ' ' and < '\x7f' ? ch.ToString() : $"\\u{(int)ch:X4}"));
}
