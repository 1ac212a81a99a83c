using Curation.Pipelines.Storage;

namespace Curation.Pipelines.Tests.Storage;

/// <summary>
/// What every <see cref="IObjectStore"/> must do; each provider runs the whole set against a fresh, empty store.
/// </summary>
public abstract class ObjectStoreContractTests : IAsyncLifetime
{
    protected IObjectStore Store { get; private set; } = null!;

    /// <summary>A fresh, empty store for one test.</summary>
    protected abstract Task<IObjectStore> CreateStoreAsync();

    protected virtual Task DisposeStoreAsync() => Task.CompletedTask;

    public async Task InitializeAsync() => Store = await CreateStoreAsync();

    public Task DisposeAsync() => DisposeStoreAsync();

    [Fact]
    public async Task Written_bytes_read_back_identically_with_matching_info()
    {
        var bytes = Bytes(1000, seed: 1);

        var written = await Store.WriteBytesAsync("jobs/j1/state.json", bytes, WriteCondition.Overwrite);

        Assert.Equal(bytes, await Store.ReadBytesAsync("jobs/j1/state.json"));
        var info = await Store.GetInfoAsync("jobs/j1/state.json");
        Assert.NotNull(info);
        Assert.Equal("jobs/j1/state.json", info.Key);
        Assert.Equal(1000, info.Size);
        Assert.False(string.IsNullOrEmpty(info.ETag));
        Assert.Equal(written.ETag, info.ETag);
        Assert.Equal(written.Size, info.Size);
    }

    [Fact]
    public async Task Empty_object_round_trips()
    {
        await Store.WriteBytesAsync("empty", ReadOnlyMemory<byte>.Empty, WriteCondition.CreateOnly);

        Assert.Empty(await Store.ReadBytesAsync("empty"));
        Assert.Equal(0, (await Store.GetInfoAsync("empty"))!.Size);
    }

    [Fact]
    public async Task Streamed_write_of_several_megabytes_reads_back_through_a_seekable_stream()
    {
        const int size = 9 * 1024 * 1024 + 12345; // past in-memory buffers and single read ranges
        var expected = Bytes(size, seed: 2);

        var info = await Store.WriteAsync("big/shard-0.parquet", async (stream, ct) =>
        {
            for (var offset = 0; offset < size; offset += 64 * 1024)
                await stream.WriteAsync(expected.AsMemory(offset, Math.Min(64 * 1024, size - offset)), ct);
        }, WriteCondition.CreateOnly);
        Assert.Equal(size, info.Size);

        await using var read = await Store.OpenReadAsync("big/shard-0.parquet");
        Assert.True(read.CanSeek);
        Assert.Equal(size, read.Length);

        // Footer first, as Parquet does, then the middle, then everything.
        read.Seek(-100, SeekOrigin.End);
        Assert.Equal(expected[^100..], await ReadExactlyAsync(read, 100));
        read.Position = 5_000_000;
        Assert.Equal(expected[5_000_000..5_000_010], await ReadExactlyAsync(read, 10));
        read.Position = 0;
        using var all = new MemoryStream();
        await read.CopyToAsync(all);
        Assert.Equal(expected, all.ToArray());
        Assert.Equal(0, await read.ReadAsync(new byte[10]));
    }

    [Fact]
    public async Task Create_only_fails_when_the_object_exists_and_keeps_the_original()
    {
        await Store.WriteBytesAsync("out/0.parquet", Bytes(10, seed: 3), WriteCondition.CreateOnly);

        var error = await Assert.ThrowsAsync<ObjectAlreadyExistsException>(
            () => Store.WriteBytesAsync("out/0.parquet", Bytes(20, seed: 4), WriteCondition.CreateOnly));

        Assert.Equal("out/0.parquet", error.Key);
        Assert.Equal(Bytes(10, seed: 3), await Store.ReadBytesAsync("out/0.parquet"));
    }

    [Fact]
    public async Task Create_once_treats_an_existing_object_as_success()
    {
        var first = await Store.CreateOnceAsync("out/1.parquet", (s, ct) => s.WriteAsync(Bytes(10, 5), ct).AsTask());
        var second = await Store.CreateOnceAsync("out/1.parquet", (s, ct) => s.WriteAsync(Bytes(10, 5), ct).AsTask());

        Assert.Equal(first.ETag, second.ETag);
    }

    [Fact]
    public async Task If_match_replaces_the_version_read_and_rejects_a_stale_etag()
    {
        var v1 = await Store.WriteBytesAsync("state", Bytes(8, seed: 5), WriteCondition.CreateOnly);

        var v2 = await Store.WriteBytesAsync("state", Bytes(8, seed: 6), WriteCondition.IfMatch(v1.ETag));

        Assert.NotEqual(v1.ETag, v2.ETag);
        Assert.Equal(v2.ETag, (await Store.GetInfoAsync("state"))!.ETag);
        Assert.Equal(Bytes(8, seed: 6), await Store.ReadBytesAsync("state"));

        await Assert.ThrowsAsync<ObjectModifiedException>(
            () => Store.WriteBytesAsync("state", Bytes(8, seed: 7), WriteCondition.IfMatch(v1.ETag)));
        Assert.Equal(Bytes(8, seed: 6), await Store.ReadBytesAsync("state"));
    }

    [Fact]
    public async Task An_etag_from_a_listing_serves_for_if_match()
    {
        await Store.WriteBytesAsync("leases/a", Bytes(8, seed: 5), WriteCondition.CreateOnly);
        var listed = Assert.Single(await ToListAsync(Store.ListAsync("leases/")));

        var replaced = await Store.WriteBytesAsync("leases/a", Bytes(8, seed: 6), WriteCondition.IfMatch(listed.ETag));

        Assert.NotEqual(listed.ETag, replaced.ETag);
    }

    [Fact]
    public async Task If_match_on_a_missing_object_is_a_modification()
    {
        var v1 = await Store.WriteBytesAsync("gone", Bytes(8, seed: 5), WriteCondition.CreateOnly);
        await Store.DeleteAsync("gone");

        await Assert.ThrowsAsync<ObjectModifiedException>(
            () => Store.WriteBytesAsync("gone", Bytes(8, seed: 6), WriteCondition.IfMatch(v1.ETag)));
        Assert.Null(await Store.GetInfoAsync("gone"));
    }

    [Fact]
    public async Task Rapid_same_size_rewrites_get_distinct_etags()
    {
        var etags = new HashSet<string>();
        for (var i = 0; i < 20; i++)
            etags.Add((await Store.WriteBytesAsync("counter", Bytes(16, seed: i), WriteCondition.Overwrite)).ETag);

        Assert.Equal(20, etags.Count);
    }

    [Fact]
    public async Task Overwrite_creates_or_replaces()
    {
        await Store.WriteBytesAsync("manifest.json", Bytes(5, seed: 8), WriteCondition.Overwrite);
        await Store.WriteBytesAsync("manifest.json", Bytes(50, seed: 9), WriteCondition.Overwrite);

        Assert.Equal(Bytes(50, seed: 9), await Store.ReadBytesAsync("manifest.json"));
        Assert.Equal(50, (await Store.GetInfoAsync("manifest.json"))!.Size);
    }

    [Fact]
    public async Task Missing_objects_have_no_info_cannot_be_opened_and_are_not_deleted()
    {
        Assert.Null(await Store.GetInfoAsync("nope/x"));
        var error = await Assert.ThrowsAsync<ObjectNotFoundException>(() => Store.OpenReadAsync("nope/x"));
        Assert.Equal("nope/x", error.Key);
        Assert.False(await Store.DeleteAsync("nope/x"));
    }

    [Fact]
    public async Task Delete_removes_an_object_once()
    {
        await Store.WriteBytesAsync("tmp/x", Bytes(3, seed: 10), WriteCondition.CreateOnly);

        Assert.True(await Store.DeleteAsync("tmp/x"));
        Assert.Null(await Store.GetInfoAsync("tmp/x"));
        Assert.False(await Store.DeleteAsync("tmp/x"));
        await Store.WriteBytesAsync("tmp/x", Bytes(3, seed: 11), WriteCondition.CreateOnly); // the name is free again
    }

    [Fact]
    public async Task List_returns_keys_under_a_prefix_in_ordinal_order()
    {
        string[] keys = ["jobs/j1/b.txt", "jobs/j1/a.txt", "jobs/j1/sub/x", "jobs/j1-other/y", "jobs/j1.txt", "jobs/j10/z", "other/q", "jobs/J1/upper"];
        foreach (var (key, i) in keys.Select((k, i) => (k, i)))
            await Store.WriteBytesAsync(key, Bytes(i + 1, seed: i), WriteCondition.CreateOnly);

        Assert.Equal(["jobs/j1/a.txt", "jobs/j1/b.txt", "jobs/j1/sub/x"], await KeysAsync("jobs/j1/"));
        // '-' < '.' < '/' < '0' in ordinal order: folders sort as if their keys were spelled out.
        Assert.Equal(["jobs/j1-other/y", "jobs/j1.txt", "jobs/j1/a.txt", "jobs/j1/b.txt", "jobs/j1/sub/x", "jobs/j10/z"], await KeysAsync("jobs/j1"));
        Assert.Equal(keys.Order(StringComparer.Ordinal), await KeysAsync(""));
        Assert.Equal(["jobs/j1/sub/x"], await KeysAsync("jobs/j1/sub/"));
        Assert.Empty(await KeysAsync("nothing/"));

        var listed = await ToListAsync(Store.ListAsync("jobs/j1/"));
        foreach (var info in listed)
            Assert.Equal((await Store.GetInfoAsync(info.Key))!.ETag, info.ETag);
        Assert.Equal([2L, 1L, 3L], listed.Select(i => i.Size)); // sizes were index + 1: b.txt 1, a.txt 2, sub/x 3
    }

    [Fact]
    public async Task Concurrent_create_only_writes_have_exactly_one_winner()
    {
        const int writers = 8;
        var allProducing = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var producing = 0;

        var attempts = Enumerable.Range(0, writers).Select(i => Task.Run(async () =>
        {
            try
            {
                await Store.WriteAsync("race/winner", async (stream, ct) =>
                {
                    // Every writer has passed its early checks before anyone commits: a real race at commit time.
                    if (Interlocked.Increment(ref producing) == writers) allProducing.SetResult();
                    await allProducing.Task.WaitAsync(TimeSpan.FromSeconds(10), ct);
                    await stream.WriteAsync(Bytes(1000 + i, seed: i), ct);
                }, WriteCondition.CreateOnly);
                return (Writer: i, Won: true);
            }
            catch (ObjectAlreadyExistsException)
            {
                return (Writer: i, Won: false);
            }
        })).ToArray();
        var results = await Task.WhenAll(attempts);

        var winner = Assert.Single(results, r => r.Won).Writer;
        Assert.Equal(Bytes(1000 + winner, seed: winner), await Store.ReadBytesAsync("race/winner"));
    }

    [Fact]
    public async Task A_failing_producer_leaves_no_object()
    {
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => Store.WriteAsync("out/broken.parquet", async (stream, ct) =>
        {
            await stream.WriteAsync(Bytes(1024 * 1024, seed: 12), ct);
            throw new InvalidOperationException("producer failed midway");
        }, WriteCondition.CreateOnly));

        Assert.Equal("producer failed midway", error.Message);
        Assert.Null(await Store.GetInfoAsync("out/broken.parquet"));
        Assert.Empty(await KeysAsync(""));
    }

    [Fact]
    public async Task A_failing_producer_keeps_the_previous_version()
    {
        await Store.WriteBytesAsync("state", Bytes(100, seed: 13), WriteCondition.CreateOnly);

        await Assert.ThrowsAsync<InvalidOperationException>(() => Store.WriteAsync("state", async (stream, ct) =>
        {
            await stream.WriteAsync(Bytes(10, seed: 14), ct);
            throw new InvalidOperationException("producer failed midway");
        }, WriteCondition.Overwrite));

        Assert.Equal(Bytes(100, seed: 13), await Store.ReadBytesAsync("state"));
    }

    [Theory]
    [InlineData("../x")]
    [InlineData("a/../b")]
    [InlineData("./a")]
    [InlineData("/x")]
    [InlineData("a\\b")]
    [InlineData("a//b")]
    [InlineData("a/")]
    [InlineData("")]
    [InlineData(".tmp/x")]
    public async Task Invalid_keys_are_rejected_naming_the_key(string key)
    {
        var write = await Assert.ThrowsAsync<ArgumentException>(() => Store.WriteBytesAsync(key, Bytes(1, 0), WriteCondition.Overwrite));
        Assert.Contains($"'{key}'", write.Message);
        await Assert.ThrowsAsync<ArgumentException>(() => Store.OpenReadAsync(key));
        await Assert.ThrowsAsync<ArgumentException>(() => Store.GetInfoAsync(key));
        await Assert.ThrowsAsync<ArgumentException>(() => Store.DeleteAsync(key));
    }

    [Theory]
    [InlineData("../")]
    [InlineData("/jobs")]
    [InlineData("a//")]
    public async Task Invalid_prefixes_are_rejected(string prefix)
        => await Assert.ThrowsAsync<ArgumentException>(() => KeysAsync(prefix));

    protected static byte[] Bytes(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    protected async Task<List<string>> KeysAsync(string prefix)
        => (await ToListAsync(Store.ListAsync(prefix))).Select(i => i.Key).ToList();

    protected static async Task<List<T>> ToListAsync<T>(IAsyncEnumerable<T> items)
    {
        var list = new List<T>();
        await foreach (var item in items) list.Add(item);
        return list;
    }

    private static async Task<byte[]> ReadExactlyAsync(Stream stream, int count)
    {
        var buffer = new byte[count];
        await stream.ReadExactlyAsync(buffer);
        return buffer;
    }
}
