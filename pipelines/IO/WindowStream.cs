namespace Curation.Pipelines.IO;

/// <summary>
/// A seekable view of part of another stream, positions counted from the window's start: a routed shuffle's segment
/// read as a file of its own (<see cref="Reading"/>: a fixed byte range, reads stop at its end), or written as one
/// (<see cref="Appending"/>: from a start position to wherever the writer stops), so a Parquet reader or writer sees
/// offsets relative to the segment. The inner stream is never disposed by the window.
/// </summary>
public sealed class WindowStream : Stream
{
    private readonly Stream _inner;
    private readonly long _start;
    private readonly long? _length;
    private long _position;

    private WindowStream(Stream inner, long start, long? length) => (_inner, _start, _length) = (inner, start, length);

    /// <summary>Bytes [<paramref name="start"/>, <paramref name="start"/> + <paramref name="length"/>) of a seekable stream, read-only.</summary>
    public static WindowStream Reading(Stream inner, long start, long length)
    {
        ArgumentNullException.ThrowIfNull(inner);
        ArgumentOutOfRangeException.ThrowIfNegative(start);
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        return new WindowStream(inner, start, length);
    }

    /// <summary>A write-only window from the inner stream's current position on (its end: writes append).</summary>
    public static WindowStream Appending(Stream inner)
    {
        ArgumentNullException.ThrowIfNull(inner);
        return new WindowStream(inner, inner.Position, null);
    }

    public override bool CanRead => _length is not null;
    public override bool CanSeek => true;
    public override bool CanWrite => _length is null;
    public override long Length => _length ?? _inner.Length - _start;

    public override long Position
    {
        get => _length is null ? _inner.Position - _start : _position;
        set
        {
            ArgumentOutOfRangeException.ThrowIfNegative(value);
            if (_length is null) _inner.Position = _start + value;
            else _position = value;
        }
    }

    public override long Seek(long offset, SeekOrigin origin)
    {
        Position = origin switch
        {
            SeekOrigin.Begin => offset,
            SeekOrigin.Current => Position + offset,
            SeekOrigin.End => Length + offset,
            _ => throw new ArgumentOutOfRangeException(nameof(origin)),
        };
        return Position;
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        var count = Readable(buffer.Length);
        if (count == 0) return 0;
        _inner.Position = _start + _position;
        var read = _inner.Read(buffer[..count]);
        _position += read;
        return read;
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        var count = Readable(buffer.Length);
        if (count == 0) return 0;
        _inner.Position = _start + _position;
        var read = await _inner.ReadAsync(buffer[..count], cancellationToken).ConfigureAwait(false);
        _position += read;
        return read;
    }

    /// <summary>How many of <paramref name="wanted"/> bytes are left in the window (a reading window only).</summary>
    private int Readable(int wanted)
    {
        if (_length is not { } length) throw new NotSupportedException("An appending window is write-only.");
        return (int)Math.Clamp(length - _position, 0, wanted);
    }

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        ThrowIfReadOnly();
        _inner.Write(buffer);
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        ThrowIfReadOnly();
        return _inner.WriteAsync(buffer, cancellationToken);
    }

    private void ThrowIfReadOnly()
    {
        if (_length is not null) throw new NotSupportedException("A reading window is read-only.");
    }

    public override void Flush()
    {
        if (_length is null) _inner.Flush();
    }

    public override Task FlushAsync(CancellationToken cancellationToken) =>
        _length is null ? _inner.FlushAsync(cancellationToken) : Task.CompletedTask;

    public override void SetLength(long value) => throw new NotSupportedException("A window's length is fixed by its inner stream.");

    protected override void Dispose(bool disposing) { }

    public override ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
