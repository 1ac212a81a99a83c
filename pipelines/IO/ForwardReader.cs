using System.Buffers;

namespace Curation.Pipelines.IO;

/// <summary>
/// Reads byte ranges of a stream front to back through one pooled buffer: each range starts at or after the end of the
/// one before, and the bytes between are skipped (sought past where the stream can seek and the gap is longer than
/// the buffer, read and dropped otherwise). What it holds is the buffer, however long the stream: for lookups of a
/// few entries in an object that would be garbage when read whole.
/// </summary>
internal sealed class ForwardReader(Stream input, int bufferBytes = ForwardReader.DefaultBufferBytes) : IDisposable
{
    public const int DefaultBufferBytes = 16 * 1024;

    private byte[]? _buffer = ArrayPool<byte>.Shared.Rent(bufferBytes);
    private long _bufferStart; // stream position of _buffer[0]
    private int _filled;       // bytes of _buffer read from the stream; the stream stands at _bufferStart + _filled
    private long _end;         // the end of the last range read

    /// <summary>Bytes taken from the stream so far (read, including those read only to be dropped).</summary>
    public long BytesRead { get; private set; }

    /// <summary>
    /// Fills <paramref name="destination"/> with the stream's bytes from <paramref name="position"/> on; throws
    /// <see cref="EndOfStreamException"/> when the stream ends first.
    /// </summary>
    public async ValueTask ReadAsync(long position, Memory<byte> destination, CancellationToken cancellationToken)
    {
        var buffer = _buffer ?? throw new ObjectDisposedException(nameof(ForwardReader));
        if (position < _end)
            throw new ArgumentOutOfRangeException(nameof(position), position, $"a forward reader is at byte {_end}; it cannot go back");
        _end = position + destination.Length;
        while (destination.Length > 0)
        {
            var offset = position - _bufferStart;
            if (offset < _filled)
            {
                var count = (int)Math.Min(_filled - offset, destination.Length);
                buffer.AsMemory((int)offset, count).CopyTo(destination);
                destination = destination[count..];
                position += count;
                continue;
            }
            await FillAtAsync(buffer, position, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Refills the buffer so that it holds <paramref name="position"/>, which lies past what it holds now.</summary>
    private async ValueTask FillAtAsync(byte[] buffer, long position, CancellationToken cancellationToken)
    {
        var at = _bufferStart + _filled;
        if (position - at > buffer.Length && input.CanSeek)
        {
            input.Seek(position - at, SeekOrigin.Current);
            at = position;
        }
        while (true)
        {
            (_bufferStart, _filled) = (at, 0);
            var read = await input.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
            if (read == 0) throw new EndOfStreamException($"the stream ends at byte {at:N0}, before byte {position:N0}");
            BytesRead += read;
            _filled = read;
            if (position < at + read) return;
            at += read;
        }
    }

    public void Dispose()
    {
        if (_buffer is { } buffer) ArrayPool<byte>.Shared.Return(buffer);
        _buffer = null;
    }
}
