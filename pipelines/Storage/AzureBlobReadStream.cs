using Azure;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using Polly;

namespace Curation.Pipelines.Storage;

/// <summary>
/// A seekable read stream over a large blob: ranged GETs of one buffer each, every one pinned to the ETag seen at open
/// (If-Match), each retried on transient failures by its own pipeline since it runs long after the open call returned.
/// </summary>
internal sealed class AzureBlobReadStream : Stream
{
    private readonly BlobClient _blob;
    private readonly string _location;
    private readonly string _key;
    private readonly ETag _etag;
    private readonly int _chunkSize;
    private readonly ResiliencePipeline _pipeline;
    private readonly int _maxAttempts;
    private byte[] _buffer;
    private long _bufferStart;
    private int _bufferLength;
    private long _position;

    public AzureBlobReadStream(BlobClient blob, string location, string key, BlobRangeRead first, int chunkSize, ResiliencePipeline pipeline,
        int maxAttempts)
    {
        _maxAttempts = maxAttempts;
        _blob = blob;
        _location = location;
        _key = key;
        _etag = first.ETag;
        _chunkSize = chunkSize;
        _pipeline = pipeline;
        Length = first.TotalLength;
        _buffer = first.Buffer;
        _bufferLength = first.Length;
    }

    public override bool CanRead => true;
    public override bool CanSeek => true;
    public override bool CanWrite => false;
    public override long Length { get; }

    public override long Position
    {
        get => _position;
        set
        {
            ArgumentOutOfRangeException.ThrowIfNegative(value);
            _position = value;
        }
    }

    public override long Seek(long offset, SeekOrigin origin)
    {
        Position = origin switch
        {
            SeekOrigin.Begin => offset,
            SeekOrigin.Current => _position + offset,
            SeekOrigin.End => Length + offset,
            _ => throw new ArgumentOutOfRangeException(nameof(origin)),
        };
        return _position;
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> destination, CancellationToken cancellationToken = default)
    {
        if (_position >= Length || destination.Length == 0) return 0;
        if (_position < _bufferStart || _position >= _bufferStart + _bufferLength)
            await FillAsync(_position, cancellationToken).ConfigureAwait(false);
        var offset = (int)(_position - _bufferStart);
        var count = Math.Min(destination.Length, _bufferLength - offset);
        _buffer.AsMemory(offset, count).CopyTo(destination);
        _position += count;
        return count;
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        => ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    // Synchronous callers block on the async path; the pipeline's readers are asynchronous.
    public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

    public override int Read(Span<byte> buffer)
    {
        var rented = new byte[buffer.Length];
        var read = Read(rented, 0, rented.Length);
        rented.AsSpan(0, read).CopyTo(buffer);
        return read;
    }

    private async Task FillAsync(long offset, CancellationToken cancellationToken)
    {
        var count = (int)Math.Min(_chunkSize, Length - offset);
        _bufferLength = 0; // the buffer is refilled in place: never serve it half-overwritten after a failure
        try
        {
            var chunk = await _pipeline.ExecuteAsync(
                static async (state, ct) => await DownloadRangeAsync(state.Self._blob, state.Offset, state.Count, state.Self._etag, ct, state.Self._buffer)
                    .ConfigureAwait(false),
                (Self: this, Offset: offset, Count: count), cancellationToken).ConfigureAwait(false);
            if (chunk.Length != count)
                throw new IOException($"{_location}/{_key}: expected {count} bytes at offset {offset}, got {chunk.Length}");
            _buffer = chunk.Buffer;
            _bufferStart = offset;
            _bufferLength = chunk.Length;
        }
        catch (RequestFailedException ex) when (ex.Status == 412)
        {
            throw new ObjectModifiedException(_location, _key, AzureBlobStore.Text(_etag), ex);
        }
        catch (RequestFailedException ex) when (ex.Status == 404)
        {
            throw new ObjectNotFoundException(_location, _key, ex);
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested && ResilientObjectStore.IsTransient(ex, cancellationToken))
        {
            throw new ObjectStoreUnavailableException(_location, _key, $"read-range (offset {offset})", _maxAttempts, ex);
        }
    }

    /// <summary>One ranged GET, read whole into a buffer (reused when large enough). Truncated bodies count as transient.</summary>
    internal static async Task<BlobRangeRead> DownloadRangeAsync(BlobClient blob, long offset, int count, ETag? ifMatch,
        CancellationToken cancellationToken, byte[]? reuse = null)
    {
        var options = new BlobDownloadOptions
        {
            Range = new HttpRange(offset, count),
            Conditions = ifMatch is { } etag ? new BlobRequestConditions { IfMatch = etag } : null,
        };
        using var response = (await blob.DownloadStreamingAsync(options, cancellationToken).ConfigureAwait(false)).Value;
        var details = response.Details;
        var expected = (int)Math.Min(count, details.ContentLength);
        var buffer = reuse is not null && reuse.Length >= expected ? reuse : new byte[expected];
        var read = 0;
        while (read < expected)
        {
            var n = await response.Content.ReadAsync(buffer.AsMemory(read, expected - read), cancellationToken).ConfigureAwait(false);
            if (n == 0) throw new IOException($"{blob.Uri}: response body ended after {read} of {expected} bytes");
            read += n;
        }
        return new BlobRangeRead(buffer, read, TotalLengthOf(details.ContentRange) ?? details.ContentLength, details.ETag);
    }

    /// <summary>"bytes 0-99/1234" → 1234; null when the server sent the whole blob.</summary>
    private static long? TotalLengthOf(string? contentRange)
    {
        if (string.IsNullOrEmpty(contentRange)) return null;
        var slash = contentRange.LastIndexOf('/');
        return slash >= 0 && long.TryParse(contentRange.AsSpan(slash + 1), out var total) ? total : null;
    }

    public override void Flush() { }
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}

/// <summary>What one ranged read returned: the bytes, the blob's whole length and the version they belong to.</summary>
internal readonly record struct BlobRangeRead(byte[] Buffer, int Length, long TotalLength, ETag ETag);
