using System.Security.Cryptography;
using Curation.Pipelines.IO;
using Curation.Pipelines.Storage;
using Curation.Testing;

namespace Curation.Pipelines.Tests.IO;

/// <summary>
/// A spool committed to a local folder store on the same file system becomes the object (moved, not copied) and the publish
/// stays what it was: create-once, atomic, readable at once by others, the spool still readable by its task; a second commit
/// of a moved spool, a store that only knows <see cref="IObjectStore.WriteAsync"/> and a create-only conflict copy or fail as before,
/// leaving no part behind; the moved part is not taken for an orphan while its writer lives.
/// </summary>
public sealed class SpoolFileMoveTests : IDisposable
{
    private readonly TempDirectory _temp = new("spool-move");

    public void Dispose() => _temp.Dispose();

    private static async Task<SpoolFile> SpoolAsync(byte[] bytes)
    {
        var spool = SpoolFile.Create();
        await spool.Stream.WriteAsync(bytes);
        return spool;
    }

    private static byte[] Bytes(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    private string[] Parts() => Directory.GetFiles(_temp.Combine("data", ObjectKeys.ReservedTempSegment));

    [Fact]
    public async Task A_spool_committed_to_a_local_store_is_moved_into_place_and_stays_readable()
    {
        var bytes = Bytes(300_000, 1);
        var store = LocalFolderStore.Create(_temp.Combine("data"));
        await using var spool = await SpoolAsync(bytes);
        var spoolPath = spool.Stream.Name;

        var info = await spool.CommitOnceAsync(store, "jobs/j/stage/part-00000.parquet");

        Assert.True(OperatingSystem.IsLinux() ? spool.Moved : !spool.Moved);
        if (spool.Moved) Assert.False(File.Exists(spoolPath)); // the spool's own name is gone: the file is the object now
        Assert.Equal(bytes.Length, info.Size);
        Assert.Equal((await store.GetInfoAsync(info.Key))!.ETag, info.ETag);
        // Others read the object while the spool still holds the file; the spool reads it too (a publish hashes it after).
        Assert.Equal(bytes, await store.ReadBytesAsync(info.Key));
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(bytes)), await spool.Sha256Async());
        Assert.Equal(bytes.Length, spool.Length);
        Assert.Empty(Parts());
        Assert.Equal(0, store.Inner is LocalFolderStore local ? local.SweepOrphanedParts() : -1);

        await spool.DisposeAsync();
        Assert.Equal(bytes, await store.ReadBytesAsync(info.Key)); // the spool no longer deletes what it handed over
    }

    [Fact]
    public async Task A_moved_spool_committed_again_is_copied_and_a_create_only_conflict_leaves_the_object_and_no_part()
    {
        var store = LocalFolderStore.Create(_temp.Combine("data"));
        var first = Bytes(70_000, 2);
        await using var spool = await SpoolAsync(first);
        await spool.CommitOnceAsync(store, "a");
        await spool.CommitOnceAsync(store, "b");
        Assert.Equal(first, await store.ReadBytesAsync("a"));
        Assert.Equal(first, await store.ReadBytesAsync("b"));

        // Create-only onto an existing object: refused before anything moves, the loser keeps its file and the object stays.
        var other = Bytes(50_000, 3);
        await using var loser = await SpoolAsync(other);
        await Assert.ThrowsAsync<ObjectAlreadyExistsException>(() => loser.CommitCreateOnlyAsync(store, "a"));
        Assert.False(loser.Moved);
        Assert.Equal(first, await store.ReadBytesAsync("a"));
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(other)), await loser.Sha256Async());
        // Create-once onto an existing object (an earlier attempt's): success, the object untouched.
        Assert.Equal(first.Length, (await loser.CommitOnceAsync(store, "a")).Size);
        Assert.Equal(first, await store.ReadBytesAsync("a"));
        Assert.Empty(Parts());
    }

    [Fact]
    public async Task A_store_that_only_writes_streams_gets_a_copy_through_its_own_write()
    {
        var inner = new LocalFolderStore(_temp.Combine("data"));
        var counting = new CountingStore(inner);
        var bytes = Bytes(40_000, 4);
        await using var spool = await SpoolAsync(bytes);

        await spool.CommitOnceAsync(counting, "x");

        Assert.False(spool.Moved);
        Assert.Equal(1, counting.Writes);
        Assert.Equal(bytes, await inner.ReadBytesAsync("x"));
    }

    [Fact]
    public async Task A_moved_part_waiting_for_its_commit_is_not_swept_as_an_orphan()
    {
        var store = new LocalFolderStore(_temp.Combine("data"));
        await store.WriteBytesAsync("warm", new byte[1], WriteCondition.CreateOnly); // the temp folder exists
        var bytes = Bytes(10_000, 5);
        await using var spool = await SpoolAsync(bytes);
        var part = Path.Combine(_temp.Combine("data", ObjectKeys.ReservedTempSegment), "waiting.part");

        Assert.Equal(OperatingSystem.IsLinux(), ((ILocalFile)spool).TryMoveTo(part));
        if (!spool.Moved) return;
        File.SetLastWriteTimeUtc(part, DateTime.UtcNow.AddMinutes(-5)); // old enough to be swept were nobody holding it

        Assert.Equal(0, store.SweepOrphanedParts());
        Assert.Equal(bytes, await File.ReadAllBytesAsync(part));
        Assert.False(((ILocalFile)spool).TryMoveTo(part + "2")); // moved once: a retry copies
    }

    /// <summary>A decorator that knows only the stream write (as the tests' fault injectors): the default file write copies through it.</summary>
    private sealed class CountingStore(IObjectStore inner) : IObjectStore
    {
        public int Writes;

        public string Location => inner.Location;

        public Task<ObjectInfo?> GetInfoAsync(string key, CancellationToken cancellationToken = default) => inner.GetInfoAsync(key, cancellationToken);

        public IAsyncEnumerable<ObjectInfo> ListAsync(string prefix, CancellationToken cancellationToken = default) => inner.ListAsync(prefix, cancellationToken);

        public Task<Stream> OpenReadAsync(string key, CancellationToken cancellationToken = default) => inner.OpenReadAsync(key, cancellationToken);

        public Task<ObjectInfo> WriteAsync(string key, Func<Stream, CancellationToken, Task> produce, WriteCondition condition,
            CancellationToken cancellationToken = default)
        {
            Interlocked.Increment(ref Writes);
            return inner.WriteAsync(key, produce, condition, cancellationToken);
        }

        public Task<bool> DeleteAsync(string key, CancellationToken cancellationToken = default) => inner.DeleteAsync(key, cancellationToken);
    }
}
