using System.Buffers;

namespace Curation.Pipelines.IO.Readers;

/// <summary>
/// A growable byte buffer for one record, pooled up to 1 MiB and allocated at the exact size past it (the pool
/// would round a limit up to the next power of two); it refuses to grow past its capacity limit.
/// </summary>
internal sealed class ByteBuffer(int capacityLimit) : IDisposable
{
    private const int PooledLimitBytes = 1024 * 1024;
    private byte[] _bytes = [];
    private bool _pooled;

    public int Length { get; private set; }
    public ReadOnlySpan<byte> Span => _bytes.AsSpan(0, Length);
    public int CapacityLimit { get; } = capacityLimit;

    public void Clear() => Length = 0;

    /// <summary>Room for <paramref name="count"/> more bytes, growing as needed; false when that passes the limit.</summary>
    public bool TryReserve(int count, out Memory<byte> free)
    {
        free = Memory<byte>.Empty;
        var needed = (long)Length + count;
        if (needed > CapacityLimit) return false;
        if (needed > _bytes.Length)
        {
            var size = (int)Math.Min(CapacityLimit, Math.Max(needed, Math.Max(4096, _bytes.Length * 2L)));
            var pooled = size <= PooledLimitBytes;
            var bigger = pooled ? ArrayPool<byte>.Shared.Rent(size) : GC.AllocateUninitializedArray<byte>(size);
            Span.CopyTo(bigger);
            Release();
            _bytes = bigger;
            _pooled = pooled;
        }
        free = _bytes.AsMemory(Length, count);
        return true;
    }

    /// <summary>All the room left up to the capacity limit, at least <paramref name="minimum"/> bytes when allowed.</summary>
    public Memory<byte> FreeSpace(int minimum)
    {
        if (_bytes.Length - Length < minimum) TryReserve(Math.Min(minimum, CapacityLimit - Length), out _);
        return _bytes.AsMemory(Length, Math.Min(_bytes.Length, CapacityLimit) - Length);
    }

    public void Advance(int count) => Length += count;

    public bool TryAppend(ReadOnlySpan<byte> bytes)
    {
        if (!TryReserve(bytes.Length, out var free)) return false;
        bytes.CopyTo(free.Span);
        Length += bytes.Length;
        return true;
    }

    private void Release()
    {
        if (_pooled) ArrayPool<byte>.Shared.Return(_bytes);
        _pooled = false;
        _bytes = [];
    }

    public void Dispose()
    {
        Release();
        Length = 0;
    }
}
