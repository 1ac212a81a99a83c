using System.Text.Json;
using Curation.Pipelines.Execution;
using Curation.Pipelines.IO;
using Curation.Pipelines.Spec;
using Curation.Pipelines.Stages;
using Curation.Pipelines.Storage;
using Curation.Testing;

namespace Curation.Pipelines.Tests.Stages;

/// <summary>The tokenize and embed stages on degenerate input, run in-process over a real store and the shipped model.</summary>
public sealed class EmbedStageTests : IDisposable
{
    private readonly TempDirectory _temp = new("embed-stage");

    public void Dispose() => _temp.Dispose();

    /// <summary>Runs <paramref name="stages"/> in-process over <paramref name="docs"/> (one JSONL file) into <c>curated/{name}</c>.</summary>
    private async Task<(IStoreResolver Stores, CuratedOutput Output)> RunAsync(string name, (string Id, string Text)[] docs, StageSpec[] stages)
    {
        var folder = _temp.Combine($"corpus-{name}");
        Directory.CreateDirectory(folder);
        await File.WriteAllLinesAsync(Path.Combine(folder, "docs.jsonl"), docs.Select(d => JsonSerializer.Serialize(new { id = d.Id, text = d.Text })));
        var spec = new JobSpec
        {
            Name = $"embed-{name}",
            Inputs = [new InputSpec { Path = Path.Combine(folder, "*.jsonl"), IdField = "id", MaxRecordBytes = 4 * 1024 * 1024 }],
            Stages = stages,
            Output = new OutputSpec { Path = $"curated/{name}" },
        };
        var stores = CurationStoreServiceCollectionExtensions.CreateResolver(new CurationStoreOptions { RootPath = _temp.Combine($"data-{name}") });
        using var services = StageServices.CreateDefault();
        await InProcessJob.RunAsync(spec, stores, services);
        return (stores, await CuratedOutput.ReadAsync(stores.DataStore, $"curated/{name}"));
    }

    [Fact]
    public async Task Degenerate_texts_are_dropped_with_a_reason_or_embedded_never_a_crash()
    {
        var docs = new (string Id, string Text)[]
        {
            ("a-empty", ""),
            ("b-spaces", "   \t \n  "),
            ("c-controls", "\u0001\u0002\u0003\u200B"),
            ("d-one-token-run", new string('x', 1_000_000)),
            ("e-normal", "A man is eating food."),
            ("f-long", string.Join(' ', Enumerable.Repeat("curation keeps the corpus clean and diverse", 300))),
        };
        var (stores, output) = await RunAsync("degenerate", docs, [new TokenizeStageSpec(), new EmbedStageSpec { WindowTokens = 128 }]);
        Assert.Empty(output.Manifest.Accounting.Imbalances());
        var dropped = output.Drops.ToDictionary(d => d.Id, d => d.Reason);
        Assert.Equal(TokenizeStage.NoTokens, dropped["a-empty"]);
        Assert.Equal(TokenizeStage.NoTokens, dropped["b-spaces"]);
        Assert.Equal(TokenizeStage.NoTokens, dropped["c-controls"]);
        Assert.Equal(["d-one-token-run", "e-normal", "f-long"], output.KeptIds.Order(StringComparer.Ordinal));

        var file = output.Manifest.Embeddings.Single();
        var (ids, vectors, dimensions) = await EmbeddingFile.ReadAllAsync(new MemoryStream(await stores.DataStore.ReadBytesAsync("curated/degenerate/" + file.Key)));
        Assert.Equal(output.KeptIds, ids);
        for (var i = 0; i < ids.Count; i++)
        {
            var norm = Math.Sqrt(vectors.AsSpan(i * dimensions, dimensions).ToArray().Sum(v => (double)v * v));
            Assert.InRange(norm, 0.999, 1.001);
        }
    }

    /// <summary>
    /// Inputs that reuse an id: the embeddings file still holds exactly one vector per curated document (a later stage
    /// dropped the other holder of the id), and the job warns about the shared id.
    /// </summary>
    [Fact]
    public async Task Embeddings_hold_one_vector_per_curated_document_when_inputs_reuse_an_id()
    {
        var docs = new (string Id, string Text)[]
        {
            ("dup", "A man is eating food at a small table by the window of the station cafe."),
            ("dup", "Too short."),
            ("other", "The river runs past the old mill and into the valley below the hills."),
        };
        var (stores, output) = await RunAsync("shared",
            docs, [new TokenizeStageSpec(), new EmbedStageSpec { WindowTokens = 128 }, new QualityFilterStageSpec { MinChars = 20, MinWords = 3 }]);
        Assert.Equal(["dup", "other"], output.KeptIds);
        Assert.Equal("too_short", Assert.Single(output.Drops).Reason);
        var file = output.Manifest.Embeddings.Single();
        var (ids, _, _) = await EmbeddingFile.ReadAllAsync(new MemoryStream(await stores.DataStore.ReadBytesAsync("curated/shared/" + file.Key)));
        Assert.Equal(output.KeptIds, ids);
        Assert.Equal(2, file.Rows);
        Assert.Contains(output.Manifest.Errors, e => e.StartsWith("1 document id is held by more than one document (the first: 'dup', 2 documents)", StringComparison.Ordinal));
    }
}
