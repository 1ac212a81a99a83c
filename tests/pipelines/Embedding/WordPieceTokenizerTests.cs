using System.Diagnostics;
using Curation.Pipelines.Embedding;

namespace Curation.Pipelines.Tests.Embedding;

/// <summary>
/// Parity with HuggingFace's BERT tokenizer (bert-base-uncased / all-MiniLM-L6-v2). The expected ids were produced by
/// HuggingFace's own Rust tokenizer (npm <c>tokenizers</c> 0.23.2, bert-base-uncased's tokenizer.json settings over the
/// shipped vocab.txt); each case also names the word pieces, and the test checks them against the vocabulary lines,
/// so an id and the WordPiece split it stands for are both pinned.
/// </summary>
[Collection(EmbeddingModelCollection.Name)]
public sealed class WordPieceTokenizerTests(EmbeddingModelFixture model)
{
    public static TheoryData<string, int[], string[]> References => new()
    {
        { "A man is eating food.", [1037, 2158, 2003, 5983, 2833, 1012], ["a", "man", "is", "eating", "food", "."] },
        { "A man is eating a piece of bread.", [1037, 2158, 2003, 5983, 1037, 3538, 1997, 7852, 1012], ["a", "man", "is", "eating", "a", "piece", "of", "bread", "."] },
        { "The girl is carrying a baby.", [1996, 2611, 2003, 4755, 1037, 3336, 1012], ["the", "girl", "is", "carrying", "a", "baby", "."] },
        // Accents are stripped (NFD, marks dropped) on an uncased model.
        { "Café naïve résumé", [7668, 15743, 13746], ["cafe", "naive", "resume"] },
        { "Ünïcödé ÀÉÎÕÜ straße ﬁle İstanbul", [27260, 29347, 3695, 2226, 2358, 27807, 1984, 2571, 9960], ["unicode", "ae", "##io", "##u", "st", "##raße", "ﬁ", "##le", "istanbul"] },
        // Every ASCII symbol splits; digits are ordinary word characters.
        { "Hello, world! It's 3.14 and 1,000,000 dollars.", [7592, 1010, 2088, 999, 2009, 1005, 1055, 1017, 1012, 2403, 1998, 1015, 1010, 2199, 1010, 2199, 6363, 1012],
            ["hello", ",", "world", "!", "it", "'", "s", "3", ".", "14", "and", "1", ",", "000", ",", "000", "dollars", "."] },
        { "e-mail: john.doe@example.com, URL https://example.org/path?q=1",
            [1041, 1011, 5653, 1024, 2198, 1012, 18629, 1030, 2742, 1012, 4012, 1010, 24471, 2140, 16770, 1024, 1013, 1013, 2742, 1012, 8917, 1013, 4130, 1029, 1053, 1027, 1015],
            ["e", "-", "mail", ":", "john", ".", "doe", "@", "example", ".", "com", ",", "ur", "##l", "https", ":", "/", "/", "example", ".", "org", "/", "path", "?", "q", "=", "1"] },
        { "THE QUICK BROWN FOX — “quoted” ‘text’ … €5 £3 ¥7", [1996, 4248, 2829, 4419, 1517, 1523, 9339, 1524, 1520, 3793, 1521, 1529, 1574, 2629, 28182, 1071, 2581],
            ["the", "quick", "brown", "fox", "—", "“", "quoted", "”", "‘", "text", "’", "…", "€", "##5", "£3", "¥", "##7"] },
        // Symbols that are not punctuation stay in words; an emoji outside the vocabulary is [UNK].
        { "😀 emoji ™ © ½ x² naïvely", [100, 7861, 29147, 2072, 1580, 1075, 1092, 1060, 10701, 15743, 2135], ["[UNK]", "em", "##oj", "##i", "™", "©", "½", "x", "##²", "naive", "##ly"] },
        { "antidisestablishmentarianism supercalifragilisticexpialidocious",
            [3424, 10521, 4355, 7875, 13602, 3672, 12199, 2964, 3565, 9289, 10128, 29181, 24411, 4588, 10288, 19312, 21273, 10085, 6313],
            ["anti", "##dis", "##est", "##ab", "##lish", "##ment", "##arian", "##ism", "super", "##cal", "##if", "##rag", "##ilis", "##tic", "##ex", "##pia", "##lid", "##oc", "##ious"] },
        // Hangul decomposes into jamo (NFD); CJK ideographs are tokens of their own.
        { "한국어 日本語 中文", [1469, 30006, 30021, 29991, 30014, 30020, 29999, 30008, 1864, 1876, 1950, 1746, 1861], ["ᄒ", "##ᅡ", "##ᆫ", "##ᄀ", "##ᅮ", "##ᆨ", "##ᄋ", "##ᅥ", "日", "本", "語", "中", "文"] },
        // Literal special tokens are matched case-sensitively on the raw text, even inside a word.
        { "[UNK] [CLS] hello [SEP] [MASK]", [100, 101, 7592, 102, 103], ["[UNK]", "[CLS]", "hello", "[SEP]", "[MASK]"] },
        { "foo[SEP]bar [cls] [Mask]", [29379, 102, 3347, 1031, 18856, 2015, 1033, 1031, 7308, 1033], ["foo", "[SEP]", "bar", "[", "cl", "##s", "]", "[", "mask", "]"] },
        // Format characters (zero-width space, soft hyphen) vanish without splitting the word.
        { "zero\u200Bwidth\u00ADsoft hyphen", [5717, 9148, 11927, 7898, 15794, 1044, 22571, 10222], ["zero", "##wi", "##dt", "##hs", "##oft", "h", "##yp", "##hen"] },
        // A word longer than 100 characters is one [UNK]; exactly 100 is split into pieces.
        { new string('x', 150) + ".yyy", [100, 1012, 1061, 2100, 2100], ["[UNK]", ".", "y", "##y", "##y"] },
        { new string('a', 101) + "\u0000b", [100], ["[UNK]"] },
        { new string('é', 101), [100], ["[UNK]"] },
        { string.Concat(Enumerable.Repeat("e\u0301", 55)), [25212, .. Enumerable.Repeat(4402, 26), 2063], ["ee", .. Enumerable.Repeat("##ee", 26), "##e"] }, // 55 × e + accent
        { string.Concat(Enumerable.Repeat("한", 34)), [100], ["[UNK]"] }, // 102 jamo
        { new string('a', 100), [13360, .. Enumerable.Repeat(11057, 48), 2050], ["aaa", .. Enumerable.Repeat("##aa", 48), "##a"] },
        // Control characters are deleted (not spaces): "au\fh" is one word.
        { "au\fh 0\r0\v9", [8740, 2232, 1014, 5641], ["au", "##h", "0", "09"] },
        // Marks with no base letter vanish; a Greek question mark decomposes to ';'.
        { "x \u0301\u0308 y\u037Ez", [1060, 1061, 1025, 1062], ["x", "y", ";", "z"] },
    };

    [Theory]
    [MemberData(nameof(References))]
    public void Matches_HuggingFace_reference_ids(string text, int[] expectedIds, string[] expectedPieces)
    {
        Assert.Equal(expectedIds.Length, expectedPieces.Length);
        Assert.Equal(expectedPieces, expectedIds.Select(id => model.Vocabulary[id]).ToArray());

        Assert.Equal(expectedIds, model.Tokenizer.Tokenize(text));
        Assert.Equal(expectedIds.Length, model.Tokenizer.CountTokens(text));
    }

    [Fact]
    public void Matches_HuggingFace_on_generated_hard_cases()
    {
        var failures = HuggingFaceReference.Cases
            .Where(c => !model.Tokenizer.Tokenize(c.Text).SequenceEqual(c.Ids))
            .Select(c => $"{string.Concat(c.Text.Select(ch => ch is >= ' ' and < '\x7f' ? ch.ToString() : $"\\u{(int)ch:X4}"))}: expected [{string.Join(", ", c.Ids)}], got [{string.Join(", ", model.Tokenizer.Tokenize(c.Text))}]")
            .ToList();
        Assert.True(failures.Count == 0, string.Join("\n", failures));
        Assert.True(HuggingFaceReference.Cases.Length > 100);
    }

    [Fact]
    public void Exposes_the_vocabulary_special_ids()
    {
        Assert.Equal(new SpecialTokenIds(Cls: 101, Sep: 102, Pad: 0, Unknown: 100), model.Tokenizer.SpecialTokens);
        Assert.Equal(30522, model.Tokenizer.VocabularySize);
        Assert.True(model.Tokenizer.LowerCase);
    }

    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData(" \t\r\n\u00A0\u2003\u3000 ")]
    [InlineData("\u0000\u0001\u0002\u007F\u200B\uFEFF\u00AD")]
    [InlineData("\uFFFD\uD800 \uDC00")] // replacement character and lone surrogates
    [InlineData("\u0301\u0308")]
    public void Text_without_tokens_gives_none(string text)
    {
        Assert.Empty(model.Tokenizer.Tokenize(text));
        Assert.Equal(0, model.Tokenizer.CountTokens(text));
    }

    [Theory]
    [InlineData('a')]
    [InlineData('é')]
    [InlineData('한')]
    public void A_megabyte_single_token_run_is_one_unknown_token_in_linear_time(char c)
    {
        var text = new string(c, 1_000_000);
        Assert.Equal([100], model.Tokenizer.Tokenize(text));
        Assert.Equal(2, model.Tokenizer.CountTokens(text + " " + text));

        // Linear, not quadratic, in the run's length: one run of 1M characters is compared with ten runs of 100k (the same
        // characters in all): linear costs ~1× as much, quadratic ~10×. Both sides take about as long, the rounds alternate,
        // and the fastest round of each counts, so a busy machine or a GC pause slows one round, not the verdict. No clock limit.
        var small = text[..100_000];
        var (tenTenths, whole) = (TimeSpan.MaxValue, TimeSpan.MaxValue);
        for (var round = 0; round < 5; round++)
        {
            var clock = Stopwatch.StartNew();
            for (var i = 0; i < 10; i++) model.Tokenizer.CountTokens(small);
            tenTenths = clock.Elapsed < tenTenths ? clock.Elapsed : tenTenths;
            clock.Restart();
            model.Tokenizer.CountTokens(text);
            whole = clock.Elapsed < whole ? clock.Elapsed : whole;
        }
        Assert.True(whole.TotalSeconds < 4 * Math.Max(tenTenths.TotalSeconds, 1e-3), $"1M characters took {whole}, 10 × 100k took {tenTenths}");
    }

    [Fact]
    public void Long_text_is_not_truncated()
    {
        var sentence = "The quick brown fox jumps over the lazy dog. ";
        var perSentence = model.Tokenizer.CountTokens(sentence);
        var text = string.Concat(Enumerable.Repeat(sentence, 2_000));

        var ids = model.Tokenizer.Tokenize(text);

        Assert.Equal(10, perSentence);
        Assert.Equal(20_000, ids.Length);
        Assert.DoesNotContain(model.Tokenizer.SpecialTokens.Cls, ids);
        Assert.DoesNotContain(model.Tokenizer.SpecialTokens.Sep, ids);
    }

    [Fact]
    public void One_instance_serves_many_threads()
    {
        var texts = HuggingFaceReference.Cases.Select(c => c.Text)
            .Concat(Enumerable.Range(0, 200).Select(i => string.Concat(Enumerable.Repeat($"Sentence number {i}, naïve café #{i * 7}. ", i % 40 + 1))))
            .ToArray();
        var expected = texts.Select(model.Tokenizer.Tokenize).ToArray();

        var results = new int[texts.Length][];
        Parallel.For(0, texts.Length * 4, new ParallelOptions { MaxDegreeOfParallelism = 8 }, i =>
        {
            var index = i % texts.Length;
            var ids = model.Tokenizer.Tokenize(texts[index]);
            lock (results) results[index] = ids;
            Assert.Equal(expected[index], ids);
        });
        Assert.All(results, Assert.NotNull);
    }
}
