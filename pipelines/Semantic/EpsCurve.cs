namespace Curation.Pipelines.Semantic;

/// <summary>
/// How many documents SemDeDup removes at each of several eps values, from M computed once (the removal rule is
/// M ≥ 1 − eps, <see cref="SemDeDup.IsDuplicate"/>, so a larger eps never removes fewer). Per-cluster curves merge by
/// adding counts, exactly, in any order. <see cref="PickEps"/> chooses eps for a target keep fraction (SemDeDup §6.5:
/// pick eps from the curve to reach a dataset size).
/// </summary>
public sealed class EpsCurve
{
    private readonly double[] _eps;
    private readonly long[] _removed;

    /// <summary>Rebuilds a curve from its parts.</summary>
    public EpsCurve(double[] eps, long[] removed, long total)
    {
        ArgumentNullException.ThrowIfNull(eps);
        ArgumentNullException.ThrowIfNull(removed);
        if (eps.Length != removed.Length) throw new ArgumentException("Eps values and counts differ in length.");
        foreach (var e in eps)
            if (!(e >= 0 && e < 1)) throw new ArgumentOutOfRangeException(nameof(eps), e, "eps must lie in [0, 1).");
        _eps = eps;
        _removed = removed;
        Total = total;
    }

    public IReadOnlyList<double> Eps => _eps;

    /// <summary>Documents removed at each eps.</summary>
    public IReadOnlyList<long> Removed => _removed;

    /// <summary>Documents the curve covers.</summary>
    public long Total { get; }

    public double KeptFraction(int index) => Total == 0 ? 1.0 : (double)(Total - _removed[index]) / Total;

    /// <summary>The curve of a set of M values (one cluster, one shard of clusters, or all).</summary>
    public static EpsCurve Compute(IReadOnlyList<float> maxSimilarity, IReadOnlyList<double> eps)
    {
        ArgumentNullException.ThrowIfNull(maxSimilarity);
        ArgumentNullException.ThrowIfNull(eps);
        var values = eps.ToArray();
        var removed = new long[values.Length];
        for (var e = 0; e < values.Length; e++)
            for (var i = 0; i < maxSimilarity.Count; i++)
                if (SemDeDup.IsDuplicate(maxSimilarity[i], values[e])) removed[e]++;
        return new EpsCurve(values, removed, maxSimilarity.Count);
    }

    public static EpsCurve Compute(ClusterDuplicates cluster, IReadOnlyList<double> eps) => Compute(cluster.MaxSimilarity, eps);

    /// <summary>Adds curves over the same eps values.</summary>
    public static EpsCurve Merge(IEnumerable<EpsCurve> parts)
    {
        ArgumentNullException.ThrowIfNull(parts);
        double[]? eps = null;
        long[]? removed = null;
        long total = 0;
        foreach (var part in parts)
        {
            if (eps is null) { eps = part._eps.ToArray(); removed = new long[eps.Length]; }
            else if (!eps.AsSpan().SequenceEqual(part._eps)) throw new ArgumentException("Curves over different eps values cannot merge.", nameof(parts));
            for (var e = 0; e < eps.Length; e++) removed![e] += part._removed[e];
            total += part.Total;
        }
        return eps is null ? throw new ArgumentException("No curves to merge.", nameof(parts)) : new EpsCurve(eps, removed!, total);
    }

    /// <summary>
    /// The eps whose kept fraction is closest to <paramref name="targetKeepFraction"/>; on equal distance the smaller eps
    /// (the more conservative, removing no more). The choice is only as fine as the eps values the curve was built for.
    /// </summary>
    public double PickEps(double targetKeepFraction)
    {
        if (!(targetKeepFraction >= 0 && targetKeepFraction <= 1)) throw new ArgumentOutOfRangeException(nameof(targetKeepFraction));
        if (_eps.Length == 0) throw new InvalidOperationException("The curve has no eps values.");
        var best = 0;
        for (var e = 1; e < _eps.Length; e++)
        {
            var gap = Math.Abs(KeptFraction(e) - targetKeepFraction);
            var bestGap = Math.Abs(KeptFraction(best) - targetKeepFraction);
            if (gap < bestGap || (gap == bestGap && _eps[e] < _eps[best])) best = e;
        }
        return _eps[best];
    }
}
