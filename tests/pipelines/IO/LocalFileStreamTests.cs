using Curation.Pipelines.IO;
using Curation.Pipelines.Storage;
using Curation.Testing;

namespace Curation.Pipelines.Tests.IO;

/// <summary>
/// The local files of a task (spools, the local folder store's reads and writes) complete their asynchronous calls in place
/// (no thread-pool hop per call: <see cref="LocalFileStream"/>) and still read and write exactly the bytes asked, honour
/// cancellation, and copy to another stream whole.
/// </summary>
public sealed class LocalFileStreamTests : IDisposable
{
    private readonly TempDirectory _temp = new("local-file-stream");

    public void Dispose() => _temp.Dispose();

    private static byte[] Bytes(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    [Fact]
    public async Task Async_reads_and_writes_complete_in_place_and_round_trip()
    {
        var path = _temp.Combine("a.bin");
        var bytes = Bytes(1 << 20, 1); // larger than the 64 KiB buffer: written and read straight through
        await using (var stream = new LocalFileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, FileOptions.Asynchronous))
        {
            var write = stream.WriteAsync(bytes.AsMemory(0, 700_000));
            Assert.True(write.IsCompletedSuccessfully);
            await write;
            var writeArray = stream.WriteAsync(bytes, 700_000, bytes.Length - 700_000);
            Assert.True(writeArray.IsCompletedSuccessfully);
            await writeArray;
            Assert.True(stream.FlushAsync().IsCompletedSuccessfully);
        }
        Assert.Equal(bytes, await File.ReadAllBytesAsync(path));

        await using var reader = new LocalFileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        var buffer = new byte[bytes.Length];
        var total = 0;
        while (total < buffer.Length)
        {
            var read = reader.ReadAsync(buffer.AsMemory(total, Math.Min(300_000, buffer.Length - total)));
            Assert.True(read.IsCompletedSuccessfully);
            var n = await read;
            Assert.True(n > 0);
            total += n;
        }
        Assert.Equal(bytes, buffer);
        var end = reader.ReadAsync(buffer, 0, 10);
        Assert.True(end.IsCompletedSuccessfully);
        Assert.Equal(0, await end);
    }

    [Fact]
    public async Task A_cancelled_call_is_cancelled_and_does_nothing()
    {
        var path = _temp.Combine("b.bin");
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();
        await using var stream = new LocalFileStream(path, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, 1 << 16);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => stream.WriteAsync(Bytes(10, 2), cancelled.Token).AsTask());
        Assert.Equal(0, stream.Length);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => stream.ReadAsync(new byte[10], cancelled.Token).AsTask());
    }

    [Fact]
    public async Task An_io_error_faults_the_task_instead_of_throwing()
    {
        var path = _temp.Combine("c.bin");
        await File.WriteAllBytesAsync(path, Bytes(100, 3));
        await using var stream = new LocalFileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        var write = stream.WriteAsync(Bytes(10, 4)); // a read-only stream refuses writes
        Assert.True(write.IsFaulted);
        await Assert.ThrowsAsync<NotSupportedException>(() => write.AsTask());
    }

    [Fact]
    public async Task CopyToAsync_copies_the_rest_of_the_file()
    {
        var path = _temp.Combine("d.bin");
        var bytes = Bytes(300_000, 5);
        await File.WriteAllBytesAsync(path, bytes);
        await using var stream = new LocalFileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        stream.Position = 1000;
        using var target = new MemoryStream();
        await stream.CopyToAsync(target);
        Assert.Equal(bytes[1000..], target.ToArray());
    }

    [Fact]
    public async Task Spools_and_the_local_folder_store_use_it()
    {
        await using (var spool = SpoolFile.Create())
        {
            Assert.IsType<LocalFileStream>(spool.Stream);
            Assert.True(spool.Stream.WriteAsync(Bytes(200_000, 6)).IsCompletedSuccessfully);
        }

        var store = new LocalFolderStore(_temp.Combine("store"));
        var bytes = Bytes(200_000, 7);
        await store.WriteAsync("a/b.bin", (stream, ct) =>
        {
            Assert.IsType<LocalFileStream>(stream);
            return stream.WriteAsync(bytes, ct).AsTask();
        }, WriteCondition.CreateOnly);
        await using var read = await store.OpenReadAsync("a/b.bin");
        Assert.IsType<LocalFileStream>(read);
        var buffer = new byte[bytes.Length];
        var first = read.ReadAsync(buffer);
        Assert.True(first.IsCompletedSuccessfully);
        await read.ReadExactlyAsync(buffer.AsMemory(await first));
        Assert.Equal(bytes, buffer);
    }
}
