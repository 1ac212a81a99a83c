using Curation.Pipelines.NearDup;
using Xunit.Abstractions;

namespace Curation.Pipelines.Tests.NearDup;

/// <summary>The large-star/small-star rounds, simulated in memory exactly as the stage runs them, against union-find.</summary>
public sealed class StarContractionTests(ITestOutputHelper output)
{
    /// <summary>Runs rounds until the input of a round is all stars; returns each node's centre and the rounds that did work.</summary>
    internal static (Dictionary<Node, Node> Centre, int Rounds) Run(IEnumerable<(Node, Node)> edges, int maxRounds)
    {
        var current = edges.ToList();
        for (var round = 0; round < maxRounds; round++)
        {
            var adjacency = Adjacency(current);
            if (adjacency.All(a => StarContraction.IsStarNode(a.Key, a.Value)))
            {
                var centre = new Dictionary<Node, Node>();
                foreach (var (node, neighbours) in adjacency) centre[node] = neighbours[0] < node ? neighbours[0] : node;
                return (centre, round);
            }
            var emitted = new List<(Node, Node)>();
            foreach (var (node, neighbours) in adjacency) StarContraction.Apply(round, node, neighbours, emitted);
            current = emitted;
        }
        throw new InvalidOperationException($"not converged in {maxRounds} rounds");
    }

    private static SortedDictionary<Node, List<Node>> Adjacency(List<(Node A, Node B)> edges)
    {
        var adjacency = new SortedDictionary<Node, List<Node>>();
        void Add(Node a, Node b) => (adjacency.TryGetValue(a, out var l) ? l : adjacency[a] = []).Add(b);
        foreach (var (a, b) in edges)
            if (!a.Equals(b)) { Add(a, b); Add(b, a); }
        foreach (var list in adjacency.Values)
        {
            var distinct = list.Distinct().Order().ToList();
            list.Clear();
            list.AddRange(distinct);
        }
        return adjacency;
    }

    private static Dictionary<Node, Node> UnionFind(List<(Node A, Node B)> edges)
    {
        var parent = new Dictionary<Node, Node>();
        Node Find(Node x)
        {
            if (!parent.TryGetValue(x, out var p)) return parent[x] = x;
            return p.Equals(x) ? x : parent[x] = Find(p);
        }
        foreach (var (a, b) in edges)
        {
            var (ra, rb) = (Find(a), Find(b));
            if (ra < rb) parent[rb] = ra;
            else if (rb < ra) parent[ra] = rb;
        }
        return parent.Keys.ToList().ToDictionary(n => n, Find);
    }

    private static Node[] Nodes(int count, Random random) =>
        Enumerable.Range(0, count).Select(i => new Node($"id-{random.Next(1_000_000):D7}-{i}", i % 5, i)).OrderBy(_ => random.Next()).ToArray();

    public static TheoryData<string> Graphs => new() { "path", "random-forest", "random-sparse", "cliques", "star-of-paths", "chain-a-b-c" };

    [Theory]
    [MemberData(nameof(Graphs))]
    public void Every_component_becomes_one_star_around_its_smallest_node(string kind)
    {
        var random = new Random(kind.Length * 31);
        var nodes = Nodes(3000, random);
        var edges = new List<(Node, Node)>();
        switch (kind)
        {
            case "path":
                for (var i = 1; i < nodes.Length; i++) edges.Add((nodes[i - 1], nodes[i]));
                break;
            case "random-forest":
                for (var i = 1; i < nodes.Length; i++) if (random.Next(10) > 0) edges.Add((nodes[random.Next(i)], nodes[i]));
                break;
            case "random-sparse":
                for (var e = 0; e < nodes.Length * 6 / 10; e++) edges.Add((nodes[random.Next(nodes.Length)], nodes[random.Next(nodes.Length)]));
                break;
            case "cliques":
                for (var start = 0; start + 6 <= nodes.Length; start += 6)
                    for (var i = start; i < start + 6; i++)
                        for (var j = i + 1; j < start + 6; j++) edges.Add((nodes[i], nodes[j]));
                break;
            case "star-of-paths":
                for (var i = 1; i < nodes.Length; i++) edges.Add((nodes[i % 50 == 1 ? 0 : i - 1], nodes[i]));
                break;
            case "chain-a-b-c":
                nodes = [new("b", 0, 1), new("a", 1, 0), new("c", 0, 0)];
                edges.Add((nodes[0], nodes[1]));
                edges.Add((nodes[0], nodes[2])); // a ~ b ~ c, and a ≁ c
                break;
        }
        var (centre, rounds) = Run(edges, 200);
        var reference = UnionFind(edges);
        output.WriteLine($"{kind}: {edges.Count} edges, {reference.Values.Distinct().Count()} components, converged after {rounds} rounds");
        Assert.Equal(reference.Count, centre.Count);
        foreach (var (node, root) in reference) Assert.Equal(root, centre[node]);
        Assert.True(rounds <= 24, $"{rounds} rounds: more than the default maxRounds");
        if (kind == "chain-a-b-c") Assert.All(centre.Values, c => Assert.Equal("a", c.Id));
    }

    [Fact]
    public void Nodes_order_by_id_then_shard_then_row_and_partition_stably()
    {
        Assert.True(new Node("a", 5, 9) < new Node("b", 0, 0));
        Assert.True(new Node("a", 0, 9) < new Node("a", 1, 0));
        Assert.True(new Node("a", 1, 2) < new Node("a", 1, 3));
        Assert.Equal(new Node("x", 3, 7).PartitionOf(16), new Node("x", 3, 7).PartitionOf(16));
        var spread = Enumerable.Range(0, 16_000).Select(i => new Node("", i % 7, i).PartitionOf(16)).GroupBy(p => p).Select(g => g.Count()).ToList();
        Assert.Equal(16, spread.Count);
        Assert.All(spread, c => Assert.InRange(c, 800, 1200));
    }
}
