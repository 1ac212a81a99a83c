using Curation.Pipelines.Embedding;
using Curation.Testing;

namespace Curation.Pipelines.Tests.Embedding;

/// <summary>
/// The real shipped model, extracted once into a temporary cache folder and loaded once (about a second) for every
/// test class of the "Embedding model" collection.
/// </summary>
public sealed class EmbeddingModelFixture : IAsyncLifetime
{
    private readonly TempDirectory _cache = new("embedding-model");
    private OnnxEmbedder? _embedder;

    public string CacheDirectory => _cache.Path;

    public ModelFiles Files { get; private set; } = null!;

    public WordPieceTokenizer Tokenizer { get; private set; } = null!;

    public OnnxEmbedder Embedder => _embedder ?? throw new InvalidOperationException("Fixture not initialised.");

    public string[] Vocabulary { get; private set; } = [];

    public async Task InitializeAsync()
    {
        Files = await ShippedModel.EnsureExtractedAsync(_cache.Path);
        Tokenizer = WordPieceTokenizer.Load(Files.VocabPath);
        Vocabulary = await File.ReadAllLinesAsync(Files.VocabPath);
        _embedder = new OnnxEmbedder(Files.ModelPath, Tokenizer.SpecialTokens, new EmbeddingModelOptions { Provider = ExecutionProviderPreference.Cpu });
    }

    public Task DisposeAsync()
    {
        _embedder?.Dispose();
        _cache.Dispose();
        return Task.CompletedTask;
    }

    /// <summary>Embeds texts one document each (windows averaged), through the bucketed batch embedder.</summary>
    public float[] EmbedTexts(params string[] texts)
    {
        var documents = texts.Select(t => (ReadOnlyMemory<int>)Tokenizer.Tokenize(t)).ToArray();
        var vectors = new float[texts.Length * Embedder.Dimensions];
        new BatchEmbedder(Embedder).Embed(documents, vectors);
        return vectors;
    }
}

[CollectionDefinition(Name)]
public sealed class EmbeddingModelCollection : ICollectionFixture<EmbeddingModelFixture>
{
    public const string Name = "Embedding model";
}
