using Curation.Pipelines.Semantic;
using static Curation.Pipelines.Semantic.VectorKernels;

namespace Curation.Pipelines.Tests.Semantic;

public sealed class VectorKernelsTests
{
    private static readonly KernelPath[] Paths = [KernelPath.Scalar, KernelPath.Vector256, KernelPath.Vector512];

    [Theory]
    [InlineData(11, 45, 37)]
    [InlineData(16, 70, 384)]
    [InlineData(3, 5, 1)]
    public void Every_path_computes_the_sequential_fma_chain_bit_for_bit(int rowCount, int columns, int dimensions)
    {
        var rows = SemanticCorpus.RandomUnitRows(rowCount, dimensions, 1);
        var cols = SemanticCorpus.RandomUnitRows(columns, dimensions, 2);
        var packed = Pack(cols, dimensions);
        var tile = new float[rowCount * PanelWidth];
        foreach (var path in Paths)
            for (var q = 0; q * PanelWidth < columns; q++)
            {
                DotTile(rows, dimensions, packed, q, tile, path);
                for (var i = 0; i < rowCount; i++)
                    for (var l = 0; l < PanelWidth; l++)
                    {
                        var column = q * PanelWidth + l;
                        var expected = column < columns
                            ? SequentialDot(SemanticCorpus.Row(rows, dimensions, i), SemanticCorpus.Row(cols, dimensions, column))
                            : 0f;
                        Assert.Equal(BitConverter.SingleToInt32Bits(expected), BitConverter.SingleToInt32Bits(tile[i * PanelWidth + l]));
                    }
            }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(37)]
    [InlineData(384)]
    public void Pair_dot_has_the_same_bits_on_every_path(int dimensions)
    {
        var v = SemanticCorpus.RandomUnitRows(2, dimensions, 3);
        var x = v[..dimensions];
        var y = v[dimensions..];
        var bits = Paths.Select(path => BitConverter.SingleToInt32Bits(PairDot(x, y, path))).Distinct().ToArray();
        Assert.Single(bits);
        Assert.Equal(System.Numerics.Tensors.TensorPrimitives.Dot(x, y), PairDot(x, y), 5);
    }

    [Fact]
    public void Fixed_point_sums_do_not_depend_on_grouping()
    {
        const int d = 384;
        var rows = SemanticCorpus.RandomUnitRows(50, d, 4);
        var all = new long[d];
        for (var i = 0; i < 50; i++) FixedPoint.AddScaled(SemanticCorpus.Row(rows, d, i), all);
        var reversed = new long[d];
        for (var i = 49; i >= 0; i--)
        {
            var single = new long[d];
            FixedPoint.AddScaled(SemanticCorpus.Row(rows, d, i), single);
            FixedPoint.AddInto(single, reversed);
        }
        Assert.Equal(all, reversed);
        var scalar = new long[d];
        for (var i = 0; i < 50; i++)
            for (var p = 0; p < d; p++) scalar[p] += FixedPoint.Quantize(rows[i * d + p], FixedPoint.VectorScale);
        Assert.Equal(all, scalar);
    }
}
