using Curation.Pipelines.Spec;
using Curation.Pipelines.Training;
using Curation.Testing;
using Xunit.Abstractions;

namespace Curation.Pipelines.Tests.Training;

/// <summary>
/// Our training tokenizer against the reference (npm js-tiktoken run by node) on more than 10,000 real documents in
/// many scripts, generated from the machine's installed translations: every id of every document must agree, and
/// decode(encode(text)) must give the text back.
/// </summary>
public sealed class TrainTokenizerParityTests(ITestOutputHelper output) : IDisposable
{
    private readonly TempDirectory _temp = new("tiktoken-parity");

    public void Dispose() => _temp.Dispose();

    [Theory]
    [InlineData("o200k_base")]
    [InlineData("cl100k_base")]
    public void Ids_equal_the_node_reference_on_real_multilingual_documents(string encoding)
    {
        Assert.True(TiktokenReference.Find(out var why) is not null, why);
        var corpus = MultilingualCorpus.Build(maxDocuments: 12_000);
        var languages = corpus.GroupBy(d => d.Language).ToDictionary(g => g.Key, g => g.Count());
        output.WriteLine($"{corpus.Count} documents in {languages.Count} languages: {string.Join(", ", languages.OrderByDescending(l => l.Value).Take(20).Select(l => $"{l.Key} {l.Value}"))}");
        Assert.True(corpus.Count >= 10_000, $"only {corpus.Count} documents could be generated");
        // Several scripts: CJK, Cyrillic, Arabic or Devanagari besides Latin.
        Assert.Contains(corpus, d => d.Text.Any(c => c is >= '\u4E00' and <= '\u9FFF'));
        Assert.Contains(corpus, d => d.Text.Any(c => c is >= '\u0400' and <= '\u04FF'));
        Assert.Contains(corpus, d => d.Text.Any(c => c is >= '\u0600' and <= '\u06FF' or >= '\u0900' and <= '\u097F'));

        var jsonl = _temp.Combine("corpus.jsonl");
        MultilingualCorpus.WriteJsonl(corpus, jsonl);
        var reference = TiktokenReference.Encode(encoding, jsonl);
        var tokenizer = TrainingTokenizer.For(new TrainTokenizeStageSpec { Encoding = encoding });

        var differences = new List<string>();
        var roundTripFailures = new List<string>();
        long tokens = 0;
        for (var i = 0; i < corpus.Count; i++)
        {
            var ours = tokenizer.Encode(corpus[i].Text);
            tokens += ours.Count;
            Assert.Equal(ours.Count, tokenizer.CountTokens(corpus[i].Text));
            if (!ours.SequenceEqual(reference.Ids[i])) differences.Add($"{corpus[i].Id}: ours {ours.Count} ids, reference {reference.Ids[i].Length}");
            if (tokenizer.Decode(ours) != corpus[i].Text) roundTripFailures.Add(corpus[i].Id);
        }
        output.WriteLine($"{encoding}: {tokens:N0} tokens; {differences.Count} differences; {roundTripFailures.Count} round-trip failures");
        Assert.True(differences.Count == 0, string.Join("\n", differences.Take(20)));
        Assert.True(roundTripFailures.Count == 0, string.Join("\n", roundTripFailures.Take(20)));
        Assert.Equal(reference.Tokens, tokens);
    }

    [Fact]
    public void A_tiktoken_file_named_by_the_spec_tokenizes_as_the_shipped_encoding()
    {
        // The .tiktoken file a team would point at: here the shipped cl100k ranks, inflated from their NuGet package.
        var path = _temp.Combine("cl100k_base.tiktoken");
        using (var resource = System.Reflection.Assembly.Load("Microsoft.ML.Tokenizers.Data.Cl100kBase").GetManifestResourceStream("cl100k_base.tiktoken.deflate")!)
        using (var inflated = new System.IO.Compression.DeflateStream(resource, System.IO.Compression.CompressionMode.Decompress))
        using (var file = File.Create(path))
            inflated.CopyTo(file);
        var spec = new TrainTokenizeStageSpec { Encoding = "cl100k_base", TokenizerPath = path };
        Assert.Empty(JobSpecValidator.Validate(new JobSpec
        {
            Name = "file", Inputs = [new InputSpec { Path = "/in/*.jsonl" }], Stages = [spec], Output = new OutputSpec { Path = "out" },
        }));
        var fromFile = TrainingTokenizer.For(spec);
        var shipped = TrainingTokenizer.For(new TrainTokenizeStageSpec { Encoding = "cl100k_base" });
        Assert.Equal("cl100k_base.tiktoken", fromFile.Name);
        foreach (var document in MultilingualCorpus.Build(maxDocuments: 500))
            Assert.Equal(shipped.Encode(document.Text), fromFile.Encode(document.Text));
    }

    [Fact]
    public void Special_token_text_in_a_document_is_text_never_the_end_of_document_token()
    {
        var tokenizer = TrainingTokenizer.For(new TrainTokenizeStageSpec());
        var ids = tokenizer.Encode("before <|endoftext|> after");
        Assert.DoesNotContain(tokenizer.EndOfDocument, ids);
        Assert.Equal("before <|endoftext|> after", tokenizer.Decode(ids));
        Assert.Equal(TrainingTokenizer.EndOfText, tokenizer.Decode([tokenizer.EndOfDocument]));
        Assert.Equal(TokenDType.Int32, tokenizer.DType);
        Assert.Equal(TokenDType.UInt16, TrainingTokenizer.For(new TrainTokenizeStageSpec { Encoding = "gpt2" }).DType);
    }
}
