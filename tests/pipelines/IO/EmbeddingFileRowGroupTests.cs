using Curation.Pipelines.IO;
using Curation.Pipelines.Spec;

namespace Curation.Pipelines.Tests.IO;

/// <summary>
/// Embeddings written in bounded row groups (<see cref="EmbeddingFile.ToBatches"/>) and streamed back row by row
/// (<see cref="EmbeddingFile.ForEachRowAsync"/>): the k-means init sample's files, read a small row group at a time.
/// </summary>
public sealed class EmbeddingFileRowGroupTests
{
    [Theory]
    [InlineData(EmbeddingPrecision.Float32, 1000, 16, 64 * 4 * 10)]
    [InlineData(EmbeddingPrecision.Float16, 777, 24, 24 * 2 * 7 + 1)]
    [InlineData(EmbeddingPrecision.Float32, 5, 8, 1)]
    public async Task RowGroupsAreBoundedAndRowsComeBackInOrder(EmbeddingPrecision precision, int count, int dimensions, int rowGroupBytes)
    {
        var random = new Random(7);
        var ids = Enumerable.Range(0, count).Select(i => $"doc-{i:D5}-{random.Next()}").ToArray();
        var vectors = Enumerable.Range(0, count * dimensions).Select(_ => (float)(random.NextDouble() - 0.5)).ToArray();
        var bytesPerRow = dimensions * (precision == EmbeddingPrecision.Float16 ? 2 : 4);
        var rowsPerGroup = Math.Max(1, rowGroupBytes / bytesPerRow);

        using var stream = new MemoryStream();
        await using (var writer = await ParquetTableWriter.CreateAsync(stream, EmbeddingFile.Schema, EmbeddingFile.Metadata(dimensions, precision, "test")))
            foreach (var batch in EmbeddingFile.ToBatches(ids, vectors, dimensions, precision, rowGroupBytes))
                await writer.WriteAsync(batch);

        stream.Position = 0;
        await using (var reader = await ParquetTableReader.OpenAsync(new MemoryStream(stream.ToArray())))
        {
            Assert.Equal((count + rowsPerGroup - 1) / rowsPerGroup, reader.RowGroupCount);
            for (var g = 0; g < reader.RowGroupCount; g++)
                Assert.True((await reader.ReadRowGroupAsync(g)).RowCount * bytesPerRow <= Math.Max(rowGroupBytes, bytesPerRow));
        }

        // Streamed rows: positions, ids and vectors as the whole-file reader gives them.
        var (allIds, allVectors, allDimensions) = await EmbeddingFile.ReadAllAsync(new MemoryStream(stream.ToArray()));
        Assert.Equal(ids, allIds);
        var seen = new List<int>();
        var decoded = new float[dimensions];
        await EmbeddingFile.ForEachRowAsync(new MemoryStream(stream.ToArray()), row =>
        {
            Assert.Equal(allDimensions, row.Dimensions);
            Assert.Equal(precision == EmbeddingPrecision.Float16, row.Float16);
            Assert.Equal(ids[row.Row], row.Id);
            row.DecodeInto(decoded);
            Assert.Equal(allVectors.AsSpan(row.Row * dimensions, dimensions).ToArray(), decoded);
            seen.Add(row.Row);
        });
        Assert.Equal(Enumerable.Range(0, count), seen);
    }

    [Fact]
    public void Chosen_rows_are_the_batches_of_their_gathered_copy()
    {
        const int dimensions = 12;
        var random = new Random(9);
        var ids = Enumerable.Range(0, 300).Select(i => $"doc-{i:D4}").ToArray();
        var vectors = Enumerable.Range(0, ids.Length * dimensions).Select(_ => (float)random.NextDouble()).ToArray();
        int[] rows = [3, 4, 17, 120, 121, 299];
        var gathered = rows.SelectMany(r => vectors.AsSpan(r * dimensions, dimensions).ToArray()).ToArray();
        var expected = EmbeddingFile.ToBatches(rows.Select(r => ids[r]).ToArray(), gathered, dimensions, EmbeddingPrecision.Float32, 100).ToArray();
        var actual = EmbeddingFile.ToBatches(ids, vectors, dimensions, EmbeddingPrecision.Float32, 100, rows).ToArray();
        Assert.Equal(expected.Length, actual.Length);
        Assert.Equal(3, actual.Length); // two 48-byte rows per 100-byte group
        for (var b = 0; b < actual.Length; b++)
        {
            Assert.Equal(expected[b].Ids.List, actual[b].Ids.List);
            Assert.Equal(expected[b].GetColumn<byte[]>(EmbeddingFile.VectorColumn).List, actual[b].GetColumn<byte[]>(EmbeddingFile.VectorColumn).List);
        }
    }
}
