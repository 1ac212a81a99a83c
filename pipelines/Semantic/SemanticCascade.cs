using System.Numerics.Tensors;

namespace Curation.Pipelines.Semantic;

/// <summary>One candidate duplicate pair of a cascade: <see cref="Member"/>, a member ranked before it, and their cosine in the tier that found the pair.</summary>
public readonly record struct CandidatePair(int Member, int Earlier, float Cosine);

/// <summary>
/// What the transformer tier decided: M over each member's decided pairs, its twin, what it embedded, and the members whose
/// M and twin are the transformer's (<see cref="Decided"/>, ascending; every other member keeps the static tier's).
/// </summary>
public sealed record CascadeResult(float[] MaxSimilarity, int[] Twin, int[] Embedded, IReadOnlyList<CandidatePair> Candidates, IReadOnlyList<CandidatePair> Verified,
    int[] Decided);

/// <summary>
/// The two-tier SemDeDup cascade on one cluster: the static tier proposes every pair (member, earlier-ranked member)
/// whose static cosine reaches 1 − candidateEps (a looser eps); only the members in those pairs are embedded with the
/// transformer, and each member's M is the highest transformer cosine over its candidate pairs, decided at the spec's
/// eps as usual. A pair the static tier misses is never seen; a pair it proposes wrongly is rejected by the transformer.
/// Deterministic: pairs in (member rank, earlier rank) order, members embedded in ascending order.
/// </summary>
public static class SemanticCascade
{
    /// <summary>How far below the threshold a tiled-kernel M may lie and still be scanned (the kernels' float rounding).</summary>
    private const float RoundingMargin = 1e-5f;

    /// <summary>
    /// Candidate pairs by rank order (row <c>ranking[r]</c> is ranked r-th). With <paramref name="maxByRank"/> (each rank's
    /// M over the same vectors, from the tiled <see cref="SemDeDup"/> kernel), ranks whose M is below the threshold are
    /// skipped: they have no candidate, so only the few members that have one are scanned pair by pair.
    /// </summary>
    public static List<CandidatePair> FindCandidates(ReadOnlySpan<float> vectors, int dimensions, int[] ranking, double candidateEps,
        IReadOnlyList<float>? maxByRank = null)
    {
        var threshold = (float)(1 - candidateEps);
        var pairs = new List<CandidatePair>();
        for (var r = 1; r < ranking.Length; r++)
        {
            if (maxByRank is not null && maxByRank[r] < threshold - RoundingMargin) continue; // kernels round differently
            var member = vectors.Slice(ranking[r] * dimensions, dimensions);
            for (var e = 0; e < r; e++)
            {
                var cosine = TensorPrimitives.Dot(member, vectors.Slice(ranking[e] * dimensions, dimensions));
                if (cosine >= threshold) pairs.Add(new CandidatePair(ranking[r], ranking[e], cosine));
            }
        }
        return pairs;
    }

    /// <summary>
    /// The candidate eps of one cluster under a transformer budget: the loosest eps, no looser than
    /// <paramref name="candidateEps"/>, whose candidate pairs hold at most ⌊<paramref name="budget"/> × members⌋ documents.
    /// A member is in some candidate pair at threshold t exactly when its highest static cosine to any other member
    /// (earlier: <paramref name="maxByRank"/>, by rank; later: the same kernel over the reversed ranking; row
    /// <c>ranking[r]</c> of <paramref name="vectors"/> is the member ranked r-th, other rows are ignored) reaches t, so the
    /// threshold is read off those maxima; ties are never split (the cut moves up past them). Returns
    /// <paramref name="candidateEps"/> when the budget does not bind, and a negative eps (no candidates) when it allows none.
    /// </summary>
    public static unsafe double BudgetEps(ReadOnlySpan<float> vectors, int dimensions, int[] ranking, IReadOnlyList<float> maxByRank, double candidateEps, double budget)
    {
        var n = ranking.Length;
        var cap = (int)Math.Floor(budget * n);
        var reversed = ranking.Reverse().ToArray();
        float[] later; // by reversed rank: later[n − 1 − r] is the highest cosine of the member ranked r to any member ranked after it
        fixed (float* source = vectors) later = SemDeDup.ComputeRanked(source, dimensions, reversed).MaxByRank;
        var highest = new float[n];
        for (var r = 0; r < n; r++) highest[r] = Math.Max(maxByRank[r], later[n - 1 - r]);
        Array.Sort(highest);
        Array.Reverse(highest);
        var floor = (float)(1 - candidateEps);
        var within = highest.Count(h => h >= floor);
        if (within <= cap) return candidateEps;
        // Largest k ≤ cap whose k-th highest differs from the next: the members at or above it number exactly k.
        for (var k = cap; k >= 1; k--)
            if (highest[k - 1] > highest[k]) return 1 - (double)highest[k - 1];
        return -1;
    }

    /// <summary>
    /// Embeds the members of <paramref name="candidates"/> with <paramref name="embed"/> (rows in the order of the ids
    /// given, <paramref name="dimensions"/> each) and decides each member's M and twin over its candidate pairs.
    /// </summary>
    public static CascadeResult Verify(int members, IReadOnlyList<CandidatePair> candidates, Func<int[], float[]> embed, int dimensions, double eps)
    {
        var needed = new SortedSet<int>();
        foreach (var pair in candidates) { needed.Add(pair.Member); needed.Add(pair.Earlier); }
        var embedded = needed.ToArray();
        var vectors = embed(embedded);
        if (vectors.Length != embedded.Length * dimensions)
            throw new InvalidOperationException($"The verifier returned {vectors.Length} floats for {embedded.Length} members of {dimensions} dimensions.");
        var rowOf = new Dictionary<int, int>(embedded.Length);
        for (var i = 0; i < embedded.Length; i++) rowOf[embedded[i]] = i;

        var max = new float[members];
        var twin = new int[members];
        Array.Fill(twin, -1);
        var verified = new List<CandidatePair>();
        foreach (var pair in candidates)
        {
            var cosine = TensorPrimitives.Dot(vectors.AsSpan(rowOf[pair.Member] * dimensions, dimensions), vectors.AsSpan(rowOf[pair.Earlier] * dimensions, dimensions));
            if (cosine > max[pair.Member]) { max[pair.Member] = cosine; twin[pair.Member] = pair.Earlier; }
            if (SemDeDup.IsDuplicate(cosine, eps)) verified.Add(pair with { Cosine = cosine });
        }
        return new CascadeResult(max, twin, embedded, candidates, verified, candidates.Select(p => p.Member).Distinct().Order().ToArray());
    }

    /// <summary>
    /// The <c>set</c> rule: the documents of <paramref name="candidates"/> are embedded as by <see cref="Verify"/>, but the
    /// transformer decides every pair among a cluster's candidate documents, not only the pairs the static tier proposed
    /// (the static tier picks which documents are worth the transformer, the transformer picks their pairs). Member ids are
    /// rows of a table whose clusters are contiguous and in rank order (<paramref name="clusterOf"/>: a row's cluster; a
    /// candidate pair never crosses clusters), so a lower id is an earlier rank. Each candidate document with an earlier
    /// one in its cluster's set gets M and twin over all of them; pairs at cosine ≥ 1 − eps are verified, in (member,
    /// earlier) order. Streams over the pairs: memory is the set's vectors and the verified pairs, never the O(set²) pairs.
    /// </summary>
    public static CascadeResult VerifySet(int members, IReadOnlyList<CandidatePair> candidates, IReadOnlyList<int> clusterOf, Func<int[], float[]> embed,
        int dimensions, double eps)
    {
        var needed = new SortedSet<int>();
        foreach (var pair in candidates)
        {
            if (clusterOf[pair.Member] != clusterOf[pair.Earlier] || pair.Earlier >= pair.Member)
                throw new ArgumentException($"Candidate pair ({pair.Member}, {pair.Earlier}) is not a member and an earlier row of its cluster.", nameof(candidates));
            needed.Add(pair.Member);
            needed.Add(pair.Earlier);
        }
        var embedded = needed.ToArray();
        var vectors = embed(embedded);
        if (vectors.Length != embedded.Length * dimensions)
            throw new InvalidOperationException($"The verifier returned {vectors.Length} floats for {embedded.Length} members of {dimensions} dimensions.");

        var max = new float[members];
        var twin = new int[members];
        Array.Fill(twin, -1);
        var verified = new List<CandidatePair>();
        var decided = new List<int>();
        for (var start = 0; start < embedded.Length;)
        {
            var end = start + 1;
            while (end < embedded.Length && clusterOf[embedded[end]] == clusterOf[embedded[start]]) end++;
            for (var j = start + 1; j < end; j++)
            {
                var member = vectors.AsSpan(j * dimensions, dimensions);
                decided.Add(embedded[j]);
                for (var i = start; i < j; i++)
                {
                    var cosine = TensorPrimitives.Dot(member, vectors.AsSpan(i * dimensions, dimensions));
                    if (cosine > max[embedded[j]]) { max[embedded[j]] = cosine; twin[embedded[j]] = embedded[i]; }
                    if (SemDeDup.IsDuplicate(cosine, eps)) verified.Add(new CandidatePair(embedded[j], embedded[i], cosine));
                }
            }
            start = end;
        }
        return new CascadeResult(max, twin, embedded, candidates, verified, [.. decided]);
    }
}
