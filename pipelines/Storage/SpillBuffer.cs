namespace Curation.Pipelines.Storage;

/// <summary>
/// A read/write/seek buffer that lives in memory until it grows past a threshold, then moves to a temp file
/// (deleted on dispose). Lets a producer run once while the upload that follows can be rewound and repeated.
/// </summary>
internal sealed class SpillBuffer(int memoryThreshold) : Stream
{
    private Stream _inner = new MemoryStream();
    private bool _spilled;

    public bool IsSpilled => _spilled;

    public override bool CanRead => true;
    public override bool CanSeek => true;
    public override bool CanWrite => true;
    public override long Length => _inner.Length;

    public override long Position
    {
        get => _inner.Position;
        set => _inner.Position = value;
    }

    public override int Read(byte[] buffer, int offset, int count) => _inner.Read(buffer, offset, count);
    public override int Read(Span<byte> buffer) => _inner.Read(buffer);

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        => _inner.ReadAsync(buffer, offset, count, cancellationToken);

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        => _inner.ReadAsync(buffer, cancellationToken);

    public override long Seek(long offset, SeekOrigin origin) => _inner.Seek(offset, origin);

    public override void SetLength(long value)
    {
        SpillIfOver(value);
        _inner.SetLength(value);
    }

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        SpillIfOver(_inner.Position + buffer.Length);
        _inner.Write(buffer);
    }

    public override void WriteByte(byte value)
    {
        SpillIfOver(_inner.Position + 1);
        _inner.WriteByte(value);
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        => WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        SpillIfOver(_inner.Position + buffer.Length);
        return _inner.WriteAsync(buffer, cancellationToken);
    }

    public override void Flush() => _inner.Flush();
    public override Task FlushAsync(CancellationToken cancellationToken) => _inner.FlushAsync(cancellationToken);

    private void SpillIfOver(long size)
    {
        if (_spilled || size <= memoryThreshold) return;
        var memory = (MemoryStream)_inner;
        var file = new FileStream(Path.Combine(Path.GetTempPath(), $"curation-upload-{Guid.NewGuid():N}.part"), FileMode.CreateNew,
            FileAccess.ReadWrite, FileShare.None, 1 << 16, FileOptions.Asynchronous | FileOptions.DeleteOnClose);
        var position = memory.Position;
        memory.Position = 0;
        memory.CopyTo(file);
        file.Position = position;
        _inner = file;
        _spilled = true;
        memory.Dispose();
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing) _inner.Dispose();
        base.Dispose(disposing);
    }

    public override async ValueTask DisposeAsync()
    {
        await _inner.DisposeAsync().ConfigureAwait(false);
        await base.DisposeAsync().ConfigureAwait(false);
    }
}
