using Curation.Pipelines.Model;
using Curation.Pipelines.Stages;
using Curation.Pipelines.Text;

namespace Curation.Pipelines.Tests.Stages;

public sealed class TransformTests
{
    private static RecordBatch Batch(params string[] texts)
    {
        var batch = RecordBatch.ForDocuments();
        for (var i = 0; i < texts.Length; i++) batch.AddDocument($"d{i}", texts[i], "test.jsonl", i);
        return batch;
    }

    [Theory]
    [InlineData("  Hello \t  world  ", "Hello world")]
    [InlineData("line one\r\nline two\rline three", "line one\nline two\nline three")]
    [InlineData("para one\n\n\n\n  para two  ", "para one\n\npara two")]
    [InlineData("zero\u200Bwidth\u00ADsoft\uFEFF", "zerowidthsoft")]
    [InlineData("bell\u0007 and\u0000 nul", "bell and nul")]
    [InlineData("cafe\u0301", "caf\u00E9")]
    // Unicode's other mandatory breaks were spaces, joining the lines they end (a JSON dump of JavaScript strings, a
    // form-feed page break of a manual).
    [InlineData("first line\u2028second line\u2029next paragraph", "first line\nsecond line\n\nnext paragraph")]
    [InlineData("page one ends.\fPage two\u0085NEL line\vtab line", "page one ends.\nPage two\nNEL line\ntab line")]
    [InlineData("end of page\n\f\nnew page", "end of page\n\nnew page")]
    // The ASCII separators were removed as controls, joining the records and fields of a database or MARC export.
    [InlineData("245 10\u001FaTitle\u001FbSubtitle\u001E260\u001FaParis\u001Dnext record", "245 10 aTitle bSubtitle\n260 aParis\nnext record")]
    [InlineData("file one\u001Cfile two", "file one\nfile two")]
    public void Normalizer_produces_canonical_text(string input, string expected) =>
        Assert.Equal(expected, new TextNormalizer().Normalize(input));

    [Theory]
    [InlineData("already canonical\nline two\n\nthree ไทย 日本語")]
    [InlineData("x")]
    public void Normalizer_gives_an_unchanged_text_back_itself_without_a_copy(string text) =>
        Assert.Same(text, new TextNormalizer().Normalize(text));

    [Theory]
    [InlineData("same start then  two spaces", "same start then two spaces")] // differs in the middle: copied from there
    [InlineData("same text to the end \n ", "same text to the end")] // differs only by what is trimmed at the end
    [InlineData("\u200Bchanged at once", "changed at once")]
    [InlineData("a\r\nb\rc", "a\nb\nc")]
    public void Normalizer_copies_from_the_first_difference_on(string input, string expected)
    {
        var result = new TextNormalizer().Normalize(input);
        Assert.Equal(expected, result);
        Assert.NotSame(input, result);
    }

    /// <summary>
    /// Trimming every line took the indentation out of code (a Python block, rustdoc or Stack Exchange listings that
    /// extract kept "as it is" in <c>pre</c>) and out of the ideographic-space indent of Japanese paragraphs. With
    /// <c>keepIndentation</c> each line's leading spaces and tabs stay as they are; every other rule still applies.
    /// </summary>
    [Fact]
    public void Normalizer_keeps_each_line_s_indentation_when_asked()
    {
        const string code = "def f(xs):\n    for x in xs:  \n\tif x:\n            return  x\n   \n\n\n    return None";
        Assert.Equal("def f(xs):\n    for x in xs:\n\tif x:\n            return x\n\n    return None",
            new TextNormalizer(keepIndentation: true).Normalize(code));
        Assert.Equal("def f(xs):\nfor x in xs:\nif x:\nreturn x\n\nreturn None", new TextNormalizer().Normalize(code)); // the default
        const string japanese = "\u3000吾輩は猫である。名前はまだ無い。\n\u3000どこで生れたかとんと見当がつかぬ。";
        Assert.Same(japanese, new TextNormalizer(keepIndentation: true).Normalize(japanese));
        Assert.Equal("  indented first line\n  \u00E9 composed", new TextNormalizer(keepIndentation: true).Normalize("  indented first line \n\u200B  e\u0301 composed"));

        var batch = Batch(code, " \t\n  ");
        var drops = new DropCollector(batch, "normalize");
        new NormalizeTransform(new NormalizeStageSpec { KeepIndentation = true }).Process(batch, drops);
        Assert.Equal("def f(xs):\n    for x in xs:\n\tif x:\n            return x\n\n    return None", batch.Texts[0]);
        Assert.Equal([0], drops.KeptRows()); // whitespace alone is still empty
    }

    [Fact]
    public void Normalizer_removes_lone_surrogates_which_cannot_be_normalised() =>
        Assert.Equal("lone surrogate \uD83D\uDE00", new TextNormalizer().Normalize("lone " + (char)0xD800 + " surrogate \uD83D\uDE00" + (char)0xDC00));

    [Fact]
    public void Normalize_drops_documents_left_empty_with_a_reason()
    {
        var batch = Batch("fine text", " \t\u200B\u0001 ");
        var drops = new DropCollector(batch, "normalize");
        new NormalizeTransform(new NormalizeStageSpec()).Process(batch, drops);
        Assert.Equal([0], drops.KeptRows());
        var dropped = new Dictionary<string, long>();
        drops.CountReasons(dropped);
        Assert.Equal(1, dropped[NormalizeTransform.EmptyAfterNormalization]);
    }

    [Fact]
    public void Quality_filter_keeps_e_mail_and_markup_whose_ascii_marks_are_not_symbol_soup()
    {
        var mail = "From: ana@example.org\nTo: dev@lists.example.org\nSubject: Re: [patch] fix #42\n\n> On Monday Bob wrote:\n> > the build fails with x == y\n"
            + "I pushed a fix to the branch; see https://example.org/a_b?c=d&e=f for the *details* and ~~old~~ notes.";
        var chinese = "本文档提供了关于 Debian 发行版和 Debian 项目的常见问题以及解答。";
        var batch = Batch(mail, chinese);
        var drops = new DropCollector(batch, "quality_filter");
        new QualityFilterTransform(new QualityFilterStageSpec()).Process(batch, drops);
        Assert.Equal([0, 1], drops.KeptRows());
        Assert.True(batch.GetColumn<int>(QualityFilterTransform.WordCountColumn)[1] > 20); // Han per character
    }

    [Fact]
    public void Each_quality_filter_drops_with_its_own_reason_and_measures_are_kept_as_columns()
    {
        var good = "A perfectly ordinary sentence about data curation with enough words in it.";
        var batch = Batch(
            good,
            "too short",
            good + new string('x', 1000),
            "word " + new string('a', 60),
            "■□ ▓▒ ★☆ →← ╔═╗ ♦♣ ∞≈ ✓✗ ■□ ▓▒ ★☆ →← ╔═╗ ♦♣ ∞≈ ✓✗ some words here to pass the count",
            string.Join('\n', Enumerable.Repeat("the same line again and again and again", 6)));
        var drops = new DropCollector(batch, "quality_filter");
        new QualityFilterTransform(new QualityFilterStageSpec { MinChars = 20, MaxChars = 500, MinWords = 5 }).Process(batch, drops);
        var counts = new Dictionary<string, long>();
        drops.CountReasons(counts);

        Assert.Equal([0], drops.KeptRows());
        Assert.Equal(1, counts[QualityFilterTransform.TooShort]);
        Assert.Equal(1, counts[QualityFilterTransform.TooLong]);
        Assert.Equal(1, counts[QualityFilterTransform.TooFewWords]);
        Assert.Equal(1, counts[QualityFilterTransform.SymbolRatio]);
        Assert.Equal(1, counts[QualityFilterTransform.RepeatedLines]);
        Assert.Equal(batch.RowCount, batch.GetColumn<int>(QualityFilterTransform.WordCountColumn).Count);
        Assert.Equal(good.Length, batch.GetColumn<int>(QualityFilterTransform.CharCountColumn)[0]);
        var dropRows = drops.ToDropsBatch();
        Assert.All(dropRows.GetColumn<string>(DropsSchema.Detail).List, d => Assert.False(string.IsNullOrEmpty(d)));
    }

    [Fact]
    public void Content_hash_folds_case_and_whitespace_only_when_asked()
    {
        var a = ContentHash.Of("Hello  World\n", caseFold: true, collapseWhitespace: true);
        Assert.Equal(a, ContentHash.Of("hello world", caseFold: true, collapseWhitespace: true));
        Assert.Equal(a, ContentHash.Of("HELLO\tWORLD", caseFold: true, collapseWhitespace: true));
        Assert.NotEqual(ContentHash.Of("Hello world", false, true), ContentHash.Of("hello world", false, true));
        Assert.NotEqual(ContentHash.Of("hello  world", true, false), ContentHash.Of("hello world", true, false));
        Assert.Equal(ContentHash.Of("caf\u00E9", true, true), ContentHash.Of("cafe\u0301", true, true));
        Assert.InRange(a.PartitionOf(16), 0, 15);
    }
}
