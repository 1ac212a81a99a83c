using Curation.Pipelines.Storage;
using Curation.Testing;

namespace Curation.Pipelines.Tests.Storage;

/// <summary>The contract against Azurite, through the same resilient wrapper production uses.</summary>
public sealed class AzureBlobStoreContractTests(AzuriteFixture azurite) : ObjectStoreContractTests, IClassFixture<AzuriteFixture>
{
    protected override Task<IObjectStore> CreateStoreAsync()
        => Task.FromResult<IObjectStore>(azurite.CreateStore("contract", new ObjectStoreResilienceOptions
        {
            MaxRetryAttempts = 2,
            BaseDelay = TimeSpan.FromMilliseconds(10),
            AttemptTimeout = TimeSpan.FromSeconds(20),
        }));

    [Fact]
    public void Location_names_the_container()
        => Assert.Matches("^az://contract-[0-9a-f]{32}$", Store.Location);

    [Fact]
    public async Task The_container_is_created_on_first_write_and_reads_before_it_find_nothing()
    {
        Assert.Empty(await KeysAsync(""));
        Assert.False(await Store.DeleteAsync("x"));
        await Assert.ThrowsAsync<ObjectNotFoundException>(() => Store.OpenReadAsync("x"));

        await Store.WriteBytesAsync("x", Bytes(3, 1), WriteCondition.CreateOnly);

        Assert.Equal(["x"], await KeysAsync(""));
    }

    [Fact]
    public async Task A_large_read_fails_clearly_when_the_blob_is_replaced_midway()
    {
        const int size = 9 * 1024 * 1024;
        await Store.WriteBytesAsync("big", Bytes(size, 1), WriteCondition.CreateOnly);
        await using var reader = await Store.OpenReadAsync("big");
        await reader.ReadExactlyAsync(new byte[1024]);

        await Store.WriteBytesAsync("big", Bytes(size, 2), WriteCondition.Overwrite);

        reader.Position = size - 10; // outside the first range: the next read goes to the service, pinned to the old ETag
        var error = await Assert.ThrowsAsync<ObjectModifiedException>(() => reader.ReadExactlyAsync(new byte[10]).AsTask());
        Assert.Equal("big", error.Key);
    }
}
