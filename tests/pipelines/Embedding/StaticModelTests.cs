using System.Numerics.Tensors;
using Curation.Pipelines.Embedding;
using Curation.Pipelines.Embedding.Static;
using Curation.Pipelines.Spec;
using Curation.Testing;
using Xunit.Abstractions;

namespace Curation.Pipelines.Tests.Embedding;

/// <summary>
/// The static embedder distilled from the shipped model. The full table is distilled once per machine into the
/// default model cache (as a silo does: the first run pays it, every later test run and process reads the cached file);
/// byte-determinism of the recipe is checked on a distillation of the first 1,024 vocabulary entries, run twice.
/// </summary>
[Collection(EmbeddingModelCollection.Name)]
public sealed class StaticModelTests(EmbeddingModelFixture model, ITestOutputHelper output)
{
    private static readonly SemaphoreSlim Shared = new(1, 1);
    private static EmbeddingRuntime? _runtime;

    /// <summary>One runtime over the default cache for the whole test run.</summary>
    internal static async Task<EmbeddingRuntime> RuntimeAsync()
    {
        await Shared.WaitAsync();
        try { return _runtime ??= new EmbeddingRuntime(new EmbeddingRuntimeOptions()); }
        finally { Shared.Release(); }
    }

    private float[] Embed(StaticModel table, params string[] texts)
    {
        var vectors = new float[texts.Length * table.Dimensions];
        for (var i = 0; i < texts.Length; i++)
            table.Embed(model.Tokenizer.Tokenize(texts[i]), vectors.AsSpan(i * table.Dimensions, table.Dimensions));
        return vectors;
    }

    [Theory]
    [InlineData(ModelKind.Static)]
    [InlineData(ModelKind.InputMean)]
    public async Task Static_vectors_rank_paraphrases_above_unrelated_sentences_and_are_normalised(ModelKind kind)
    {
        var runtime = await RuntimeAsync();
        var loaded = await runtime.GetStaticAsync(new ModelSpec { Kind = kind });
        var table = loaded.Table;
        Assert.Equal(loaded.Tokenizer.VocabularySize, table.VocabularySize);
        Assert.Equal(kind == ModelKind.Static ? 256 : 384, table.Dimensions);
        var v = Embed(table, "A man is eating food.", "A man is eating a piece of bread.", "The girl is carrying a baby.");
        var d = table.Dimensions;
        var close = TensorPrimitives.Dot(v.AsSpan(0, d), v.AsSpan(d, d));
        var far = TensorPrimitives.Dot(v.AsSpan(0, d), v.AsSpan(2 * d, d));
        output.WriteLine($"{kind}: cos(paraphrase) {close:0.000}, cos(unrelated) {far:0.000}, sha256 {table.Sha256}");
        Assert.True(close > far + 0.1, $"paraphrase {close} vs unrelated {far}");
        for (var i = 0; i < 3; i++) Assert.InRange(TensorPrimitives.Norm(v.AsSpan(i * d, d)), 0.999f, 1.001f);

        // A document without word pieces has no vector.
        Assert.False(table.Embed([], new float[d]));
        // The cached file is what a second process reads: same bytes, same hash.
        var again = StaticModel.Read(Path.Combine(runtime.StaticTableDirectory,
            StaticModelStore.FileName(ShippedModelSha, kind == ModelKind.Static ? StaticRecipe.Distilled : StaticRecipe.InputMean, 256)));
        Assert.Equal(table.Sha256, again.Sha256);
        Assert.Equal(table.Table, again.Table);
        // The same bytes as a reference machine of this machine's kernel family distilled (AVX-512 and AVX2 round differently;
        // within a family a machine that distils other bytes fails here). The input-mean table is the same for every family.
        var name = StaticModelStore.FileName(ShippedModelSha, kind == ModelKind.Static ? StaticRecipe.Distilled : StaticRecipe.InputMean, 256);
        var known = StaticModelStore.KnownSha256(name, OnnxKernelFamily.Current);
        output.WriteLine($"kernel family {OnnxKernelFamily.Current}: reference SHA-256 {known ?? "none recorded"}");
        Assert.True(known is not null, $"no {name} recorded for kernel family {OnnxKernelFamily.Current}: record {table.Sha256} after checking the table");
        Assert.Equal(known, table.Sha256);
    }

    [Fact]
    public void A_job_spec_names_the_static_kinds_and_checks_dims()
    {
        var spec = JobSpec.Parse("""
            { "name": "s", "inputs": [{ "path": "x/*.jsonl" }], "output": { "path": "out" },
              "stages": [{ "type": "embed", "model": { "kind": "static", "dims": 128 } }, { "type": "embed", "model": { "kind": "input_mean" } }] }
            """);
        var embeds = spec.Stages.OfType<EmbedStageSpec>().ToList();
        Assert.Equal((ModelKind.Static, 128), (embeds[0].Model.Kind, embeds[0].Model.Dims));
        Assert.Equal(ModelKind.InputMean, embeds[1].Model.Kind);
        var bad = spec with { Stages = [new EmbedStageSpec { Model = new ModelSpec { Kind = ModelKind.Static, Dims = 4 } }] };
        Assert.Contains(JobSpecValidator.Validate(bad), e => e.Field.EndsWith(".dims", StringComparison.Ordinal));
    }

    private const string ShippedModelSha = "4a64cee3d4134bbdc86eed96e1a660efec58975417204ecfcf134140edb6e0e2";

    [Fact]
    public void The_input_mean_table_is_the_models_word_embedding_rows()
    {
        var table = StaticModelStore.InputMean(model.Files.ModelPath, model.Tokenizer.VocabularySize);
        Assert.Equal(384, table.Dimensions);
        // Row norms of a trained embedding table are neither zero nor identical; [PAD] (id 0) is a trained row too.
        var norms = Enumerable.Range(0, 2000).Select(t => TensorPrimitives.Norm(table.Table.AsSpan(t * 384, 384))).ToArray();
        Assert.All(norms, n => Assert.InRange(n, 0.05f, 10f));
        Assert.True(norms.Distinct().Count() > 1900);
    }

    [Fact]
    public void Distillation_is_byte_deterministic_and_the_pca_orders_components_by_variance()
    {
        OnnxEmbedder Create() => new(model.Files.ModelPath, model.Tokenizer.SpecialTokens, new EmbeddingModelOptions { Provider = ExecutionProviderPreference.Cpu });
        var first = StaticModelStore.Distill(Create, 1024, 64, null, CancellationToken.None);
        var second = StaticModelStore.Distill(Create, 1024, 64, null, CancellationToken.None);
        using var a = new MemoryStream();
        using var b = new MemoryStream();
        first.Write(a);
        second.Write(b);
        Assert.Equal(a.ToArray(), b.ToArray());
        Assert.Equal(first.Sha256, second.Sha256);

        var rows = new float[500 * 8];
        var random = new Random(7);
        for (var i = 0; i < 500; i++)
            for (var d = 0; d < 8; d++) rows[i * 8 + d] = (float)(random.NextDouble() * (d + 1)); // variance grows with d
        var pca = Pca.Fit(rows, 8, 3);
        Assert.True(pca.Variances[0] >= pca.Variances[1] && pca.Variances[1] >= pca.Variances[2]);
        // The first component is (close to) the last axis, sign fixed positive.
        Assert.True(pca.Components[7] > 0.95, $"component 0 = {string.Join(", ", pca.Components.Take(8))}");
    }

    [Fact]
    public async Task A_damaged_cached_table_is_rebuilt()
    {
        using var cache = new TempDirectory("static-cache");
        var files = model.Files;
        OnnxEmbedder Create() => throw new InvalidOperationException("input_mean needs no session");
        var built = await StaticModelStore.EnsureAsync(files, StaticRecipe.InputMean, 0, cache.Path, Create);
        var path = Path.Combine(cache.Path, StaticModelStore.FileName(ShippedModelSha, StaticRecipe.InputMean, 0));
        Assert.Equal(built.Sha256 + "\n", await File.ReadAllTextAsync(path + ".sha256"));
        await using (var stream = new FileStream(path, FileMode.Open, FileAccess.Write)) { stream.Position = 1000; stream.WriteByte(0x5A); }
        var rebuilt = await StaticModelStore.EnsureAsync(files, StaticRecipe.InputMean, 0, cache.Path, Create);
        Assert.Equal(built.Sha256, rebuilt.Sha256);
        Assert.Equal(built.Sha256, StaticModel.Read(path).Sha256);
    }

    [Fact]
    public void Distilled_tables_pool_repeats_with_sqrt_tf_and_input_mean_with_the_plain_mean()
    {
        // Three rows: a, b, c (unit axes). Document a a a a b: √4 a + b under √tf, 4a + b under the mean, a + b distinct.
        float[] rows = [1, 0, 0, 0, 1, 0, 0, 0, 1];
        var distilled = new StaticModel(StaticRecipe.Distilled, 3, 3, rows);
        var mean = new StaticModel(StaticRecipe.InputMean, 3, 3, rows);
        var distinct = new StaticModel(StaticRecipe.Distilled, 3, 3, rows) { Pooling = StaticPooling.Distinct };
        Assert.Equal(StaticPooling.SqrtTf, distilled.Pooling);
        Assert.Equal(StaticPooling.Mean, mean.Pooling);
        int[] document = [0, 0, 1, 0, 0];
        float[] Vector(StaticModel table) { var v = new float[3]; Assert.True(table.Embed(document, v)); return v; }
        Assert.Equal([2 / MathF.Sqrt(5), 1 / MathF.Sqrt(5), 0], Vector(distilled), new FloatTolerance(1e-6f));
        Assert.Equal([4 / MathF.Sqrt(17), 1 / MathF.Sqrt(17), 0], Vector(mean), new FloatTolerance(1e-6f));
        Assert.Equal([1 / MathF.Sqrt(2), 1 / MathF.Sqrt(2), 0], Vector(distinct), new FloatTolerance(1e-6f));
        // The per-thread counts are cleared between documents: the same document again, and one of other pieces.
        Assert.Equal(Vector(distilled), Vector(distilled));
        var c = new float[3];
        distilled.Embed([2, 2], c);
        Assert.Equal([0f, 0f, 1f], c);
        // A table read back from its file pools by its recipe.
        using var stream = new MemoryStream();
        distilled.Write(stream);
        using var temp = new TempDirectory("static-pooling");
        File.WriteAllBytes(temp.Combine("t.bin"), stream.ToArray());
        Assert.Equal(StaticPooling.SqrtTf, StaticModel.Read(temp.Combine("t.bin")).Pooling);
    }

    private sealed class FloatTolerance(float tolerance) : IEqualityComparer<float>
    {
        public bool Equals(float x, float y) => Math.Abs(x - y) <= tolerance;
        public int GetHashCode(float obj) => 0;
    }
}
