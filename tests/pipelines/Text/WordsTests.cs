using Curation.Pipelines.Text;

namespace Curation.Pipelines.Tests.Text;

public sealed class WordsTests
{
    private static string[] Split(string text, bool punctuation = false)
    {
        var words = new List<Word>();
        Words.Split(text, words);
        return words.Where(w => punctuation || !w.IsPunctuation).Select(w => w.In(text).ToString()).ToArray();
    }

    [Fact]
    public void Spaced_scripts_split_at_spaces_with_end_punctuation_split_off() =>
        Assert.Equal(["\"", "Don't", "stop", ",", "e-mail", "me", "!\"", "#", "42"], Split("\"Don't stop, e-mail me!\" # 42", punctuation: true));

    [Fact]
    public void Han_and_kana_count_one_word_per_character_and_a_script_change_separates_words()
    {
        Assert.Equal(["Linux", "内", "核", "是", "自", "由", "的"], Split("Linux内核是自由的。"));
        Assert.Equal(["こ", "れ", "で", "Debian", "が"], Split("これで Debian が"));
    }

    [Fact]
    public void Thai_counts_one_word_per_cluster_of_a_letter_and_its_marks()
    {
        var thai = Split("ที่ได้");
        Assert.Equal(["ที่", "ไ", "ด้"], thai); // ท + ี + ่ is one cluster; the leading vowel ไ is a letter of its own
    }

    [Fact]
    public void Hangul_is_spaced_and_a_syllable_counts_its_jamo()
    {
        var words = new List<Word>();
        Words.Split("데비안은 자유", words);
        Assert.Equal(2, words.Count);
        Assert.Equal(Script.Hangul, words[0].Script);
        Assert.Equal(2 + 2 + 3 + 3, words[0].Letters); // 데 ㄷㅔ, 비 ㅂㅣ, 안 ㅇㅏㄴ, 은 ㅇㅡㄴ
    }

    [Theory]
    [InlineData("The quick brown fox", Script.Other)]
    [InlineData("Debian 是一个自由的操作系统，由许多软件包组成。", Script.Han)]
    [InlineData("สวัสดีครับ Firefox", Script.Thai)]
    [InlineData("데비안은 자유 운영체제입니다 Linux", Script.Hangul)]
    public void The_dominant_script_counts_words_not_letters(string text, Script expected) =>
        Assert.Equal(expected, Scripts.Dominant(text));

    [Fact]
    public void Character_scale_comes_from_the_language_then_the_script_then_the_defaults()
    {
        Assert.Equal(0.5, Scripts.CharScale("这是一个中文句子，很长的句子。", null, null));
        Assert.Equal(0.7, Scripts.CharScale("これは日本語の文です。", null, null));
        Assert.Equal(1.0, Scripts.CharScale("An English sentence.", null, null));
        Assert.Equal(0.4, Scripts.CharScale("这是一个中文句子。", "zh", new Dictionary<string, double> { ["zh"] = 0.4, ["han"] = 0.6 }));
        Assert.Equal(0.6, Scripts.CharScale("这是一个中文句子。", null, new Dictionary<string, double> { ["han"] = 0.6 }));
    }
}
