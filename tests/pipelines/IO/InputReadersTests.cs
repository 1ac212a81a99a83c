using Curation.Pipelines.IO.Readers;
using Curation.Pipelines.Spec;
using static Curation.Pipelines.Tests.IO.ReaderTestSupport;

namespace Curation.Pipelines.Tests.IO;

public class InputReadersTests
{
    [Theory]
    [InlineData("a/b.jsonl", typeof(JsonlReader), false)]
    [InlineData("a/b.JSON", typeof(JsonlReader), false)]
    [InlineData("b.ndjson", typeof(JsonlReader), false)]
    [InlineData("a/b.jsonl.gz", typeof(JsonlReader), true)]
    [InlineData("b.json.GZ", typeof(JsonlReader), true)]
    [InlineData("b.ndjson.gz", typeof(JsonlReader), true)]
    [InlineData("x.parquet", typeof(ParquetInputReader), false)]
    [InlineData("notes.txt", typeof(TextInputReader), false)]
    [InlineData("README.md", typeof(TextInputReader), false)]
    [InlineData("CC-MAIN-1.warc.gz", typeof(WarcReader), false)]
    [InlineData("CC-MAIN-1.warc.wet.gz", typeof(WarcReader), false)]
    [InlineData("crawl.WARC", typeof(WarcReader), false)]
    [InlineData("page.htm", typeof(HtmlFileReader), false)]
    [InlineData("books/part-1.txt.gz", typeof(TextInputReader), false)]
    [InlineData("notes.MD.zst", typeof(TextInputReader), false)]
    [InlineData("pages/a.html.gz", typeof(HtmlFileReader), false)]
    public void Auto_picks_the_reader_by_extension(string key, Type expected, bool gzip)
    {
        var reader = InputReaders.For(MakeSpec(), key);
        Assert.IsType(expected, reader);
        if (reader is JsonlReader jsonl) Assert.Equal(gzip, jsonl.IsGzip);
        if (reader is WarcReader warc) Assert.Equal(key.EndsWith(".gz", StringComparison.Ordinal), warc.IsGzip);
    }

    [Fact]
    public void An_explicit_format_wins_over_the_extension()
    {
        Assert.True(Assert.IsType<JsonlReader>(InputReaders.For(MakeSpec(format: InputFormat.JsonlGz), "data.bin")).IsGzip);
        Assert.False(Assert.IsType<JsonlReader>(InputReaders.For(MakeSpec(format: InputFormat.Jsonl), "data.gz")).IsGzip);
        Assert.IsType<ParquetInputReader>(InputReaders.For(MakeSpec(format: InputFormat.Parquet), "data"));
        Assert.IsType<TextInputReader>(InputReaders.For(MakeSpec(format: InputFormat.Txt), "data.jsonl"));
    }

    [Theory]
    [InlineData("corpus/part-1.xml")]
    [InlineData("corpus/part-1.gz")]
    [InlineData("corpus/part-1.jsonl.gzip")]
    [InlineData("corpus/jsonl")]
    public void Auto_with_an_unknown_extension_fails_naming_the_key_and_the_supported_ones(string key)
    {
        var error = Assert.Throws<ArgumentException>(() => InputReaders.For(MakeSpec(), key));
        Assert.Contains($"'{key}'", error.Message);
        Assert.Contains(".jsonl, ", error.Message);
        Assert.Contains(".jsonl.gz", error.Message);
        Assert.Contains(".parquet", error.Message);
        Assert.Contains(".md", error.Message);
        Assert.Contains(".txt.gz", error.Message);
        Assert.StartsWith("cannot tell the format", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("(Parameter", error.Message); // said in the spec's words, not .NET's
    }

    [Theory]
    [InlineData("wiki/enwiki.jsonl.bz2", "a bzip2 file", "bzip2 -dc enwiki.jsonl.bz2 | zstd -o enwiki.jsonl.zst")]
    [InlineData("c4/en.json.xz", "an xz file", "xz -dc en.json.xz | zstd -o en.json.zst")]
    [InlineData("dump/pages.zip", "a zip file", "unpack it")]
    [InlineData("dump/pages.tar.gz", "a tar file", "unpack it")]
    public void A_compression_no_reader_reads_is_named_with_what_to_do(string key, string what, string instead)
    {
        var error = Assert.Throws<ArgumentException>(() => InputReaders.For(MakeSpec(), key));
        Assert.Contains($"'{key}' is {what}, which Curation does not read", error.Message);
        Assert.Contains(instead, error.Message);
        Assert.DoesNotContain("(Parameter", error.Message);
    }
}
