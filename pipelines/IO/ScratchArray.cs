using System.Buffers;
using System.Runtime.CompilerServices;

namespace Curation.Pipelines.IO;

/// <summary>
/// Scratch buffers: from <see cref="ArrayPool{T}.Shared"/> up to <see cref="PooledLimitBytes"/>, allocated (uninitialized)
/// above it. The shared pool keeps what is returned to it, per size class, for the life of the process (the GC never
/// frees it): a buffer for one big record (a 60 MB text rents 64–256 MiB arrays) would stay committed after its task,
/// once per size class and thread. A big buffer is left to the GC instead, which
/// <see cref="Execution.LargeRecordRelease"/> collects after the task; its pages are only touched as far as written.
/// </summary>
public static class ScratchArray
{
    /// <summary>The largest buffer (in bytes) taken from and returned to the shared pool.</summary>
    public const int PooledLimitBytes = 1024 * 1024;

    /// <summary>At least <paramref name="length"/> elements (more when pooled); not cleared.</summary>
    public static T[] Rent<T>(int length) =>
        IsPooled<T>(length) ? ArrayPool<T>.Shared.Rent(length) : GC.AllocateUninitializedArray<T>(length);

    /// <summary>Gives back a buffer of <see cref="Rent{T}"/>: to the pool when it came from there.</summary>
    public static void Return<T>(T[] array)
    {
        if (IsPooled<T>(array.Length)) ArrayPool<T>.Shared.Return(array);
    }

    /// <summary>Whether a buffer of <paramref name="length"/> elements comes from (and goes back to) the pool.</summary>
    public static bool IsPooled<T>(int length) => (long)length * Unsafe.SizeOf<T>() <= PooledLimitBytes;
}
