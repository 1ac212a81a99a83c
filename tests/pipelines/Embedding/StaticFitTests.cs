using System.Numerics.Tensors;
using System.Text.Json;
using Curation.Pipelines.Embedding.Static;
using Curation.Testing;

namespace Curation.Pipelines.Tests.Embedding;

/// <summary>The static table's fit to the transformer (<see cref="StaticFit"/>) and its training text.</summary>
public sealed class StaticFitTests
{
    [Fact]
    public void The_training_text_is_the_demo_corpus_without_low_quality_documents_and_exact_repeats()
    {
        var records = Directory.GetFiles(Path.Combine(RepositoryRoot.Get(), "samples", "corpus"), "*.jsonl").Order(StringComparer.Ordinal)
            .SelectMany(File.ReadLines).Where(l => l.Length > 0)
            .Select(l => JsonDocument.Parse(l).RootElement).Select(e => (Text: e.GetProperty("text").GetString()!, Origin: e.GetProperty("origin").GetString()!))
            .ToList();
        var expected = records.Where(r => r.Origin != "generated").DistinctBy(r => r.Text.ToLowerInvariant()).ToList();
        var documents = StaticTrainingText.Documents;
        Assert.Equal(expected.Select(r => r.Text), documents.Select(d => d.Text));
        Assert.Equal(expected.Select(r => r.Origin), documents.Select(d => d.Origin));
        Assert.InRange(documents.Count, 1500, 2000);
        // The Debian packages the text quotes (an evaluation corpus leaves them out): every /usr/share/doc origin's folder.
        var packages = StaticTrainingText.DebianPackages();
        Assert.Contains("openssl", packages);
        Assert.Equal(expected.Where(r => r.Origin.StartsWith("/usr/share/doc/", StringComparison.Ordinal)).Select(r => r.Origin.Split('/')[4]).Distinct().Count(), packages.Count);
    }

    /// <summary>A table of <paramref name="vocabulary"/> random rows and documents of random pieces (with repeats).</summary>
    private static (StaticModel Table, ReadOnlyMemory<int>[] Documents) Synthetic(int vocabulary, int dims, int documents, int seed)
    {
        var random = new Random(seed);
        var rows = new float[vocabulary * dims];
        for (var i = 0; i < rows.Length; i++) rows[i] = (float)(random.NextDouble() * 2 - 1);
        var docs = new ReadOnlyMemory<int>[documents];
        for (var d = 0; d < documents; d++)
            docs[d] = Enumerable.Range(0, 3 + random.Next(12)).Select(_ => random.Next(vocabulary)).ToArray();
        return (new StaticModel(StaticRecipe.Distilled, vocabulary, dims, rows), docs);
    }

    [Fact]
    public void Document_vectors_in_double_are_the_tables_own_vectors()
    {
        var (table, documents) = Synthetic(40, 6, 200, 1);
        var x = StaticFit.DocumentVectors(table, documents);
        var v = new float[6];
        for (var d = 0; d < documents.Length; d++)
        {
            Assert.True(table.Embed(documents[d].Span, v));
            for (var i = 0; i < 6; i++) Assert.Equal(v[i], x[d * 6 + i], 5);
        }
    }

    [Fact]
    public void The_ridge_map_recovers_a_linear_target_and_folded_into_the_rows_gives_the_mapped_document_vector()
    {
        var (table, documents) = Synthetic(50, 6, 400, 2);
        var random = new Random(3);
        var w0 = Enumerable.Range(0, 6 * 4).Select(_ => random.NextDouble() * 2 - 1).ToArray();
        var x = StaticFit.DocumentVectors(table, documents);
        var targets = new float[documents.Length * 4];
        for (var r = 0; r < documents.Length; r++)
            for (var j = 0; j < 4; j++)
            {
                double sum = 0;
                for (var i = 0; i < 6; i++) sum += x[r * 6 + i] * w0[i * 4 + j];
                targets[r * 4 + j] = (float)sum;
            }
        var w = StaticFit.Ridge(x, 6, targets, 4, documents.Length, 1e-9);
        for (var i = 0; i < w.Length; i++) Assert.Equal(w0[i], w[i], 3);

        var fitted = StaticFit.Fit(table, documents, targets, 4, 1e-9, 4);
        Assert.Equal(4, fitted.Dimensions);
        Assert.Equal(table.Pooling, fitted.Pooling);
        var v = new float[4];
        for (var r = 0; r < documents.Length; r++)
        {
            fitted.Embed(documents[r].Span, v);
            var target = targets.AsSpan(r * 4, 4);
            Assert.True(TensorPrimitives.CosineSimilarity(v, target) > 0.9999f, $"document {r}");
        }
    }

    [Fact]
    public void The_reduced_fit_keeps_cosines_when_no_direction_is_dropped_and_is_byte_deterministic()
    {
        var (table, documents) = Synthetic(60, 8, 300, 4);
        var random = new Random(5);
        var targets = new float[documents.Length * 5];
        for (var i = 0; i < targets.Length; i++) targets[i] = (float)(random.NextDouble() * 2 - 1);
        var full = StaticFit.Fit(table, documents, targets, 5, 0.01, 5);
        var x = StaticFit.DocumentVectors(table, documents);
        var w = StaticFit.Ridge(x, 8, targets, 5, documents.Length, 0.01);
        var rotated = StaticFit.Fold(table, StaticFit.Reduce(w, 8, 5, x, documents.Length, 5), 5);
        float Cos(StaticModel m, int a, int b)
        {
            var (u, v) = (new float[m.Dimensions], new float[m.Dimensions]);
            m.Embed(documents[a].Span, u);
            m.Embed(documents[b].Span, v);
            return TensorPrimitives.Dot(u, v);
        }
        for (var a = 0; a < 40; a++) Assert.Equal(Cos(full, a, a + 1), Cos(rotated, a, a + 1), 4);

        var reduced = StaticFit.Fit(table, documents, targets, 5, 0.01, 3);
        var again = StaticFit.Fit(table, documents, targets, 5, 0.01, 3);
        Assert.Equal(3, reduced.Dimensions);
        using var first = new MemoryStream();
        using var second = new MemoryStream();
        reduced.Write(first);
        again.Write(second);
        Assert.Equal(first.ToArray(), second.ToArray());
    }
}
