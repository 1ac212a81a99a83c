using System.Text.Json;
using Curation.Pipelines.Execution;
using Curation.Pipelines.IO;
using Curation.Pipelines.Spec;
using Curation.Pipelines.Stages;
using Curation.Pipelines.Storage;
using Curation.Testing;

namespace Curation.Pipelines.Tests.Stages;

/// <summary>DuckDB (npm @duckdb/node-api) reads every file of a curated output; embeddings are FLOAT[] lists it computes with.</summary>
public sealed class DuckDbOutputTests : IDisposable
{
    private readonly TempDirectory _temp = new("duckdb");

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task DuckDB_reads_every_output_file_and_embeddings_as_lists_of_384_floats()
    {
        var folder = _temp.Combine("corpus");
        Directory.CreateDirectory(folder);
        var lines = new[]
        {
            JsonSerializer.Serialize(new { id = "a", text = "A man is eating food." }),
            JsonSerializer.Serialize(new { id = "b", text = "A man is eating a piece of bread." }),
            JsonSerializer.Serialize(new { id = "c", text = "The girl is carrying a baby." }),
            JsonSerializer.Serialize(new { id = "d", text = "A man is eating food." }),   // exact duplicate of a
            "{\"id\": \"e\", \"text\": \"broken",                                        // quarantined
        };
        await File.WriteAllLinesAsync(Path.Combine(folder, "docs.jsonl"), lines);
        var spec = new JobSpec
        {
            Name = "duckdb",
            Inputs = [new InputSpec { Path = Path.Combine(folder, "*.jsonl"), IdField = "id" }],
            Stages = [new NormalizeStageSpec(), new ExactDedupStageSpec(), new TokenizeStageSpec(), new EmbedStageSpec()],
            Output = new OutputSpec { Path = "curated/duckdb" },
        };
        var root = _temp.Combine("data");
        var stores = CurationStoreServiceCollectionExtensions.CreateResolver(new CurationStoreOptions { RootPath = root });
        using var services = StageServices.CreateDefault();
        await InProcessJob.RunAsync(spec, stores, services);
        var output = await CuratedOutput.ReadAsync(stores.DataStore, "curated/duckdb");
        var outputFolder = Path.Combine(root, "curated", "duckdb");

        // Every file the manifest lists, with its row count.
        var files = output.Manifest.Shards.Concat(output.Manifest.Drops).Concat(output.Manifest.Quarantine).Concat(output.Manifest.Embeddings).ToArray();
        Assert.Equal(4, files.Select(f => f.Kind).Distinct().Count());
        var counts = DuckDbReference.Query(files.Select(f => $"SELECT count(*)::INTEGER AS n FROM read_parquet('{Path.Combine(outputFolder, f.Key)}')").ToArray());
        for (var i = 0; i < files.Length; i++) Assert.Equal(files[i].Rows, counts[i][0].GetProperty("n").GetInt64());

        var embeddings = Path.Combine(outputFolder, "embeddings", "*.parquet");
        var results = DuckDbReference.Query(
            $"SELECT typeof(embedding) AS t, count(*)::INTEGER AS n, min(len(embedding))::INTEGER AS lo, max(len(embedding))::INTEGER AS hi FROM read_parquet('{embeddings}') GROUP BY 1",
            $"SELECT x.id || y.id AS pair, array_cosine_similarity(x.embedding::FLOAT[384], y.embedding::FLOAT[384])::DOUBLE AS cos " +
            $"FROM read_parquet('{embeddings}') x, read_parquet('{embeddings}') y WHERE x.id < y.id ORDER BY pair");
        var shape = Assert.Single(results[0].EnumerateArray());
        Assert.Equal("FLOAT[]", shape.GetProperty("t").GetString());
        Assert.Equal(3, shape.GetProperty("n").GetInt64());
        Assert.Equal(384, shape.GetProperty("lo").GetInt64());
        Assert.Equal(384, shape.GetProperty("hi").GetInt64());

        // DuckDB's cosine equals ours on the vectors as we read them back, and the model's known similarities.
        var file = output.Manifest.Embeddings.Single();
        var (ids, vectors, dimensions) = await EmbeddingFile.ReadAllAsync(new MemoryStream(await stores.DataStore.ReadBytesAsync("curated/duckdb/" + file.Key)));
        Assert.Equal(384, dimensions);
        double Cos(string x, string y)
        {
            var a = vectors.AsSpan(ids.IndexOf(x) * 384, 384);
            var b = vectors.AsSpan(ids.IndexOf(y) * 384, 384);
            double dot = 0, na = 0, nb = 0;
            for (var i = 0; i < 384; i++) { dot += a[i] * b[i]; na += a[i] * a[i]; nb += b[i] * b[i]; }
            return dot / Math.Sqrt(na * nb);
        }
        var duck = results[1].EnumerateArray().ToDictionary(r => r.GetProperty("pair").GetString()!, r => r.GetProperty("cos").GetDouble());
        Assert.Equal(["ab", "ac", "bc"], duck.Keys.Order());
        foreach (var (pair, cos) in duck) Assert.Equal(Cos(pair[..1], pair[1..]), cos, 4);
        Assert.InRange(duck["ab"], 0.70, 0.80);   // ≈ 0.755
        Assert.InRange(duck["ac"], -0.2, 0.0);    // ≈ −0.105
    }
}
