using Curation.Pipelines.Embedding.Static;

namespace Curation.Pipelines.Semantic;

/// <summary>
/// The reduced space k-means assigns in (<c>clusterDims</c>): a <see cref="Pca"/> fitted on the first
/// <see cref="FitRows"/> rows of the k-means sample, rounded to float; a vector is centred, projected and
/// L2-normalised. The projection runs on the same panel kernels as k-means (<see cref="VectorKernels"/>: each output
/// coordinate one sequential FMA chain), so the projected bits, and hence every cluster, are the same on every machine.
/// </summary>
public sealed class ClusterProjection
{
    /// <summary>Rows of the sample the PCA sees: its covariance costs rows × dims² (here ~3·10⁹ multiply-adds at 384).</summary>
    public const int FitRows = 20_000;

    private readonly float[] _mean;
    private readonly float[] _components;
    private readonly float[] _packed;

    private ClusterProjection(int inputDims, int outputDims, float[] mean, float[] components, double explained)
    {
        (InputDims, OutputDims, _mean, _components, ExplainedFraction) = (inputDims, outputDims, mean, components, explained);
        _packed = VectorKernels.Pack(components, inputDims);
    }

    public int InputDims { get; }
    public int OutputDims { get; }

    /// <summary>Fraction of the sample's variance the kept components explain.</summary>
    public double ExplainedFraction { get; }

    public static ClusterProjection Fit(ReadOnlySpan<float> sample, int dimensions, int outputDims)
    {
        var rows = Math.Min(sample.Length / dimensions, FitRows);
        var pca = Pca.Fit(sample[..(rows * dimensions)], dimensions, outputDims);
        return new ClusterProjection(dimensions, outputDims, pca.Mean.Select(v => (float)v).ToArray(), pca.Components.Select(v => (float)v).ToArray(),
            pca.ExplainedFraction);
    }

    /// <summary>Rows of <paramref name="vectors"/> (<see cref="InputDims"/> each) centred, projected and normalised.</summary>
    public unsafe float[] Project(ReadOnlySpan<float> vectors)
    {
        var count = vectors.Length / InputDims;
        var result = new float[(long)count * OutputDims];
        var panels = VectorKernels.PaddedColumns(OutputDims) / VectorKernels.PanelWidth;
        var path = VectorKernels.BestPath;
        const int block = 8;
        var centred = new float[block * InputDims];
        var tile = new float[block * VectorKernels.PanelWidth];
        for (var start = 0; start < count; start += block)
        {
            var rows = Math.Min(block, count - start);
            for (var r = 0; r < rows; r++)
            {
                var row = vectors.Slice((start + r) * InputDims, InputDims);
                var into = centred.AsSpan(r * InputDims, InputDims);
                for (var d = 0; d < InputDims; d++) into[d] = row[d] - _mean[d];
            }
            for (var q = 0; q < panels; q++)
            {
                VectorKernels.DotTile(centred.AsSpan(0, rows * InputDims), InputDims, _packed, q, tile, path);
                for (var r = 0; r < rows; r++)
                    for (var lane = 0; lane < VectorKernels.PanelWidth && q * VectorKernels.PanelWidth + lane < OutputDims; lane++)
                        result[(long)(start + r) * OutputDims + q * VectorKernels.PanelWidth + lane] = tile[r * VectorKernels.PanelWidth + lane];
            }
            for (var r = 0; r < rows; r++)
            {
                var projected = result.AsSpan((start + r) * OutputDims, OutputDims);
                var norm = VectorKernels.Norm(projected);
                if (norm > 0) for (var c = 0; c < OutputDims; c++) projected[c] /= norm;
            }
        }
        return result;
    }

    /// <summary>input dims, output dims, explained fraction, then mean and components as floats.</summary>
    public byte[] ToBytes()
    {
        using var buffer = new MemoryStream();
        using (var writer = new BinaryWriter(buffer))
        {
            writer.Write(InputDims);
            writer.Write(OutputDims);
            writer.Write(ExplainedFraction);
            foreach (var v in _mean) writer.Write(v);
            foreach (var v in _components) writer.Write(v);
        }
        return buffer.ToArray();
    }

    /// <summary>
    /// The first <paramref name="outputDims"/> axes, uncentred: the projection of a stage no document reaches (nothing to
    /// fit it on, nothing ever projected), so that its later phases find the object they read.
    /// </summary>
    public static ClusterProjection Placeholder(int inputDims, int outputDims)
    {
        var components = new float[outputDims * inputDims];
        for (var i = 0; i < outputDims; i++) components[i * inputDims + i] = 1;
        return new ClusterProjection(inputDims, outputDims, new float[inputDims], components, 0);
    }

    public static ClusterProjection FromBytes(byte[] bytes)
    {
        using var reader = new BinaryReader(new MemoryStream(bytes));
        var (inputDims, outputDims, explained) = (reader.ReadInt32(), reader.ReadInt32(), reader.ReadDouble());
        var mean = new float[inputDims];
        for (var i = 0; i < mean.Length; i++) mean[i] = reader.ReadSingle();
        var components = new float[outputDims * inputDims];
        for (var i = 0; i < components.Length; i++) components[i] = reader.ReadSingle();
        return new ClusterProjection(inputDims, outputDims, mean, components, explained);
    }
}
