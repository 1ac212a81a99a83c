using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Curation.Pipelines.Semantic;

/// <summary>
/// The dot-product kernels behind k-means assignment, k-means++ and the SemDeDup tiles: a register-blocked matrix
/// product of a few rows against a <em>panel</em> of 32 packed columns (the GEMM micro-kernel layout: the panel is
/// stored transposed, element (p, lane) at p × 32 + lane, so one step loads the 32 columns' p-th components, broadcasts
/// each row's p-th component and does one fused multiply-add per row and vector).
/// <para>
/// <b>Determinism across instruction sets.</b> Every dot product the panel kernel returns is the same sequential chain
/// <c>acc = fma(a[p], b[p], acc)</c> for p = 0 … d − 1 starting from +0 (<see cref="SequentialDot"/>): SIMD lanes hold
/// different <em>columns</em>, never different parts of one sum. AVX-512, AVX2 and the scalar fallback therefore give
/// bit-identical results, so a silo's vector width never changes a cluster assignment or a SemDeDup decision.
/// <see cref="PairDot(ReadOnlySpan{float}, ReadOnlySpan{float})"/> (one pair at a time: norms, cosine to a mean) uses a different but equally fixed order
/// (16 lanes, then a fixed halving tree) that every path reproduces exactly as well.
/// </para>
/// </summary>
internal static unsafe class VectorKernels
{
    public const int PanelWidth = 32;

    internal enum KernelPath { Scalar, Vector256, Vector512 }

    /// <summary>The fastest path this machine runs. Every path gives the same bits; tests compare them.</summary>
    public static readonly KernelPath BestPath =
        Vector512.IsHardwareAccelerated ? KernelPath.Vector512
        : Vector256.IsHardwareAccelerated ? KernelPath.Vector256
        : KernelPath.Scalar;

    public static int PaddedColumns(int count) => (count + PanelWidth - 1) / PanelWidth * PanelWidth;

    /// <summary>Floats a packed block of <paramref name="count"/> columns occupies.</summary>
    public static long PackedLength(int count, int dimensions) => (long)PaddedColumns(count) * dimensions;

    /// <summary>
    /// Packs rows <paramref name="first"/> … first + count − 1 (through <paramref name="rowIndexes"/> when not null) of a
    /// row-major matrix into panels: panel q holds columns [32q, 32q + 32) as a d × 32 block; missing columns are zero.
    /// </summary>
    public static void Pack(float* source, int dimensions, int* rowIndexes, int first, int count, float* destination)
    {
        new Span<float>(destination, checked((int)PackedLength(count, dimensions))).Clear();
        for (var c = 0; c < count; c++)
        {
            var row = rowIndexes == null ? first + c : rowIndexes[first + c];
            var src = source + (long)row * dimensions;
            var dst = destination + (long)(c / PanelWidth) * dimensions * PanelWidth + c % PanelWidth;
            for (var p = 0; p < dimensions; p++) dst[(long)p * PanelWidth] = src[p];
        }
    }

    /// <summary>Writes one packed column into a panel layout: the inverse of <see cref="Unpack"/>.</summary>
    public static void PackColumn(ReadOnlySpan<float> row, Span<float> packed, int column)
    {
        var dimensions = row.Length;
        var at = (long)(column / PanelWidth) * dimensions * PanelWidth + column % PanelWidth;
        for (var p = 0; p < dimensions; p++) packed[checked((int)(at + (long)p * PanelWidth))] = row[p];
    }

    /// <summary>Copies column <paramref name="column"/> of packed panels back into a row of <paramref name="dimensions"/> floats.</summary>
    public static void Unpack(float* panels, int dimensions, int column, Span<float> row)
    {
        var src = panels + (long)(column / PanelWidth) * dimensions * PanelWidth + column % PanelWidth;
        for (var p = 0; p < dimensions; p++) row[p] = src[(long)p * PanelWidth];
    }

    /// <summary>Safe form of <see cref="Pack(float*, int, int*, int, int, float*)"/> for contiguous rows.</summary>
    internal static float[] Pack(ReadOnlySpan<float> source, int dimensions)
    {
        var count = source.Length / dimensions;
        var packed = new float[PackedLength(count, dimensions)];
        fixed (float* s = source, d = packed) Pack(s, dimensions, null, 0, count, d);
        return packed;
    }

    /// <summary>Safe form of <see cref="DotTile(float**, int, float*, int, float*, KernelPath)"/>: contiguous rows against panel q.</summary>
    internal static void DotTile(ReadOnlySpan<float> rows, int dimensions, ReadOnlySpan<float> packed, int panel, Span<float> tile, KernelPath path)
    {
        var rowCount = rows.Length / dimensions;
        if (tile.Length < rowCount * PanelWidth) throw new ArgumentException("The tile is too small.", nameof(tile));
        var pointers = stackalloc float*[rowCount];
        fixed (float* r = rows, p = packed, t = tile)
        {
            for (var i = 0; i < rowCount; i++) pointers[i] = r + (long)i * dimensions;
            DotTile(pointers, rowCount, p + (long)panel * PanelWidth * dimensions, dimensions, t, path);
        }
    }

    /// <summary>tile[r × 32 + lane] = dot(rows[r], panel column lane) for r &lt; rowCount.</summary>
    public static void DotTile(float** rows, int rowCount, float* panel, int dimensions, float* tile, KernelPath path)
    {
        var r = 0;
        switch (path)
        {
            case KernelPath.Vector512:
                for (; r + 8 <= rowCount; r += 8) Kernel512x8(rows + r, panel, dimensions, tile + r * PanelWidth);
                for (; r < rowCount; r++) Kernel512x1(rows[r], panel, dimensions, tile + r * PanelWidth);
                break;
            case KernelPath.Vector256:
                for (; r + 2 <= rowCount; r += 2) Kernel256x2(rows + r, panel, dimensions, tile + r * PanelWidth);
                for (; r < rowCount; r++) Kernel256x1(rows[r], panel, dimensions, tile + r * PanelWidth);
                break;
            default:
                for (; r < rowCount; r++) KernelScalar(rows[r], panel, dimensions, tile + r * PanelWidth);
                break;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Kernel512x8(float** rows, float* b, int dimensions, float* tile)
    {
        float* a0 = rows[0], a1 = rows[1], a2 = rows[2], a3 = rows[3], a4 = rows[4], a5 = rows[5], a6 = rows[6], a7 = rows[7];
        Vector512<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default,
            c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default,
            c60 = default, c61 = default, c70 = default, c71 = default;
        for (var p = 0; p < dimensions; p++, b += PanelWidth)
        {
            var b0 = Vector512.Load(b);
            var b1 = Vector512.Load(b + 16);
            var a = Vector512.Create(a0[p]);
            c00 = Vector512.FusedMultiplyAdd(a, b0, c00); c01 = Vector512.FusedMultiplyAdd(a, b1, c01);
            a = Vector512.Create(a1[p]);
            c10 = Vector512.FusedMultiplyAdd(a, b0, c10); c11 = Vector512.FusedMultiplyAdd(a, b1, c11);
            a = Vector512.Create(a2[p]);
            c20 = Vector512.FusedMultiplyAdd(a, b0, c20); c21 = Vector512.FusedMultiplyAdd(a, b1, c21);
            a = Vector512.Create(a3[p]);
            c30 = Vector512.FusedMultiplyAdd(a, b0, c30); c31 = Vector512.FusedMultiplyAdd(a, b1, c31);
            a = Vector512.Create(a4[p]);
            c40 = Vector512.FusedMultiplyAdd(a, b0, c40); c41 = Vector512.FusedMultiplyAdd(a, b1, c41);
            a = Vector512.Create(a5[p]);
            c50 = Vector512.FusedMultiplyAdd(a, b0, c50); c51 = Vector512.FusedMultiplyAdd(a, b1, c51);
            a = Vector512.Create(a6[p]);
            c60 = Vector512.FusedMultiplyAdd(a, b0, c60); c61 = Vector512.FusedMultiplyAdd(a, b1, c61);
            a = Vector512.Create(a7[p]);
            c70 = Vector512.FusedMultiplyAdd(a, b0, c70); c71 = Vector512.FusedMultiplyAdd(a, b1, c71);
        }
        c00.Store(tile); c01.Store(tile + 16);
        c10.Store(tile + 32); c11.Store(tile + 48);
        c20.Store(tile + 64); c21.Store(tile + 80);
        c30.Store(tile + 96); c31.Store(tile + 112);
        c40.Store(tile + 128); c41.Store(tile + 144);
        c50.Store(tile + 160); c51.Store(tile + 176);
        c60.Store(tile + 192); c61.Store(tile + 208);
        c70.Store(tile + 224); c71.Store(tile + 240);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Kernel512x1(float* a0, float* b, int dimensions, float* tile)
    {
        Vector512<float> c0 = default, c1 = default;
        for (var p = 0; p < dimensions; p++, b += PanelWidth)
        {
            var a = Vector512.Create(a0[p]);
            c0 = Vector512.FusedMultiplyAdd(a, Vector512.Load(b), c0);
            c1 = Vector512.FusedMultiplyAdd(a, Vector512.Load(b + 16), c1);
        }
        c0.Store(tile); c1.Store(tile + 16);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Kernel256x2(float** rows, float* b, int dimensions, float* tile)
    {
        float* a0 = rows[0], a1 = rows[1];
        Vector256<float> c00 = default, c01 = default, c02 = default, c03 = default,
            c10 = default, c11 = default, c12 = default, c13 = default;
        for (var p = 0; p < dimensions; p++, b += PanelWidth)
        {
            var b0 = Vector256.Load(b);
            var b1 = Vector256.Load(b + 8);
            var b2 = Vector256.Load(b + 16);
            var b3 = Vector256.Load(b + 24);
            var a = Vector256.Create(a0[p]);
            c00 = Vector256.FusedMultiplyAdd(a, b0, c00); c01 = Vector256.FusedMultiplyAdd(a, b1, c01);
            c02 = Vector256.FusedMultiplyAdd(a, b2, c02); c03 = Vector256.FusedMultiplyAdd(a, b3, c03);
            a = Vector256.Create(a1[p]);
            c10 = Vector256.FusedMultiplyAdd(a, b0, c10); c11 = Vector256.FusedMultiplyAdd(a, b1, c11);
            c12 = Vector256.FusedMultiplyAdd(a, b2, c12); c13 = Vector256.FusedMultiplyAdd(a, b3, c13);
        }
        c00.Store(tile); c01.Store(tile + 8); c02.Store(tile + 16); c03.Store(tile + 24);
        c10.Store(tile + 32); c11.Store(tile + 40); c12.Store(tile + 48); c13.Store(tile + 56);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Kernel256x1(float* a0, float* b, int dimensions, float* tile)
    {
        Vector256<float> c0 = default, c1 = default, c2 = default, c3 = default;
        for (var p = 0; p < dimensions; p++, b += PanelWidth)
        {
            var a = Vector256.Create(a0[p]);
            c0 = Vector256.FusedMultiplyAdd(a, Vector256.Load(b), c0);
            c1 = Vector256.FusedMultiplyAdd(a, Vector256.Load(b + 8), c1);
            c2 = Vector256.FusedMultiplyAdd(a, Vector256.Load(b + 16), c2);
            c3 = Vector256.FusedMultiplyAdd(a, Vector256.Load(b + 24), c3);
        }
        c0.Store(tile); c1.Store(tile + 8); c2.Store(tile + 16); c3.Store(tile + 24);
    }

    private static void KernelScalar(float* a0, float* b, int dimensions, float* tile)
    {
        var acc = stackalloc float[PanelWidth];
        new Span<float>(acc, PanelWidth).Clear();
        for (var p = 0; p < dimensions; p++, b += PanelWidth)
        {
            var a = a0[p];
            for (var l = 0; l < PanelWidth; l++) acc[l] = MathF.FusedMultiplyAdd(a, b[l], acc[l]);
        }
        new ReadOnlySpan<float>(acc, PanelWidth).CopyTo(new Span<float>(tile, PanelWidth));
    }

    /// <summary>
    /// Running arg-max over a dot tile (k-means assignment): per row, 8 lanes of best value and its column. A lane takes
    /// a column only when strictly greater, and columns arrive in increasing order, so after <see cref="FinishArgMax"/>
    /// the winner is the largest dot and, among equal dots, the lowest column: the same on every path.
    /// </summary>
    public static void ArgMaxUpdate(float* tile, int rowCount, int columnBase, int validColumns, float* best, int* bestIndex)
    {
        if (Vector256.IsHardwareAccelerated)
        {
            var lane = Vector256.Create(0, 1, 2, 3, 4, 5, 6, 7);
            var limit = Vector256.Create(validColumns);
            for (var r = 0; r < rowCount; r++)
            {
                var bv = Vector256.Load(best + r * 8);
                var bi = Vector256.Load(bestIndex + r * 8);
                for (var h = 0; h < PanelWidth; h += 8)
                {
                    var column = lane + Vector256.Create(h);
                    var v = Vector256.Load(tile + r * PanelWidth + h);
                    var take = Vector256.GreaterThan(v, bv) & Vector256.LessThan(column, limit).AsSingle();
                    bv = Vector256.ConditionalSelect(take, v, bv);
                    bi = Vector256.ConditionalSelect(take.AsInt32(), column + Vector256.Create(columnBase), bi);
                }
                bv.Store(best + r * 8);
                bi.Store(bestIndex + r * 8);
            }
            return;
        }
        for (var r = 0; r < rowCount; r++)
            for (var c = 0; c < Math.Min(validColumns, PanelWidth); c++)
            {
                var v = tile[r * PanelWidth + c];
                var slot = r * 8 + (c & 7);
                if (v > best[slot]) { best[slot] = v; bestIndex[slot] = columnBase + c; }
            }
    }

    /// <summary>Reduces a row's 8 lanes: largest value, lowest column among equals; −1 when no lane took a column.</summary>
    public static int FinishArgMax(float* best, int* bestIndex, out float value)
    {
        var index = -1;
        value = float.NegativeInfinity;
        for (var l = 0; l < 8; l++)
        {
            if (bestIndex[l] < 0) continue;
            if (index < 0 || best[l] > value || (best[l] == value && bestIndex[l] < index)) { value = best[l]; index = bestIndex[l]; }
        }
        return index;
    }

    /// <summary>
    /// SemDeDup's column maximum over a dot tile: for each column j (rank colRank0 + lane) and each row i (rank
    /// rowRank0 + r) with i &lt; j, M[j] and its arg-max row take the dot when it is larger, or equal with an earlier row.
    /// That rule makes the result independent of the order tiles are fed in (a stream of blocks gives the same M and
    /// twin as the in-memory loop). M starts at 0 with twin −1 (SemDeDup's upper-triangular matrix holds zeros below the
    /// diagonal, so M = max(0, …)).
    /// </summary>
    public static void MaxSimilarityUpdate(float* tile, int rowCount, int rowRank0, int colRank0, float* maxSimilarity, int* twin)
    {
        if (Vector256.IsHardwareAccelerated)
        {
            var lane = Vector256.Create(0, 1, 2, 3, 4, 5, 6, 7);
            for (var h = 0; h < PanelWidth; h += 8)
            {
                var mv = Vector256.Load(maxSimilarity + h);
                var tv = Vector256.Load(twin + h);
                var column = lane + Vector256.Create(colRank0 + h);
                for (var r = 0; r < rowCount; r++)
                {
                    var i = Vector256.Create(rowRank0 + r);
                    var v = Vector256.Load(tile + r * PanelWidth + h);
                    var better = Vector256.GreaterThan(v, mv).AsInt32()
                                 | (Vector256.Equals(v, mv).AsInt32() & Vector256.LessThan(i, tv));
                    var take = better & Vector256.GreaterThan(column, i);
                    mv = Vector256.ConditionalSelect(take.AsSingle(), v, mv);
                    tv = Vector256.ConditionalSelect(take, i, tv);
                }
                mv.Store(maxSimilarity + h);
                tv.Store(twin + h);
            }
            return;
        }
        for (var c = 0; c < PanelWidth; c++)
            for (var r = 0; r < rowCount; r++)
            {
                var i = rowRank0 + r;
                if (i >= colRank0 + c) continue;
                var v = tile[r * PanelWidth + c];
                if (v > maxSimilarity[c] || (v == maxSimilarity[c] && i < twin[c])) { maxSimilarity[c] = v; twin[c] = i; }
            }
    }

    /// <summary>The reference for what the panel kernel computes: one sequential fused multiply-add chain.</summary>
    public static float SequentialDot(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        var acc = 0f;
        for (var p = 0; p < a.Length; p++) acc = MathF.FusedMultiplyAdd(a[p], b[p], acc);
        return acc;
    }

    /// <summary>
    /// One dot product in a fixed order every path reproduces: component p goes to lane p mod 16 (a sequential fused
    /// multiply-add chain per lane), then lanes are summed by halving (l += l + 8, l += l + 4, l += l + 2, l += l + 1).
    /// </summary>
    public static float PairDot(ReadOnlySpan<float> x, ReadOnlySpan<float> y) => PairDot(x, y, BestPath);

    internal static float PairDot(ReadOnlySpan<float> x, ReadOnlySpan<float> y, KernelPath path)
    {
        if (x.Length != y.Length) throw new ArgumentException("Vectors differ in length.");
        var n = x.Length;
        var body = n & ~15;
        var lanes = stackalloc float[16];
        fixed (float* px = x, py = y)
        {
            var i = 0;
            switch (path)
            {
                case KernelPath.Vector512:
                {
                    var acc = Vector512<float>.Zero;
                    for (; i < body; i += 16) acc = Vector512.FusedMultiplyAdd(Vector512.Load(px + i), Vector512.Load(py + i), acc);
                    acc.Store(lanes);
                    break;
                }
                case KernelPath.Vector256:
                {
                    Vector256<float> lo = Vector256<float>.Zero, hi = Vector256<float>.Zero;
                    for (; i < body; i += 16)
                    {
                        lo = Vector256.FusedMultiplyAdd(Vector256.Load(px + i), Vector256.Load(py + i), lo);
                        hi = Vector256.FusedMultiplyAdd(Vector256.Load(px + i + 8), Vector256.Load(py + i + 8), hi);
                    }
                    lo.Store(lanes); hi.Store(lanes + 8);
                    break;
                }
                default:
                    for (var l = 0; l < 16; l++) lanes[l] = 0f;
                    for (; i < body; i++) lanes[i & 15] = MathF.FusedMultiplyAdd(px[i], py[i], lanes[i & 15]);
                    break;
            }
            for (; i < n; i++) lanes[i & 15] = MathF.FusedMultiplyAdd(px[i], py[i], lanes[i & 15]);
        }
        for (var width = 8; width >= 1; width /= 2)
            for (var l = 0; l < width; l++) lanes[l] += lanes[l + width];
        return lanes[0];
    }

    /// <summary>Euclidean norm through <see cref="PairDot(ReadOnlySpan{float}, ReadOnlySpan{float})"/>: the same bits on every machine.</summary>
    public static float Norm(ReadOnlySpan<float> x) => MathF.Sqrt(PairDot(x, x));
}
