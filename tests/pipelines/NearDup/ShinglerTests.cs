using Curation.Pipelines.NearDup;
using Curation.Pipelines.Spec;
using Curation.Testing;

namespace Curation.Pipelines.Tests.NearDup;

public sealed class ShinglerTests
{
    private static readonly Shingler Words = new(NearDedupShingle.Word, 5, 5);

    private static (ShingleOutcome Outcome, ulong[] Set) Cut(Shingler shingler, string text)
    {
        var scratch = new List<ulong>();
        var outcome = shingler.Shingle(text, scratch);
        return (outcome, shingler.ShingleSet(text, scratch));
    }

    private static double Jaccard(Shingler shingler, string a, string b) => MinHasher.Exact(Cut(shingler, a).Set, Cut(shingler, b).Set);

    [Fact]
    public void Word_shingles_are_the_reference_5_grams_after_lower_casing_and_collapsing_whitespace()
    {
        const string a = "The quick brown fox jumps over the lazy dog, again and again today.";
        const string b = "the QUICK brown  fox\njumps over the lazy dog, again and again tomorrow.";
        var (outcome, set) = Cut(Words, a);
        Assert.Equal(ShingleOutcome.Words, outcome);
        Assert.Equal(NearDupCorpus.Shingles(a).Count, set.Length);
        Assert.Equal(NearDupCorpus.Jaccard(NearDupCorpus.Shingles(a), NearDupCorpus.Shingles(b)), Jaccard(Words, a, b), 9);
        Assert.Equal(1.0, Jaccard(Words, a, a.ToUpperInvariant().Replace(" ", " \t ", StringComparison.Ordinal)));
    }

    [Theory]
    [InlineData("four words only here")]
    [InlineData("x")]
    [InlineData("   padded   short  ")]
    public void A_text_shorter_than_one_shingle_is_one_shingle(string text)
    {
        var (outcome, set) = Cut(Words, text);
        Assert.Equal(ShingleOutcome.SingleShingle, outcome);
        Assert.Single(set);
        Assert.Equal(1.0, Jaccard(Words, text, " " + text.ToUpperInvariant() + "\n"));
    }

    [Theory]
    [InlineData("")]
    [InlineData(" \n\t ")]
    [InlineData("\u00A0\u2009")]
    public void An_empty_text_has_no_shingles(string text)
    {
        var (outcome, set) = Cut(Words, text);
        Assert.Equal(ShingleOutcome.Empty, outcome);
        Assert.Empty(set);
    }

    [Fact]
    public void Scripts_without_spaces_fall_back_to_character_shingles()
    {
        const string chinese = "近重复文档检测使用最小哈希和局部敏感哈希在大规模语料库中找到相似的文本";
        const string edited = "近重复文档检测使用最小哈希和局部敏感哈希在大规模语料库里找到相似的文本";
        var (outcome, set) = Cut(Words, chinese);
        Assert.Equal(ShingleOutcome.CharacterFallback, outcome);
        Assert.Equal(chinese.Length - 4, set.Length);
        var similarity = Jaccard(Words, chinese, edited);
        Assert.InRange(similarity, 0.6, 0.95); // one character changed: near, not equal (as one word it would be 0)
        Assert.Equal(ShingleOutcome.CharacterFallback, Cut(Words, "ภาษาไทยเขียนโดยไม่มีช่องว่างระหว่างคำ").Outcome);
        Assert.Equal(ShingleOutcome.Words, Cut(Words, "Mixed text with one word 漢字 in it stays word shingled").Outcome);
    }

    [Fact]
    public void Text_that_cannot_be_normalised_is_shingled_as_it_is_never_a_crash()
    {
        var (outcome, set) = Cut(Words, "a lone \ud800 surrogate in a text of words");
        Assert.Equal(ShingleOutcome.Words, outcome);
        Assert.NotEmpty(set);
    }

    [Fact]
    public void Char_mode_cuts_character_n_grams_of_the_normalised_text()
    {
        var chars = new Shingler(NearDedupShingle.Char, 5, 4);
        var (outcome, set) = Cut(chars, "Abcdef  GH");
        Assert.Equal(ShingleOutcome.Characters, outcome);
        Assert.Equal(6, set.Length); // "abcdef gh": 9 chars, 6 distinct 4-grams
        Assert.Equal(ShingleOutcome.SingleShingle, Cut(chars, "abc").Outcome);
    }
}
