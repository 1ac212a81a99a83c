using System.Buffers.Binary;
using Curation.Pipelines.Execution;
using Curation.Pipelines.IO;
using Curation.Pipelines.Spec;
using Curation.Pipelines.Storage;
using Curation.Testing;

namespace Curation.Pipelines.Tests.Stages;

/// <summary>
/// semantic_dedup keeps its own copies of the vectors (the k-means matrix each Lloyd phase reads, and the cluster
/// partitions' members) at the precision the embed stage stored: float16 embeddings cost half the disk there, and the
/// copies hold exactly the embedded values (a half read as float and stored again is the same half), so the output
/// does not depend on the sharding or on a resume.
/// </summary>
public sealed class KMeansMatrixPrecisionTests : IDisposable
{
    private readonly TempDirectory _temp = new("kmeans-matrix-precision");
    private readonly string _input;

    public KMeansMatrixPrecisionTests()
    {
        _input = _temp.Combine("corpus");
        TestCorpus.Generate(originals: 60, copies: 12, seed: 11).WriteJsonl(_input, files: 4);
    }

    public void Dispose() => _temp.Dispose();

    private JobSpec Spec(EmbeddingPrecision precision, long shardBytes) => new()
    {
        Name = "matrix-precision",
        Inputs = [new InputSpec { Path = Path.Combine(_input, "*.jsonl"), IdField = "id" }],
        Sharding = new ShardingSpec { TargetShardBytes = shardBytes },
        Stages =
        [
            new EmbedStageSpec { Model = new ModelSpec { Kind = ModelKind.InputMean }, Precision = precision },
            new SemanticDedupStageSpec { Clusters = 4, MaxIterations = 6, Eps = 0.05, Partitions = 3 },
        ],
        Output = new OutputSpec { Path = "curated/matrix-precision" },
    };

    private IStoreResolver Stores(string folder) =>
        CurationStoreServiceCollectionExtensions.CreateResolver(new CurationStoreOptions { RootPath = _temp.Combine(folder) });

    [Theory]
    [InlineData(EmbeddingPrecision.Float16, "f16", 2)]
    [InlineData(EmbeddingPrecision.Float32, "f32", 4)]
    public async Task The_matrix_and_the_members_hold_the_embedded_values_at_the_embedded_precision(EmbeddingPrecision precision, string extension,
        int bytesPerValue)
    {
        using var services = StageServices.CreateDefault();
        var folder = $"run-{extension}";
        var stores = Stores(folder);
        var job = await InProcessJob.RunAsync(Spec(precision, 2048), stores, services);
        Assert.True(job.Plan.ShardCount > 2, $"the corpus needs several shards, not {job.Plan.ShardCount}");
        var (embedded, shardIds) = await EmbeddedAsync(folder);
        var dimensions = embedded.First().Value.Length;

        // One matrix per shard, named by its precision, each value in bytesPerValue bytes, equal to the embedding.
        var matrices = Files(folder, "vectors", "*.*");
        Assert.Equal(job.Plan.ShardCount, matrices.Length);
        Assert.All(matrices, m => Assert.EndsWith("." + extension, m, StringComparison.Ordinal));
        var rows = 0;
        foreach (var matrix in matrices.Order(StringComparer.Ordinal))
        {
            var bytes = await File.ReadAllBytesAsync(matrix);
            var (count, width) = (BinaryPrimitives.ReadInt32LittleEndian(bytes), BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(4)));
            Assert.Equal(dimensions, width);
            Assert.Equal(8 + (long)count * dimensions * bytesPerValue, bytes.Length);
            var ids = shardIds[int.Parse(Path.GetFileNameWithoutExtension(matrix), System.Globalization.CultureInfo.InvariantCulture)];
            Assert.Equal(ids.Count, count);
            for (var row = 0; row < count; row++)
                Assert.Equal(embedded[ids[row]], Decode(bytes.AsSpan(8 + row * dimensions * bytesPerValue, dimensions * bytesPerValue), bytesPerValue));
            rows += count;
        }
        Assert.Equal(embedded.Count, rows);

        // Every member of every cluster partition carries its embedding at the same precision, value for value.
        var members = Files(folder, "*", "*.parquet").Where(f => Path.GetFileName(Path.GetDirectoryName(Path.GetDirectoryName(f))) == "members").ToArray();
        Assert.NotEmpty(members);
        var seen = 0;
        foreach (var piece in members)
        {
            await using var file = File.OpenRead(piece);
            await using var reader = await ParquetTableReader.OpenAsync(file);
            Assert.Equal(precision == EmbeddingPrecision.Float16, EmbeddingFile.IsFloat16(reader.Metadata));
            await foreach (var batch in reader.ReadColumnsAsync(["id", EmbeddingFile.VectorColumn]))
            {
                var vectors = batch.GetColumn<byte[]>(EmbeddingFile.VectorColumn);
                for (var i = 0; i < batch.RowCount; i++, seen++)
                    Assert.Equal(embedded[batch.Ids[i]], Decode(vectors[i], bytesPerValue));
            }
        }
        Assert.Equal(embedded.Count, seen);
    }

    [Fact]
    public async Task A_float16_job_curates_the_same_on_one_shard_on_many_and_after_a_resume()
    {
        using var services = StageServices.CreateDefault();
        var many = Stores("many");
        await InProcessJob.RunAsync(Spec(EmbeddingPrecision.Float16, 2048), many, services);
        var one = Stores("one");
        await InProcessJob.RunAsync(Spec(EmbeddingPrecision.Float16, 1 << 20), one, services);
        // Interrupted after read, embed and sample (the matrices written), resumed from the stored outputs.
        var resumed = Stores("resumed");
        await InProcessJob.RunAsync(Spec(EmbeddingPrecision.Float16, 2048), resumed, services, maxPhases: 3);
        Assert.NotEmpty(Files("resumed", "vectors", "*.f16"));
        await InProcessJob.RunAsync(Spec(EmbeddingPrecision.Float16, 2048), resumed, services);

        var output = await CuratedOutput.ReadAsync(many.DataStore, "curated/matrix-precision");
        Assert.Empty(output.Manifest.Accounting.Imbalances());
        Assert.NotEmpty(output.Drops);
        var oneOutput = await CuratedOutput.ReadAsync(one.DataStore, "curated/matrix-precision");
        Assert.Equal(output.KeptIds.Order(StringComparer.Ordinal), oneOutput.KeptIds.Order(StringComparer.Ordinal));
        var resumedOutput = await CuratedOutput.ReadAsync(resumed.DataStore, "curated/matrix-precision");
        Assert.Equal(output.ShardHashes, resumedOutput.ShardHashes);
        Assert.Equal(output.Drops, resumedOutput.Drops);
    }

    private string[] Files(string folder, string directory, string pattern) =>
        Directory.GetFiles(_temp.Combine(folder), pattern, SearchOption.AllDirectories)
            .Where(f => f.Contains("-semantic_dedup", StringComparison.Ordinal) && (directory == "*" || Path.GetFileName(Path.GetDirectoryName(f)) == directory))
            .ToArray();

    private static float[] Decode(ReadOnlySpan<byte> bytes, int bytesPerValue)
    {
        var values = new float[bytes.Length / bytesPerValue];
        EmbeddingFile.Decode(bytes, values, float16: bytesPerValue == 2);
        return values;
    }

    /// <summary>
    /// Every document's vector as the embed stage stored it, decoded to floats, and each shard's ids in row order (the
    /// matrix's rows), in one pass over the embed stage's files.
    /// </summary>
    private async Task<(Dictionary<string, float[]> Vectors, Dictionary<int, List<string>> ShardIds)> EmbeddedAsync(string folder)
    {
        var vectors = new Dictionary<string, float[]>(StringComparer.Ordinal);
        var shardIds = new Dictionary<int, List<string>>();
        foreach (var path in Directory.GetFiles(_temp.Combine(folder), "*.embeddings.parquet", SearchOption.AllDirectories)
                     .Where(f => f.Contains("-embed", StringComparison.Ordinal)))
        {
            var ids = new List<string>();
            await using var file = File.OpenRead(path);
            await EmbeddingFile.ForEachRowAsync(file, row =>
            {
                var vector = new float[row.Dimensions];
                row.DecodeInto(vector);
                vectors.Add(row.Id, vector);
                ids.Add(row.Id);
            });
            var name = Path.GetFileName(path);
            shardIds.Add(int.Parse(name[..name.IndexOf('.', StringComparison.Ordinal)], System.Globalization.CultureInfo.InvariantCulture), ids);
        }
        return (vectors, shardIds);
    }
}
