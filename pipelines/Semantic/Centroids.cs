namespace Curation.Pipelines.Semantic;

/// <summary>
/// k L2-normalised centroids of <see cref="Dimensions"/> components, row-major. Immutable: shards may share one
/// instance across threads. Small enough (k × d floats) to travel in a grain call.
/// </summary>
public sealed class Centroids
{
    private readonly float[] _values;
    private float[]? _packed;

    /// <param name="values">k × d components, row-major; the array is owned by this instance from now on.</param>
    public Centroids(float[] values, int dimensions)
    {
        ArgumentNullException.ThrowIfNull(values);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(dimensions);
        if (values.Length == 0 || values.Length % dimensions != 0)
            throw new ArgumentException($"{values.Length} values are not a whole number (≥ 1) of {dimensions}-dimensional centroids.", nameof(values));
        _values = values;
        Dimensions = dimensions;
        Count = values.Length / dimensions;
    }

    public int Count { get; }
    public int Dimensions { get; }

    /// <summary>All components, row-major.</summary>
    public ReadOnlySpan<float> Values => _values;

    public ReadOnlySpan<float> this[int cluster] => _values.AsSpan(cluster * Dimensions, Dimensions);

    public float[] ToArray() => (float[])_values.Clone();

    /// <summary>True when both hold exactly the same bits.</summary>
    public bool BitwiseEquals(Centroids other) =>
        other.Dimensions == Dimensions && _values.AsSpan().SequenceEqual(other._values);

    /// <summary>The centroids packed as kernel panels, built once on first use.</summary>
    internal unsafe float[] Packed
    {
        get
        {
            if (_packed is { } ready) return ready;
            var packed = new float[VectorKernels.PackedLength(Count, Dimensions)];
            fixed (float* source = _values, destination = packed)
                VectorKernels.Pack(source, Dimensions, null, 0, Count, destination);
            return Interlocked.CompareExchange(ref _packed, packed, null) ?? packed;
        }
    }
}
