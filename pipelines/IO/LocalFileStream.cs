using System.Buffers;

namespace Curation.Pipelines.IO;

/// <summary>
/// A <see cref="FileStream"/> on a local file whose asynchronous calls run synchronously on the calling thread and return
/// completed tasks. On Linux every asynchronous <see cref="FileStream"/> call (with or without
/// <see cref="FileOptions.Asynchronous"/>) is queued to the thread pool and its continuation wakes another worker: a task
/// that reads or writes a shard through Parquet.Net (which only has asynchronous calls) made thousands of such hops per
/// shard, and the pool's idle workers spun waiting for them (<c>LowLevelLifoSemaphore</c> and <c>SpinWaiter</c> were the
/// largest sample group of a <c>bench exact</c> trace). A local file read or write is a copy from or to the page cache:
/// done in place it costs less than the hop. Used for the spool files tasks write and for the local folder store's files
/// (both only ever local); cancellation is checked before each call.
/// </summary>
public sealed class LocalFileStream(string path, FileMode mode, FileAccess access, FileShare share, int bufferSize, FileOptions options = FileOptions.None)
    : FileStream(path, mode, access, share, bufferSize, options & ~FileOptions.Asynchronous)
{
    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
    {
        ValidateBufferArguments(buffer, offset, count);
        if (cancellationToken.IsCancellationRequested) return Task.FromCanceled<int>(cancellationToken);
        try
        {
            return Task.FromResult(Read(buffer, offset, count));
        }
        catch (Exception e)
        {
            return Task.FromException<int>(e);
        }
    }

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (cancellationToken.IsCancellationRequested) return ValueTask.FromCanceled<int>(cancellationToken);
        try
        {
            return ValueTask.FromResult(Read(buffer.Span));
        }
        catch (Exception e)
        {
            return ValueTask.FromException<int>(e);
        }
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
    {
        ValidateBufferArguments(buffer, offset, count);
        return WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();
    }

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (cancellationToken.IsCancellationRequested) return ValueTask.FromCanceled(cancellationToken);
        try
        {
            Write(buffer.Span);
            return ValueTask.CompletedTask;
        }
        catch (Exception e)
        {
            return ValueTask.FromException(e);
        }
    }

    public override Task FlushAsync(CancellationToken cancellationToken)
    {
        if (cancellationToken.IsCancellationRequested) return Task.FromCanceled(cancellationToken);
        try
        {
            Flush();
            return Task.CompletedTask;
        }
        catch (Exception e)
        {
            return Task.FromException(e);
        }
    }

    /// <summary>Reads this file synchronously and writes <paramref name="destination"/> asynchronously (it may be a network upload).</summary>
    public override async Task CopyToAsync(Stream destination, int bufferSize, CancellationToken cancellationToken)
    {
        ValidateCopyToArguments(destination, bufferSize);
        var buffer = ArrayPool<byte>.Shared.Rent(Math.Max(bufferSize, 1 << 16));
        try
        {
            int read;
            while ((read = Read(buffer, 0, buffer.Length)) > 0)
            {
                cancellationToken.ThrowIfCancellationRequested();
                await destination.WriteAsync(buffer.AsMemory(0, read), cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    public override ValueTask DisposeAsync()
    {
        try
        {
            Dispose();
            GC.SuppressFinalize(this);
            return ValueTask.CompletedTask;
        }
        catch (Exception e)
        {
            return ValueTask.FromException(e);
        }
    }
}
