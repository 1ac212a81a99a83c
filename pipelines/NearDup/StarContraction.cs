namespace Curation.Pipelines.NearDup;

/// <summary>
/// A document as a graph node: its id and where it lives. Ordered by id (ordinal), then shard, then row — the keep
/// rule of every dedup stage — so the minimum of a component is the document it keeps. A document of a versioned
/// corpus' base snapshot (<see cref="IsBase"/>: shard −1, row a hash of its id) orders before every new document, so a
/// component holding one is centred on a base document and base documents are never removed.
/// </summary>
public readonly record struct Node(string Id, int Shard, long Row) : IComparable<Node>
{
    /// <summary>A document already in the corpus (from the base snapshot's index), not in any shard of this job.</summary>
    public bool IsBase => Shard < 0;

    public static Node Base(string id) =>
        new(id, -1, (long)(System.IO.Hashing.XxHash64.HashToUInt64(System.Text.Encoding.UTF8.GetBytes(id)) & long.MaxValue));

    public int CompareTo(Node other)
    {
        if (IsBase != other.IsBase) return IsBase ? -1 : 1;
        var byId = string.CompareOrdinal(Id, other.Id);
        if (byId != 0) return byId;
        return Shard != other.Shard ? Shard.CompareTo(other.Shard) : Row.CompareTo(other.Row);
    }

    public static bool operator <(Node a, Node b) => a.CompareTo(b) < 0;
    public static bool operator >(Node a, Node b) => a.CompareTo(b) > 0;
    public static bool operator <=(Node a, Node b) => a.CompareTo(b) <= 0;
    public static bool operator >=(Node a, Node b) => a.CompareTo(b) >= 0;

    public bool Equals(Node other) => Shard == other.Shard && Row == other.Row && (Shard >= 0 || Id == other.Id);

    public override int GetHashCode() => HashCode.Combine(Shard, Row);

    /// <summary>The edge partition that owns this node: a fixed mix of (shard, row), uniform over partitions.</summary>
    public int PartitionOf(int partitions)
    {
        var state = ((ulong)(uint)Shard << 40) ^ (ulong)Row;
        return (int)(MinHasher.SplitMix64(ref state) % (ulong)partitions);
    }

    public override string ToString() => $"{Id}@{Shard}:{Row}";
}

/// <summary>
/// Connected components without a single-machine union-find: the alternating large-star / small-star contraction of
/// Kiveris et al. ("Connected Components in MapReduce and Beyond", SoCC 2014). Each operation looks at one node and
/// its neighbours only, so a round is one shuffle: edges grouped by node, each group handled by the partition owning
/// the node, new edges routed to the partitions of their endpoints. Every round keeps connectivity; the edge set
/// converges, in O(log² n) rounds at worst and a handful in practice, to one star per component whose centre is the
/// component's smallest node. The star form is checkable node by node (<see cref="IsStarNode"/>), so convergence is
/// decided without anyone seeing the whole graph.
/// </summary>
public static class StarContraction
{
    /// <summary>
    /// Large-star at <paramref name="node"/>: every strictly larger neighbour is linked to the smallest of the node's
    /// closed neighbourhood.
    /// </summary>
    public static void LargeStar(Node node, IReadOnlyList<Node> neighbours, List<(Node, Node)> emit)
    {
        var min = node;
        foreach (var v in neighbours) if (v < min) min = v;
        foreach (var v in neighbours)
            if (v > node) emit.Add((v, min));
    }

    /// <summary>
    /// Small-star at <paramref name="node"/>: the node and its smaller neighbours are all linked to the smallest of
    /// them.
    /// </summary>
    public static void SmallStar(Node node, IReadOnlyList<Node> neighbours, List<(Node, Node)> emit)
    {
        var min = node;
        var any = false;
        foreach (var v in neighbours)
            if (v < node)
            {
                any = true;
                if (v < min) min = v;
            }
        if (!any) return;
        emit.Add((node, min));
        foreach (var v in neighbours)
            if (v < node && !v.Equals(min)) emit.Add((v, min));
    }

    /// <summary>
    /// True when the node is in star form: a centre (every neighbour is larger) or a leaf (exactly one neighbour, and it
    /// is smaller). When every node is, each component is one star around its smallest node.
    /// </summary>
    public static bool IsStarNode(Node node, IReadOnlyList<Node> neighbours)
    {
        if (neighbours.Count == 1 && neighbours[0] < node) return true;
        foreach (var v in neighbours) if (v < node) return false;
        return true;
    }

    /// <summary>Round <paramref name="round"/> (from 0) is a large-star round when even, a small-star round when odd.</summary>
    public static void Apply(int round, Node node, IReadOnlyList<Node> neighbours, List<(Node, Node)> emit)
    {
        if (round % 2 == 0) LargeStar(node, neighbours, emit);
        else SmallStar(node, neighbours, emit);
    }
}
