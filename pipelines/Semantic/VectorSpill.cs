using System.IO.MemoryMappedFiles;
using System.Runtime.InteropServices;

namespace Curation.Pipelines.Semantic;

/// <summary>
/// Vectors appended to a local temporary file, then memory-mapped read-only: a cluster larger than memory is paged by
/// the operating system instead of living on the managed heap, and the pairwise kernels read it through a pointer.
/// The file is deleted when the spill is disposed.
/// </summary>
public sealed unsafe class VectorSpill : IDisposable
{
    private readonly FileStream _file;
    private MemoryMappedFile? _map;
    private MemoryMappedViewAccessor? _view;
    private byte* _pointer;

    public VectorSpill(int dimensions, string? directory = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(dimensions);
        Dimensions = dimensions;
        var path = Path.Combine(directory ?? Path.GetTempPath(), $"curation-spill-{Guid.NewGuid():N}.f32");
        _file = new FileStream(path, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, 1 << 20, FileOptions.DeleteOnClose);
    }

    public int Dimensions { get; }

    /// <summary>Vectors appended so far.</summary>
    public int Count { get; private set; }

    public bool IsSealed { get; private set; }

    /// <summary>Appends one vector; returns its row number.</summary>
    public int Append(ReadOnlySpan<float> vector)
    {
        if (IsSealed) throw new InvalidOperationException("The spill is sealed.");
        if (vector.Length != Dimensions) throw new ArgumentException($"A vector of {vector.Length} values in a spill of {Dimensions} dimensions.", nameof(vector));
        _file.Write(MemoryMarshal.AsBytes(vector));
        return Count++;
    }

    /// <summary>The first row of a sealed spill (null when it is empty).</summary>
    public float* Pointer => IsSealed ? (float*)_pointer : throw new InvalidOperationException("Seal the spill before reading it.");

    /// <summary>Ends appending and maps the file.</summary>
    public void Seal()
    {
        if (IsSealed) return;
        IsSealed = true;
        _file.Flush();
        if (Count == 0) return;
        _map = MemoryMappedFile.CreateFromFile(_file, null, 0, MemoryMappedFileAccess.Read, HandleInheritability.None, leaveOpen: true);
        _view = _map.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read);
        _view.SafeMemoryMappedViewHandle.AcquirePointer(ref _pointer);
        _pointer += _view.PointerOffset;
    }

    /// <summary>Row <paramref name="row"/> of a sealed spill.</summary>
    public ReadOnlySpan<float> Row(int row)
    {
        if (!IsSealed) throw new InvalidOperationException("Seal the spill before reading it.");
        if ((uint)row >= (uint)Count) throw new ArgumentOutOfRangeException(nameof(row));
        return new ReadOnlySpan<float>((float*)_pointer + (long)row * Dimensions, Dimensions);
    }

    public void Dispose()
    {
        if (_view is not null)
        {
            _view.SafeMemoryMappedViewHandle.ReleasePointer();
            _view.Dispose();
        }
        _map?.Dispose();
        _file.Dispose();
        _pointer = null;
    }
}
