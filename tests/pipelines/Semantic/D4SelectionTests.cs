using Curation.Pipelines.Semantic;

namespace Curation.Pipelines.Tests.Semantic;

public sealed class D4SelectionTests
{
    [Fact]
    public void Removes_the_most_prototypical_first_with_ties_by_id()
    {
        float[] distances = [0.40f, 0.05f, 0.20f, 0.05f, 0.90f, 0.20f, 0.20f, 0.60f];
        string[] ids = ["h", "b", "e", "a", "g", "f", "d", "c"];
        // Order by (distance, id): a .05, b .05, d .2, e .2, f .2, h .4, c .6, g .9
        var kept = D4Selection.Select(distances, ids, keepCount: 4);
        Assert.Equal(4, kept.Count(k => k));
        Assert.Equal(["c", "f", "g", "h"], ids.Where((_, i) => kept[i]).Order(StringComparer.Ordinal));

        Assert.All(D4Selection.Select(distances, ids, keepCount: 8), Assert.True);
        Assert.All(D4Selection.Select(distances, ids, keepCount: 0), Assert.False);
        Assert.Equal(6, D4Selection.KeepCount(8, 0.75));
        Assert.Equal(7, D4Selection.KeepCount(10, 0.7));
    }

    [Fact]
    public void The_distributed_histogram_search_finds_the_same_cutoff()
    {
        var random = new StableRandom(31);
        var n = 5000;
        var distances = new float[n];
        for (var i = 0; i < n; i++) distances[i] = i % 7 == 0 ? 0.25f : (float)random.NextDouble() * 0.8f; // many exact ties
        var ids = Enumerable.Range(0, n).Select(i => $"doc{(i * 7919) % n:D5}").ToArray();
        var shards = new[] { (0, 1200), (1200, 3100), (3100, 5000) };
        foreach (var removeCount in new long[] { 1, 700, 1900, 2500, 4999, 5000 })
        {
            var expected = D4Selection.FindCutoff(distances, ids, removeCount);
            var high = new long[D4Selection.HistogramBins];
            foreach (var (from, to) in shards) D4Selection.CountHigh(distances.AsSpan(from, to - from), high);
            var (highBin, rank1) = D4Selection.Locate(high, removeCount - 1);
            var low = new long[D4Selection.HistogramBins];
            foreach (var (from, to) in shards) D4Selection.CountLow(distances.AsSpan(from, to - from), highBin, low);
            var (lowBin, rank2) = D4Selection.Locate(low, rank1);
            var key = ((uint)highBin << 16) | (uint)lowBin;
            var tied = Enumerable.Range(0, n).Where(i => D4Selection.KeyOf(distances[i]) == key).Select(i => ids[i]);
            var found = D4Selection.CutoffAmongTies(key, tied, rank2);
            Assert.Equal(expected, found);
            Assert.Equal(removeCount, Enumerable.Range(0, n).Count(i => found.Removes(distances[i], ids[i])));
        }
    }
}
