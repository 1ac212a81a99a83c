using Curation.Pipelines.IO;
using Curation.Pipelines.Model;
using Curation.Pipelines.Storage;
using Curation.Testing;

namespace Curation.Pipelines.Tests.IO;

/// <summary>
/// A routed shuffle object in a blob container (Azurite) larger than the store's read buffer: the index at its end and
/// each target's segment are read by ranged requests, and every target reads back what it reads from a local folder.
/// </summary>
public sealed class RoutedTableAzureTests(AzuriteFixture azurite) : IClassFixture<AzuriteFixture>, IDisposable
{
    private static readonly IReadOnlyList<ColumnSchema> Schema = [new("value", typeof(long)), new(Columns.Text, typeof(string))];

    private readonly TempDirectory _temp = new("routed-azure");

    public void Dispose() => _temp.Dispose();

    private static RecordBatch Batch(int target, int rows)
    {
        var batch = RecordBatch.WithSchema(Schema);
        for (var i = 0; i < rows; i++)
        {
            batch.GetColumn<long>("value").Add(target * 100_000L + i);
            // Varied text that Snappy cannot shrink much: the object spans several 64 KiB ranged reads.
            batch.GetColumn<string>(Columns.Text).Add($"{target}:{i}:{unchecked((uint)target * 2654435761u ^ (uint)i * 40503u):x8}{unchecked((uint)i * 2246822519u + (uint)target):x8}");
        }
        return batch;
    }

    private static async Task<List<long>> ReadAsync(IObjectStore store, string key, int target)
    {
        var values = new List<long>();
        await foreach (var batch in RoutedTable.ReadAsync(store, key, target, default)) values.AddRange(batch.GetColumn<long>("value").List);
        return values;
    }

    [Fact]
    public async Task Every_target_reads_the_same_rows_from_a_blob_as_from_a_local_folder()
    {
        var blob = AzureBlobStore.Create(new AzureBlobStoreOptions
        {
            ConnectionString = azurite.ConnectionString, ContainerName = AzuriteFixture.NewContainerName("routed"), ReadBufferSize = 64 * 1024,
        });
        var local = new LocalFolderStore(_temp.Combine("data"));
        const string Key = "jobs/j/01-line_dedup/hash/00003.parquet";
        // Targets 0, 3, 6 … 117 with 400 to ~1,600 rows each; the others have nothing addressed to them.
        var groups = Enumerable.Range(0, 40).Select(t => KeyValuePair.Create(t * 3, Batch(t * 3, 400 + t * 30))).ToList();
        await RoutedTable.WriteAsync(blob, Key, Schema, groups, default);
        await RoutedTable.WriteAsync(local, Key, Schema, groups, default);
        var size = (await blob.GetInfoAsync(Key))!.Size;
        Assert.True(size > 4 * 64 * 1024, $"the object is {size:N0} bytes: it must span several ranged reads");
        Assert.Equal(size, (await local.GetInfoAsync(Key))!.Size);

        for (var target = 0; target < 121; target++)
        {
            var fromBlob = await ReadAsync(blob, Key, target);
            Assert.Equal(await ReadAsync(local, Key, target), fromBlob);
            Assert.Equal(target % 3 == 0 && target < 120 ? 400 + target / 3 * 30 : 0, fromBlob.Count);
        }
    }
}
