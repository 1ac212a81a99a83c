namespace Curation.Pipelines.Semantic;

/// <summary>Which member of a group of near duplicates survives: the order members are ranked in.</summary>
public enum SemDeDupOrder
{
    /// <summary>Farthest from the centroid first: the least prototypical member is kept (SemDeDup's default).</summary>
    Hard,

    /// <summary>Nearest to the centroid first.</summary>
    Easy,

    /// <summary>A seeded shuffle: by a seeded hash of the document id.</summary>
    Random,
}

/// <summary>
/// The SemDeDup rule within one cluster (Abbas et al. 2023; NeMo Curator's <c>semdedup_utils</c>):
/// <list type="number">
/// <item>rank the members (<see cref="Rank"/>): by distance to the centroid, farthest first for
/// <see cref="SemDeDupOrder.Hard"/>, nearest first for <see cref="SemDeDupOrder.Easy"/>, by seeded id hash for
/// <see cref="SemDeDupOrder.Random"/>; ties always by document id, ordinal ascending;</item>
/// <item>for the member at rank j, M_j = max(0, max over ranks i &lt; j of cos(x_i, x_j)) and its twin is the i that
/// gives it (the earliest such i on ties; none while M_j is 0);</item>
/// <item>remove it when M_j ≥ 1 − eps (<see cref="IsDuplicate"/>). Not connected components.</item>
/// </list>
/// <para>
/// <b>Earlier members count whether or not they are removed themselves.</b> The reference implementations take M as
/// the column maximum of the upper triangle of the full pairwise matrix (<c>torch.triu(S, 1).max(dim=0)</c>), so a
/// member is compared with every earlier member, removed or kept. That is what we compute, for two reasons: M is then a
/// property of the ranking alone, computed once, which is what makes the eps curve (every eps from one pass) and the
/// keep-fraction pick of SemDeDup §6.5 possible; and our numbers match the paper's and NeMo's. The consequence is that a
/// chain a ~ b ~ c (a kept, b removed as a's duplicate) removes c even when c is not within eps of a.
/// </para>
/// <para>
/// <b>Lineage.</b> <see cref="ClusterDuplicates.Twin"/> is the member that gave M: always ≥ 1 − eps similar to the
/// removed member, but possibly removed itself. <see cref="SemDeDupDecision.KeptTwin"/> follows that chain of twins to
/// the first kept member (it ends: a twin always ranks earlier, and the first-ranked member has M = 0 and is kept), so
/// every dropped document points at a document that is in the output. Along a chain the similarity may fall below
/// 1 − eps; the direct twin is recorded beside it for that reason.
/// </para>
/// <para>
/// <b>Bounded memory.</b> M is computed in column blocks of <c>tileSize</c> members: a block is packed once (tileSize × d
/// floats) and every earlier member streams past it 8 at a time through the panel kernel, updating the block's running
/// maxima; the n × n matrix never exists. Extra memory: O(tileSize · d + n). Same dot-product bits as
/// <see cref="VectorKernels.SequentialDot"/> on every instruction set.
/// </para>
/// Differences from NeMo worth knowing: NeMo breaks distance ties by id descending for "hard" (ascending for "easy");
/// we always use ascending ordinal id. NeMo's "random" is a pandas shuffle with a fixed state; ours is a seeded hash of
/// the id, so a member's place never depends on the input order.
/// </summary>
public static class SemDeDup
{
    public const int DefaultTileSize = 512;

    /// <summary>The removal rule, one definition for every caller: M ≥ 1 − eps (in double).</summary>
    public static bool IsDuplicate(float maxSimilarity, double eps) => maxSimilarity >= 1.0 - eps;

    /// <summary>The ranking: element r is the index of the member ranked r-th.</summary>
    public static int[] Rank(ReadOnlySpan<float> distances, IReadOnlyList<string> ids, SemDeDupOrder order, ulong seed = 0)
    {
        ArgumentNullException.ThrowIfNull(ids);
        if (ids.Count != distances.Length) throw new ArgumentException($"{ids.Count} ids for {distances.Length} distances.", nameof(ids));
        var n = distances.Length;
        var ranking = new int[n];
        for (var i = 0; i < n; i++) ranking[i] = i;
        Comparison<int> compare;
        switch (order)
        {
            case SemDeDupOrder.Hard:
            {
                var d = distances.ToArray();
                compare = (a, b) => d[b].CompareTo(d[a]) is var c && c != 0 ? c : ById(ids, a, b);
                break;
            }
            case SemDeDupOrder.Easy:
            {
                var d = distances.ToArray();
                compare = (a, b) => d[a].CompareTo(d[b]) is var c && c != 0 ? c : ById(ids, a, b);
                break;
            }
            case SemDeDupOrder.Random:
            {
                var keys = new ulong[n];
                for (var i = 0; i < n; i++) keys[i] = StableRandom.KeyOf(ids[i], seed);
                compare = (a, b) => keys[a].CompareTo(keys[b]) is var c && c != 0 ? c : ById(ids, a, b);
                break;
            }
            default:
                throw new ArgumentOutOfRangeException(nameof(order), order, null);
        }
        Array.Sort(ranking, compare);
        return ranking;
    }

    private static int ById(IReadOnlyList<string> ids, int a, int b)
    {
        var c = string.CompareOrdinal(ids[a], ids[b]);
        return c != 0 ? c : a.CompareTo(b);
    }

    /// <summary>Ranks the members and computes M and twins: <see cref="Rank"/> then <see cref="ComputeMaxSimilarity"/>.</summary>
    public static ClusterDuplicates Run(ReadOnlySpan<float> vectors, int dimensions, ReadOnlySpan<float> distances, IReadOnlyList<string> ids,
        SemDeDupOrder order = SemDeDupOrder.Hard, ulong seed = 0, int tileSize = DefaultTileSize) =>
        ComputeMaxSimilarity(vectors, dimensions, Rank(distances, ids, order, seed), tileSize);

    /// <summary>
    /// M and twins for members held in memory in any order (row i of <paramref name="vectors"/> is member i), ranked by
    /// <paramref name="ranking"/> (element r = member ranked r-th; the array is kept by the result).
    /// </summary>
    public static unsafe ClusterDuplicates ComputeMaxSimilarity(ReadOnlySpan<float> vectors, int dimensions, int[] ranking, int tileSize = DefaultTileSize)
    {
        ArgumentNullException.ThrowIfNull(ranking);
        var n = SphericalKMeans.RowCount(vectors, dimensions);
        if (ranking.Length != n) throw new ArgumentException($"A ranking of {ranking.Length} for {n} members.", nameof(ranking));
        CheckPermutation(ranking);
        var accumulator = new MaxSimilarityAccumulator(n, dimensions, tileSize);
        fixed (float* source = vectors)
        fixed (int* rows = ranking)
            accumulator.AccumulateAll(source, rows);
        return accumulator.ToResult(ranking);
    }

    /// <summary>
    /// M and twins, by rank, for members that live anywhere addressable — e.g. a memory-mapped spill file, so the
    /// vectors never enter the managed heap: the member ranked r-th is row <c>rowOfRank[r]</c> of <paramref name="source"/>.
    /// Returns M by rank and the rank of each member's twin (−1 when M is 0). With <paramref name="firstScored"/> &gt; 0 the
    /// members ranked before it are compared with later ones but get no M of their own (0, no twin): they are already
    /// decided (a versioned corpus' curated members, ranked first), so the pairs among them are never computed.
    /// </summary>
    public static unsafe (float[] MaxByRank, int[] TwinRankByRank) ComputeRanked(float* source, int dimensions, int[] rowOfRank, int tileSize = DefaultTileSize,
        int firstScored = 0)
    {
        ArgumentNullException.ThrowIfNull(rowOfRank);
        ArgumentOutOfRangeException.ThrowIfNegative(firstScored);
        var accumulator = new MaxSimilarityAccumulator(rowOfRank.Length, dimensions, tileSize);
        if (rowOfRank.Length > 0)
            fixed (int* rows = rowOfRank)
                accumulator.AccumulateAll(source, rows, firstScored);
        return accumulator.ByRank();
    }

    private static void CheckPermutation(int[] ranking)
    {
        var seen = new bool[ranking.Length];
        foreach (var member in ranking)
        {
            if ((uint)member >= (uint)ranking.Length || seen[member]) throw new ArgumentException("The ranking is not a permutation of the members.", nameof(ranking));
            seen[member] = true;
        }
    }
}

/// <summary>
/// Running SemDeDup maxima for one cluster, fed block by block: for members too many to hold at once, stream the
/// cluster's vectors in rank order and call <see cref="Accumulate"/> for every pair of blocks (row block, column block)
/// whose rows rank before some of the columns. The update rule (larger, or equal from an earlier rank) makes the result
/// independent of the order and grouping of the blocks.
/// </summary>
public sealed unsafe class MaxSimilarityAccumulator
{
    private readonly float[] _max;   // by rank, padded by a panel
    private readonly int[] _twin;    // by rank, −1 = none
    private readonly int _tile;
    private float[] _packed;

    public MaxSimilarityAccumulator(int count, int dimensions, int tileSize = SemDeDup.DefaultTileSize)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(dimensions);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(tileSize);
        Count = count;
        Dimensions = dimensions;
        _tile = VectorKernels.PaddedColumns(tileSize);
        _max = new float[count + VectorKernels.PanelWidth];
        _twin = new int[count + VectorKernels.PanelWidth];
        Array.Fill(_twin, -1);
        _packed = [];
    }

    public int Count { get; }
    public int Dimensions { get; }

    /// <summary>
    /// Compares the members ranked rowStart … (rows, contiguous in rank order) with those ranked colStart … (columns):
    /// every pair with row rank &lt; column rank updates the column's M and twin.
    /// </summary>
    public void Accumulate(int rowStart, ReadOnlySpan<float> rowVectors, int colStart, ReadOnlySpan<float> colVectors)
    {
        var rowCount = SphericalKMeans.RowCount(rowVectors, Dimensions);
        var colCount = SphericalKMeans.RowCount(colVectors, Dimensions);
        if (rowStart < 0 || rowStart + rowCount > Count || colStart < 0 || colStart + colCount > Count)
            throw new ArgumentOutOfRangeException(nameof(rowStart), "A block reaches outside the cluster's ranks.");
        fixed (float* rows = rowVectors, cols = colVectors)
        {
            for (var c0 = 0; c0 < colCount; c0 += _tile)
            {
                var block = Math.Min(_tile, colCount - c0);
                var panels = PackBlock(cols, null, c0, block);
                fixed (float* p = panels)
                    ProcessBlock(rows, null, rowStart, rowCount, p, colStart + c0, block);
            }
        }
    }

    /// <summary>The in-memory run: every column block (ranks from <paramref name="firstColumn"/> on) against every earlier-ranked member.</summary>
    internal void AccumulateAll(float* source, int* ranking, int firstColumn = 0)
    {
        for (var c0 = firstColumn; c0 < Count; c0 += _tile)
        {
            var block = Math.Min(_tile, Count - c0);
            var panels = PackBlock(source, ranking, c0, block);
            fixed (float* p = panels)
                ProcessBlock(source, ranking, 0, c0 + block - 1, p, c0, block);
        }
    }

    private float[] PackBlock(float* source, int* rowIndexes, int first, int count)
    {
        var length = VectorKernels.PackedLength(count, Dimensions);
        if (_packed.LongLength < length) _packed = new float[length];
        fixed (float* destination = _packed)
            VectorKernels.Pack(source, Dimensions, rowIndexes, first, count, destination);
        return _packed;
    }

    /// <summary>
    /// Rows: ranks rowRank0 … rowRank0 + rowCount − 1, at source + (rank − rowRank0) × d when <paramref name="rowIndexes"/>
    /// is null, else at source + rowIndexes[rank] × d. Columns: the packed block of ranks colRank0 … colRank0 + colCount − 1.
    /// </summary>
    private void ProcessBlock(float* source, int* rowIndexes, int rowRank0, int rowCount, float* panels, int colRank0, int colCount)
    {
        var d = Dimensions;
        var path = VectorKernels.BestPath;
        var panelCount = VectorKernels.PaddedColumns(colCount) / VectorKernels.PanelWidth;
        var panelLength = (long)VectorKernels.PanelWidth * d;
        var lastColumn = colRank0 + colCount - 1;
        var rows = stackalloc float*[8];
        var tile = stackalloc float[8 * VectorKernels.PanelWidth];
        fixed (float* max = _max)
        fixed (int* twin = _twin)
        {
            for (var r0 = 0; r0 < rowCount; r0 += 8)
            {
                var group = Math.Min(8, rowCount - r0);
                var firstRank = rowRank0 + r0;
                if (firstRank >= lastColumn) break;
                for (var r = 0; r < group; r++)
                {
                    var rank = firstRank + r;
                    rows[r] = source + (long)(rowIndexes == null ? rank - rowRank0 : rowIndexes[rank]) * d;
                }
                // Panels whose columns all rank at or before these rows hold no pair (i < j).
                var qStart = Math.Max(0, (firstRank - colRank0) / VectorKernels.PanelWidth);
                for (var q = qStart; q < panelCount; q++)
                {
                    var colBase = colRank0 + q * VectorKernels.PanelWidth;
                    VectorKernels.DotTile(rows, group, panels + q * panelLength, d, tile, path);
                    VectorKernels.MaxSimilarityUpdate(tile, group, firstRank, colBase, max + colBase, twin + colBase);
                }
            }
        }
    }

    /// <summary>M and twin ranks, indexed by rank.</summary>
    internal (float[] MaxByRank, int[] TwinRankByRank) ByRank() => (_max.AsSpan(0, Count).ToArray(), _twin.AsSpan(0, Count).ToArray());

    /// <summary>The result, mapping ranks back to members through <paramref name="ranking"/> (element r = member ranked r-th).</summary>
    public ClusterDuplicates ToResult(int[] ranking)
    {
        ArgumentNullException.ThrowIfNull(ranking);
        if (ranking.Length != Count) throw new ArgumentException($"A ranking of {ranking.Length} for {Count} members.", nameof(ranking));
        var max = new float[Count];
        var twin = new int[Count];
        for (var r = 0; r < Count; r++)
        {
            max[ranking[r]] = _max[r];
            twin[ranking[r]] = _twin[r] < 0 ? -1 : ranking[_twin[r]];
        }
        return new ClusterDuplicates(ranking, max, twin);
    }
}

/// <summary>
/// M and twins of one cluster's members, indexed by member (the caller's row order). Computed once; decisions for
/// any eps follow without touching vectors again.
/// </summary>
public sealed class ClusterDuplicates
{
    private readonly int[] _ranking;
    private readonly float[] _max;
    private readonly int[] _twin;

    /// <summary>Rebuilds a result from its parts: ranking (rank → member), M and twin by member.</summary>
    public ClusterDuplicates(int[] ranking, float[] maxSimilarity, int[] twin)
    {
        if (maxSimilarity.Length != ranking.Length || twin.Length != ranking.Length) throw new ArgumentException("Parts differ in length.");
        _ranking = ranking;
        _max = maxSimilarity;
        _twin = twin;
    }

    public int Count => _ranking.Length;

    /// <summary>Element r: the member ranked r-th.</summary>
    public IReadOnlyList<int> Ranking => _ranking;

    /// <summary>M per member: its largest cosine similarity to an earlier-ranked member, at least 0.</summary>
    public IReadOnlyList<float> MaxSimilarity => _max;

    /// <summary>Per member, the earlier-ranked member that gave M (earliest on ties), or −1 when M is 0.</summary>
    public IReadOnlyList<int> Twin => _twin;

    public long CountRemoved(double eps)
    {
        long removed = 0;
        foreach (var m in _max) if (SemDeDup.IsDuplicate(m, eps)) removed++;
        return removed;
    }

    /// <summary>Removed flags and kept twins for one eps.</summary>
    public SemDeDupDecision Decide(double eps)
    {
        if (!(eps >= 0 && eps < 1)) throw new ArgumentOutOfRangeException(nameof(eps), eps, "eps must lie in [0, 1).");
        var removed = new bool[Count];
        var keptTwin = new int[Count];
        var count = 0;
        foreach (var member in _ranking) // rank order: a twin is always decided before the members that point at it
        {
            keptTwin[member] = -1;
            if (!SemDeDup.IsDuplicate(_max[member], eps)) continue;
            removed[member] = true;
            count++;
            var twin = _twin[member];
            keptTwin[member] = removed[twin] ? keptTwin[twin] : twin;
        }
        return new SemDeDupDecision(eps, removed, keptTwin, count);
    }
}

/// <summary>SemDeDup's verdict for one eps, indexed by member.</summary>
/// <param name="Removed">Whether each member is dropped as a semantic duplicate.</param>
/// <param name="KeptTwin">For a removed member, the kept member its twin chain ends at (see <see cref="SemDeDup"/>); −1 otherwise.</param>
/// <param name="RemovedCount">How many are removed.</param>
public sealed record SemDeDupDecision(double Eps, bool[] Removed, int[] KeptTwin, int RemovedCount);
