using Curation.Pipelines.Storage;
using Curation.Testing;

namespace Curation.Pipelines.Tests.Storage;

public sealed class LocalFolderStoreContractTests : ObjectStoreContractTests
{
    private readonly TempDirectory _root = new("local-store");

    protected override Task<IObjectStore> CreateStoreAsync() => Task.FromResult<IObjectStore>(new LocalFolderStore(_root.Path));

    protected override Task DisposeStoreAsync()
    {
        _root.Dispose();
        return Task.CompletedTask;
    }

    [Fact]
    public async Task Objects_are_plain_files_under_the_root()
    {
        await Store.WriteBytesAsync("jobs/j1/a.txt", "hello"u8.ToArray(), WriteCondition.CreateOnly);

        Assert.Equal("hello", await File.ReadAllTextAsync(_root.Combine("jobs", "j1", "a.txt")));
        Assert.StartsWith("file:///", Store.Location);
    }

    [Fact]
    public async Task Temp_files_are_never_listed_and_never_left_behind()
    {
        await Store.WriteBytesAsync("a", Bytes(10, 1), WriteCondition.CreateOnly);
        await Assert.ThrowsAsync<InvalidOperationException>(() => Store.WriteAsync("b", (_, _) => throw new InvalidOperationException("no"), WriteCondition.CreateOnly));
        await Assert.ThrowsAsync<ObjectAlreadyExistsException>(() => Store.WriteBytesAsync("a", Bytes(10, 2), WriteCondition.CreateOnly));
        var tempFolder = _root.Combine(ObjectKeys.ReservedTempSegment);
        Assert.Empty(Directory.GetFiles(tempFolder));

        await File.WriteAllTextAsync(Path.Combine(tempFolder, "stray.part"), "in flight in another process");

        Assert.Equal(["a"], await KeysAsync(""));
    }

    [Fact]
    public async Task A_key_cannot_be_both_an_object_and_a_folder_here()
    {
        await Store.WriteBytesAsync("a", Bytes(1, 1), WriteCondition.CreateOnly);
        await Store.WriteBytesAsync("b/c", Bytes(1, 1), WriteCondition.CreateOnly);

        // Definite (non-transient) store errors, so the retry policy does not spin on them.
        var under = await Assert.ThrowsAsync<ObjectStoreException>(() => Store.WriteBytesAsync("a/x", Bytes(1, 2), WriteCondition.CreateOnly));
        var over = await Assert.ThrowsAsync<ObjectStoreException>(() => Store.WriteBytesAsync("b", Bytes(1, 2), WriteCondition.Overwrite));
        Assert.False(ResilientObjectStore.IsTransient(under));
        Assert.False(ResilientObjectStore.IsTransient(over));
        Assert.Null(await Store.GetInfoAsync("b"));
        await Assert.ThrowsAsync<ObjectNotFoundException>(() => Store.OpenReadAsync("b"));
        Assert.Null(await Store.GetInfoAsync("a/x"));
        await Assert.ThrowsAsync<ObjectNotFoundException>(() => Store.OpenReadAsync("a/x"));
        Assert.False(await Store.DeleteAsync("a/x"));
        Assert.Empty(await KeysAsync("a/"));
    }

    [Fact]
    public async Task A_reader_keeps_the_version_it_opened_while_the_object_is_replaced()
    {
        await Store.WriteBytesAsync("state", Bytes(100, 1), WriteCondition.CreateOnly);
        await using var reader = await Store.OpenReadAsync("state");

        await Store.WriteBytesAsync("state", Bytes(200, 2), WriteCondition.Overwrite);

        using var copy = new MemoryStream();
        await reader.CopyToAsync(copy);
        Assert.Equal(Bytes(100, 1), copy.ToArray());
        Assert.Equal(Bytes(200, 2), await Store.ReadBytesAsync("state"));
    }

    [Fact]
    public async Task Separate_instances_on_one_root_see_each_others_commits()
    {
        var other = new LocalFolderStore(_root.Path);
        var v1 = await Store.WriteBytesAsync("state", Bytes(4, 1), WriteCondition.CreateOnly);
        await other.WriteBytesAsync("state", Bytes(4, 2), WriteCondition.IfMatch(v1.ETag));

        await Assert.ThrowsAsync<ObjectModifiedException>(() => Store.WriteBytesAsync("state", Bytes(4, 3), WriteCondition.IfMatch(v1.ETag)));
        await Assert.ThrowsAsync<ObjectAlreadyExistsException>(() => other.WriteBytesAsync("state", Bytes(4, 3), WriteCondition.CreateOnly));
    }
}
